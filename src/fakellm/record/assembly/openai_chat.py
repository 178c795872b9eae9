"""OpenAI Chat Completions: a `chat.completion` body, or its `chat.completion.chunk` stream (choice 0)."""

from __future__ import annotations

from typing import Any

from .base import Assembled, arguments, counted

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls"}


def from_json(body: dict[str, Any]) -> Assembled:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    out = Assembled(text=message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        out.tool_calls.append({"id": call.get("id"), "name": function.get("name"),
                               "arguments": arguments(function.get("arguments"))})
    return _finished(out, choice.get("finish_reason"), body.get("usage"))


def from_events(events: list[tuple[str | None, Any]]) -> Assembled:
    texts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage = None, None
    for _, chunk in events:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                texts.append(delta["content"])
            for part in delta.get("tool_calls") or ():
                call = calls.setdefault(part.get("index", 0), {"id": None, "name": "", "arguments": ""})
                call["id"] = part.get("id") or call["id"]
                function = part.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    out = Assembled(text="".join(texts) if texts else None)
    out.tool_calls = [{**call, "arguments": arguments(call["arguments"])} for _, call in sorted(calls.items())]
    return _finished(out, finish, usage)


def _finished(out: Assembled, finish: str | None, usage: dict[str, Any] | None) -> Assembled:
    out.finish_reason = out.natural(_FINISH.get(finish, finish))
    if usage:
        out.usage = counted(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                            cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or None,
                            reasoning_tokens=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
                            or None)
    return out
