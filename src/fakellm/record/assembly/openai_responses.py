"""OpenAI Responses: a `response` body, or the stream whose `response.completed` event carries it whole."""

from __future__ import annotations

from typing import Any

from .base import Assembled, arguments, counted

_END_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def from_json(body: dict[str, Any]) -> Assembled:
    texts: list[str] = []
    thinking: list[str] = []
    out = Assembled()
    for item in body.get("output") or ():
        kind = item.get("type")
        if kind == "message":
            texts += [part.get("text", "") for part in item.get("content") or () if part.get("type") == "output_text"]
        elif kind == "function_call":
            out.tool_calls.append({"id": item.get("call_id"), "name": item.get("name"),
                                   "arguments": arguments(item.get("arguments"))})
        elif kind == "reasoning":
            thinking += [part.get("text", "") for part in item.get("summary") or ()]
    out.text = "".join(texts) if texts else None
    out.thinking = "".join(thinking) if thinking else None
    incomplete = (body.get("incomplete_details") or {}).get("reason")
    out.finish_reason = out.natural("length" if incomplete == "max_output_tokens" else incomplete)
    usage = body.get("usage")
    if usage:
        out.usage = counted(input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"),
                            cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or None,
                            reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens")
                            or None)
    return out


def from_events(events: list[tuple[str | None, Any]]) -> Assembled:
    for _, event in reversed(events):
        if event.get("type") in _END_EVENTS:
            return from_json(event.get("response") or {})
    raise ValueError("the Responses stream ended without response.completed")
