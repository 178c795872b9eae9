"""Gemini generateContent: a response body, or the stream of partial responses (candidate 0)."""

from __future__ import annotations

from typing import Any

from .base import Assembled, counted

# STOP is natural with or without function calls (Gemini says STOP for both).
_FINISH = {"MAX_TOKENS": "length", "SAFETY": "content_filter"}


def from_json(body: dict[str, Any]) -> Assembled:
    return from_events([(None, body)])


def from_events(events: list[tuple[str | None, Any]]) -> Assembled:
    texts: list[str] = []
    thoughts: list[str] = []
    out = Assembled()
    finish, usage = None, {}
    for _, chunk in events:
        usage = chunk.get("usageMetadata") or usage
        candidate = (chunk.get("candidates") or [{}])[0]
        finish = candidate.get("finishReason") or finish
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                call = part["functionCall"]
                out.tool_calls.append({"id": call.get("id"), "name": call.get("name"), "arguments": call.get("args") or {}})
            elif part.get("thought"):
                thoughts.append(part.get("text", ""))
            elif "text" in part:
                texts.append(part["text"])
    out.text = "".join(texts) if texts else None
    out.thinking = "".join(thoughts) if thoughts else None
    out.finish_reason = None if finish in (None, "STOP") else _FINISH.get(finish, finish)
    thoughts_count = usage.get("thoughtsTokenCount") or 0
    out.usage = counted(input_tokens=usage.get("promptTokenCount"),
                        output_tokens=(usage.get("candidatesTokenCount") or 0) + thoughts_count if usage else None,
                        cached_tokens=usage.get("cachedContentTokenCount") or None,
                        reasoning_tokens=thoughts_count or None)
    return out
