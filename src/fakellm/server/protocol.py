"""uvicorn's httptools protocol, writing each answer's head and body to the socket together.

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
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn writes a response head as one bytes object starting with its status line.
_HEAD = (b"HTTP/1.1 ", b"HTTP/1.0 ")


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
    """uvicorn's httptools protocol with `HeadWithBodyTransport` on each connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadWithBodyTransport(transport, self.loop))  # type: ignore[arg-type]
