"""OpenAI Responses API: POST /v1/responses and the stored responses (wire.md §3, §5).

Stateful like the real API: every response is stored (bounded, in
`state.ResponseStore`) unless the request says `store: false`, and
`previous_response_id` continues a conversation: the stored history (earlier
input items and outputs) comes before the new input, so it counts for turns and
`tool_result_contains`, and the chain keeps one conversation id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from itertools import count
from typing import Any, Awaitable, Callable

from ...engine import tokens
from ...engine.engine import input_tokens as count_input_tokens
from ...engine.engine import resolve_stored
from ...engine.limits import Overrun
from ...model import LENGTH, ErrorInfo, Message, Reply, Request, ToolCall
from ...store.base import StoredResponse
from ...traffic.delivery import Answered
from ..base import (
    Call,
    InvalidRequest,
    arguments_text,
    check,
    dumps,
    parts_text,
    positive_int,
    reasoning_tokens,
    require,
    split_json,
    sse,
)
from .chat import error_body, invalid_value, reasoning_effort
from .limits import responses_error
from .shapes import EMPTY_PARAMETERS, responses_text_format, tool_choice

ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = frozenset({"input_text", "output_text", "text", "refusal"})
# Finish reasons that end a response as `incomplete`, with the reason the API gives.
INCOMPLETE = {LENGTH: "max_output_tokens", "max_tokens": "max_output_tokens",
              "content_filter": "content_filter", "refusal": "content_filter"}
# `response.error.code` values the SDKs know; others map to server_error.
FAILED_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout",
                          "invalid_image", "invalid_image_format", "invalid_base64_image", "invalid_image_url",
                          "image_too_large", "image_too_small", "image_parse_error",
                          "image_content_policy_violation", "invalid_image_mode", "image_file_too_large",
                          "unsupported_image_media_type", "empty_image_file", "failed_to_download_image",
                          "image_file_not_found"})


@dataclass(slots=True)
class ResponsesRequest(Request):
    """A Responses request, with what storing the response needs."""

    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    # A reasoning item shows its summary only when `reasoning.summary` asks for one, and carries
    # `encrypted_content` only when `include` asks for it (as clients that set `store: false` do).
    reasoning_summary: bool = False
    encrypted_reasoning: bool = False


class OpenAIResponses:
    api = "openai.responses"
    request_id_header = "x-request-id"
    # The events that carry content; the delivery layer paces and cuts streams at them.
    content_event_markers = (b"event: response.output_text.delta", b"event: response.function_call_arguments.delta",
                             b"event: response.reasoning_summary_text.delta")
    tool_call_id_prefix = "call_"  # the function_call items' call_id, so the journal shows it

    # -- parsing

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = require(body, "model", str, "a valid string")
        instructions = check(body, "instructions", str, "a valid string")
        previous_id = check(body, "previous_response_id", str, "a valid string")
        raw_input = body.get("input")
        refs: list[tuple[int, str, bool]] = []
        if raw_input is None:
            own: list[Message] = []
        elif isinstance(raw_input, str):
            own = [Message(role="user", text=raw_input)]
        elif isinstance(raw_input, list):
            own, refs = parse_items(raw_input)
        else:
            raise InvalidRequest("input: Input should be a valid string or a valid array", param="input")

        messages: list[Message] = []
        if instructions:
            messages.append(Message(role="system", text=instructions))
        # The stored chain `previous_response_id` names goes between the instructions and this input;
        # the engine puts it there (and checks that it exists).
        history_at = len(messages)
        messages.extend(own)
        if not messages and previous_id is None and not refs:
            raise InvalidRequest("Missing required parameter: 'input'.", param="input")

        stream = check(body, "stream", bool, "a valid boolean") or False
        store_flag = check(body, "store", bool, "a valid boolean")
        reasoning = check(body, "reasoning", dict, "an object")
        include = check(body, "include", list, "a valid array") or []
        for i, value in enumerate(include):
            if not isinstance(value, str):
                raise InvalidRequest(f"include[{i}]: Input should be a valid string", param=f"include[{i}]")
        reasons, summary = reasoning_config(reasoning)
        encrypted = ENCRYPTED_REASONING in include
        for key in ("metadata", "text"):
            check(body, key, dict, "an object")
        for key in ("temperature", "top_p"):
            check(body, key, (int, float), "a valid number")
        tools, schemas = offered_tools(check(body, "tools", list, "a valid array") or [])
        return ResponsesRequest(
            api=self.api,
            model=model,
            messages=messages,
            headers=headers,
            body=body,
            path=path,
            tools=tools,
            stream=stream,
            max_tokens=positive_int(body, "max_output_tokens"),
            # A rule's thinking becomes a reasoning item when the request configures reasoning (as a
            # reasoning model's would) or includes its encrypted content, unless its effort is `none`.
            thinking=(reasoning is not None or encrypted) and reasons,
            continues=previous_id,
            history_at=history_at,
            item_refs=[(history_at + position, item_id, brings) for position, item_id, brings in refs],
            instructions=instructions,
            previous_response_id=previous_id,
            store=store_flag is not False,
            reasoning_summary=summary,
            encrypted_reasoning=encrypted,
            output=responses_text_format(body),
            tool_schemas=schemas or None,
            tool_choice=tool_choice(body, schemas, flat=True),
        )

    # -- rendering

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        response = self.response_object(reply, request, response_id)
        out = dumps(response)
        self._keep(reply, request, response, out)
        return out

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        final = self.response_object(reply, request, response_id)
        seq = count()
        size = reply.delivery.chunk_size if reply.delivery is not None else None

        def event(kind: str, **fields: Any) -> bytes:
            return sse({"type": kind, **fields, "sequence_number": next(seq)}, kind)

        start = {**final, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None,
                 "completed_at": None}
        events = [event("response.created", response=start), event("response.in_progress", response=start)]
        for index, item in enumerate(final["output"]):
            kind = item["type"]
            if kind == "message":
                events.extend(_message_events(event, index, item, size))
            elif kind == "function_call":
                events.append(event("response.output_item.added", output_index=index,
                                    item={**item, "status": "in_progress", "arguments": ""}))
                for piece in split_json(item["arguments"]):
                    events.append(event("response.function_call_arguments.delta", item_id=item["id"],
                                        output_index=index, delta=piece))
                events.append(event("response.function_call_arguments.done", item_id=item["id"],
                                    output_index=index, arguments=item["arguments"]))
                events.append(event("response.output_item.done", output_index=index, item=item))
            else:  # reasoning
                events.extend(_reasoning_events(event, index, item, size))
        terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        events.append(event(terminal, response=final))
        self._keep(reply, request, final, None)
        return events

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo:
        """The 400 for a request over its model's declared limits (engine/limits.py)."""
        return responses_error(request, overrun)

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        """The `response.failed` event that ends a stream cut short by an error (the `error_event`
        fault). Its sequence number comes after every event of the full stream: later than any
        event sent, whatever the cut."""
        return failed_event(error, answered.request, answered.response_id, answered.events, status)

    def response_object(self, reply: Reply, request: Request, response_id: str) -> dict[str, Any]:
        """The `response` object for a reply: output items, status and usage."""
        body = request.body
        incomplete = INCOMPLETE.get(reply.finish_reason)
        output: list[dict[str, Any]] = []
        if reply.thinking is not None:
            output.append(reasoning_item(reply.thinking, request, response_id))
        if reply.content is not None and (reply.content != "" or not reply.tool_calls):
            output.append({
                "id": "msg_" + response_id,
                "type": "message",
                "role": "assistant",
                "status": "incomplete" if incomplete else "completed",
                "content": [{"type": "output_text", "text": reply.content, "annotations": [], "logprobs": []}],
            })
        for k, call in enumerate(reply.tool_calls):
            output.append({
                "id": f"fc_{response_id}{k}",
                "type": "function_call",
                "status": "completed",
                "call_id": call.id or f"call_{response_id}{k}",
                "name": call.name,
                "arguments": call.arguments,
            })
        now = int(time.time())
        return {
            "id": "resp_" + response_id,
            "object": "response",
            "created_at": now,
            "status": "incomplete" if incomplete else "completed",
            "background": False,
            "error": None,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": request.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True) is not False,
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": usage(reply, request.api),
            "user": body.get("user"),
            "completed_at": None if incomplete else now,
        }

    def _keep(self, reply: Reply, request: Request, response: dict[str, Any], rendered: bytes | None) -> None:
        """What the store keeps for GET and previous_response_id (nothing with `store: false`)."""
        if not isinstance(request, ResponsesRequest) or not request.store:
            return
        answer = Message(role="assistant", text=reply.content or "", tool_calls=[
            ToolCall(name=item["name"], arguments=item["arguments"], id=item["call_id"])
            for item in response["output"] if item["type"] == "function_call"
        ])
        own = request.messages[request.history_at + request.history_len:]  # without the stored history
        reply.stored = StoredResponse(
            id=response["id"],
            body=rendered if rendered is not None else dumps(response),
            conversation_id=reply.conversation_id,
            previous_id=request.previous_response_id,
            messages=[*own, answer],
            input=request.body.get("input"),
            item_ids=tuple(item["id"] for item in response["output"]),
        )


# -- input items


def parse_items(items: list[Any]) -> tuple[list[Message], list[tuple[int, str, bool]]]:
    """Input items as messages. Consecutive assistant-side items (a message, function
    calls) form one assistant message, so a turn with text and calls counts once.

    Items given by id alone (an `item_reference`, or a reasoning item without its
    `encrypted_content`) are returned apart, as (position in the messages, item id, whether
    it brings its response's answer): the engine looks them up in the store.
    """
    out: list[Message] = []
    refs: list[tuple[int, str, bool]] = []
    assistant_open = False  # the last message is an assistant turn still being built

    def assistant(text: str = "", call: ToolCall | None = None) -> None:
        nonlocal assistant_open
        if assistant_open:
            last = out[-1]
            if text:
                last.text = f"{last.text} {text}" if last.text else text
        else:
            out.append(Message(role="assistant", text=text))
            assistant_open = True
        if call is not None:
            out[-1].tool_calls.append(call)

    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where}: Input should be an object", param=where)
        kind = item.get("type", "message")
        if not isinstance(kind, str):
            raise InvalidRequest(f"{where}.type: Input should be a valid string", param=f"{where}.type")
        if kind == "message":
            role = item.get("role")
            if role not in ROLES:
                raise InvalidRequest(
                    f"{where}.role: Input should be 'user', 'assistant', 'system' or 'developer', got {role!r}",
                    param=f"{where}.role")
            if "content" not in item:
                raise InvalidRequest(f"{where}.content: Field required", param=f"{where}.content")
            text = content_text(item["content"], f"{where}.content")
            if role == "assistant":
                assistant(text=text)
                continue
            out.append(Message(role=role, text=text))
        elif kind in ("function_call", "custom_tool_call"):
            name = _string(item, "name", where)
            call_id = _string(item, "call_id", where)
            key = "arguments" if kind == "function_call" else "input"
            assistant(call=ToolCall(name=name, arguments=arguments_text(item.get(key, "")), id=call_id))
            continue
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _string(item, "call_id", where)
            if "output" not in item:
                raise InvalidRequest(f"{where}.output: Field required", param=f"{where}.output")
            out.append(Message(role="tool", tool_results=[content_text(item["output"], f"{where}.output")]))
        elif kind == "reasoning":
            if item.get("encrypted_content") is not None:
                _check_sealed(item["encrypted_content"], item.get("id"), where)
            else:
                refs.append((len(out), _string(item, "id", where), False))
            continue  # assistant-side, and carries nothing rules look at
        elif kind == "item_reference":
            item_id = _string(item, "id", where)
            refs.append((len(out), item_id, not item_id.startswith("rs_")))
        # Other item types (hosted tool calls, item references, ...) carry nothing rules
        # look at; they are accepted and skipped.
        assistant_open = False
    return out, refs


# -- reasoning items

ENCRYPTED_REASONING = "reasoning.encrypted_content"
_SEAL_PREFIX = "fakellm-rs1."


REASONING_SUMMARIES = ("auto", "concise", "detailed")


def reasoning_config(reasoning: dict[str, Any] | None) -> tuple[bool, bool]:
    """Check a request's `reasoning` object: (whether the model reasons, whether it asks for a summary)."""
    if not reasoning:
        return True, False
    reasons = reasoning_effort(reasoning, "effort", "reasoning.")
    summary = False
    # `generate_summary` is the deprecated name of `summary`.
    for key in ("summary", "generate_summary"):
        value = reasoning.get(key)
        if value is not None and value not in REASONING_SUMMARIES:
            raise invalid_value(f"reasoning.{key}", value, REASONING_SUMMARIES)
        summary = summary or value is not None
    return reasons, summary


def reasoning_item(thinking: str, request: Request, response_id: str) -> dict[str, Any]:
    """The reasoning output item: a summary if asked for, the encrypted content if included."""
    summary = getattr(request, "reasoning_summary", True)
    item: dict[str, Any] = {"id": "rs_" + response_id, "type": "reasoning",
                            "summary": [{"type": "summary_text", "text": thinking}] if summary else [],
                            "status": "completed"}
    if getattr(request, "encrypted_reasoning", False):
        item["encrypted_content"] = seal_reasoning(thinking)
    return item


def seal_reasoning(thinking: str) -> str:
    """An opaque, deterministic `encrypted_content` for a rule's thinking, that fakellm can read back.

    Not encryption: base64 of the text with a digest, so a string fakellm did not make is refused.
    """
    raw = thinking.encode()
    return _SEAL_PREFIX + base64.urlsafe_b64encode(raw).decode() + "." + _seal_digest(raw)


def open_reasoning(sealed: str) -> str | None:
    """The thinking that `seal_reasoning` sealed, or None for a string it did not make."""
    if not sealed.startswith(_SEAL_PREFIX):
        return None
    encoded, _, digest = sealed[len(_SEAL_PREFIX):].rpartition(".")
    try:
        raw = base64.urlsafe_b64decode(encoded.encode())
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(digest, _seal_digest(raw)):
        return None
    return raw.decode(errors="replace")


def _seal_digest(raw: bytes) -> str:
    return hashlib.sha256(b"fakellm reasoning\0" + raw).hexdigest()[:24]


def _check_sealed(sealed: Any, item_id: Any, where: str) -> None:
    if not isinstance(sealed, str):
        raise InvalidRequest(f"{where}.encrypted_content: Input should be a valid string",
                             param=f"{where}.encrypted_content")
    if open_reasoning(sealed) is None:
        name = f"item {item_id}" if isinstance(item_id, str) else where
        raise InvalidRequest(f"The encrypted content for {name} could not be verified.",
                             param=f"{where}.encrypted_content", code="invalid_encrypted_content")


def content_text(content: Any, where: str) -> str:
    """Text of a message's content (or a tool output): a string or an array of parts."""
    return parts_text(content, where, text_types=TEXT_PARTS, null=False,
                      shape="Input should be a valid string or a valid array of content parts")


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        what = "Field required" if value is None else "Input should be a valid string"
        raise InvalidRequest(f"{where}.{key}: {what}", param=f"{where}.{key}")
    return value


def offered_tools(tools: list[Any]) -> tuple[list[str], dict[str, Any]]:
    """The offered tools' names (function tools are flat here, `{"type": "function", "name": ...}`; hosted
    tools go by their type), and each function's parameters schema by name."""
    names = []
    schemas: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise InvalidRequest(f"tools[{i}]: each tool must be an object with a 'type'", param=f"tools[{i}]")
        if tool["type"] in ("function", "custom"):
            if not isinstance(tool.get("name"), str):
                raise InvalidRequest(f"tools[{i}].name: Field required", param=f"tools[{i}].name")
            names.append(tool["name"])
            if tool["type"] == "function":
                parameters = check(tool, "parameters", dict, "a valid object", f"tools[{i}].")
                schemas[tool["name"]] = parameters if parameters is not None else EMPTY_PARAMETERS
        else:
            names.append(tool["type"])
    return names, schemas


# -- stream events


def _message_events(event: Callable[..., bytes], index: int, item: dict[str, Any], size: int | None) -> list[bytes]:
    item_id = item["id"]
    part = item["content"][0]
    text = part["text"]
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    events = [
        event("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []}),
        event("response.content_part.added", **where,
              part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}),
    ]
    for piece in tokens.pieces(text, size):
        events.append(event("response.output_text.delta", **where, delta=piece, logprobs=[]))
    events.append(event("response.output_text.done", **where, text=text, logprobs=[]))
    events.append(event("response.content_part.done", **where, part=part))
    events.append(event("response.output_item.done", output_index=index, item=item))
    return events


def _reasoning_events(event: Callable[..., bytes], index: int, item: dict[str, Any],
                      size: int | None) -> list[bytes]:
    item_id = item["id"]
    added = event("response.output_item.added", output_index=index,
                  item={**item, "summary": [], "status": "in_progress"})
    if not item["summary"]:  # no summary asked for: the item alone (with its encrypted content, if included)
        return [added, event("response.output_item.done", output_index=index, item=item)]
    text = item["summary"][0]["text"]
    where = {"item_id": item_id, "output_index": index, "summary_index": 0}
    events = [
        added,
        event("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""}),
    ]
    for piece in tokens.pieces(text, size):
        events.append(event("response.reasoning_summary_text.delta", **where, delta=piece))
    events.append(event("response.reasoning_summary_text.done", **where, text=text))
    events.append(event("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text}))
    events.append(event("response.output_item.done", output_index=index, item=item))
    return events


def failed_event(error: ErrorInfo, request: Request, response_id: str, sequence_number: int,
                 status: int = 500) -> bytes:
    """A `response.failed` event: how the Responses API reports an error after the stream began."""
    if error.code in FAILED_CODES:
        code = error.code
    else:
        code = "rate_limit_exceeded" if status == 429 else "server_error"
    body = request.body
    response = {
        "id": "resp_" + response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "failed",
        "background": False,
        "error": {"code": code, "message": error.message},
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "model": request.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature", 1.0),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "usage": None,
    }
    return sse({"type": "response.failed", "response": response, "sequence_number": sequence_number},
               "response.failed")


def usage(reply: Reply, api: str) -> dict[str, Any]:
    u = reply.usage
    reasoning = reasoning_tokens(reply, api)
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_creation_input_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u.total_tokens,
    }


# -- stored responses and token counts (plain JSON endpoints)


def _not_found(response_id: str) -> InvalidRequest:
    return InvalidRequest(f"Response with id '{response_id}' not found.", status=404, param="response_id")


async def retrieve(call: Call) -> tuple[int, bytes]:
    """GET /v1/responses/{response_id}."""
    stored = await call.store.get_response(call.params["response_id"])
    if stored is None:
        raise _not_found(call.params["response_id"])
    return 200, stored.body


async def delete(call: Call) -> tuple[int, bytes]:
    """DELETE /v1/responses/{response_id}."""
    response_id = call.params["response_id"]
    if not await call.store.delete_response(response_id):
        raise _not_found(response_id)
    return 200, dumps({"id": response_id, "object": "response.deleted", "deleted": True})


async def input_items(call: Call) -> tuple[int, bytes]:
    """GET /v1/responses/{response_id}/input_items: the items of that request's `input`, with ids.

    `order` is `desc` (newest first, the API's default) or `asc`; `limit` 1-100
    (default 20) and `after` (an item id) page through them.
    """
    response_id = call.params["response_id"]
    stored = await call.store.get_response(response_id)
    if stored is None:
        raise _not_found(response_id)
    items = _input_items(stored.input, response_id.removeprefix("resp_"))
    order = call.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order: Input should be 'asc' or 'desc', got {order!r}", param="order")
    if order == "desc":
        items.reverse()
    raw_limit = call.query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise InvalidRequest(f"limit: Input should be an integer from 1 to 100, got {raw_limit!r}", param="limit")
    limit = int(raw_limit)
    start = 0
    after = call.query.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise InvalidRequest(f"after: no input item with id {after!r} in response {response_id!r}", param="after")
        start = ids.index(after) + 1
    page = items[start:start + limit]
    return 200, dumps({
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": start + limit < len(items),
    })


_ITEM_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


def _input_items(raw: Any, response_id: str) -> list[dict[str, Any]]:
    """The input as the API lists it: every item an object with an id, message content as parts."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    items = []
    for i, item in enumerate(raw):
        item = {"type": "message", **item}
        if item["type"] == "message":
            content = item.get("content")
            if isinstance(content, str):
                kind = "output_text" if item.get("role") == "assistant" else "input_text"
                item["content"] = [{"type": kind, "text": content}]
            item.setdefault("status", "completed")
        item.setdefault("id", f"{_ITEM_ID_PREFIXES.get(item['type'], 'item')}_{response_id}in{i}")
        items.append(item)
    return items


def input_tokens(adapter: OpenAIResponses) -> Callable[[Call], Awaitable[tuple[int, bytes]]]:
    """POST /v1/responses/input_tokens: the input_tokens a call with this body would report."""
    async def handler(call: Call) -> tuple[int, bytes]:
        body = call.body
        if "model" not in body:
            body = {**body, "model": ""}  # optional here, unlike for a response
        request = adapter.parse(body, call.headers, call.path, call.params)
        await resolve_stored(call.store, request)
        return 200, dumps({"object": "response.input_tokens", "input_tokens": count_input_tokens(request)})

    return handler
