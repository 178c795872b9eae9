"""Anthropic Messages: POST /v1/messages (wire.md §6)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ...engine.limits import OUTPUT, Overrun
from ...model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, ErrorInfo, Message, Reply, Request, ToolCall
from ..base import (
    InvalidRequest,
    MessageParts,
    arguments_object,
    arguments_text,
    check,
    dumps,
    fragments,
    parts_text,
    positive_int,
    require,
    split_json,
    sse,
    text_pieces,
)
from .shapes import output_format, tool_choice, tool_schemas

if TYPE_CHECKING:
    from ...traffic.delivery import Answered

STOP_REASONS = {
    STOP: "end_turn",
    LENGTH: "max_tokens",
    TOOL_CALLS: "tool_use",
    STOP_SEQUENCE: "stop_sequence",
    # OpenAI names in a rule written for both providers.
    "content_filter": "refusal",
}

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, error: ErrorInfo, request_id: str) -> bytes:
    inner: dict[str, Any] = {"type": error.type or error_type(status), "message": error.message}
    if error.code is not None:
        inner["details"] = {"error_code": error.code}
    return dumps({"type": "error", "error": inner, "request_id": request_id})


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    return text if isinstance(text, str) else ""


def _tool_result_text(content: Any, where: str) -> str:
    return parts_text(content, where, index=".{}", noun="content block", missing="Field required",
                      shape="Input should be a string or a list of content blocks")


def system_text(system: Any) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system):
        return " ".join(_block_text(b) for b in system)
    raise InvalidRequest("system: Input should be a string or a list of text blocks", param="system")


def _block_error(i: int, j: int, message: str, param: str) -> InvalidRequest:
    where = f"messages.{i}.content.{j}"
    return InvalidRequest(where + message, param=where + param)


def parse_messages(raw_messages: list[Any]) -> list[Message]:
    out = []
    for i, raw in enumerate(raw_messages):
        if type(raw) is dict:  # the common case first: a plain string message
            role, content = raw.get("role"), raw.get("content")
            if type(content) is str and (role == "user" or role == "assistant"):
                out.append(Message(role, content))
                continue
        # Error texts name the message (`messages.i`, `messages.i.content.j`); they are built only when raised.
        if not isinstance(raw, dict):
            raise InvalidRequest(f"messages.{i}: Input should be an object", param=f"messages.{i}")
        role = raw.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'",
                                 param=f"messages.{i}.role")
        if "content" not in raw:
            raise InvalidRequest(f"messages.{i}.content: Field required", param=f"messages.{i}.content")
        content = raw["content"]
        if isinstance(content, str):
            out.append(Message(role, content))
            continue
        if not isinstance(content, list):
            raise InvalidRequest(f"messages.{i}.content: Input should be a valid string or list of content blocks",
                                 param=f"messages.{i}.content")
        parts = MessageParts()
        for j, block in enumerate(content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise _block_error(i, j, ": each content block must be an object with a 'type'", "")
            kind = block["type"]
            if kind == "text":
                text = block.get("text")
                if not isinstance(text, str):
                    raise _block_error(i, j, ".text: Field required", ".text")
                parts.texts.append(text)
            elif kind == "tool_use":
                name = block.get("name")
                if not isinstance(name, str):
                    raise _block_error(i, j, ".name: Field required", ".name")
                tool_input = block.get("input", {})
                if not isinstance(tool_input, dict):
                    raise _block_error(i, j, ".input: Input should be a valid dictionary", ".input")
                parts.calls.append(ToolCall(name, arguments_text(tool_input), str(block.get("id", ""))))
            elif kind == "tool_result":
                if not isinstance(block.get("tool_use_id"), str):
                    raise _block_error(i, j, ".tool_use_id: Field required", ".tool_use_id")
                result = block.get("content")
                parts.results.append(result if type(result) is str
                                     else _tool_result_text(result, f"messages.{i}.content.{j}.content"))
            elif kind in ("image", "document") and not isinstance(block.get("source"), dict):
                raise _block_error(i, j, ".source: Field required", ".source")
            elif kind == "thinking":
                _check_thinking_block(block, i, j)
            elif kind == "redacted_thinking" and not isinstance(block.get("data"), str):
                raise _block_error(i, j, ".data: Field required", ".data")
        out.append(parts.message(role))
    return out


def parse_body(body: dict[str, Any], *, need_max_tokens: bool) -> tuple[str, list[Message], list[str], bool]:
    """The parts of a Messages body shared with count_tokens: model, messages, tools, thinking."""
    model = body.get("model")
    if type(model) is not str:
        model = require(body, "model", str, "a valid string")
    if need_max_tokens:
        max_tokens = body.get("max_tokens")
        if type(max_tokens) is not int or max_tokens < 1:
            require(body, "max_tokens", int, "a valid integer")
            positive_int(body, "max_tokens")
    raw_messages = body.get("messages")
    if type(raw_messages) is not list:
        raw_messages = require(body, "messages", list, "a valid list")
    if not raw_messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    messages = parse_messages(raw_messages)
    if "system" in body:
        system = system_text(body["system"])
        if system:
            messages.insert(0, Message(role="system", text=system))
    tools = _tools(body) if "tools" in body else []
    thinking_on = thinking_config(body["thinking"]) if "thinking" in body else False
    return model, messages, tools, thinking_on


# `thinking.type` values and whether Claude thinks with them (`between_tools` is thinking turned off).
THINKING_TYPES = {"enabled": True, "adaptive": True, "disabled": False, "between_tools": False}
MIN_THINKING_BUDGET = 1024


def thinking_config(thinking: Any) -> bool:
    """Check a request's `thinking` object as the API does; whether it turns thinking on."""
    if thinking is None:
        return False
    if not isinstance(thinking, dict):
        raise InvalidRequest("thinking: Input should be an object", param="thinking")
    kind = thinking.get("type")
    if not isinstance(kind, str) or kind not in THINKING_TYPES:
        tags = ", ".join(f"'{t}'" for t in THINKING_TYPES)
        raise InvalidRequest(f"thinking: Input tag {kind!r} found using 'type' does not match any of the "
                             f"expected tags: {tags}", param="thinking.type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if type(budget) is not int:
            what = "Field required" if budget is None else "Input should be a valid integer"
            raise InvalidRequest(f"thinking.enabled.budget_tokens: {what}", param="thinking.budget_tokens")
        if budget < MIN_THINKING_BUDGET:
            raise InvalidRequest(f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                                 f"{MIN_THINKING_BUDGET}", param="thinking.budget_tokens")
    if kind in ("enabled", "adaptive") and thinking.get("display") not in (None, "summarized", "omitted"):
        raise InvalidRequest(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'",
                             param="thinking.display")
    return THINKING_TYPES[kind]


def _check_thinking_block(block: dict[str, Any], i: int, j: int) -> None:
    """A thinking block sent back in the history: its text and signature, as the API requires. A
    signature fakellm made must still match its text (the API refuses a modified block); others
    (hand-written or recorded histories) are taken as they are."""
    for key in ("thinking", "signature"):
        if not isinstance(block.get(key), str):
            raise _block_error(i, j, f".{key}: Field required", f".{key}")
    sig, text = block["signature"], block["thinking"]
    # A block whose thinking was omitted (`display: omitted`) comes back with empty text.
    if sig.startswith(SIGNATURE_PREFIX) and text and sig != signature(text):
        raise _block_error(i, j, ": Invalid `signature` in `thinking` block", ".signature")


def _tools(body: dict[str, Any]) -> list[str]:
    tools = []
    for i, tool in enumerate(check(body, "tools", list, "a valid list") or ()):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools.{i}.name: Field required", param=f"tools.{i}.name")
        check(tool, "input_schema", dict, "a valid dictionary", f"tools.{i}.")
        tools.append(tool["name"])
    return tools


def stop_sequences(value: Any) -> list[str]:
    # Unlike OpenAI's `stop`, a single string is not accepted.
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise InvalidRequest("stop_sequences: Input should be a valid list of strings", param="stop_sequences")


class AnthropicMessages:
    api = "anthropic.messages"
    request_id_header = "request-id"
    # Stream events that carry generated content: the delivery layer's chunks.
    content_event_markers = (b"event: content_block_delta",)
    tool_call_id_prefix = "toolu_"

    def __init__(self) -> None:
        # A rule's fixed text serialized once per adapter (so per app), not per reply.
        self._text_content = fragments(lambda text: [{"type": "text", "text": text}])

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model, messages, tools, thinking = parse_body(body, need_max_tokens=True)
        stream = body.get("stream")
        if stream is not True:
            stream = check(body, "stream", bool, "a valid boolean") or False
        stop = stop_sequences(body.get("stop_sequences")) if "stop_sequences" in body else []
        # Positional: this runs for every request (the field order of model.Request).
        request = Request(self.api, model, messages, headers, body, path, tools, stream, body["max_tokens"], stop, 1,
                          thinking)
        if tools:
            request.tool_schemas = tool_schemas(body)
        if "tool_choice" in body:
            request.tool_choice = tool_choice(body, request.tool_schemas or {}, thinking)
        if "output_config" in body or "output_format" in body:
            request.output = output_format(body)
        return request

    # -- rendering

    @staticmethod
    def _text_block(reply: Reply) -> bool:
        # A rule that gives only tool calls gets no (echo or empty) text block.
        return reply.content is not None and (reply.content != "" or not reply.tool_calls)

    def _tool_blocks(self, reply: Reply, response_id: str) -> list[tuple[str, ToolCall, Any]]:
        return [
            (c.id or f"toolu_{response_id}{k}", c, arguments_object(c.arguments))
            for k, c in enumerate(reply.tool_calls)
        ]

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        content: Any
        if reply.thinking is None and not reply.tool_calls and reply.content is not None:
            content = self._text_content(reply.content)  # a rule's fixed text: serialized once
        else:
            content = []
            if reply.thinking is not None:
                content.append({"type": "thinking", "thinking": shown_thinking(reply, request),
                                "signature": signature(reply.thinking)})
            if self._text_block(reply):
                content.append({"type": "text", "text": reply.content})
            for tid, c, args in self._tool_blocks(reply, response_id):
                content.append({"type": "tool_use", "id": tid, "name": c.name, "input": args})
        return dumps({
            "id": "msg_" + response_id,
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": content,
            "stop_reason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
            "stop_sequence": reply.stop_sequence if reply.finish_reason == STOP_SEQUENCE else None,
            "usage": usage(reply),
        })

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        start_usage = usage(reply)
        start_usage["output_tokens"] = min(1, reply.usage.output_tokens)
        events = [sse({"type": "message_start", "message": {
            "id": "msg_" + response_id, "type": "message", "role": "assistant", "model": request.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage,
        }}, "message_start")]
        index = 0

        def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
            nonlocal index
            events.append(sse({"type": "content_block_start", "index": index, "content_block": start},
                              "content_block_start"))
            if index == 0:
                events.append(sse({"type": "ping"}, "ping"))
            for delta in deltas:
                events.append(sse({"type": "content_block_delta", "index": index, "delta": delta},
                                  "content_block_delta"))
            events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1

        if reply.thinking is not None:
            block({"type": "thinking", "thinking": "", "signature": ""},
                  [{"type": "thinking_delta", "thinking": p}
                   for p in text_pieces(reply, shown_thinking(reply, request))]
                  + [{"type": "signature_delta", "signature": signature(reply.thinking)}])
        if self._text_block(reply):
            block({"type": "text", "text": ""},
                  [{"type": "text_delta", "text": p} for p in text_pieces(reply, reply.content or "")])
        for tid, c, args in self._tool_blocks(reply, response_id):
            text = json.dumps(args)
            block({"type": "tool_use", "id": tid, "name": c.name, "input": {}},
                  [{"type": "input_json_delta", "partial_json": p} for p in split_json(text)])
        if index == 0:
            events.append(sse({"type": "ping"}, "ping"))
        events.append(sse({
            "type": "message_delta",
            "delta": {
                "stop_reason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
                "stop_sequence": reply.stop_sequence if reply.finish_reason == STOP_SEQUENCE else None,
            },
            "usage": usage(reply),
        }, "message_delta"))
        events.append(sse({"type": "message_stop"}, "message_stop"))
        return events

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error, request_id)

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo:
        """The 400 for a request over its model's declared limits (engine/limits.py). max_tokens is
        required here, so the window always holds the prompt and the whole requested output."""
        if overrun.kind == OUTPUT:
            message = (f"max_tokens: {overrun.requested_output} > {overrun.limit}, which is the maximum allowed "
                       f"number of output tokens for {overrun.model}")
        elif overrun.prompt_tokens > overrun.limit:
            message = f"prompt is too long: {overrun.prompt_tokens} tokens > {overrun.limit} maximum"
        else:
            message = (f"input length and `max_tokens` exceed context limit: {overrun.prompt_tokens} + "
                       f"{overrun.requested_output} > {overrun.limit}, decrease input length or `max_tokens` "
                       f"and try again")
        return ErrorInfo(message, type="invalid_request_error")

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        """`event: error` after the stream began (529: overloaded_error); the SDKs raise APIStatusError."""
        return sse({"type": "error", "error": {"type": error.type or error_type(status), "message": error.message}},
                   "error")




SIGNATURE_PREFIX = "fakellm-"


def signature(thinking: str) -> str:
    """A stable stand-in for the signature Anthropic attaches to thinking blocks."""
    return SIGNATURE_PREFIX + hashlib.sha256(thinking.encode()).hexdigest()[:32]


def shown_thinking(reply: Reply, request: Request) -> str:
    """The thinking text a block shows: none with `display: omitted` (the block keeps its signature)."""
    config = request.body.get("thinking")
    if isinstance(config, dict) and config.get("display") == "omitted":
        return ""
    return reply.thinking or ""


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "service_tier": "standard",
    }
