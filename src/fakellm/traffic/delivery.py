"""Timing and faults: how a rendered reply goes onto the socket, the same way for every provider.

`serve_llm` renders a reply (a JSON body, or a stream's list of events) and hands it
to `respond`. A reply without timing or a fault (`reply.delivery is None`, the
default) goes out in one send, exactly as before. Otherwise a `Plan` says what to do:

- `delay_s` before the response starts; for a stream, `ttft_s` after that and before the
  first content chunk, then `chunk_delay_s` before each further one. The schedule counts
  from when the request arrived (where the server says: `asgi.ARRIVED`), so it never drifts
  and a busy server's lag in reading a request is not added to it. A paced stream's
  chunks are a `PacedStream`, sent by the loop's `Pacer` where the server allows it
  (traffic/pacer.py), else by its own coroutine.
- A stream is cut into *content chunks*: each event that carries generated content
  (the adapter's `content_event_markers`), together with the structural events just
  before it (`message_start`, a role chunk, `content_block_start`, ...). The events
  after the last content chunk (finish chunk, usage, `[DONE]`, `message_stop`) are the
  *end* of the stream and go out with the last chunk. An adapter without markers
  counts every event as a chunk except the last, which is the end.
- A fault with `after_chunks: N` takes the place of chunk N+1, on its schedule:

  | fault       | streaming                                        | not streaming (a JSON body)          |
  |-------------|--------------------------------------------------|--------------------------------------|
  | disconnect  | N chunks, then the connection drops; without     | the connection drops; with           |
  |             | after_chunks it drops before any byte            | after_chunks, after half the body    |
  | truncate    | N chunks (default: all), then a clean end        | the first half of the body, with a   |
  |             | without the end events                           | matching Content-Length              |
  | malformed   | the event after N chunks has its JSON cut in     | the body with garbage in the middle  |
  |             | half; the rest follows                           |                                      |
  | error_event | N chunks, then the provider's error event        | the same error as an error response  |
  | hang        | N chunks (without after_chunks: nothing at all), | nothing at all, the same way         |
  |             | then nothing until the client gives up or        |                                      |
  |             | `hang_limit_s` passes; then the connection drops |                                      |
  | empty       | 200 with an empty body                           | 200 with an empty body               |

Every wait also watches for the client going away (`http.disconnect`), so a client
that hangs up never leaves a sleeping task behind.

A socket (the OpenAI Realtime WebSocket) sends each event as its own message: `pace_messages`
applies the same plan to them, chunk by chunk, and says where a fault stopped it; the socket's
server finishes the fault in the socket's terms (an `error` event, a close with code 1011, ...).
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import orjson

from ..asgi import Receive, Send, send_response
from ..config.schema import Config, DefaultsSpec, FaultSpec, RespondSpec
from ..model import ErrorInfo, Request
from .pacer import TICK_S, PacedStream, Pacer

# What a `malformed` fault puts where JSON should be.
GARBAGE = b'{"fakellm_fault": "malformed", this is not JSON'


@dataclass(frozen=True, slots=True)
class Fault:
    type: str
    after_chunks: int | None
    status: int  # error_event
    error: ErrorInfo  # error_event


@dataclass(frozen=True, slots=True)
class Plan:
    """How one kind of reply goes on the wire. Seconds, already resolved against `defaults`."""

    delay_s: float
    ttft_s: float
    chunk_delay_s: float
    jitter: float
    chunk_size: int | None
    fault: Fault | None
    hang_limit_s: float
    rng: random.Random

    @property
    def paced(self) -> bool:
        """Whether stream chunks are spaced out in time (then each chunk gets its own send)."""
        return self.ttft_s > 0 or self.chunk_delay_s > 0

    def jittered(self, seconds: float) -> float:
        if self.jitter and seconds:
            return seconds * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0))
        return seconds


class Plans:
    """The plan of every `respond` item of a config, made once when the config loads.

    `speed` is how fast the config's waits go by (`fakellm serve --replay-speed`): 2 halves every delay,
    0 drops them all (chunk sizes and faults stay). It belongs to the server, not the config, so a
    reloaded config is replayed at the same speed.
    """

    def __init__(self, config: Config, speed: float = 1.0):
        d = config.defaults
        # Its own random stream, so adding jitter never changes which `probability` rules fire.
        self.rng = random.Random(None if d.seed is None else f"fakellm-jitter-{d.seed}")
        self.default = _plan(None, d, self.rng, speed)
        self._by_spec: dict[int, Plan | None] = {
            id(spec): _plan(spec, d, self.rng, speed) for rule in config.rules for spec in rule.respond
        }
        self._specs = [spec for rule in config.rules for spec in rule.respond]  # keeps the ids valid
        self.any = self.default is not None or any(plan is not None for plan in self._by_spec.values())

    def get(self, spec: RespondSpec | None) -> Plan | None:
        """The plan for a `respond` item (None: the fallback reply); None means all at once."""
        if spec is None:
            return self.default
        return self._by_spec.get(id(spec), self.default)


def _plan(spec: RespondSpec | None, d: DefaultsSpec, rng: random.Random, speed: float = 1.0) -> Plan | None:
    def pick(name: str) -> Any:
        value = getattr(spec, name) if spec is not None else None
        return value if value is not None else getattr(d, name)

    chunk_size = pick("chunk_size")
    # chunk_delay_ms and tokens_per_second are one setting: a respond item that gives
    # either overrides whichever the defaults give.
    pace = spec if spec is not None and (spec.chunk_delay_ms is not None or spec.tokens_per_second is not None) else d
    if pace.tokens_per_second:
        tokens_per_chunk = chunk_size / 4 if chunk_size else 1.0  # about four characters a token
        chunk_delay_s = tokens_per_chunk / pace.tokens_per_second
    else:
        chunk_delay_s = (pace.chunk_delay_ms or 0) / 1000
    fault = _fault(spec.fault) if spec is not None and spec.fault is not None else None
    delay_s = (pick("delay_ms") or 0) / 1000
    ttft_s = (pick("ttft_ms") or 0) / 1000
    if speed != 1.0:
        scale = 1.0 / speed if speed > 0 else 0.0
        delay_s, ttft_s, chunk_delay_s = delay_s * scale, ttft_s * scale, chunk_delay_s * scale
    if not (delay_s or ttft_s or chunk_delay_s or chunk_size or fault):
        return None
    return Plan(delay_s, ttft_s, chunk_delay_s, pick("jitter") or 0.0, chunk_size, fault, d.hang_limit_s, rng)


def _fault(spec: FaultSpec) -> Fault:
    status = spec.status or 529
    err = spec.error
    if err is None or isinstance(err, str):
        message = err or ("Overloaded" if status == 529 else f"fakellm error_event fault (status {status})")
        error = ErrorInfo(message=message)
    else:
        error = ErrorInfo(message=err.message, type=err.type, code=None if err.code is None else str(err.code),
                          param=err.param)
    return Fault(spec.type, spec.after_chunks, status, error)


@dataclass(frozen=True, slots=True)
class Answered:
    """What a reply answers: the request and its ids, for provider error bodies and events
    (a Responses stream's `response.failed` names its response and numbers its events)."""

    request_id: str
    request: Request
    response_id: str
    events: int  # stream events rendered (0 for a JSON body)


class Deliveries:
    """Deliveries on the slow path (timing or faults) right now, for /_fakellm/debug and leak tests,
    and the switch that hurries them when the server stops."""

    def __init__(self, body_writer: Callable[[Send], Any] | None = None) -> None:
        self.clients: set[_Client] = set()
        self.stopped = False
        # How the server lets a paced stream's chunks skip ASGI (server/protocol.py); None: it does not.
        self.body_writer = body_writer
        self._pacer: Pacer | None = None

    def pacer(self) -> Pacer:
        """The pacer of the running loop (an app can be served by one loop after another)."""
        loop = asyncio.get_running_loop()
        if self._pacer is None or self._pacer.loop is not loop:
            self._pacer = Pacer(loop, lambda: self.stopped)
        return self._pacer

    @property
    def in_flight(self) -> int:
        return len(self.clients)

    def stop(self) -> int:
        """From now on no delivery waits: streams send their remaining chunks at once, delays and hangs
        end, so a stopping server's connections finish within its grace period instead of being
        cancelled. Returns the deliveries it hurried."""
        self.stopped = True
        for client in self.clients:
            client.hurry()
        return len(self.clients)


def respond(plan: Plan | None, send: Send, receive: Receive, status: int, body: bytes, content_type: bytes,
            headers: list[tuple[bytes, bytes]], events: list[bytes] | None, adapter: Any,
            who: Answered, deliveries: Deliveries, arrival: Callable[[], float] | None = None) -> Awaitable[None]:
    """Send a rendered reply (await the result): `body` is the whole response; `events` its stream events.
    `arrival` (where the server tells: `asgi.ARRIVED`) gives when the request arrived, on the loop's clock:
    the reply's schedule counts from it, so time a busy server took to get to the request is not added.

    Not a coroutine itself, so that the fast path costs no extra coroutine frame.
    """
    if plan is None:
        return send_response(send, status, body, content_type, headers)
    return _deliver(plan, send, receive, status, body, content_type, headers, events, adapter, who, deliveries,
                    arrival)


async def _deliver(plan: Plan, send: Send, receive: Receive, status: int, body: bytes, content_type: bytes,
                   headers: list[tuple[bytes, bytes]], events: list[bytes] | None, adapter: Any,
                   who: Answered, deliveries: Deliveries, arrival: Callable[[], float] | None) -> None:
    client = _Client(receive, deliveries)
    deliveries.clients.add(client)
    loop = asyncio.get_running_loop()
    origin = arrival() if arrival is not None else loop.time()  # the schedule counts from here: waits never drift
    try:
        if plan.delay_s:
            origin += plan.jittered(plan.delay_s)
            if not await client.wait(origin - loop.time()):
                return
        if events is None:
            await _body(plan, client, send, status, body, content_type, headers, adapter, who)
        else:
            await _stream(plan, client, send, status, events, content_type, headers, adapter, who, origin)
    finally:
        client.close()
        deliveries.clients.discard(client)


async def _body(plan: Plan, client: _Client, send: Send, status: int, body: bytes, content_type: bytes,
                headers: list[tuple[bytes, bytes]], adapter: Any, who: Answered) -> None:
    fault = plan.fault
    kind = fault.type if fault is not None else None
    if kind is None:
        await send_response(send, status, body, content_type, headers)
    elif kind == "empty":
        await send_response(send, 200, b"", content_type, headers)
    elif kind == "truncate":
        await send_response(send, status, body[: len(body) // 2], content_type, headers)
    elif kind == "malformed":
        half = len(body) // 2
        await send_response(send, status, body[:half] + GARBAGE + body[half:], content_type, headers)
    elif kind == "error_event":
        extra = getattr(adapter, "error_headers", None)
        await send_response(send, fault.status, adapter.render_error(fault.status, fault.error, who.request_id),
                            b"application/json", [*headers, *(extra(fault.status, fault.error) if extra else ())])
    elif kind == "hang":
        await _hang(plan, client, send)
    else:  # disconnect
        if fault.after_chunks is not None:
            await _start(send, status, content_type, headers, [(b"content-length", str(len(body)).encode())])
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await _drop(send, client)


async def _stream(plan: Plan, client: _Client, send: Send, status: int, events: list[bytes], content_type: bytes,
                  headers: list[tuple[bytes, bytes]], adapter: Any, who: Answered, origin: float) -> None:
    fault = plan.fault
    kind = fault.type if fault is not None else None
    if kind == "empty":
        await send_response(send, 200, b"", content_type, headers)
        return
    if kind in ("disconnect", "hang") and fault.after_chunks is None:
        if kind == "hang":
            await _hang(plan, client, send)
        else:
            await _drop(send, client)
        return
    chunks, end = split_chunks(events, getattr(adapter, "content_event_markers", None))
    if kind == "malformed":
        _corrupt(chunks, end, min(_after(fault, 0), len(chunks)))
        kind = None
    if kind is None and not plan.paced:
        # Only a delay before the response, or only a chunk size: one send, as the fast path.
        await send_response(send, status, b"".join(events if fault is None else _flat(chunks, end)),
                            content_type, headers)
        return

    stop = len(chunks) if kind is None else min(_after(fault, len(chunks) if kind == "truncate" else 0), len(chunks))
    await _start(send, status, content_type, headers)
    loop = asyncio.get_running_loop()
    clock = origin
    if plan.paced:
        # Each chunk as one bytes object: untracked by the garbage collector, so a thousand streams in
        # flight do not make its full collections long (the lists were the most of what it scanned).
        stream = PacedStream(plan, [b"".join(chunk) for chunk in chunks[:stop]], b"".join(end), kind is None, clock)
        total = len(chunks)
        del chunks
        if not await _pace(stream, client, send, loop):
            return
        clock = stream.clock
        if kind is None:
            if stop == 0:  # nothing but the end events (e.g. empty content)
                clock += plan.jittered(plan.ttft_s)
                if await client.wait(clock - loop.time()):
                    await send({"type": "http.response.body", "body": stream.tail, "more_body": False})
            return
        if stop < total or stop == 0:  # the fault comes when the next chunk would have
            clock += plan.jittered(plan.ttft_s if stop == 0 else plan.chunk_delay_s)
            if not await client.wait(clock - loop.time()):
                return
    elif stop:
        await send({"type": "http.response.body", "body": b"".join(_flat(chunks[:stop], [])), "more_body": True})

    if kind == "truncate":
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif kind == "error_event":
        await send({"type": "http.response.body", "body": _error_event(adapter, fault, who), "more_body": False})
    elif kind == "hang":
        await _hang(plan, client, send)
    else:  # disconnect
        await _drop(send, client)


async def _pace(stream: PacedStream, client: _Client, send: Send, loop: asyncio.AbstractEventLoop) -> bool:
    """Send a paced stream's chunks on their schedule (the last with the end events, when it ends the
    response); False when the client went away meanwhile.

    The loop's pacer writes them straight to the connection where the server allows it, the response's
    end included; the stream's coroutine sleeps meanwhile. Otherwise, and for whatever the pacer hands
    back unfinished (the server stopping), each chunk is a wait and an ASGI send.
    """
    if stream.done:
        return True
    deliveries = client._deliveries
    body = deliveries.body_writer(send) if deliveries.body_writer is not None else None
    if body is not None and not deliveries.stopped:
        stream.body, stream.release = body, client.release
        pacer = deliveries.pacer()
        pacer.add(stream)
        try:
            if stream.active and not await client.wait(None):
                return False
        finally:
            pacer.discard(stream)  # when it still holds it: the client left, or the server is stopping
        if stream.finished:
            return True
    while not stream.done:
        if not await client.wait(stream.due - loop.time()):  # type: ignore[operator]
            return False
        data, last = stream.take(loop.time(), deliveries.stopped)
        await send({"type": "http.response.body", "body": data, "more_body": not last})
    return True


# How a socket delivery ended, besides a fault's type: all sent, or the client left (or cancelled).
DONE = "done"
GONE = "gone"


def socket_client(deliveries: Deliveries) -> _Client:
    """What a socket's delivery waits with; `leave()` cancels it."""
    return _Client(None, deliveries)


async def pace_messages(plan: Plan, head: list[bytes], events: list[bytes], markers: tuple[bytes, ...] | None,
                        send: Callable[[bytes], Awaitable[None]], client: _Client) -> tuple[int, str]:
    """Send a reply's events as a socket's messages, one event each, on the plan's schedule.

    After `delay_s`, `head` (what acknowledges the request) goes out; then `events`, cut into content
    chunks as a stream is (`split_chunks`), `ttft_s` before the first and `chunk_delay_s` before each
    further one. A fault with `after_chunks: N` stops the delivery where chunk N+1 would have gone
    (`disconnect` and `hang` without it, and `empty`: before the head; `malformed` cuts the JSON of the
    event after N chunks and goes on; `hang` waits `hang_limit_s` first). Returns how many of
    `events` went out and why it stopped: DONE, GONE, or the fault's type for the caller to finish.
    """
    deliveries = client._deliveries
    deliveries.clients.add(client)
    try:
        return await _pace_messages(plan, head, events, markers, send, client)
    finally:
        deliveries.clients.discard(client)


async def _pace_messages(plan: Plan, head: list[bytes], events: list[bytes], markers: tuple[bytes, ...] | None,
                         send: Callable[[bytes], Awaitable[None]], client: _Client) -> tuple[int, str]:
    fault = plan.fault
    kind = fault.type if fault is not None else None
    if plan.delay_s and not await client.wait(plan.jittered(plan.delay_s)):
        return 0, GONE
    if kind == "empty" or (kind in ("disconnect", "hang") and fault.after_chunks is None):
        if kind == "hang" and not await client.wait(plan.hang_limit_s):
            return 0, GONE
        return 0, kind
    for event in head:
        await send(event)
    chunks, end = split_chunks(events, markers)
    if kind == "malformed":
        _corrupt(chunks, end, min(_after(fault, 0), len(chunks)))
        kind = None
    total = len(chunks)
    stop = total if kind is None else min(_after(fault, total if kind == "truncate" else 0), total)
    loop = asyncio.get_running_loop()
    clock = loop.time()  # the schedule counts from the head, so waits never drift
    sent = 0
    for i in range(stop):
        if plan.paced:
            clock += plan.jittered(plan.ttft_s if i == 0 else plan.chunk_delay_s)
            if not await client.wait(clock - loop.time()):
                return sent, GONE
        elif client.gone:
            return sent, GONE
        for event in chunks[i]:
            await send(event)
        sent += len(chunks[i])
    if kind is None:
        if stop == 0 and plan.paced:  # nothing but the end events (e.g. empty content)
            clock += plan.jittered(plan.ttft_s)
            if not await client.wait(clock - loop.time()):
                return sent, GONE
        for event in end:
            await send(event)
        return sent + len(end), DONE
    if plan.paced and (stop < total or stop == 0):  # the fault comes when the next chunk would have
        clock += plan.jittered(plan.ttft_s if stop == 0 else plan.chunk_delay_s)
        if not await client.wait(clock - loop.time()):
            return sent, GONE
    if kind == "hang" and not await client.wait(plan.hang_limit_s):
        return sent, GONE
    return sent, kind


def split_chunks(events: list[bytes], markers: tuple[bytes, ...] | None) -> tuple[list[list[bytes]], list[bytes]]:
    """Content chunks (each with the events leading up to it) and the end events after the last one."""
    if not markers:
        return [[e] for e in events[:-1]], events[-1:]
    chunks: list[list[bytes]] = []
    pending: list[bytes] = []
    # Plain loops, no generator per event: a thousand paced streams split tens of thousands of events a second.
    if len(markers) == 1:
        marker = markers[0]
        for event in events:
            pending.append(event)
            if marker in event:
                chunks.append(pending)
                pending = []
        return chunks, pending
    for event in events:
        pending.append(event)
        for marker in markers:
            if marker in event:
                chunks.append(pending)
                pending = []
                break
    return chunks, pending


def _after(fault: Fault, default: int) -> int:
    return default if fault.after_chunks is None else fault.after_chunks


def _flat(chunks: list[list[bytes]], end: list[bytes]) -> list[bytes]:
    return [e for chunk in chunks for e in chunk] + end


def _corrupt(chunks: list[list[bytes]], end: list[bytes], at: int) -> None:
    """Cut the JSON of the first event after `at` chunks in half (keeping its framing)."""
    target = chunks[at] if at < len(chunks) else end
    if not target:
        end.append(b"data: " + GARBAGE + b"\n\n")
        return
    event = target[0]
    start = event.find(b"data: ")
    start = 0 if start < 0 else start + len(b"data: ")
    payload = event[start:].rstrip(b"\n")
    newline = event[len(event.rstrip(b"\n")):] or b"\n"
    target[0] = event[:start] + payload[: len(payload) // 2] + newline


def _error_event(adapter: Any, fault: Fault, who: Answered) -> bytes:
    """The provider's mid-stream error event, or OpenAI's shape for an adapter that has none."""
    render = getattr(adapter, "render_stream_error", None)
    if render is not None:
        return render(fault.status, fault.error, who)
    error = fault.error
    return b"data: " + orjson.dumps({"error": {
        "message": error.message, "type": error.type or "server_error", "param": error.param, "code": error.code,
    }}) + b"\n\n"


async def _start(send: Send, status: int, content_type: bytes, headers: list[tuple[bytes, bytes]],
                 extra: list[tuple[bytes, bytes]] = ()) -> None:
    """Response headers without a Content-Length: the body follows in chunks."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *extra, *headers]})


async def _hang(plan: Plan, client: _Client, send: Send) -> None:
    """Send nothing until the client gives up or `hang_limit_s` passes; then drop the connection."""
    if await client.wait(plan.hang_limit_s):
        await _drop(send, client)


async def _drop(send: Send, client: _Client) -> None:
    """Close the connection mid-response, as a crashed upstream or a proxy would.

    ASGI has no message for this, so it goes to the server's transport (uvicorn's
    request cycle holds it). Elsewhere (an in-process test transport) it raises.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("fakellm fault: the connection was dropped")
    transport.close()
    # Let the server see the disconnect before this returns, so it neither logs nor answers.
    await client.wait(1.0, hurry=False)


class _Client:
    """Waits on a delivery's schedule and notices the client going away meanwhile.

    After the request body, the next `receive()` only returns when the client disconnects, so
    one pending `receive()` per delivery is the watch; its callback ends a wait early. A wait
    is one timer and one future (no task or asyncio.wait per chunk), so a thousand paced
    streams cost the loop little and keep their schedules.
    """

    __slots__ = ("_receive", "_watch", "_deliveries", "_waiter", "_timer", "_hurried", "gone")

    def __init__(self, receive: Receive | None, deliveries: Deliveries):
        self._receive = receive
        self._watch: asyncio.Future | None = None
        self._deliveries = deliveries
        self._waiter: asyncio.Future[bool] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._hurried = True  # whether the current wait ends when the server stops
        self.gone = False

    async def wait(self, seconds: float | None, *, hurry: bool = True) -> bool:
        """Wait `seconds` (None: until `release()`; no time at all once the server stops, when `hurry`);
        False (at once) when the client disconnects first."""
        if self.gone:
            return False
        if (seconds is not None and seconds <= 0) or (hurry and self._deliveries.stopped):
            return True
        loop = asyncio.get_running_loop()
        if self._watch is None and self._receive is not None:
            self._watch = asyncio.ensure_future(self._receive())
            self._watch.add_done_callback(self._received)
        waiter = self._waiter = loop.create_future()
        self._hurried = hurry
        if seconds is not None:
            # Wake-ups snap to a shared grid (up, so never early): streams due within one TICK_S wake in
            # one turn of the loop, and a loop turn (a select call and its bookkeeping) serves many of them.
            self._timer = loop.call_at(math.ceil((loop.time() + seconds) / TICK_S) * TICK_S, _wake, waiter, True)
        try:
            return await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._waiter = None

    def release(self) -> None:
        """End the current wait now (the pacer is done with the stream)."""
        _wake(self._waiter, True)

    def hurry(self) -> None:
        """The server is stopping: end the current wait now, unless it must not be hurried."""
        if self._hurried:
            _wake(self._waiter, True)

    def leave(self) -> None:
        """The client no longer wants this delivery (a socket's cancel): this wait and every later one
        end at once, False. A socket has no `receive` to watch: its server reads the client itself."""
        self.gone = True
        _wake(self._waiter, False)

    def _received(self, watch: asyncio.Future) -> None:
        self._watch = None
        if watch.cancelled() or watch.exception() is not None or watch.result().get("type") == "http.disconnect":
            self.gone = True
            _wake(self._waiter, False)
        # Anything else (a server may repeat an empty body message): the next wait watches again.

    def close(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.remove_done_callback(self._received)
            self._watch.cancel()
        self._watch = None


def _wake(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)
