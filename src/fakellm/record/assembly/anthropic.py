"""Anthropic Messages: a `message` body, or its stream of content-block events."""

from __future__ import annotations

from typing import Any

from .base import Assembled, arguments, counted

_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "stop_sequence": "stop_sequence"}


def from_json(body: dict[str, Any]) -> Assembled:
    return _assembled(body.get("content") or [], body.get("stop_reason"), body.get("usage") or {})


def from_events(events: list[tuple[str | None, Any]]) -> Assembled:
    blocks: dict[int, dict[str, Any]] = {}
    stop_reason, usage = None, {}
    for _, event in events:
        kind = event.get("type")
        if kind == "message_start":
            usage = dict((event.get("message") or {}).get("usage") or {})
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            if block.get("type") == "tool_use":
                block["input"] = ""  # the arguments come as JSON text deltas
            blocks[event.get("index", 0)] = block
        elif kind == "content_block_delta":
            block, delta = blocks.setdefault(event.get("index", 0), {"type": "text", "text": ""}), event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif dtype == "input_json_delta":
                block["input"] = block.get("input", "") + delta.get("partial_json", "")
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "message_delta":
            stop_reason = (event.get("delta") or {}).get("stop_reason") or stop_reason
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
    return _assembled([blocks[i] for i in sorted(blocks)], stop_reason, usage)


def _assembled(content: list[dict[str, Any]], stop_reason: str | None, usage: dict[str, Any]) -> Assembled:
    out = Assembled()
    texts = [b.get("text", "") for b in content if b.get("type") == "text"]
    thinking = [b.get("thinking", "") for b in content if b.get("type") == "thinking"]
    out.text = "".join(texts) if texts else None
    out.thinking = "".join(thinking) if thinking else None
    out.tool_calls = [{"id": b.get("id"), "name": b.get("name"), "arguments": arguments(b.get("input"))}
                      for b in content if b.get("type") == "tool_use"]
    out.finish_reason = out.natural(_FINISH.get(stop_reason, stop_reason))
    out.usage = counted(input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"),
                        cached_tokens=usage.get("cache_read_input_tokens") or None,
                        cache_creation_input_tokens=usage.get("cache_creation_input_tokens") or None)
    return out
