"""The Redis store: `base.Store` kept in Redis, so that several processes answer as one mock.

Every step is one Lua script (redis_scripts.py, lua/), so Redis runs it atomically whatever
number of workers call it at once: a rule with `times: 100` gives exactly 100 hits, ids increase
across the fleet, a bucket is checked and taken in one step.

Bounds are the memory store's, counted the same way. Conversations, stored responses and rate-limit
buckets are evicted least recently used past their caps: each sits in a sorted set scored by one
fleet-wide use counter, so the order is exact across workers. (Not TTLs: a TTL does not bound how
many are held under load, and the config's bounds are counts.) Each conversation keeps at most
`max_tool_results` tool results; the journal is trimmed oldest first past `journal_size` entries or
`journal_bytes` (as `journal_footprint` counts them), keeping the newest.

What is kept differs from the memory store in two ways, both for secrets and size: a tool result is
kept as a 16-byte digest of its lower-cased text (the conversation listing only counts them), and a
rate-limit bucket is keyed by a digest of the API key, never the key.

Keys: every key is `<prefix>:<name>...` (prefix `fakellm` unless given; letters, digits, `_.-`), so
several fleets share one Redis; reset and clearing touch only the prefix's keys, found through the
prefix's own sorted sets (never KEYS, SCAN over the whole database, or FLUSHDB). The scripts build
keys from the prefix, so this needs one Redis (a primary), not a Redis Cluster.

Clocks: rate limiters pass their process's monotonic clock as `now`, which means nothing to another
machine. The store adds an offset, measured once against Redis's clock (TIME), so every process's
buckets count time on one clock; `clock_offset=0.0` keeps the callers' clock as it is.

Failures: socket timeouts of `timeout` seconds (0.5 by default), one immediate retry on a broken
connection (a Redis that restarted), none on a timeout; any Redis error or timeout raises
`StateUnavailable`, naming the URL without its password. The client reconnects by itself, so the
next call after Redis is back works. A client's connections belong to one event loop, so the store
keeps one client per running loop (tests may run each request in a fresh loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator, Mapping, Sequence

import orjson

try:
    import redis as redis_sync
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry as SyncRetry
except ImportError as e:  # the optional extra
    raise ImportError("the Redis store needs the redis package: pip install 'fakellm[redis]'") from e

from . import redis_scripts as lua
from .base import Bounds, JournalEntry, StateUnavailable, Stats, StoredResponse, journal_footprint
from .buckets import MAX_BUCKET_KEYS, Admission, BucketLimit
from .codec import dump_entry, dump_response, load_entry, load_response
from .redis_url import DEFAULT_PREFIX, check_prefix, parse_redis_url, redacted_url
from ..model import Message

__all__ = ["FleetConfig", "RedisStore", "StateUnavailable", "redacted_url"]

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
LATENCY_BATCH = 256
LATENCY_FLUSH_S = 0.05
POOL_SIZE = 128  # connections per process (and event loop) to Redis
POOL_WAIT_S = 2.0  # longest wait for a free one on a busy server (a failing Redis fails calls sooner)
GATE_SIZE = POOL_SIZE - 16  # Lua calls at once per process (and event loop): see _LoopClient
PROBE_S = 1.0  # while Redis is down, one call at a time tries it; another may try after this long


@dataclass(frozen=True, slots=True)
class _LoopClient:
    """What a store keeps per event loop: its Redis client, and the turn-taking of its Lua calls (`gate`).
    An overloaded worker (a thousand streams at once) makes its calls wait in order, without a deadline,
    where calls racing for the pool let some wait out its deadline and fail while others barged ahead;
    the gate holds fewer calls than the pool has connections, leaving room for pipelines and
    subscriptions."""

    client: Redis
    gate: asyncio.Semaphore


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """The config text a fleet serves, as kept in the store (beyond the Store protocol)."""

    text: str
    origin: str  # who published it (e.g. host, pid and file)
    version: int  # counts publications, fleet-wide
    time: float


class RedisStore:
    """`base.Store` in Redis. `RedisStore.connect(url)` checks the connection first; the constructor
    does no I/O (the first call connects)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str | None = None,
                 bounds: Bounds = Bounds(), redacted_headers: frozenset[str] = frozenset(),
                 worker: str | None = None, timeout: float = 0.5, clock_offset: float | None = None):
        location = parse_redis_url(url)
        self._location = location
        self.url = location.shown  # without the password: safe for banners, logs and messages
        self.prefix = check_prefix(prefix if prefix is not None else location.prefix or DEFAULT_PREFIX)
        self.bounds = bounds
        self.redacted_headers = redacted_headers
        # Beyond the protocol: who answers (journal entries say it) and where config changes are announced.
        self.worker = worker if worker is not None else _worker_name()
        self.config_channel = f"{self.prefix}:config"
        self.timeout = timeout
        self._clock_offset = clock_offset
        self._started = time.time()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self._latencies: list[tuple[int, float]] = []  # noted, not yet sent (see note_latency)
        self._latency_timer: asyncio.TimerHandle | None = None
        self._latency_timer_loop: asyncio.AbstractEventLoop | None = None
        self._down = False  # since a connection failure or timeout, until a call succeeds
        self._down_reason = ""
        self._probing = 0.0  # when the call trying Redis again (while down) started

    @classmethod
    def connect(cls, url: str, **options: Any) -> RedisStore:
        """A store for `url` (options as the constructor's), once Redis has answered a PING; raises
        StateUnavailable naming the URL (without its password) when it does not. Call it before the
        server's event loop runs: it talks to Redis synchronously."""
        store = cls(url, **options)
        store.check()
        return store

    def check(self) -> None:
        """PING Redis, note when the fleet's counts started (the first process to connect), and measure
        the clock offset (unless one was given)."""
        client = redis_sync.Redis(**self._connection_options(), retry=SyncRetry(NoBackoff(), 0))
        try:
            client.ping()
            before = time.monotonic()
            seconds, micros = client.time()
            after = time.monotonic()
            client.hsetnx(f"{self.prefix}:stats", "started", repr(time.time()))
        except (RedisError, OSError) as e:
            raise StateUnavailable(f"cannot use Redis at {self.url} for fakellm's state: {self._reason(e)}") from e
        finally:
            client.close()
        if self._clock_offset is None:
            self._clock_offset = seconds + micros / 1e6 - (before + after) / 2

    async def aclose(self) -> None:
        """Close this event loop's connections."""
        held = self._loops.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held.client.aclose()

    # -- plumbing

    def _connection_options(self) -> dict[str, Any]:
        loc = self._location
        return {"host": loc.host, "port": loc.port, "db": loc.db, "username": loc.username, "password": loc.password,
                "socket_timeout": self.timeout, "socket_connect_timeout": self.timeout}

    def _client(self) -> Redis:
        return self._for_loop().client

    def _gate(self) -> asyncio.Semaphore:
        return self._for_loop().gate

    def _for_loop(self) -> _LoopClient:
        """The running loop's client (its connections belong to the loop that opened them)."""
        loop = asyncio.get_running_loop()
        held = self._loops.get(loop)
        if held is None:
            # Clients of loops that have ended are dropped (list(): other threads may add theirs meanwhile).
            for known in list(self._loops):
                if known.is_closed():
                    self._loops.pop(known, None)
            # One retry, at once, on a broken connection (Redis restarted); none on a timeout, so a
            # Redis that hangs fails the call within `timeout`.
            retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
            # A bounded pool that makes callers wait their turn: a thousand concurrent requests share
            # POOL_SIZE connections instead of failing with "too many connections" past the default.
            pool = BlockingConnectionPool(max_connections=POOL_SIZE, timeout=POOL_WAIT_S,
                                          **self._connection_options(), retry=retry)
            held = self._loops[loop] = _LoopClient(Redis(connection_pool=pool), asyncio.Semaphore(GATE_SIZE))
        return held

    async def _run(self, script: lua.LuaScript, what: str, *args: Any) -> Any:
        async with self._gate():
            self._check_down(what)  # after its turn: Redis may have failed while this call waited
            try:
                result = await script.run(self._client(), (self.prefix, *args))
            except _FAILURES as e:
                raise self._unavailable(what, e) from e
        self._down = False
        return result

    @contextlib.contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        self._check_down(what)
        try:
            yield
        except _FAILURES as e:
            raise self._unavailable(what, e) from e
        self._down = False

    def _check_down(self, what: str) -> None:
        """Once Redis has failed, one call at a time tries it again (so recovery is seen at once) and the
        others fail at once: callers queued for a connection to a hung Redis would otherwise each wait
        out a timeout."""
        if not self._down:
            return
        if not self._probing or time.monotonic() - self._probing > PROBE_S:
            self._probing = time.monotonic()
            return
        raise StateUnavailable(f"fakellm's state in Redis at {self.url} is unavailable: could not {what}: "
                               f"{self._down_reason} (a moment ago; trying again)")

    def _unavailable(self, what: str, error: BaseException) -> StateUnavailable:
        reason = self._reason(error)
        if isinstance(error, (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)):
            self._down, self._down_reason, self._probing = True, reason, 0.0
        return StateUnavailable(f"fakellm's state in Redis at {self.url} is unavailable: could not {what}: {reason}")

    def _reason(self, error: BaseException) -> str:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        password = self._location.password
        return text.replace(password, "***") if password else text

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def resize(self, bounds: Bounds) -> None:
        self.bounds = bounds
        await self._run(lua.RESIZE, "apply the config's bounds", bounds.max_conversations, bounds.max_responses,
                        bounds.journal_size, bounds.journal_bytes)

    # -- conversations and rule counters

    async def open_turn(self, conversation_id: str, now: float, turn: int | None,
                        tool_results: Sequence[str]) -> tuple[int, Mapping[int, int]]:
        digests = dict.fromkeys(_digest(text.lower()) for text in tool_results) if tool_results else ()
        this_turn, flat = await self._run(lua.OPEN_TURN, "open a conversation's turn", conversation_id, now,
                                          "" if turn is None else turn, self.bounds.max_conversations,
                                          self.bounds.max_tool_results, *digests)
        return this_turn, {int(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def count_hit(self, conversation_id: str, rule_index: int, times: int | None) -> int | None:
        return await self._run(lua.COUNT_HIT, "count a rule's hit", conversation_id, rule_index,
                               "" if times is None else times, time.time(), self.bounds.max_conversations)

    async def clear_rule_counters(self) -> None:
        with self._failing("restart the rule counters"):
            await self._client().incr(self._key("rulegen"))

    async def conversations(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        if limit <= 0:
            return await self.conversation_count(), []
        total, *rows = await self._run(lua.CONVERSATIONS, "list conversations", max(0, offset), limit)
        return total, [{"id": cid.decode(), "requests": int(requests), "turn": int(turn), "tool_results_seen": tools,
                        "first_seen": float(first), "last_seen": float(last)}
                       for cid, requests, turn, first, last, tools in rows]

    async def conversation_count(self) -> int:
        with self._failing("count conversations"):
            return await self._client().zcard(self._key("convs"))

    # -- rate limits

    async def admit(self, limits: Sequence[BucketLimit], key: str, need: int, now: float) -> Admission:
        offset = await self._offset()
        wait, index, bucket, *flat = await self._run(lua.ADMIT, "check a rate limit", now + offset, need,
                                                     MAX_BUCKET_KEYS, *_limit_args(limits, key))
        entries = tuple((float(flat[i]), float(flat[i + 1]), float(flat[i + 2]) - offset) for i in range(0, len(flat), 3))
        return Admission(float(wait), index, bucket.decode(), entries)

    async def settle(self, limits: Sequence[BucketLimit], key: str, output_tokens: int, now: float) -> list[float]:
        offset = await self._offset()
        entry = await self._run(lua.SETTLE, "take a reply's tokens from a rate limit", now + offset, output_tokens,
                                MAX_BUCKET_KEYS, *_limit_args(limits, key))
        return [float(entry[0]), float(entry[1]), float(entry[2]) - offset] if entry else []

    async def _offset(self) -> float:
        if self._clock_offset is None:  # not measured by check(): measure it now, once
            with self._failing("read Redis's clock"):
                before = time.monotonic()
                seconds, micros = await self._client().time()
                self._clock_offset = seconds + micros / 1e6 - (before + time.monotonic()) / 2
        return self._clock_offset

    async def clear_buckets(self) -> None:
        with self._failing("clear the rate-limit buckets"):
            await self._client().delete(self._key("buckets"), self._key("buckets:lru"))

    async def bucket_count(self) -> int:
        with self._failing("count the rate-limit buckets"):
            return await self._client().hlen(self._key("buckets"))

    # -- journal and stats

    async def record(self, entry: JournalEntry) -> JournalEntry:
        if entry.worker is None:
            entry.worker = self.worker
        rule = entry.rule
        entry.id = await self._run(lua.RECORD, "record a journal entry", dump_entry(entry), journal_footprint(entry),
                                   entry.api, rule or "", "0" if rule is None else "1", entry.time,
                                   self.bounds.journal_size, self.bounds.journal_bytes)
        return entry

    async def note_latency(self, entry: JournalEntry, latency_ms: float) -> None:
        # Batched: one round trip for up to LATENCY_BATCH answers, at most LATENCY_FLUSH_S later, instead of
        # one per request (a third of a request's Redis work). A journal read flushes first.
        entry.latency_ms = latency_ms
        self._latencies.append((entry.id, latency_ms))
        if len(self._latencies) >= LATENCY_BATCH:
            await self.flush_latencies()
        else:
            loop = asyncio.get_running_loop()
            if self._latency_timer is None or self._latency_timer_loop is not loop:  # (a loop may have ended)
                self._latency_timer_loop = loop
                self._latency_timer = loop.call_later(LATENCY_FLUSH_S, self._flush_soon, loop)

    def _flush_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self._latency_timer = None
        task = loop.create_task(self.flush_latencies())
        task.add_done_callback(_ignore_failure)  # latencies are best effort; requests report outages

    async def flush_latencies(self) -> None:
        """Send the latencies noted so far (beyond the protocol: the journal reads do it themselves)."""
        batch, self._latencies = self._latencies, []
        if batch:
            await self._run(lua.NOTE_LATENCY, "note requests' latencies", *(x for pair in batch for x in pair))

    async def journal(self, after: int = 0) -> list[JournalEntry]:
        await self.flush_latencies()
        flat = await self._run(lua.JOURNAL, "read the journal", after)
        entries = []
        for i in range(0, len(flat), 3):
            entry = load_entry(flat[i + 1])
            entry.id = int(flat[i])
            entry.latency_ms = float(flat[i + 2]) if flat[i + 2] else None
            entries.append(entry)
        return entries

    async def journal_info(self) -> tuple[int, int | None, int]:
        held, oldest = await self._run(lua.JOURNAL_INFO, "read the journal's size")
        return held, int(oldest) if oldest else None, self.bounds.journal_size

    async def clear_journal(self) -> int:
        return await self._run(lua.CLEAR_JOURNAL, "clear the journal")

    async def stats(self) -> Stats:
        with self._failing("read the stats"):
            pipe = self._client().pipeline(transaction=True)
            for name in ("stats", "stats:rules", "stats:apis", "stats:last_hit"):
                pipe.hgetall(self._key(name))
            counts, rules, apis, last_hit = await pipe.execute()
        return Stats(started=float(counts.get(b"started", self._started)), total=int(counts.get(b"total", 0)),
                     unmatched=int(counts.get(b"unmatched", 0)),
                     by_rule={k.decode(): int(v) for k, v in rules.items()},
                     by_api={k.decode(): int(v) for k, v in apis.items()},
                     last_hit={k.decode(): float(v) for k, v in last_hit.items()})

    # -- stored responses (OpenAI Responses API)

    async def put_response(self, stored: StoredResponse) -> None:
        await self._run(lua.PUT_RESPONSE, "store a response", stored.id, dump_response(stored), stored.previous_id or "",
                        orjson.dumps(list(stored.item_ids)), self.bounds.max_responses)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        blob = await self._run(lua.GET_RESPONSE, "read a stored response", response_id)
        return load_response(blob) if blob is not None else None

    async def delete_response(self, response_id: str) -> bool:
        return bool(await self._run(lua.DELETE_RESPONSE, "delete a stored response", response_id))

    async def response_history(self, response_id: str) -> tuple[StoredResponse, list[Message]] | None:
        blobs = await self._run(lua.RESPONSE_HISTORY, "read a response's history", response_id)
        if not blobs:
            return None
        chain = [load_response(blob) for blob in blobs]  # newest first
        return chain[0], [m for stored in reversed(chain) for m in stored.messages]

    async def owner_of_item(self, item_id: str) -> StoredResponse | None:
        blob = await self._run(lua.OWNER_OF_ITEM, "find a stored output item", item_id)
        return load_response(blob) if blob is not None else None

    # -- everything

    async def reset(self) -> int:
        return await self._run(lua.RESET, "reset the state")

    # -- beyond the Store protocol: the fleet's config

    async def put_config(self, text: str, origin: str) -> tuple[int, FleetConfig | None]:
        """Keep `text` as the fleet's config and announce its version on `config_channel`; returns the
        new version and the config it replaced (None for the first)."""
        version, *previous = await self._run(lua.PUT_CONFIG, "publish the config", text, origin, time.time())
        return int(version), _fleet_config(previous)

    # -- beyond the protocol: each process's metrics, for fleet-wide /metrics

    MAX_WORKERS = 1_000  # metrics snapshots kept (the most recently seen workers)

    async def put_metrics(self, snapshot: bytes) -> None:
        """Keep this worker's metrics snapshot (its counters since it started) for the fleet's /metrics."""
        client = self._client()
        with self._failing("share this worker's metrics"):
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key("metrics"), self.worker, snapshot)
                pipe.zadd(self._key("metrics:seen"), {self.worker: time.time()})
                pipe.zrange(self._key("metrics:seen"), 0, -self.MAX_WORKERS - 1)
                *_, stale = await pipe.execute()
            if stale:
                async with client.pipeline(transaction=True) as pipe:
                    pipe.hdel(self._key("metrics"), *stale)
                    pipe.zrem(self._key("metrics:seen"), *stale)
                    await pipe.execute()

    async def fleet_metrics(self) -> list[tuple[bytes, float]]:
        """Every worker's last metrics snapshot and when it was shared."""
        client = self._client()
        with self._failing("read the fleet's metrics"):
            async with client.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._key("metrics"))
                pipe.zrange(self._key("metrics:seen"), 0, -1, withscores=True)
                snapshots, seen = await pipe.execute()
        when = {worker: score for worker, score in seen}
        return [(snapshot, when.get(worker, 0.0)) for worker, snapshot in snapshots.items()]

    async def config_versions(self) -> AsyncIterator[int]:
        """The versions announced on `config_channel` as they come (beyond the Store protocol), on a
        subscription of its own; StateUnavailable when it breaks (subscribe again to go on)."""
        pubsub = self._client().pubsub(ignore_subscribe_messages=True)
        try:
            with self._failing("subscribe to config changes"):
                await pubsub.subscribe(self.config_channel)
            while True:
                with self._failing("listen for config changes"):
                    message = await pubsub.get_message(timeout=None)
                if message is not None and message.get("type") == "message":
                    try:
                        yield int(message["data"])
                    except (TypeError, ValueError):
                        continue
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def get_config(self) -> FleetConfig | None:
        """The fleet's config as last published, or None."""
        with self._failing("read the config"):
            fields = await self._client().hmget(self._key("config"), "text", "origin", "version", "time")
        return _fleet_config(fields)


def _ignore_failure(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()


_stores_made: dict[int, itertools.count] = {}  # per process id: a forked worker counts afresh


def _worker_name() -> str:
    """host:pid, and for a second store in one process (tests) host:pid/2, so each is told apart."""
    pid = os.getpid()
    n = next(_stores_made.setdefault(pid, itertools.count(1)))
    return f"{socket.gethostname()}:{pid}" + (f"/{n}" if n > 1 else "")


def _fleet_config(fields: Sequence[bytes | None]) -> FleetConfig | None:
    text, origin, version, when = fields
    if text is None:
        return None
    return FleetConfig(text.decode(), (origin or b"").decode(), int(version or 0), float(when or 0))


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _limit_args(limits: Sequence[BucketLimit], api_key: str) -> list[Any]:
    """The limits as the bucket scripts read them: count, then per limit its bucket's field and rates."""
    args: list[Any] = [len(limits)]
    for lim in limits:
        name, key = lim.key(api_key)
        # The bucket's field names the API key by a digest: the key itself is a secret.
        args += [f"{name}\n{_digest(key).hex() if key else ''}", lim.req_rate, lim.req_cap, lim.tok_rate, lim.tok_cap]
    return args
