"""The in-process store: bounded, for one event loop (so no locks are needed).

Conversations are evicted least-recently-used past a cap, each conversation keeps a
capped number of tool results (for the conversation listing), stored responses are
evicted least-recently-used, and the journal is a ring buffer.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import buckets
from .base import Bounds, JournalEntry, Stats, StoredResponse, journal_footprint
from .buckets import Admission, BucketLimit

if TYPE_CHECKING:
    from ..model import Message


class Conversation:
    __slots__ = ("id", "requests", "last_turn", "tool_results", "_seen", "rule_hits", "first_seen", "last_seen")

    def __init__(self, conversation_id: str, max_tool_results: int, now: float):
        self.id = conversation_id
        self.requests = 0
        self.last_turn = 0
        self.tool_results: deque[str] = deque(maxlen=max_tool_results)  # lower-cased
        self._seen: set[str] = set()
        self.rule_hits: dict[int, int] = {}
        self.first_seen = self.last_seen = now

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

    def history(self, stored: StoredResponse) -> list[Message]:
        """Every message of the chain ending at `stored`, oldest first.

        An ancestor evicted from the store ends the walk: the history then starts after it.
        """
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

    A bucket is a small mutable list, refilled and taken by buckets.py: [requests left, tokens left, when].
    """

    def __init__(self, max_keys: int = buckets.MAX_BUCKET_KEYS):
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


class MemoryStore:
    """`base.Store` in this process's memory."""

    def __init__(self, bounds: Bounds = Bounds(), redacted_headers: frozenset[str] = frozenset()):
        self.bounds = bounds
        self.redacted_headers = redacted_headers
        self._responses = ResponseStore(bounds.max_responses)
        self._buckets = BucketStore()
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._journal: deque[JournalEntry] = deque()
        self._journal_sizes: deque[int] = deque()  # each entry's journal_footprint, in the same order
        self._journal_bytes = 0
        self._stats = Stats(started=time.time())

    async def resize(self, bounds: Bounds) -> None:
        # Nothing here can fail (the config's schema bounds every size), so no half-applied bounds.
        self.bounds = bounds
        self._responses.resize(bounds.max_responses)
        while len(self._conversations) > bounds.max_conversations:
            self._conversations.popitem(last=False)
        self._trim_journal()

    # -- conversations and rule counters

    async def open_turn(self, conversation_id: str, now: float, turn: int | None,
                        tool_results: Sequence[str]) -> tuple[int, Mapping[int, int]]:
        conv = self._conversations.get(conversation_id)
        if conv is None:
            conv = Conversation(conversation_id, self.bounds.max_tool_results, now)
            self._conversations[conversation_id] = conv
            if len(self._conversations) > self.bounds.max_conversations:
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(conversation_id)
            conv.last_seen = now
        if tool_results:
            conv.add_tool_results(tool_results)
        conv.requests += 1
        conv.last_turn = conv.requests if turn is None else turn
        return conv.last_turn, conv.rule_hits

    async def count_hit(self, conversation_id: str, rule_index: int, times: int | None) -> int | None:
        conv = self._conversations.get(conversation_id)
        if conv is None:  # evicted since its turn opened: it starts over
            conv = self._conversations[conversation_id] = Conversation(conversation_id, self.bounds.max_tool_results,
                                                                       time.time())
        hits = conv.rule_hits.get(rule_index, 0)
        if times is not None and hits >= times:
            return None
        conv.rule_hits[rule_index] = hits + 1
        return hits

    async def clear_rule_counters(self) -> None:
        for conv in self._conversations.values():
            conv.rule_hits.clear()

    async def conversations(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        total = len(self._conversations)
        out = []
        for i, conv in enumerate(reversed(self._conversations.values())):
            if i < offset:
                continue
            if len(out) >= limit:
                break
            out.append(conv.summary())
        return total, out

    async def conversation_count(self) -> int:
        return len(self._conversations)

    # -- rate limits

    async def admit(self, limits: Sequence[BucketLimit], key: str, need: int, now: float) -> Admission:
        entries = [self._bucket(lim, key, now) for lim in limits]
        admission = buckets.check(tuple(limits), entries, need)
        if admission.wait_s == 0:
            buckets.take(tuple(limits), entries, need)
        return admission

    async def settle(self, limits: Sequence[BucketLimit], key: str, output_tokens: int, now: float) -> list[float]:
        entry: list[float] = []
        for lim in limits:
            entry = self._bucket(lim, key, now)
            if lim.tok_rate:
                entry[1] -= output_tokens
        return list(entry)

    def _bucket(self, limit: BucketLimit, api_key: str, now: float) -> list[float]:
        key = limit.key(api_key)
        entry = self._buckets.get(key)
        refilled = buckets.refill(limit, entry, now)
        if entry is None:
            self._buckets.put(key, refilled)
        return refilled

    async def clear_buckets(self) -> None:
        self._buckets.clear()

    async def bucket_count(self) -> int:
        return len(self._buckets)

    # -- journal and stats

    async def record(self, entry: JournalEntry) -> JournalEntry:
        stats = self._stats
        stats.total += 1
        entry.id = stats.total  # ids count requests
        size = journal_footprint(entry)
        self._journal.append(entry)
        self._journal_sizes.append(size)
        self._journal_bytes += size
        if len(self._journal) > self.bounds.journal_size or self._journal_bytes > self.bounds.journal_bytes:
            self._trim_journal()
        stats.by_api[entry.api] = stats.by_api.get(entry.api, 0) + 1
        rule = entry.rule
        if rule is None:
            stats.unmatched += 1
        else:
            stats.by_rule[rule] = stats.by_rule.get(rule, 0) + 1
            stats.last_hit[rule] = entry.time
        return entry

    def _trim_journal(self) -> None:
        """Drop the oldest entries beyond the bounds; the newest entry always stays."""
        journal, sizes, bounds = self._journal, self._journal_sizes, self.bounds
        while len(journal) > 1 and (len(journal) > bounds.journal_size or self._journal_bytes > bounds.journal_bytes):
            journal.popleft()
            self._journal_bytes -= sizes.popleft()

    async def note_latency(self, entry: JournalEntry, latency_ms: float) -> None:
        entry.latency_ms = latency_ms

    async def journal(self, after: int = 0) -> list[JournalEntry]:
        if not after:
            return list(self._journal)
        newer = []
        for entry in reversed(self._journal):  # walk back only as far as needed
            if entry.id <= after:
                break
            newer.append(entry)
        newer.reverse()
        return newer

    async def journal_info(self) -> tuple[int, int | None, int]:
        journal = self._journal
        return len(journal), journal[0].id if journal else None, self.bounds.journal_size

    async def clear_journal(self) -> int:
        n = len(self._journal)
        self._journal.clear()
        self._journal_sizes.clear()
        self._journal_bytes = 0
        return n

    async def stats(self) -> Stats:
        s = self._stats
        return Stats(s.started, s.total, s.unmatched, dict(s.by_rule), dict(s.by_api), dict(s.last_hit))

    # -- stored responses

    async def put_response(self, stored: StoredResponse) -> None:
        self._responses.put(stored)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        return self._responses.get(response_id)

    async def delete_response(self, response_id: str) -> bool:
        return self._responses.delete(response_id)

    async def response_history(self, response_id: str) -> tuple[StoredResponse, list[Message]] | None:
        stored = self._responses.get(response_id)
        if stored is None:
            return None
        return stored, self._responses.history(stored)

    async def owner_of_item(self, item_id: str) -> StoredResponse | None:
        return self._responses.owner_of_item(item_id)

    # -- everything

    async def reset(self) -> int:
        n = len(self._conversations)
        self._conversations.clear()
        self._responses.clear()
        self._buckets.clear()
        return n
