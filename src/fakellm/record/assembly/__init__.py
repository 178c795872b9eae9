"""What an upstream answer said, assembled from its JSON body or its stream of events, per API."""

from __future__ import annotations

from typing import Callable

from . import anthropic, gemini, openai_chat, openai_responses
from .base import Assembled, error_of, sse_events

# api -> (from a JSON body, from a stream's decoded events)
_BY_API: dict[str, tuple[Callable, Callable]] = {
    "openai.chat": (openai_chat.from_json, openai_chat.from_events),
    "openai.responses": (openai_responses.from_json, openai_responses.from_events),
    "anthropic.messages": (anthropic.from_json, anthropic.from_events),
    "gemini.generate": (gemini.from_json, gemini.from_events),
}

RECORDED_APIS = frozenset(_BY_API)


def assemble(api: str, status: int, body: bytes, streamed: bool) -> Assembled:
    """The answer in an upstream response: an error for a status >= 400, else its text, tool calls,
    thinking, finish reason and usage. Raises ValueError for a body that cannot be understood."""
    if status >= 400:
        return error_of(status, body)
    from_json, from_events = _BY_API[api]
    if streamed or body.lstrip()[:1] == b"[":  # Gemini streams a JSON array without alt=sse
        return from_events(sse_events(body))
    import json

    return from_json(json.loads(body))


__all__ = ["Assembled", "RECORDED_APIS", "assemble"]
