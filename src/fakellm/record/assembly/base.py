"""The neutral shape of a recorded answer, and what every API's assembler shares."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Assembled:
    """One upstream answer, as a rule's `respond` says it. `finish_reason` is neutral (stop, length,
    tool_calls, stop_sequence) or the API's own word, None when it is the natural one (tool_calls
    with tool calls, else stop); `usage` holds the keys of `respond.usage`."""

    status: int = 200
    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments}
    thinking: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None  # {message, type, code, param}: only the keys the API sent

    def natural(self, neutral: str | None) -> str | None:
        """`neutral`, or None when a replay would give that finish reason anyway."""
        expected = "tool_calls" if self.tool_calls else "stop"
        return None if neutral in (None, expected) else neutral


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    """A stream's events as (event name, decoded JSON data); `[DONE]` and empty data are skipped.
    A body that is a JSON array (Gemini streaming without alt=sse) gives its items."""
    text = raw.decode("utf-8")
    if text.lstrip().startswith("["):
        return [(None, item) for item in json.loads(text)]
    out: list[tuple[str | None, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        payload = "\n".join(data)
        if payload and payload != "[DONE]":
            out.append((event, json.loads(payload)))
    return out


def error_of(status: int, body: bytes) -> Assembled:
    """An error answer: the message, type, code and param of the API's error object, as far as it has them."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    error: dict[str, Any] = {}
    obj = data.get("error") if isinstance(data, dict) else None
    if isinstance(obj, dict):
        if isinstance(obj.get("message"), str):
            error["message"] = obj["message"]
        # Gemini's `status` (RESOURCE_EXHAUSTED) and numeric code follow from the HTTP status on replay.
        if isinstance(obj.get("type"), str):
            error["type"] = obj["type"]
        if isinstance(obj.get("code"), str):
            error["code"] = obj["code"]
        if isinstance(obj.get("param"), str):
            error["param"] = obj["param"]
    elif isinstance(obj, str):
        error["message"] = obj
    if "message" not in error:
        error["message"] = body.decode("utf-8", "replace")[:500] or f"upstream answered {status}"
    return Assembled(status=status, error=error)


def arguments(value: Any) -> Any:
    """Tool-call arguments for a rule: an object when they are one (readable YAML), else the text."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value) if value else {}
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


def counted(**values: Any) -> dict[str, int]:
    """Usage keys with the integers the API gave (absent or null ones left out)."""
    return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
