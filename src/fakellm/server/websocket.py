"""WebSockets (the OpenAI Realtime API): a provider's session per connection, each LLM request it
asks for through the engine (journal, rules, rate limits as for HTTP), each reply paced by the
delivery layer while the socket keeps reading the client (a cancel, further events).

Faults on a socket: `disconnect` closes it with code 1011 (after `after_chunks` chunks, else at
once); `hang` sends nothing more until `hang_limit_s`, then closes it the same way; `error_event`
sends the provider's error events; `truncate` ends the response early; `malformed` cuts one
event's JSON in half; `empty` sends an empty message instead of the response.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..asgi import JSON, Receive, Send, query_params
from ..model import ErrorInfo, Refusal, Request
from ..providers import registry
from ..providers.base import InvalidRequest, SocketOpener, SocketSession
from ..store.base import StateUnavailable
from ..traffic import delivery

if TYPE_CHECKING:
    from .app import FakeLLMApp

log = logging.getLogger("fakellm")

FAULT_CLOSE_CODE = 1011  # "internal error": what a crashed upstream's proxy closes a socket with


async def serve_socket(app: FakeLLMApp, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """One WebSocket connection, from the handshake to the close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    opener = app.sockets.get(scope["path"])
    request_id = "req_" + os.urandom(12).hex()
    if opener is None:
        family = registry.family_of_path(scope["path"])
        await _refuse(scope, send, 404, family.error(404, f"Unknown WebSocket path {scope['path']}. fakellm serves "
                                                          f"the OpenAI Realtime API at /v1/realtime?model=...",
                                                     request_id))
        return
    headers = app._header_names.decode(scope["headers"])
    subprotocols = list(scope.get("subprotocols") or ())
    try:
        session = opener.open(headers, query_params(scope), subprotocols, app.engine.next_id())
    except InvalidRequest as e:
        await _refuse(scope, send, e.status, opener.render_error(e.status, e.as_error(), request_id))
        return
    await send({"type": "websocket.accept", "subprotocol": opener.subprotocol(subprotocols)})
    await Socket(app, opener, session, send).run(receive)


async def _refuse(scope: dict[str, Any], send: Send, status: int, body: bytes) -> None:
    """Answer the handshake with an HTTP error where the server can (else a plain 403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", JSON), (b"content-length", b"%d" % len(body))]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


class Socket:
    """An open socket: reads client messages while at most one response is being delivered."""

    def __init__(self, app: FakeLLMApp, opener: SocketOpener, session: SocketSession, send: Send):
        self.app = app
        self.opener = opener
        self.session = session
        self._send = send
        self.closed = False
        self._running: asyncio.Task[None] | None = None
        self._client: Any = None  # the running response's delivery.socket_client, which a cancel leaves

    @property
    def responding(self) -> bool:
        return self._running is not None and not self._running.done()

    async def run(self, receive: Receive) -> None:
        try:
            for event in self.session.opening():
                await self.send(event)
            while not self.closed:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect
                data = message.get("text")
                step = self.session.receive(data if data is not None else message.get("bytes") or b"",
                                            self.responding)
                for event in step.send:
                    await self.send(event)
                if step.cancel and self._client is not None:
                    self._client.leave()
                if step.request is not None:
                    self._client = delivery.socket_client(self.app.deliveries)
                    self._running = asyncio.get_running_loop().create_task(self._respond(step.request, self._client))
        finally:
            self.closed = True
            if self._running is not None and not self._running.done():
                self._running.cancel()
                try:
                    await self._running
                except BaseException:  # noqa: S110 - the socket is gone; nothing is left to tell anyone
                    pass

    async def send(self, event: bytes) -> None:
        if self.closed:
            return
        try:
            await self._send({"type": "websocket.send", "text": event.decode()})
        except OSError:  # the client went away mid-send
            self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
            except OSError:
                pass

    async def _respond(self, request: Request, client: Any) -> None:
        """One LLM request of the socket: engine, journal, rendered reply, paced delivery."""
        app, session = self.app, self.session
        engine = app.engine
        started = time.perf_counter()
        response_id = engine.next_id()
        raw = orjson.dumps(request.body)
        try:
            reply, entry = await engine.handle(request, raw)
            limit = engine.defaults.journal_body_bytes
            if len(raw) > limit:
                entry.body = {"_fakellm": f"request body of {len(raw)} bytes not kept in the journal "
                                          f"(defaults.journal_body_bytes: {limit})"}
            response = session.respond(reply, request, response_id)
            entry = await engine.finish(reply, entry)
        except Refusal as e:
            await self._send_all(session.failed(e.status, e.error, request, response_id))
            return
        except StateUnavailable as e:
            await self._send_all(session.failed(503, app.state_alarm(e), request, response_id))
            return
        except Exception as e:  # a fakellm bug: say so on the socket, keep serving
            log.exception("fakellm: internal error")
            error = ErrorInfo(f"fakellm internal error: {type(e).__name__}: {e}")
            await self._send_all(session.failed(500, error, request, response_id))
            return
        plan = reply.delivery
        if plan is None:  # the usual answer: every event at once
            await self._send_all(response.head)
            await self._send_all(response.events)
            sent, how = len(response.events), delivery.DONE
        else:
            sent, how = await delivery.pace_messages(plan, response.head, response.events,
                                                     self.opener.content_event_markers, self.send, client)
        if self.closed:
            return
        if how in ("disconnect", "hang"):
            await self.close(FAULT_CLOSE_CODE, f"fakellm fault: {how}")
        elif how == "empty":
            await self.send(b"")
        else:
            fault = plan.fault if plan is not None else None
            error = (fault.status, fault.error) if how == "error_event" and fault is not None else None
            await self._send_all(response.end(sent, "cancelled" if how == delivery.GONE else how, error))
        elapsed = time.perf_counter() - started
        try:
            await app.store.note_latency(entry, elapsed * 1000)
        except StateUnavailable as e:  # the answer is out; only its latency is lost
            app.state_alarm(e)
        app.metrics.observe(request.api, reply.rule, reply.status, True, elapsed)

    async def _send_all(self, events: list[bytes]) -> None:
        for event in events:
            await self.send(event)
