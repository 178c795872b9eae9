"""Paced streams: one stream's schedule (`PacedStream`), and the pacer that keeps a thousand of them
from one timer (`Pacer`).

A paced stream's chunks are due at fixed times counted from when its request arrived (ttft, then
the chunk delay, each with its jitter drawn once). `PacedStream.take` gives what to write when the stream
wakes: the chunk due and, when the wake came late (a busy loop), every chunk due within as long
again, in one write. Each chunk then stays within the loop's lateness of its time, the stream keeps
its schedule in time rather than in write count, and a busier loop makes fewer, larger writes.

Where the server lets a body be written without ASGI (`server/protocol.py`, `body_writer`), the
`Pacer` drives the streams: one timer on a TICK_S grid, and at each tick every stream due writes
straight to its connection, in the order they fell due, so no connection waits behind another. A
stream costs no coroutine step, future, timer or ASGI message per chunk; its coroutine sleeps until
the pacer has ended the response (or a fault comes next), the client leaves or the server stops.
Elsewhere the stream's own coroutine waits for each `due` and takes the same way
(traffic/delivery.py).
"""

from __future__ import annotations

import asyncio
import heapq
import math
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .delivery import Plan

TICK_S = 0.002  # the grid that wake-ups snap to: streams due within one tick are served in one turn of the loop

# A stream woken later than EARLY_AFTER_S also sends the chunks due within as long again (at most MAX_EARLY_S).
EARLY_AFTER_S = 0.002
MAX_EARLY_S = 0.1

BURST_S = 0.005  # how long new streams may start in one turn of the loop before the pacer serves those due


class PacedStream:
    """The chunks of one paced stream (`pieces`, each the bytes of one content chunk) and when they are due.

    `due` is when the next chunk is due (None once all are taken); `clock` when the last one taken was.
    `ends`: the last piece ends the response (then `tail`, the end events, goes with it); otherwise a
    fault follows the pieces and the caller finishes the response.
    """

    __slots__ = ("pieces", "tail", "ends", "plan", "i", "due", "clock", "body", "release", "finished", "active",
                 "tick")

    def __init__(self, plan: Plan, pieces: list[bytes], tail: bytes, ends: bool, start: float):
        self.pieces = pieces
        self.tail = tail
        self.ends = ends
        self.plan = plan
        self.i = 0
        self.clock = start
        self.due: float | None = start + plan.jittered(plan.ttft_s) if pieces else None
        # Set while the pacer drives the stream:
        self.body: Any = None  # writes to the connection directly (server/protocol.py, DirectBody)
        self.release: Callable[[], None] | None = None  # wakes the stream's coroutine
        self.finished = False  # the pacer ended the response
        self.active = False
        self.tick = 0  # the slot it waits in

    @property
    def done(self) -> bool:
        return self.due is None

    def take(self, now: float, hurry: bool = False) -> tuple[bytes, bool]:
        """What to write at `now` (the next chunk is due, or nearly), and whether it ends the response.
        `hurry` (the server is stopping): every remaining chunk."""
        due = self.due
        assert due is not None
        plan, pieces = self.plan, self.pieces
        late = now - due
        horizon = now + min(late, MAX_EARLY_S) if late > EARLY_AFTER_S else now
        i = self.i
        j, stop = i + 1, len(pieces)
        ahead: float | None = None
        while j < stop:
            ahead = due + plan.jittered(plan.chunk_delay_s)
            if ahead > horizon and not hurry:
                break
            due, ahead = ahead, None
            j += 1
        self.i, self.clock, self.due = j, due, ahead
        last = self.ends and j == stop
        if j == i + 1:  # the usual write: one chunk on time
            return (pieces[i] + self.tail if last else pieces[i]), last
        return b"".join(pieces[i:j] + [self.tail] if last else pieces[i:j]), last


class Pacer:
    """Every paced stream of one event loop, woken by one timer on the TICK_S grid.

    Streams wait in slots, one per tick; a heap orders the ticks. At a tick, the streams of every slot
    due are served in order (earliest first, then in the order they were added), each writing what
    `take` gives, and go back in the slot of their next chunk. A stream whose response ends, whose
    fault comes next, or whose write fails is handed back to its coroutine (`release`). A turn of the
    loop that starts many streams (`add`) also serves those due every BURST_S.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, hurry: Callable[[], bool]):
        self.loop = loop
        self._hurry = hurry  # the server is stopping (its streams are released at once then anyway)
        self._slots: dict[int, list[PacedStream]] = {}
        self._ticks: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._armed_tick: int | None = None
        self._running = False
        self._turn_start: float | None = None  # when this turn of the loop first added a stream

    def add(self, stream: PacedStream) -> None:
        """Serve `stream` from its next due time on (`stream.body` and `stream.release` set). It may be
        served at once: `stream.active` is False when the pacer is already done with it."""
        stream.active = True
        self._queue(stream)
        # A burst of new requests (a thousand clients connecting at once) runs in one turn of the loop, and
        # the timer waits for that turn to end. Every BURST_S of such a turn, the streams that fell due
        # meanwhile are served here, so those in flight keep their schedule while newcomers start.
        now = self.loop.time()
        if self._turn_start is None:
            self._turn_start = now
            self.loop.call_soon(self._next_turn)  # runs in the loop's next turn
        elif now - self._turn_start > BURST_S and not self._running and self._due(now):
            self._turn_start = now
            self._run()

    def discard(self, stream: PacedStream) -> None:
        """Forget `stream` before its time (its client left, or the server is stopping): nothing of it
        stays queued until its next chunk would have been due, an hour away for a long ttft."""
        if stream.active:
            stream.active = False
            slot = self._slots.get(stream.tick)
            if slot is not None:
                slot.remove(stream)
                if not slot:  # its tick stays in the heap; _run passes over a tick without a slot
                    del self._slots[stream.tick]

    def _next_turn(self) -> None:
        self._turn_start = None

    def _due(self, now: float) -> bool:
        return self._armed_tick is not None and self._armed_tick * TICK_S <= now

    def _queue(self, stream: PacedStream) -> None:
        tick = stream.tick = math.ceil(stream.due / TICK_S)  # type: ignore[operator]  (up, so never early)
        slot = self._slots.get(tick)
        if slot is not None:
            slot.append(stream)
            return
        self._slots[tick] = [stream]
        heapq.heappush(self._ticks, tick)
        if not self._running and (self._armed_tick is None or tick < self._armed_tick):
            self._arm(tick)

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_tick = tick
        self._timer = self.loop.call_at(tick * TICK_S, self._run)

    def _run(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_tick = None
        self._running = True
        ticks, slots, time = self._ticks, self._slots, self.loop.time
        # Only the ticks due now: a stream put back goes to a later tick, served by a later run, so reading
        # requests and starting responses are never starved by a long one.
        limit = time() + 1e-6
        try:
            while ticks and ticks[0] * TICK_S <= limit:
                slot = slots.pop(heapq.heappop(ticks), ())
                now = time()
                hurry = self._hurry()
                for stream in slot:
                    if stream.active:
                        self._serve(stream, now, hurry)
        finally:
            self._running = False
            if ticks:
                self._arm(ticks[0])

    def _serve(self, stream: PacedStream, now: float, hurry: bool) -> None:
        data, last = stream.take(now, hurry)
        if last:
            stream.finished = stream.body.end(data)
        elif stream.body.write(data) and not stream.done:
            self._queue(stream)
            return
        # Done, a fault next, or the client gone (the server tells its coroutine that too).
        stream.active = False
        stream.release()  # type: ignore[misc]
