"""The Realtime API's server events: their names (GA, or the beta's for `OpenAI-Beta: realtime=v1`),
the items, responses and sessions they carry, and each event's unique `event_id`."""

from __future__ import annotations

import itertools
import time
from typing import Any

from ....model import ErrorInfo

# The beta names of GA events; a GA event missing here has the same name in the beta (None: the beta
# has no such event).
BETA_NAMES: dict[str, str | None] = {
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
}

# The content events of a response, which the delivery layer paces (orjson writes "type" first).
CONTENT_EVENT_MARKERS = (b'{"type":"response.output_text.delta"', b'{"type":"response.text.delta"',
                         b'{"type":"response.function_call_arguments.delta"')

# (type, code) of an error event by status, when the error names none.
ERROR_DEFAULTS = {429: ("rate_limit_exceeded", "rate_limit_exceeded"), 404: ("invalid_request_error", "not_found")}


class Events:
    """Builds one socket's server events in its dialect, each with an `event_id` unique on the socket
    (and, with the session id in it, across sockets)."""

    def __init__(self, session_id: str, beta: bool):
        self.beta = beta
        self._prefix = f"event_{session_id}"
        self._count = itertools.count(1)

    def __call__(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        """The event `kind` (its GA name), or None when the dialect has no such event."""
        if self.beta and kind in BETA_NAMES:
            kind = BETA_NAMES[kind]
            if kind is None:
                return None
        return {"type": kind, "event_id": f"{self._prefix}{next(self._count):04x}", **fields}

    def error(self, message: str, *, type: str = "invalid_request_error", code: str | None = None,
              param: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        """An `error` event; `event_id` names the client event it answers."""
        event = self(
            "error", error={"type": type, "code": code, "message": message, "param": param, "event_id": event_id})
        assert event is not None
        return event

    def error_info(self, status: int, error: ErrorInfo, event_id: str | None = None) -> dict[str, Any]:
        """An `error` event for an HTTP-style error (a rule's, a rate limit's, a fault's)."""
        default_type, default_code = ERROR_DEFAULTS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return self.error(error.message, type=error.type or default_type,
                          code=error.code if error.code is not None else default_code, param=error.param,
                          event_id=event_id)

    # -- what the events carry

    def output_text_part(self, text: str) -> dict[str, Any]:
        """An assistant message's text part, as an item carries it."""
        return {"type": "text" if self.beta else "output_text", "text": text}

    def modalities_key(self) -> str:
        return "modalities" if self.beta else "output_modalities"

    def max_tokens_key(self) -> str:
        return "max_response_output_tokens" if self.beta else "max_output_tokens"


def message_item(item_id: str, role: str, content: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "object": "realtime.item", "status": status, "role": role,
            "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str,
                       status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "object": "realtime.item", "status": status, "name": name,
            "call_id": call_id, "arguments": arguments}


def response_object(events: Events, response_id: str, conversation_id: str | None, status: str,
                    output: list[dict[str, Any]], *, usage: dict[str, Any] | None = None,
                    status_details: dict[str, Any] | None = None, max_tokens: Any = "inf",
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"object": "realtime.response", "id": response_id, "status": status, "status_details": status_details,
            "output": output, "conversation_id": conversation_id, events.modalities_key(): ["text"],
            "max_output_tokens": max_tokens, "metadata": metadata, "usage": usage}


def usage_object(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {"total_tokens": input_tokens + output_tokens, "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {"text_tokens": input_tokens, "audio_tokens": 0, "image_tokens": 0,
                                    "cached_tokens": 0},
            "output_token_details": {"text_tokens": output_tokens, "audio_tokens": 0}}


def new_session(events: Events, session_id: str, model: str) -> dict[str, Any]:
    """A session's settings as `session.created` shows them: text output (fakellm simulates no audio)."""
    session: dict[str, Any] = {
        "id": f"sess_{session_id}", "object": "realtime.session", "model": model,
        events.modalities_key(): ["text"], "instructions": "", "tools": [], "tool_choice": "auto",
        events.max_tokens_key(): "inf", "expires_at": int(time.time()) + 30 * 60,
    }
    if events.beta:
        session.update({"voice": "alloy", "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                        "turn_detection": None, "temperature": 0.8})
    else:
        session = {"type": "realtime", **session}
    return session


def output_so_far(sent: list[dict[str, Any]], text_part: str) -> list[dict[str, Any]]:
    """The output items of a response as far as its sent events built them: an interrupted response's
    partial output (the last item begun stays `in_progress` until the caller closes it). `text_part`
    is the type of an item's text part in the socket's dialect."""
    items: list[dict[str, Any]] = []
    for event in sent:
        kind = event["type"]
        if kind == "response.output_item.added":
            items.append({**event["item"], "content": []} if event["item"]["type"] == "message"
                         else {**event["item"], "arguments": ""})
        elif kind == "response.content_part.added":
            items[-1]["content"].append({"type": text_part, "text": ""})
        elif kind in ("response.output_text.delta", "response.text.delta"):
            part = items[-1]["content"][-1]
            part["text"] += event["delta"]
        elif kind == "response.function_call_arguments.delta":
            items[-1]["arguments"] += event["delta"]
        elif kind == "response.output_item.done":
            items[-1] = event["item"]
    return items
