"""Conversation items of a Realtime session: the client's items checked and completed, and the
conversation as the neutral messages rules see."""

from __future__ import annotations

from typing import Any, Callable

from ....model import Message, ToolCall
from ...base import InvalidRequest, arguments_text

ROLES = ("user", "assistant", "system")
# Content parts whose text rules see: typed text, and the transcript of audio (fakellm hears none).
TEXT_KEYS = {"input_text": "text", "output_text": "text", "text": "text",
             "input_audio": "transcript", "output_audio": "transcript", "audio": "transcript"}
ITEM_TYPES = ("message", "function_call", "function_call_output")


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def client_item(item: Any, where: str, new_id: Callable[[], str]) -> dict[str, Any]:
    """A client's item as the conversation keeps it (with an id, `object` and `status`); raises
    InvalidRequest naming the field that is wrong."""
    if not isinstance(item, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
    kind = item.get("type")
    if kind is None:
        raise missing(f"{where}.type")
    if kind not in ITEM_TYPES:
        raise InvalidRequest(f"Invalid value: {kind!r}. Supported values are: 'message', 'function_call' and "
                             f"'function_call_output'.", param=f"{where}.type", code="invalid_value")
    item_id = item.get("id")
    if item_id is not None and not isinstance(item_id, str):
        raise InvalidRequest(f"Invalid type for '{where}.id': expected a string.", param=f"{where}.id",
                             code="invalid_type")
    out = {**item, "id": item_id or new_id(), "object": "realtime.item", "status": "completed"}
    if kind == "message":
        role = item.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in ROLES:
            raise InvalidRequest(f"Invalid value: {role!r}. Supported values are: 'user', 'assistant' and "
                                 f"'system'.", param=f"{where}.role", code="invalid_value")
        content = item.get("content")
        if content is None:
            raise missing(f"{where}.content")
        if not isinstance(content, list):
            raise InvalidRequest(f"Invalid type for '{where}.content': expected an array of content parts.",
                                 param=f"{where}.content", code="invalid_type")
        for i, part in enumerate(content):
            here = f"{where}.content[{i}]"
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise InvalidRequest(f"Invalid type for '{here}': expected an object with a 'type'.", param=here,
                                     code="invalid_type")
            key = TEXT_KEYS.get(part["type"])
            if key is not None and part.get(key) is not None and not isinstance(part[key], str):
                raise InvalidRequest(f"Invalid type for '{here}.{key}': expected a string.", param=f"{here}.{key}",
                                     code="invalid_type")
    elif kind == "function_call":
        for key in ("name", "arguments"):
            _string(item, key, where)
        out["call_id"] = item.get("call_id") or f"call_{out['id']}"
    else:
        for key in ("call_id", "output"):
            _string(item, key, where)
    return out


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None:
        raise missing(f"{where}.{key}")
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{where}.{key}': expected a string.", param=f"{where}.{key}",
                             code="invalid_type")
    return value


def text_of(item: dict[str, Any]) -> str:
    texts = []
    for part in item.get("content") or ():
        key = TEXT_KEYS.get(part.get("type"))
        value = part.get(key) if key is not None else None
        if value:
            texts.append(value)
    return " ".join(texts)


def messages_of(items: list[dict[str, Any]]) -> list[Message]:
    """The conversation as messages. Consecutive assistant-side items (a message, function calls) form
    one assistant message, so a turn with text and calls counts once, as for chat."""
    out: list[Message] = []
    assistant_open = False
    for item in items:
        kind = item["type"]
        if kind == "function_call" or (kind == "message" and item["role"] == "assistant"):
            if not assistant_open:
                out.append(Message(role="assistant"))
                assistant_open = True
            last = out[-1]
            if kind == "function_call":
                last.tool_calls.append(ToolCall(item["name"], arguments_text(item["arguments"]), item["call_id"]))
            else:
                text = text_of(item)
                last.text = f"{last.text} {text}" if last.text and text else last.text or text
            continue
        assistant_open = False
        if kind == "function_call_output":
            out.append(Message(role="tool", tool_results=[item["output"]]))
        else:
            out.append(Message(role=item["role"], text=text_of(item)))
    return out
