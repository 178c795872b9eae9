"""The recording proxy: every request goes to the upstream with the client's own credentials and its
answer comes back unchanged; each LLM call fakellm understands is recorded as it completes."""

from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable

from ..asgi import JSON, BodyTooLarge, ClientGone, Receive, Send, read_body, send_response
from ..model import Request
from ..providers import registry
from ..providers.base import Adapter
from ..server.bodies import json_object
from .assembly import RECORDED_APIS, assemble
from .exchange import Exchange
from .forward import Forwarded, Unreachable, Upstream, end
from .recording import Recording
from .routing import LLMRoutes

log = logging.getLogger("fakellm")

MAX_BODY = 64 * 1024 * 1024  # a request body the proxy reads before forwarding it
# After each write: the rules recorded so far (a hybrid server serves them).
RulesHook = Callable[[list[dict[str, Any]]], Awaitable[None]]


class Recorder:
    """Forwards requests to the upstream; records the LLM calls into `recording` (None: only forwards)."""

    def __init__(self, upstream: Upstream, recording: Recording | None, on_rules: RulesHook | None = None):
        self.upstream = upstream
        self.recording = recording
        self.on_rules = on_rules
        self.recorded = 0

    async def forward_llm(self, adapter: Adapter, scope: dict[str, Any], raw: bytes, request: Request,
                          send: Send) -> int:
        """Forward an LLM call fakellm parsed, record it, and return the status the client got."""
        if self.recording is not None:
            self.recording.scrubber.learn(_credentials(scope))
        markers = getattr(adapter, "content_event_markers", None)
        forwarded = await self._forward(scope, raw, send, markers)
        if forwarded is None:
            return 502
        try:
            await self._record(scope, request, forwarded)
        finally:
            await end(send)
        return forwarded.status

    async def _record(self, scope: dict[str, Any], request: Request, forwarded: Forwarded) -> None:
        if self.recording is None or request.api not in RECORDED_APIS:
            return
        streamed = request.stream and forwarded.status < 400
        try:
            answer = assemble(request.api, forwarded.status, forwarded.body, streamed)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            log.warning("fakellm: not recorded: could not read the upstream's answer to %s %s (%s: %s)",
                        scope["method"], scope["path"], type(e).__name__, e)
            return
        rules = self.recording.add(Exchange(request, answer, streamed, forwarded.timing(streamed)))
        self.recorded += 1
        if self.on_rules is not None:
            await self.on_rules(rules)

    async def forward(self, scope: dict[str, Any], raw: bytes, send: Send) -> None:
        """Forward a request that is not recorded."""
        if await self._forward(scope, raw, send) is not None:
            await end(send)

    async def _forward(self, scope: dict[str, Any], raw: bytes, send: Send,
                       markers: tuple[bytes, ...] | None = None) -> Forwarded | None:
        """Forward any request, leaving the response open; a 502 in the path's provider shape when the
        upstream cannot be reached (then None)."""
        try:
            return await self.upstream.forward(scope, raw, send, markers)
        except Unreachable as e:
            request_id = "req_" + os.urandom(12).hex()
            body = registry.family_of_path(scope["path"]).error(502, str(e), request_id)
            await send_response(send, 502, body, JSON)
            return None


class RecordingProxy:
    """The ASGI app of `fakellm record`."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.routes = LLMRoutes()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            raw = await read_body(receive, MAX_BODY)
        except ClientGone:
            return
        except BodyTooLarge:
            body = registry.family_of_path(scope["path"]).error(413, f"Request body is larger than {MAX_BODY} bytes",
                                                                "req_" + os.urandom(12).hex())
            await send_response(send, 413, body, JSON)
            return
        parsed = self._parse(scope, raw)
        if parsed is None:
            await self.recorder.forward(scope, raw, send)
        else:
            await self.recorder.forward_llm(parsed[0], scope, raw, parsed[1], send)

    def _parse(self, scope: dict[str, Any], raw: bytes) -> tuple[Adapter, Request] | None:
        """The adapter and neutral request of an LLM call fakellm understands; None for anything else
        (other endpoints, and bodies fakellm would refuse: the upstream answers those, unrecorded)."""
        found = self.routes.find(scope)
        if found is None:
            return None
        adapter, params = found
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            return adapter, adapter.parse(json_object(raw), headers, scope["path"], params)
        except Exception:  # noqa: BLE001 (an input fakellm refuses: forwarded as it is, not recorded)
            return None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.recorder.upstream.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _credentials(scope: dict[str, Any]) -> list[str]:
    """The secrets a client sent: its auth header values and a `key` query parameter (Gemini's)."""
    from ..asgi import query_params

    names = set(registry.REDACTED_HEADERS)
    out = [v.decode("latin-1") for k, v in scope["headers"] if k.decode("latin-1").lower() in names]
    key = query_params(scope).get("key")
    return out + [key] if key else out
