"""Forwarding one request to the upstream API and its answer back to the client, unchanged and as it
arrives (a stream chunk by chunk), while keeping a copy and the arrival time of each content event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..asgi import Send

# Hop-by-hop headers (RFC 9110) and those the proxy sets itself.
_REQUEST_DROPPED = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
                              "upgrade", "proxy-authorization", "proxy-connection", "accept-encoding"})
# The body is passed on decoded (so that it can be read), in chunks: its length and encoding change.
_RESPONSE_DROPPED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                               "content-encoding"})

SHORTCUTS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


def upstream_url(value: str) -> str:
    """A shortcut's base URL, or the URL given (http or https, without a trailing slash). ValueError if neither."""
    url = SHORTCUTS.get(value, value).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the upstream must be {', '.join(SHORTCUTS)} or an http(s) URL, not {value!r}")
    return url


def shown_url(url: str) -> str:
    """The URL without any user:password in it, for files and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class Forwarded:
    """What went back to the client."""

    status: int
    content_type: str
    body: bytes
    started: float
    ended: float = 0.0
    content_times: list[float] = field(default_factory=list)  # arrival of each content-carrying event

    def timing(self, streamed: bool) -> dict[str, float]:
        """The rule keys that replay this timing: ttft_ms and chunk_delay_ms, or delay_ms for a body."""
        if not streamed or not self.content_times:
            return {"delay_ms": round((self.ended - self.started) * 1000)}
        times = self.content_times
        out = {"ttft_ms": round((times[0] - self.started) * 1000)}
        if len(times) > 1:
            out["chunk_delay_ms"] = round((times[-1] - times[0]) * 1000 / (len(times) - 1), 1)
        return out


async def end(send: Send) -> None:
    """End a response `Upstream.forward` sent."""
    await send({"type": "http.response.body", "body": b""})


class Unreachable(Exception):
    """The upstream did not answer (refused, timed out, ...): nothing was sent to the client yet."""


class Upstream:
    """The real API (or another server) that requests are forwarded to, over one connection pool."""

    def __init__(self, url: str):
        self.url = url
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=15), follow_redirects=False)

    async def close(self) -> None:
        await self.client.aclose()

    async def forward(self, scope: dict[str, Any], body: bytes, send: Send,
                      markers: tuple[bytes, ...] | None = None) -> Forwarded:
        """Send the request on with the client's own headers (its credentials included) and stream the
        answer back. `markers` pick out the stream events that carry content (the adapter's
        `content_event_markers`; None: every event but the last, as delivery.py counts them).
        The response is left open: the caller ends it (`end`), once it has recorded the exchange, so that
        a client's next request finds the rules it taught. Raises Unreachable, having sent nothing,
        when the upstream cannot be reached."""
        url = self.url + scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in _REQUEST_DROPPED]
        headers.append(("accept-encoding", "identity"))
        started = time.perf_counter()
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as e:
            raise Unreachable(f"fakellm could not reach the upstream {shown_url(self.url)}: "
                              f"{type(e).__name__}: {e}") from None
        try:
            out = Forwarded(response.status_code, response.headers.get("content-type", ""), b"", started)
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw
                                    if k.decode("latin-1").lower() not in _RESPONSE_DROPPED]})
            chunks: list[bytes] = []
            pending = b""
            async for chunk in response.aiter_bytes():
                now = time.perf_counter()
                chunks.append(chunk)
                pending += chunk.replace(b"\r\n", b"\n")
                *events, pending = pending.split(b"\n\n")
                out.content_times += [now for event in events if markers is None or any(m in event for m in markers)]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            out.ended = time.perf_counter()
            if markers is None and len(out.content_times) > 1:
                out.content_times.pop()  # the last event ends the stream
            out.body = b"".join(chunks)
            return out
        finally:
            await response.aclose()

