"""fakellm's HTTP protocol: uvicorn's httptools one, with three additions.

- `HeadWithBodyTransport`: each answer's head and body go to the socket together (below).
- `Arrival`: each request's scope says when the request reached the socket (`asgi.ARRIVED`), for
  timed replies to count their schedule from.
- `DirectBody`: the pacer writes paced chunks straight to the connection, outside ASGI.

uvicorn writes an ASGI response's head (status line and headers) as soon as the app sends
`http.response.start`, and the body with `http.response.body`: two `write` calls, and with
uvloop, which writes at once when it can, two system calls and two TCP segments for a small
answer, each waking the client. That second write is a large share of the server's CPU per
request. Here the connection's transport holds a head back until the next write (the body,
usually right after it) and sends both as one. A head is never held past the current turn of
the event loop: a flush is scheduled when it is held, so a stream that sleeps before its
first event, or an answer without a body, still gets its head on the wire at once. Bytes go
out in the order they were written; only their grouping into system calls changes.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ..asgi import ARRIVED

# uvicorn writes a response head as one bytes object starting with its status line.
_HEAD = (b"HTTP/1.1 ", b"HTTP/1.0 ")

# Linux's struct tcp_info as far as tcpi_last_data_recv (milliseconds since the socket last received data).
_TCP_INFO = getattr(socket, "TCP_INFO", None) if sys.platform.startswith("linux") else None
_LAST_DATA_RECV = 52
_TCP_INFO_SIZE = 56
_JIFFY_S = 0.010  # the longest jiffy (HZ=100): how much of that figure may be rounding


class HeadWithBodyTransport:
    """A transport that sends a response head together with the write that follows it."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_HEAD):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():  # the client went away meanwhile: nothing to send it
                self._transport.write(held)

    # What uvicorn calls on every request, delegated without __getattr__.

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + (len(self._held) if self._held is not None else 0)

    def __getattr__(self, name: str) -> Any:
        # get_extra_info, abort, set_write_buffer_limits, ...
        return getattr(self._transport, name)


class HttpToolsHeadWithBody(HttpToolsProtocol):
    """uvicorn's httptools protocol with `HeadWithBodyTransport` on each connection, and each request's
    arrival in its scope (`asgi.ARRIVED`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadWithBodyTransport(transport, self.loop))  # type: ignore[arg-type]
        self._socket = transport.get_extra_info("socket") if _TCP_INFO is not None else None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[ARRIVED] = Arrival(self.loop, self._socket)  # type: ignore[literal-required]


class Arrival:
    """When a request's bytes reached the socket, on the loop's clock (call it; asked only for a timed reply).

    A timed reply's schedule counts from here (traffic/delivery.py): a loop busy with a wave of new
    connections or requests can take a while to read one, and that time is the server's, not the reply's.
    Linux says how long ago the socket last received data (`tcpi_last_data_recv`), counted in jiffies: up
    to one jiffy of it is left out, so the time is never earlier than the truth. Data received after the
    request (a pipelined next one) only makes it later, and it is never later than when the request was
    read. Elsewhere: when it was read.
    """

    __slots__ = ("_loop", "_socket", "_read")

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: Any):
        self._loop = loop
        self._socket = sock
        self._read = loop.time()

    def __call__(self) -> float:
        if self._socket is None:
            return self._read
        try:
            info = self._socket.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
        except (OSError, AttributeError):  # a closed socket, or a transport's stand-in without it
            return self._read
        waited = int.from_bytes(info[_LAST_DATA_RECV:_TCP_INFO_SIZE], sys.byteorder) / 1000 - _JIFFY_S
        return min(self._read, self._loop.time() - waited) if waited > 0 else self._read


# What `DirectBody` uses of uvicorn's request cycle, checked once per stream: another uvicorn version
# without one of them gets the ASGI path instead.
_CYCLE_PARTS = ("scope", "transport", "chunked_encoding", "response_started", "response_complete", "disconnected",
                "keep_alive", "message_event", "on_response")


class DirectBody:
    """Writes the rest of a chunked response body straight to the connection, outside ASGI.

    The pacer (traffic/pacer.py) writes a thousand streams' chunks from one timer; an ASGI send per
    chunk would be a coroutine, a message dict and uvicorn's checks each time. This writes the bytes
    uvicorn's `send` would (its chunk framing), and `end` completes the response as uvicorn's `send`
    does on the last body message (the connection stays alive for the next request, or closes when
    the request asked for that). After `end` the app sends nothing more for this response.

    Flow control is not waited for: the transport buffers what the client has not read yet, never
    more than the rest of this reply, which is in memory already.
    """

    __slots__ = ("_cycle", "_transport")

    def __init__(self, cycle: RequestResponseCycle):
        self._cycle = cycle
        self._transport = cycle.transport

    def write(self, data: bytes) -> bool:
        """Write `data` as one chunk; False, writing nothing, once the client has gone."""
        cycle = self._cycle
        if cycle.disconnected or cycle.response_complete:
            return False
        self._transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        return True

    def end(self, data: bytes) -> bool:
        """Write `data` and the end of the body in one write, and complete the response."""
        cycle = self._cycle
        if cycle.disconnected or cycle.response_complete:
            return False
        self._transport.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n")
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            self._transport.close()
        cycle.on_response()
        return True


def body_writer(send: Any) -> DirectBody | None:
    """A `DirectBody` for the response that `send` belongs to, once its head is sent; None where that
    cannot be (another server, h11, a HEAD request, a body with a Content-Length): then the caller
    sends through ASGI as usual."""
    cycle = getattr(send, "__self__", None)
    if type(cycle) is not RequestResponseCycle or not all(hasattr(cycle, name) for name in _CYCLE_PARTS):
        return None
    if cycle.chunked_encoding is not True or cycle.scope["method"] == "HEAD" or not cycle.response_started:
        return None
    if cycle.response_complete or cycle.disconnected:
        return None
    return DirectBody(cycle)
