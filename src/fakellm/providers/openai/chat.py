"""OpenAI Chat Completions: POST /v1/chat/completions (wire.md §2, §5)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from ...engine import tokens
from ...engine.limits import Overrun
from ...model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, ErrorInfo, Message, Reply, Request, ToolCall
from ..base import (
    InvalidRequest,
    TextMemo,
    check,
    dumps,
    fragments,
    parts_text,
    positive_int,
    reasoning_tokens,
    require,
    split_json,
    stop_list,
    text_pieces,
)
from .limits import chat_error
from .shapes import EMPTY_PARAMETERS, chat_response_format, tool_choice

if TYPE_CHECKING:
    from ...traffic.delivery import Answered

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

FINISH_REASONS = {
    STOP: "stop",
    STOP_SEQUENCE: "stop",
    LENGTH: "length",
    TOOL_CALLS: "tool_calls",
    # Anthropic names in a rule written for both providers.
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# (type, code) by status when a rule gives none, as the real API answers.
ERROR_DEFAULTS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


def error_body(status: int, error: ErrorInfo) -> bytes:
    default_type, default_code = ERROR_DEFAULTS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return dumps({
        "error": {
            "message": error.message,
            "type": error.type or default_type,
            "param": error.param,
            "code": error.code if error.code is not None else default_code,
        }
    })


def text_of(content: Any, where: str) -> str:
    """Text of a message's content: a string, null, or an array of parts."""
    return parts_text(content, where)


_PLAIN_ROLES = frozenset({"system", "developer", "user"})


def _plain_message(raw: Any) -> Message | None:
    """A message with text content, without the general checks: what `_message` gives for it.

    System, developer and user messages with string content (other keys, such as `name`, are
    ignored either way), an assistant message with string content and no tool calls, and a tool
    result with string content. None for anything else.
    """
    if type(raw) is dict:
        content = raw.get("content")
        if type(content) is str:
            role = raw.get("role")
            if type(role) is str:
                if role in _PLAIN_ROLES or (role == "assistant" and raw.get("tool_calls") is None):
                    return Message(role, content)
                if role == "tool":
                    return Message("tool", "", [], [content])
    return None


class OpenAIChat:
    api = "openai.chat"
    request_id_header = "x-request-id"
    # Stream events that carry generated content (text, tool calls): the delivery layer's chunks.
    content_event_markers = (b'"delta":{"content"', b'"delta":{"tool_calls"')
    tool_call_id_prefix = "call_"

    def __init__(self) -> None:
        # A rule's fixed text rendered once per adapter (so per app), not per reply.
        self._content_deltas = _content_deltas()
        self._text_choices = {finish: _text_choices(finish) for finish in set(FINISH_REASONS.values())}

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = body.get("model")
        if type(model) is not str:
            model = require(body, "model", str, "a valid string")
        raw_messages = body.get("messages")
        if type(raw_messages) is not list:
            raw_messages = require(body, "messages", list, "a valid array")
        if not raw_messages:
            raise InvalidRequest("messages: [] is too short - 'messages'", param="messages")
        messages = [_plain_message(m) or self._message(m, i) for i, m in enumerate(raw_messages)]
        tools, schemas = self._tools(body) if "tools" in body else ([], None)

        stream = body.get("stream")
        if stream is not True and stream is not None:
            stream = check(body, "stream", bool, "a valid boolean") or False
        if "stream_options" in body:
            stream_options = check(body, "stream_options", dict, "an object")
            if stream_options:
                check(stream_options, "include_usage", bool, "a valid boolean", "stream_options.")
        n = 1
        if "n" in body:
            n = positive_int(body, "n") or 1
            if n > 128:
                raise InvalidRequest("n: Input should be less than or equal to 128", param="n")
        max_tokens = positive_int(body, "max_completion_tokens") if "max_completion_tokens" in body else None
        if max_tokens is None and "max_tokens" in body:
            max_tokens = positive_int(body, "max_tokens")
        stop = stop_list(body.get("stop"), "stop") if "stop" in body else []
        # A rule's thinking counts as reasoning tokens (never as text) when the request sets an effort.
        thinking = reasoning_effort(body, "reasoning_effort") if body.get("reasoning_effort") is not None else False
        # Positional: this runs for every request (the field order of model.Request).
        request = Request(self.api, model, messages, headers, body, path, tools, stream is True, max_tokens, stop, n,
                          thinking)
        if schemas is not None:
            request.tool_schemas = schemas
        if "response_format" in body:
            request.output = chat_response_format(body)
        if "tool_choice" in body:
            request.tool_choice = tool_choice(body, schemas, flat=False)
        return request

    @staticmethod
    def _tools(body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """The offered tools' names, and each function's parameters schema by name."""
        tools = []
        schemas: dict[str, Any] = {}
        for i, tool in enumerate(check(body, "tools", list, "a valid array") or ()):
            if not isinstance(tool, dict):
                raise InvalidRequest(f"tools[{i}]: Input should be an object", param=f"tools[{i}]")
            kind = tool.get("type", "function")
            if not isinstance(kind, str):
                raise InvalidRequest(f"tools[{i}].type: Input should be a valid string", param=f"tools[{i}].type")
            fn = tool.get("function") if kind == "function" else tool.get(kind)
            name = fn.get("name") if isinstance(fn, dict) else None
            if not isinstance(name, str):
                raise InvalidRequest(f"tools[{i}].function.name: Field required", param=f"tools[{i}].function.name")
            parameters = check(fn, "parameters", dict, "a valid object", f"tools[{i}].function.")
            tools.append(name)
            if kind == "function":
                schemas[name] = parameters if parameters is not None else EMPTY_PARAMETERS
        return tools, schemas

    @staticmethod
    def _message(raw: Any, i: int) -> Message:
        # Error texts name the message (`messages[i]`); they are only built when raised.
        if not isinstance(raw, dict):
            raise InvalidRequest(f"messages[{i}]: Input should be an object", param=f"messages[{i}]")
        role = raw.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidRequest(
                f"messages[{i}].role: Input should be 'system', 'developer', 'user', 'assistant' or 'tool', "
                f"got {role!r}",
                param=f"messages[{i}].role",
            )
        content = raw.get("content")
        if content is None and (role != "assistant" or not (raw.get("tool_calls") or raw.get("function_call"))):
            # Only an assistant message that makes tool calls may go without content.
            raise InvalidRequest(f"Missing required parameter: 'messages[{i}].content'.",
                                 param=f"messages[{i}].content", code="missing_required_parameter")
        if type(content) is str:
            text = content
        else:
            text = "" if content is None else text_of(content, f"messages[{i}].content")
        if role == "tool":
            return Message("tool", "", [], [text])
        calls = []
        raw_calls = raw.get("tool_calls")
        if role == "assistant" and raw_calls is not None:
            if not isinstance(raw_calls, list):
                raise InvalidRequest(f"messages[{i}].tool_calls: Input should be a valid array",
                                     param=f"messages[{i}].tool_calls")
            for j, call in enumerate(raw_calls):
                fn = call.get("function") if isinstance(call, dict) else None
                name = fn.get("name") if isinstance(fn, dict) else None
                if not isinstance(name, str):
                    raise InvalidRequest(f"messages[{i}].tool_calls[{j}].function.name: Field required",
                                         param=f"messages[{i}].tool_calls[{j}].function")
                args = fn.get("arguments", "")  # type: ignore[union-attr]
                if not isinstance(args, str):
                    raise InvalidRequest(
                        f"messages[{i}].tool_calls[{j}].function.arguments: Input should be a valid string",
                        param=f"messages[{i}].tool_calls[{j}].function.arguments")
                call_id = call.get("id", "")
                calls.append(ToolCall(name, args, call_id if type(call_id) is str else str(call_id)))
        return Message(role, text, calls)

    # -- rendering

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        finish = FINISH_REASONS.get(reply.finish_reason, reply.finish_reason)
        text_choices = self._text_choices.get(finish) if reply.n == 1 and not reply.tool_calls else None
        if text_choices is not None and reply.content is not None:
            choices = text_choices(reply.content)  # a rule's fixed text: serialized once
        else:
            choices = _choices(reply, finish, response_id)
        return dumps({
            "id": "chatcmpl-" + response_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": choices,
            "usage": usage(reply),
            "service_tier": "default",
            "system_fingerprint": "fp_fakellm",
        })

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        include_usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
        # Every chunk shares one envelope; only the choices differ.
        head = dumps({
            "id": "chatcmpl-" + response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fakellm",
        })[:-1] + (b',"usage":null,"choices":[' if include_usage else b',"choices":[')
        tail = b"]}\n\n"
        finish = FINISH_REASONS.get(reply.finish_reason, reply.finish_reason)

        def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            return b"data: " + head + orjson.dumps(
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ) + tail

        events: list[bytes] = []
        calls = [
            (call_id(c, response_id, k), c) for k, c in enumerate(reply.tool_calls)
        ]
        for index in range(reply.n):
            text = reply.content
            events.append(chunk(index, {"role": "assistant", "content": "" if text is not None else None}))
            if text:
                # A rule's fixed text: its deltas serialized once (not when chunk_size cuts it otherwise).
                if index == 0 and (reply.delivery is None or reply.delivery.chunk_size is None):
                    events += [b"data: " + head + delta + tail for delta in self._content_deltas(text)]
                else:
                    for piece in text_pieces(reply, text):
                        events.append(chunk(index, {"content": piece}))
            for k, (cid, c) in enumerate(calls):
                events.append(chunk(index, {"tool_calls": [
                    {"index": k, "id": cid, "type": "function", "function": {"name": c.name, "arguments": ""}}
                ]}))
                for fragment in split_json(c.arguments):
                    events.append(chunk(index, {"tool_calls": [{"index": k, "function": {"arguments": fragment}}]}))
            events.append(chunk(index, {}, finish))
        if include_usage:
            events.append(b"data: " + head[: -len(b',"usage":null,"choices":[')] + b',"choices":[],"usage":'
                          + orjson.dumps(usage(reply)) + b"}\n\n")
        events.append(b"data: [DONE]\n\n")
        return events

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo:
        """The 400 for a request over its model's declared limits (engine/limits.py)."""
        return chat_error(request, overrun)

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        """A mid-stream error chunk: the SDKs raise APIError when they read it."""
        return b"data: " + error_body(status, error) + b"\n\n"


def _message(content: str | None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None, "annotations": []}


def _choices(reply: Reply, finish: str, response_id: str) -> list[dict[str, Any]]:
    message = _message(reply.content)
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": call_id(c, response_id, k), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for k, c in enumerate(reply.tool_calls)
        ]
    return [{"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(reply.n)]


def _text_choices(finish: str) -> TextMemo:
    return fragments(lambda text: [{"index": 0, "message": _message(text), "logprobs": None, "finish_reason": finish}])


def _content_deltas() -> TextMemo:
    """The first choice's content deltas of a text, serialized."""
    return TextMemo(lambda text: [
        orjson.dumps({"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None})
        for piece in tokens.pieces(text)
    ])


def call_id(call: ToolCall, response_id: str, k: int) -> str:
    return call.id or f"call_{response_id}{k}"


# Shared (never mutated) detail objects for the common all-zero case.
_NO_PROMPT_DETAILS = {"cached_tokens": 0, "audio_tokens": 0}
_NO_COMPLETION_DETAILS = {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                          "rejected_prediction_tokens": 0}


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": (
            {"cached_tokens": u.cached_tokens, "audio_tokens": 0} if u.cached_tokens else _NO_PROMPT_DETAILS
        ),
        "completion_tokens_details": (
            {**_NO_COMPLETION_DETAILS, "reasoning_tokens": reasoning_tokens(reply, "openai.chat")}
            if u.reasoning_tokens or reply.thinking else _NO_COMPLETION_DETAILS
        ),
    }


REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def reasoning_effort(body: dict[str, Any], key: str, prefix: str = "") -> bool:
    """Check a reasoning effort (chat's `reasoning_effort`, Responses' `reasoning.effort`); whether
    the model reasons with it: any effort but `none` (null is the model's default, which reasons)."""
    effort = body.get(key)
    if effort is not None and effort not in REASONING_EFFORTS:
        raise invalid_value(f"{prefix}{key}", effort, REASONING_EFFORTS)
    return effort != "none"


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> InvalidRequest:
    """OpenAI's 400 for a value outside an enum."""
    names = ", ".join(f"'{v}'" for v in supported[:-1]) + f", and '{supported[-1]}'"
    return InvalidRequest(f"Invalid value: {value!r}. Supported values are: {names}.", param=param,
                          code="invalid_value")
