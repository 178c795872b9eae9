"""Server state behind one small interface: conversations, counters, journal, stats.

Everything is bounded: conversations are evicted least-recently-used past a
cap, each conversation keeps a capped number of tool results, and the journal
is a ring buffer. A shared store could implement the same methods later.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

import orjson

if TYPE_CHECKING:
    from ..model import Message, Reply, Request
    from ..engine.rules import MissExplanation

REDACTED_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization"})


class Conversation:
    __slots__ = ("id", "requests", "last_turn", "tool_results", "_seen", "rule_hits", "first_seen", "last_seen")

    def __init__(self, conversation_id: str, max_tool_results: int):
        self.id = conversation_id
        self.requests = 0
        self.last_turn = 0
        self.tool_results: deque[str] = deque(maxlen=max_tool_results)  # lower-cased
        self._seen: set[str] = set()
        self.rule_hits: dict[int, int] = {}
        self.first_seen = self.last_seen = time.time()

    def add_tool_results(self, texts: Iterable[str]) -> None:
        for text in texts:
            low = text.lower()
            if low in self._seen:
                continue
            if len(self.tool_results) == self.tool_results.maxlen:
                self._seen.discard(self.tool_results[0])
            self.tool_results.append(low)
            self._seen.add(low)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requests": self.requests,
            "turn": self.last_turn,
            "tool_results_seen": len(self.tool_results),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


@dataclass(slots=True)
class StoredResponse:
    """A Responses API response kept for GET /v1/responses/{id} and previous_response_id.

    `messages` holds only this response's own turn (its input items and its
    output); the full history is rebuilt by following `previous_id`.
    """

    id: str
    body: bytes  # the response object as rendered
    conversation_id: str
    previous_id: str | None
    messages: list[Message]
    input: Any = None  # the request's `input` as sent, for GET .../input_items
    item_ids: tuple[str, ...] = ()  # its output items' ids, which later input may refer to by id alone


class ResponseStore:
    """Stored responses, least recently used evicted past `max_responses`."""

    def __init__(self, max_responses: int):
        self.max_responses = max_responses
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._owner_of_item: dict[str, str] = {}  # output item id -> the id of the response holding it

    def put(self, stored: StoredResponse) -> None:
        self._items[stored.id] = stored
        self._items.move_to_end(stored.id)
        for item_id in stored.item_ids:
            self._owner_of_item[item_id] = stored.id
        while len(self._items) > self.max_responses:
            self._forget(self._items.popitem(last=False)[1])

    def _forget(self, stored: StoredResponse) -> None:
        for item_id in stored.item_ids:
            self._owner_of_item.pop(item_id, None)

    def owner_of_item(self, item_id: str) -> StoredResponse | None:
        """The stored response whose output has an item with this id."""
        owner = self._owner_of_item.get(item_id)
        return self._items.get(owner) if owner is not None else None

    def get(self, response_id: str) -> StoredResponse | None:
        stored = self._items.get(response_id)
        if stored is not None:
            self._items.move_to_end(response_id)
        return stored

    def delete(self, response_id: str) -> bool:
        stored = self._items.pop(response_id, None)
        if stored is None:
            return False
        self._forget(stored)
        return True

    def history(self, response_id: str) -> list[Message] | None:
        """Every message of the chain ending at `response_id`, oldest first; None if it is unknown.

        An ancestor evicted from the store ends the walk: the history then starts after it.
        """
        stored = self.get(response_id)
        if stored is None:
            return None
        chain = [stored]
        seen = {stored.id}
        while chain[-1].previous_id is not None:
            parent = self.get(chain[-1].previous_id)
            if parent is None or parent.id in seen:
                break
            seen.add(parent.id)
            chain.append(parent)
        return [m for s in reversed(chain) for m in s.messages]

    def resize(self, max_responses: int) -> None:
        self.max_responses = max_responses
        while len(self._items) > max_responses:
            self._forget(self._items.popitem(last=False)[1])

    def clear(self) -> int:
        n = len(self._items)
        self._items.clear()
        self._owner_of_item.clear()
        return n

    def __len__(self) -> int:
        return len(self._items)


class BucketStore:
    """Rate-limit buckets by (limit, API key); the least recently used are forgotten past `max_keys`.

    A bucket is a small mutable list owned by ratelimit.py: [requests left, tokens left, when].
    """

    def __init__(self, max_keys: int = 10_000):
        self.max_keys = max_keys
        self._items: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> list[float] | None:
        bucket = self._items.get(key)
        if bucket is not None:
            self._items.move_to_end(key)
        return bucket

    def put(self, key: tuple[str, str], bucket: list[float]) -> None:
        self._items[key] = bucket
        if len(self._items) > self.max_keys:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class JournalEntry:
    """One LLM request as fakellm saw and answered it.

    Recording is cheap on the request path: the entry keeps the raw body bytes,
    the header dict and the few reply fields it shows, and builds the journal's
    dict shapes (parsed body, redacted headers, tool calls, error) only when
    read. It holds as few objects as it can because the ring buffer frees them
    a thousand requests later, when they are long out of the CPU's caches:
    freeing one bytes object is cheap, freeing a parsed body's many small
    objects (or the whole Reply with its Usage) is not.
    """

    __slots__ = ("id", "time", "api", "path", "model", "stream", "conversation_id", "turn", "rule", "status",
                 "content", "_tool_calls", "_error", "_body", "_headers", "_explanation", "latency_ms")

    def __init__(self, id: int, time: float, request: Request, reply: Reply,
                 explanation: MissExplanation | None = None, raw_body: bytes | None = None):
        self.id = id
        self.time = time
        self.api = request.api
        self.path = request.path
        self.model = request.model
        self.stream = request.stream
        self.conversation_id = reply.conversation_id
        self.turn = reply.turn
        self.rule = reply.rule  # None: no rule matched
        self.status = reply.status
        self.content = reply.content
        # The reply's own list: the server fills in tool call ids after recording.
        self._tool_calls = reply.tool_calls or ()
        self._error = reply.error
        self._body: bytes | dict[str, Any] = raw_body if raw_body is not None else request.body
        self._headers = request.headers
        self._explanation = explanation
        self.latency_ms: float | None = None  # for the dashboard and stats, not part of the journal format

    @property
    def request(self) -> dict[str, Any]:
        """The request body as sent."""
        body = self._body
        return orjson.loads(body) if isinstance(body, bytes) else body

    @property
    def headers(self) -> dict[str, str]:
        """The request headers, secrets redacted."""
        return redact(self._headers)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self._tool_calls]

    @property
    def error(self) -> dict[str, Any] | None:
        error = self._error
        if error is None:
            return None
        return {"message": error.message, "type": error.type, "code": error.code}

    @property
    def explanation(self) -> dict[str, Any] | None:
        """Why no rule fired (only for a miss)."""
        return self._explanation.as_dict() if self._explanation is not None else None

    def drop_body(self, size: int, limit: int) -> None:
        """Forget a large request body, so the journal's memory stays bounded in bytes too."""
        note = f"request body of {size} bytes not kept in the journal (defaults.journal_body_bytes: {limit})"
        self._body = {"_fakellm": note}

    def as_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "time": self.time,
            "api": self.api,
            "path": self.path,
            "model": self.model,
            "stream": self.stream,
            "conversation_id": self.conversation_id,
            "turn": self.turn,
            "rule": self.rule,
            "request": self.request,
            "headers": self.headers,
            "reply": {
                "status": self.status,
                "content": self.content,
                "tool_calls": self.tool_calls,
                "error": self.error,
            },
        }
        if self._explanation is not None:
            out["explanation"] = self.explanation
        return out


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("[redacted]" if k in REDACTED_HEADERS else v) for k, v in headers.items()}


@dataclass
class Stats:
    total: int = 0
    unmatched: int = 0
    by_rule: Counter = field(default_factory=Counter)
    by_api: Counter = field(default_factory=Counter)
    last_hit: dict[str, float] = field(default_factory=dict)


class MemoryState:
    """In-process state. One event loop uses it, so no locks are needed."""

    def __init__(self, max_conversations: int = 10_000, max_tool_results: int = 256, journal_size: int = 1_000,
                 max_responses: int = 10_000):
        self.max_conversations = max_conversations
        self.responses = ResponseStore(max_responses)
        self.rate_buckets = BucketStore()
        self.max_tool_results = max_tool_results
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.journal: deque[JournalEntry] = deque(maxlen=journal_size)
        self.stats = Stats()
        self.started = time.time()

    def resize(self, max_conversations: int, max_tool_results: int, journal_size: int,
               max_responses: int | None = None) -> None:
        """Apply new limits (after a config reload), evicting what no longer fits."""
        if max_responses is not None:
            self.responses.resize(max_responses)
        self.max_conversations = max_conversations
        self.max_tool_results = max_tool_results
        while len(self._conversations) > max_conversations:
            self._conversations.popitem(last=False)
        if self.journal.maxlen != journal_size:
            self.journal = deque(self.journal, maxlen=journal_size)

    # -- conversations
    def conversation(self, conversation_id: str, now: float | None = None) -> Conversation:
        """Get (or start) a conversation and mark it most recently used (`now`: the time.time() of the request)."""
        conv = self._conversations.get(conversation_id)
        if conv is None:
            conv = Conversation(conversation_id, self.max_tool_results)
            self._conversations[conversation_id] = conv
            if len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(conversation_id)
            conv.last_seen = time.time() if now is None else now
        return conv

    def conversations(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Most recently used first."""
        total = len(self._conversations)
        out = []
        for i, conv in enumerate(reversed(self._conversations.values())):
            if i < offset:
                continue
            if len(out) >= limit:
                break
            out.append(conv.summary())
        return total, out

    @property
    def conversation_count(self) -> int:
        return len(self._conversations)

    def clear_rule_counters(self) -> None:
        """Restart every conversation's sequence and `times` counters (the rules changed)."""
        for conv in self._conversations.values():
            conv.rule_hits.clear()

    def reset(self) -> int:
        """Forget conversations (turn counters, tool results, sequence counters), stored responses and
        rate-limit buckets."""
        n = len(self._conversations)
        self._conversations.clear()
        self.responses.clear()
        self.rate_buckets.clear()
        return n

    # -- journal and stats
    def record(self, request: Request, reply: Reply, explanation: MissExplanation | None = None,
               raw_body: bytes | None = None, now: float | None = None) -> JournalEntry:
        """Journal one answered request and count it; `now` is its time.time()."""
        if now is None:
            now = time.time()
        stats = self.stats
        stats.total += 1
        entry = JournalEntry(stats.total, now, request, reply, explanation, raw_body)  # ids count requests
        self.journal.append(entry)
        stats.by_api[request.api] += 1
        rule = reply.rule
        if rule is None:
            stats.unmatched += 1
        else:
            stats.by_rule[rule] += 1
            stats.last_hit[rule] = now
        return entry

    def clear_journal(self) -> int:
        n = len(self.journal)
        self.journal.clear()
        return n
