"""Journal entries and stored responses as bytes, for a store outside this process (Redis).

Each is one orjson document holding every field by name, then a newline, then the body as the
exact bytes received or rendered. orjson never writes a raw newline, so the first one ends the
document; the body is kept byte for byte, without escaping it into a JSON string.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..model import Message, ToolCall
from .base import JournalEntry, StoredResponse

_END_OF_FIELDS = b"\n"


def dump_entry(entry: JournalEntry) -> bytes:
    body = entry.body
    fields = {
        "id": entry.id,
        "time": entry.time,
        "api": entry.api,
        "path": entry.path,
        "model": entry.model,
        "stream": entry.stream,
        "conversation_id": entry.conversation_id,
        "turn": entry.turn,
        "rule": entry.rule,
        "status": entry.status,
        "content": entry.content,
        "tool_calls": entry.tool_calls,
        "error": entry.error,
        "headers": dict(entry.headers),
        "explanation": entry.explanation,
        "latency_ms": entry.latency_ms,
        "worker": entry.worker,
        "notes": entry.notes,
        # The body is the bytes received, or (when the journal does not keep them) a note as a dict.
        "body_is_bytes": isinstance(body, bytes),
    }
    tail = body if isinstance(body, bytes) else orjson.dumps(body)
    return orjson.dumps(fields) + _END_OF_FIELDS + tail


def load_entry(blob: bytes) -> JournalEntry:
    head, _, tail = blob.partition(_END_OF_FIELDS)
    f = orjson.loads(head)
    error = f["error"]
    return JournalEntry(
        time=f["time"],
        api=f["api"],
        path=f["path"],
        model=f["model"],
        stream=f["stream"],
        conversation_id=f["conversation_id"],
        turn=f["turn"],
        rule=f["rule"],
        status=f["status"],
        content=f["content"],
        tool_calls=tuple((call_id, name, arguments) for call_id, name, arguments in f["tool_calls"]),
        error=None if error is None else (error[0], error[1], error[2]),
        body=tail if f["body_is_bytes"] else orjson.loads(tail),
        headers=f["headers"],
        explanation=f["explanation"],
        id=f["id"],
        latency_ms=f["latency_ms"],
        worker=f["worker"],
        notes=tuple(f.get("notes") or ()),
    )


def dump_response(stored: StoredResponse) -> bytes:
    fields = {
        "id": stored.id,
        "conversation_id": stored.conversation_id,
        "previous_id": stored.previous_id,
        "messages": [_dump_message(m) for m in stored.messages],
        "input": stored.input,
        "item_ids": stored.item_ids,
    }
    return orjson.dumps(fields) + _END_OF_FIELDS + stored.body


def load_response(blob: bytes) -> StoredResponse:
    head, _, body = blob.partition(_END_OF_FIELDS)
    f = orjson.loads(head)
    return StoredResponse(
        id=f["id"],
        body=body,
        conversation_id=f["conversation_id"],
        previous_id=f["previous_id"],
        messages=[_load_message(m) for m in f["messages"]],
        input=f["input"],
        item_ids=tuple(f["item_ids"]),
    )


def _dump_message(m: Message) -> dict[str, Any]:
    return {"role": m.role, "text": m.text, "tool_calls": [(c.name, c.arguments, c.id) for c in m.tool_calls],
            "tool_results": m.tool_results}


def _load_message(m: dict[str, Any]) -> Message:
    return Message(m["role"], m["text"], [ToolCall(name, arguments, call_id) for name, arguments, call_id in m["tool_calls"]],
                   list(m["tool_results"]))
