"""The store: the one owner of fakellm's mutable state, behind one async interface.

Each method is one complete step that a shared backend (Redis) can make atomic:
open a conversation's turn, count a rule hit and say its sequence index, admit a
request against rate-limit buckets, record a finished journal entry, store / fetch /
delete a response, clear. `memory.MemoryStore` is the in-process implementation;
`redis.RedisStore` keeps the same state in Redis, shared by several processes.

What is handed to the store is plain data: a journal entry is finished when it is
recorded (only its latency is noted later, through `note_latency`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

import orjson

from .buckets import Admission, BucketLimit

if TYPE_CHECKING:
    from ..model import Message


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


@dataclass(slots=True)
class JournalEntry:
    """One LLM request as fakellm saw and answered it: plain data, finished when recorded.

    It keeps the body as the bytes received (parsed only when read) and the header dict
    as parsed (never changed after parsing); secrets are redacted when it is read.
    """

    time: float
    api: str
    path: str
    model: str
    stream: bool
    conversation_id: str
    turn: int
    rule: str | None  # None: no rule matched
    status: int
    content: str | None
    tool_calls: tuple[tuple[str, str, str], ...]  # (id, name, arguments)
    error: tuple[str, str | None, str | None] | None  # (message, type, code)
    body: bytes | dict[str, Any]
    headers: Mapping[str, str]
    explanation: dict[str, Any] | None = None  # why no rule fired (only for a miss)
    id: int = 0  # given by the store: ids count requests
    latency_ms: float | None = None  # noted by the store once the answer is sent
    worker: str | None = None  # which process answered, in a fleet sharing one store (None: a lone process)
    header_bytes: int = -1  # the headers' size, when the engine knows it already (-1: count them)
    notes: tuple[str, ...] = ()  # how the reply was made, where that is worth saying (engine/shaping.py)

    def as_dict(self, redacted: frozenset[str] = frozenset()) -> dict[str, Any]:
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
            "headers": redact(self.headers, redacted),
            "reply": {
                "status": self.status,
                "content": self.content,
                "tool_calls": [{"id": i, "name": n, "arguments": a} for i, n, a in self.tool_calls],
                "error": None if self.error is None else dict(zip(("message", "type", "code"), self.error, strict=True)),
            },
        }
        if self.explanation is not None:
            out["explanation"] = self.explanation
        if self.notes:
            out["notes"] = list(self.notes)
        if self.worker is not None:
            out["worker"] = self.worker
        return out

    @property
    def request(self) -> dict[str, Any]:
        """The request body as sent."""
        return orjson.loads(self.body) if isinstance(self.body, bytes) else self.body


# A header value longer than this is cut in the journal (one client sending megabyte headers must
# not fill the memory); the request itself saw the whole value.
JOURNAL_HEADER_VALUE_CHARS = 2048
JOURNAL_HEADERS = 64  # headers kept per entry, the first ones sent
_ENTRY_OVERHEAD = 512  # the entry's own fields, roughly


def journal_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` as the journal keeps them: the same dict when small (the usual case, shared with the
    request), else a copy with long values cut and at most JOURNAL_HEADERS names."""
    if len(headers) <= JOURNAL_HEADERS and max(map(len, headers.values()), default=0) <= JOURNAL_HEADER_VALUE_CHARS:
        return headers  # (map and max run in C: this is on every request's path)
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) == JOURNAL_HEADERS:
            kept["x-fakellm-journal"] = f"{len(headers) - JOURNAL_HEADERS} more header(s) not kept"
            break
        if len(value) > JOURNAL_HEADER_VALUE_CHARS:
            value = f"{value[:JOURNAL_HEADER_VALUE_CHARS]}... [{len(value)} characters, cut in the journal]"
        kept[name] = value
    return kept


def journal_footprint(entry: JournalEntry) -> int:
    """About how many bytes an entry holds: what the journal's byte budget counts."""
    body = entry.body
    header_bytes = entry.header_bytes if entry.header_bytes >= 0 else headers_size(entry.headers)
    return _ENTRY_OVERHEAD + (len(body) if isinstance(body, bytes) else 256) + len(entry.content or "") + header_bytes


def headers_size(headers: Mapping[str, str]) -> int:
    return sum(map(len, headers)) + sum(map(len, headers.values()))


# Headers that carry secrets whatever their provider: named, and any whose name has one of these words.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "openai-organization",
                            "openai-project", "ocp-apim-subscription-key", "x-amz-security-token", "x-auth-token",
                            "helicone-auth", "x-portkey-api-key"})
SECRET_WORDS = ("key", "token", "secret", "auth", "session")


def is_secret(name: str, names: frozenset[str] = frozenset()) -> bool:
    """Whether a (lower-cased) header name carries a secret: shown as "[redacted]", never stored in clear."""
    return name in names or name in SECRET_HEADERS or any(word in name for word in SECRET_WORDS)


def redact(headers: Mapping[str, str], names: frozenset[str] = frozenset()) -> dict[str, str]:
    return {k: (_redacted(k, v) if is_secret(k, names) else v) for k, v in headers.items()}


def _redacted(name: str, value: str) -> str:
    """A secret header as shown: "[redacted]", except that an AWS SigV4 signature keeps its access key id,
    which names the key without being it (the signature and the scope are never shown)."""
    if name == "authorization":
        key = sigv4_access_key(value)
        if key:
            return f"{SIGV4} Credential={key}/[redacted]"
    return "[redacted]"


SIGV4 = "AWS4-HMAC-SHA256"


def sigv4_access_key(authorization: str) -> str | None:
    """The access key id of an AWS SigV4 `Authorization` value (`AWS4-HMAC-SHA256 Credential=AKID/date/...`),
    or None for any other value."""
    if not authorization.startswith(SIGV4 + " "):
        return None
    start = authorization.find("Credential=")
    if start < 0:
        return None
    key = authorization[start + len("Credential="):].split("/", 1)[0]
    return key if key.isascii() and key.isalnum() else None


@dataclass(slots=True)
class Stats:
    """Counts since the server started (a reset keeps them)."""

    started: float
    total: int = 0
    unmatched: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_api: dict[str, int] = field(default_factory=dict)
    last_hit: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The bounds a config sets on the store (`defaults`)."""

    max_conversations: int = 10_000
    max_tool_results: int = 256
    journal_size: int = 1_000
    max_responses: int = 10_000
    journal_bytes: int = 64 * 1024 * 1024  # the journal's entries together, as `journal_footprint` counts them


class StateUnavailable(Exception):
    """A shared store (Redis) could not be reached or failed: the message says what failed and where
    (never with a password). The server answers 503 rather than guess at state it cannot see."""


class Store(Protocol):
    """Everything fakellm remembers. Every method is one step a shared backend can make atomic."""

    redacted_headers: frozenset[str]

    async def resize(self, bounds: Bounds) -> None:
        """Apply a config's bounds, evicting what no longer fits. All or nothing: if it raises, the
        store is as it was (the config that asked for the bounds is then not served)."""

    # -- conversations and rule counters

    async def open_turn(self, conversation_id: str, now: float, turn: int | None,
                        tool_results: Sequence[str]) -> tuple[int, Mapping[int, int]]:
        """Count one request of a conversation. Returns its turn (`turn`, or with None the number of
        requests the conversation has had, this one included) and the conversation's rule hits."""

    async def count_hit(self, conversation_id: str, rule_index: int, times: int | None) -> int | None:
        """Count a hit of a rule in a conversation and return its 0-based index; None, counting nothing,
        when the rule has already answered `times` times there."""

    async def clear_rule_counters(self) -> None:
        """Restart every conversation's sequence and `times` counters (the rules changed)."""

    async def conversations(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """The total and one page of conversation summaries, most recently used first."""

    async def conversation_count(self) -> int: ...

    # -- rate limits

    async def admit(self, limits: Sequence[BucketLimit], key: str, need: int, now: float) -> Admission:
        """Take one request and `need` tokens from each limit's bucket for `key`, or (over a limit)
        take nothing and say how long to wait."""

    async def settle(self, limits: Sequence[BucketLimit], key: str, output_tokens: int,
                     now: float) -> list[float]:
        """Take a reply's output tokens from the buckets; returns the last bucket's state
        [requests left, tokens left, when]."""

    async def clear_buckets(self) -> None: ...

    async def bucket_count(self) -> int: ...

    # -- journal and stats

    async def record(self, entry: JournalEntry) -> JournalEntry:
        """Journal a finished entry and count it; returns it with its id."""

    async def note_latency(self, entry: JournalEntry, latency_ms: float) -> None: ...

    async def journal(self, after: int = 0) -> list[JournalEntry]:
        """Entries with an id above `after`, oldest first. The journal holds at most `journal_size`
        entries and `journal_bytes` bytes (`journal_footprint`); the oldest go first."""

    async def journal_info(self) -> tuple[int, int | None, int]:
        """(entries held, the oldest entry's id or None, capacity)."""

    async def clear_journal(self) -> int: ...

    async def stats(self) -> Stats: ...

    # -- stored responses (OpenAI Responses API)

    async def put_response(self, stored: StoredResponse) -> None: ...

    async def get_response(self, response_id: str) -> StoredResponse | None: ...

    async def delete_response(self, response_id: str) -> bool: ...

    async def response_history(self, response_id: str) -> tuple[StoredResponse, list[Message]] | None:
        """The response and every message of the chain ending at it, oldest first; None if unknown."""

    async def owner_of_item(self, item_id: str) -> StoredResponse | None:
        """The stored response whose output has an item with this id."""

    # -- everything

    async def reset(self) -> int:
        """Forget conversations (turns, counters), stored responses and rate-limit buckets; keep the
        journal and stats. Returns the number of conversations forgotten."""
