"""OpenAI legacy completions: POST /v1/completions (wire.md §4).

Each prompt becomes a user message. A list of prompts gets `n` choices per
prompt, all with the rule's answer (`echo` puts each prompt before it). Unlike
the real API there is no default `max_tokens` of 16: rules answer in full
unless the request sets a limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ...engine.limits import Overrun
from ...model import LENGTH, STOP, STOP_SEQUENCE, ErrorInfo, Message, Reply, Request
from ..base import InvalidRequest, check, dumps, positive_int, require, stop_list, text_pieces
from .chat import error_body
from .limits import completions_error

FINISH_REASONS = {
    STOP: "stop",
    STOP_SEQUENCE: "stop",
    LENGTH: "length",
    "tool_calls": "stop",  # no tools in this API
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "stop",
    "refusal": "content_filter",
}


@dataclass(slots=True)
class CompletionsRequest(Request):
    prompts: list[str] = field(default_factory=list)
    echo: bool = False


def parse_prompts(value: Any) -> list[str]:
    """`prompt`: a string, a list of strings, a token array, or a list of token arrays."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(_is_token(t) for t in value):
            return [" ".join(map(str, value))]
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and item and all(_is_token(t) for t in item):
                out.append(" ".join(map(str, item)))
            else:
                raise InvalidRequest(f"prompt[{i}]: Input should be a string or an array of tokens", param="prompt")
        return out
    raise InvalidRequest("prompt: Input should be a string, an array of strings, an array of tokens, "
                         "or an array of token arrays", param="prompt")


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class OpenAICompletions:
    api = "openai.completions"
    request_id_header = "x-request-id"
    # Text chunks (the finish chunk has a finish_reason); the delivery layer paces and cuts at them.
    content_event_markers = (b'"finish_reason":null}',)

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = require(body, "model", str, "a valid string")
        if "prompt" not in body or body["prompt"] is None:
            raise InvalidRequest("prompt: Field required", param="prompt")
        prompts = parse_prompts(body["prompt"])
        n = positive_int(body, "n") or 1
        if n > 128:
            raise InvalidRequest("n: Input should be less than or equal to 128", param="n")
        if len(prompts) * n > 2048:
            raise InvalidRequest("prompt: too many choices (prompts times n is over 2048)", param="prompt")
        stop = stop_list(body.get("stop"), "stop")
        if len(stop) > 4:
            raise InvalidRequest("stop: at most 4 stop sequences", param="stop")
        echo = check(body, "echo", bool, "a valid boolean") or False
        check(body, "suffix", str, "a valid string")
        check(body, "stream_options", dict, "an object")
        return CompletionsRequest(
            api=self.api,
            model=model,
            messages=[Message(role="user", text=p) for p in prompts],
            headers=headers,
            body=body,
            path=path,
            stream=check(body, "stream", bool, "a valid boolean") or False,
            max_tokens=positive_int(body, "max_tokens"),
            stop=stop,
            n=n,
            prompts=prompts,
            echo=echo,
        )

    def _choices(self, reply: Reply, request: CompletionsRequest) -> list[tuple[int, str, str]]:
        """(index, prompt prefix, text) for every choice: `n` per prompt."""
        text = reply.content or ""
        return [
            (p * request.n + j, prompt if request.echo else "", text)
            for p, prompt in enumerate(request.prompts)
            for j in range(request.n)
        ]

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        assert isinstance(request, CompletionsRequest)
        finish = FINISH_REASONS.get(reply.finish_reason, reply.finish_reason)
        return dumps({
            "id": "cmpl-" + response_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [
                {"text": prefix + text, "index": index, "logprobs": None, "finish_reason": finish}
                for index, prefix, text in self._choices(reply, request)
            ],
            "usage": usage(reply),
            "system_fingerprint": "fp_fakellm",
        })

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        assert isinstance(request, CompletionsRequest)
        finish = FINISH_REASONS.get(reply.finish_reason, reply.finish_reason)
        # Every chunk shares one envelope; only the choices differ.
        head = dumps({
            "id": "cmpl-" + response_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": request.model,
            "system_fingerprint": "fp_fakellm",
        })[:-1]

        def chunk(index: int, text: str, finish_reason: str | None) -> bytes:
            choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
            return b"data: " + head + b',"choices":[' + dumps(choice) + b"]}\n\n"

        events = []
        for index, prefix, text in self._choices(reply, request):
            if prefix:
                events.append(chunk(index, prefix, None))
            for piece in text_pieces(reply, text):
                events.append(chunk(index, piece, None))
            events.append(chunk(index, "", finish))
        if (request.body.get("stream_options") or {}).get("include_usage"):
            events.append(b"data: " + head + b',"choices":[],"usage":' + dumps(usage(reply)) + b"}\n\n")
        events.append(b"data: [DONE]\n\n")
        return events

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo:
        """The 400 for a request over its model's declared limits (engine/limits.py)."""
        return completions_error(request, overrun)


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens, "total_tokens": u.total_tokens}
