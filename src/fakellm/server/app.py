"""The ASGI app: route -> provider adapter -> engine -> adapter -> bytes.

No framework: the LLM endpoints read the body, decode it with orjson, and write
the whole response (a JSON body, or every SSE event of a stream) in one send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from ..asgi import ARRIVED, JSON, SSE, BodyTooLarge, ClientGone, Receive, Send, read_body, send_response
from ..config.schema import Config, ConfigError, check_apis, load_config, parse_config_bytes
from ..engine.catalog import Catalog
from ..engine.engine import CONVERSATION_HEADER, Compiled, Engine, bounds_of, input_tokens
from ..model import ErrorInfo, Refusal, Reply, Request
from ..providers import registry
from ..providers.base import Adapter, InvalidRequest, SocketOpener, error_headers
from ..store.base import StateUnavailable, Store
from ..store.memory import MemoryStore
from ..traffic import delivery
from ..traffic.policy import TrafficPolicy
from . import config_watch, fleet, routes, websocket
from .bodies import json_object
from .collector import collector_paused
from .metrics import Metrics
from .state import StateAlarm
from .router import Router

log = logging.getLogger("fakellm")

# on_miss(adapter, scope, raw body, parsed request, send) answers a request no rule matched (a hybrid
# server proxies it: record/hybrid.py) and returns the status it sent.
MissHandler = Callable[[Adapter, dict[str, Any], bytes, Request, Send], Awaitable[int]]

_CONV_HEADER = CONVERSATION_HEADER.encode()


class FakeLLMApp:
    """The fakellm server as an ASGI callable: the providers' routes through the engine.

    `config_path` is what `POST /_fakellm/reload` re-reads; without one the app
    serves the config it was given until replaced over the admin API. `store`
    holds its state (a MemoryStore unless given). fakellm/app.py builds the whole
    server, with the admin API and dashboard. `replay_speed` scales every wait the config sets
    (2: twice as fast, 0: none); `on_miss`, when given, answers the requests no rule matched.
    """

    def __init__(self, config: Config, config_path: str | Path | None = None, *, watch: bool = False,
                 store: Store | None = None, extensions: Sequence[Callable[[Router], None]] = (),
                 replay_speed: float = 1.0, on_miss: MissHandler | None = None):
        check_apis(config, registry.KNOWN_APIS)
        self.replay_speed = replay_speed
        self.on_miss = on_miss
        self.store: Store = store if store is not None else MemoryStore(bounds_of(config), registry.REDACTED_HEADERS)
        self.engine = Engine(config, self.store, self._traffic)
        self.config_path = Path(config_path) if config_path is not None else None
        self.watch = watch and self.config_path is not None
        self.reloads = 0
        self.reload_failures = 0
        self.metrics = Metrics()
        self.state_alarm = StateAlarm()  # a failing shared store: 503s, and a log line per burst
        # Replies on the slow path (timing, faults) right now; paced chunks skip ASGI where uvicorn allows.
        self.deliveries = delivery.Deliveries(_body_writer())
        self._header_names = HeaderNames()
        self._last_headers: tuple[list[tuple[bytes, bytes]] | None, dict[str, str]] = (None, {})
        self.last_reload_error: list[dict[str, Any]] | None = None
        self.router = Router()
        self.sockets: dict[str, SocketOpener] = {}  # WebSocket endpoints by path (server/websocket.py)
        routes.install(self, self.router)
        for install in extensions:  # routes beyond the providers' (the admin API: see fakellm/app.py)
            install(self.router)
        self._watcher: asyncio.Task | None = None
        self._swapping = asyncio.Lock()
        # Processes on one shared store (Redis) serve one config and add up their metrics.
        self.fleet = fleet.Fleet(self, self.store) if fleet.shares_config(self.store) else None

    @property
    def config(self) -> Config:
        return self.engine.config

    # -- what the providers' adapters and endpoints read (providers.base.Served)

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def _traffic(self, config: Config) -> TrafficPolicy:
        """Rate limits and delivery plans for a config; the providers format the rate-limit headers."""
        def header_format(api: str):
            family = registry.family_of_api(api)
            return family.rate_limit_headers if family is not None else None

        return TrafficPolicy(config, self.store, input_tokens, header_format, registry.AUTH_HEADERS,
                             self.replay_speed)

    # -- config

    async def replace_config(self, build: Callable[[], Config], *, from_fleet: bool = False) -> Config:
        """Serve the config that `build` makes. Building, checking and compiling it run in a worker
        thread (seconds, for a big config), so requests keep being answered meanwhile; the result is
        swapped in whole. Raises ConfigError, changing nothing, when the config is invalid. Swaps
        happen one at a time, in the order they were asked for. On a shared store the config is
        published to the whole fleet once it is valid (unless it came `from_fleet`: then another
        process published it and already restarted the shared counters)."""
        async with self._swapping:
            compiled = await asyncio.to_thread(self._compile, build)
            if self.fleet is not None and not from_fleet:
                await self.fleet.publish(compiled.config)
            await self.engine.use(compiled, restart_counters=not from_fleet)
            self.reloads += 1
            self.last_reload_error = None
            return compiled.config

    def _compile(self, build: Callable[[], Config]) -> Compiled:
        with collector_paused():
            config = build()
            check_apis(config, registry.KNOWN_APIS)
            return self.engine.compile(config)

    async def reload(self) -> Config:
        """Re-read the config file; on error keep serving the old config and raise ConfigError."""
        path = self.config_path
        if path is None:
            raise ConfigError([])
        try:
            return await self.replace_config(lambda: load_config(path))
        except ConfigError as e:
            self._reload_failed(e)
            raise

    def _reload_failed(self, error: ConfigError) -> None:
        self.reload_failures += 1
        self.last_reload_error = [p.as_dict() for p in error.problems]

    async def use_config(self, config: Config) -> None:
        """Serve `config` from now on (the whole fleet's, on a shared store); raises ConfigError (serving
        the old one) if it names an unknown API."""
        await self.replace_config(lambda: config)

    # -- ASGI

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path, method = scope["path"], scope["method"]
            handler, params, allowed = self.router.find(method, path)
            if handler is None:
                await routes.no_route(scope, receive, send, allowed)
                return
            await handler(self, scope, receive, send, params)
        elif kind == "websocket":
            await websocket.serve_socket(self, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.fleet is not None:
                    try:
                        await self.fleet.publish(self.config, starting=True)
                    except StateUnavailable as e:
                        await send({"type": "lifespan.startup.failed", "message": str(e)})
                        return
                    self.fleet.follow()
                if self.watch:
                    self._watcher = asyncio.get_running_loop().create_task(self._watch_config())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._watcher is not None:
                    self._watcher.cancel()
                if self.fleet is not None:
                    await self.fleet.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _watch_config(self) -> None:
        path = self.config_path
        assert path is not None

        async def apply(content: bytes | None) -> None:
            await self.replace_config(lambda: load_config(path) if content is None
                                      else parse_config_bytes(content, str(path)))
            log.warning("fakellm: reloaded %s", path.name)

        def report(error: ConfigError) -> None:
            self._reload_failed(error)
            log.warning("fakellm: %s is invalid, still serving the previous config:\n%s", path.name, error)

        text = self.config.text
        await config_watch.watch(path, apply, report, text.encode("utf-8") if text is not None else None)

    async def serve_llm(self, adapter: Adapter, scope: dict[str, Any], receive: Receive, send: Send,
                        params: dict[str, str]) -> None:
        """One LLM call: body -> adapter.parse -> engine -> adapter.render."""
        started = time.perf_counter()
        engine = self.engine
        defaults = engine.defaults
        request_id = "req_" + engine.next_id()
        id_header = (adapter.request_id_header.encode(), request_id.encode())
        try:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                raw = message.get("body", b"")  # the whole body in one message: the usual case
                if len(raw) > defaults.max_body_bytes:
                    raise BodyTooLarge()
            else:
                raw = await read_body(receive, defaults.max_body_bytes, first=message)
        except ClientGone:
            return
        except BodyTooLarge:
            limit = defaults.max_body_bytes
            error = ErrorInfo(f"Request body is larger than the {limit} byte limit", type=None)
            await _send_error(send, adapter, 413, error, request_id, id_header)
            return

        try:
            # Clients send the same headers request after request: decode them once and share the dict
            # (nothing changes a request's headers), which also keeps the journal small.
            raw_headers = scope["headers"]
            if raw_headers == self._last_headers[0]:
                headers = self._last_headers[1]
            else:
                headers = self._header_names.decode(raw_headers)
                self._last_headers = (raw_headers, headers)
            request = adapter.parse(json_object(raw), headers, scope["path"], params)
        except InvalidRequest as e:
            await _send_error(send, adapter, e.status, e.as_error(), request_id, id_header)
            return
        except Exception as e:  # an input shape the adapter does not check yet: still a 4xx, keep serving
            log.exception("fakellm: could not parse a request")
            error = ErrorInfo(f"The request body has an unexpected shape ({type(e).__name__}: {e})")
            await _send_error(send, adapter, 400, error, request_id, id_header)
            return

        events: list[bytes] | None = None  # a stream's events, for the delivery layer
        try:
            reply, entry = await engine.handle(request, raw, adapter)
            if reply.missed and self.on_miss is not None:
                await self._answer_miss(adapter, scope, raw, request, send, reply, entry)
                return
            if len(raw) > defaults.journal_body_bytes:
                entry.body = {"_fakellm": f"request body of {len(raw)} bytes not kept in the journal "
                                          f"(defaults.journal_body_bytes: {defaults.journal_body_bytes})"}
            headers_out = [id_header, (_CONV_HEADER, reply.conversation_id.encode())]
            if reply.headers:
                headers_out += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
            response_id = request_id[4:]  # one id per request: req_X, chatcmpl-X, msg_X, ...
            if reply.tool_calls:
                _assign_tool_call_ids(adapter, reply, response_id)
            status = reply.status
            if reply.error is not None:
                ctype = JSON
                body = adapter.render_error(status, reply.error, request_id)
                headers_out += error_headers(adapter, status, reply.error)
            elif request.stream:
                # SSE for most providers; Ollama streams NDJSON.
                ctype = getattr(adapter, "stream_content_type", SSE)
                headers_out.append((b"cache-control", b"no-cache"))
                events = adapter.render_stream(reply, request, response_id)
                body = b"".join(events)
            else:
                ctype = JSON
                body = adapter.render(reply, request, response_id)
            entry = await engine.finish(reply, entry)
        except Refusal as e:
            await _send_error(send, adapter, e.status, e.error, request_id, id_header)
            return
        except StateUnavailable as e:
            error = self.state_alarm(e)
            await _send_error(send, adapter, 503, error, request_id, id_header)
            return
        except Exception as e:  # a fakellm bug: answer in the provider's shape, keep serving
            log.exception("fakellm: internal error")
            error = ErrorInfo(f"fakellm internal error: {type(e).__name__}: {e}")
            await _send_error(send, adapter, 500, error, request_id, id_header)
            return
        if events is not None:
            self.metrics.stream_started()
            try:
                await delivery.respond(reply.delivery, send, receive, status, body, ctype, headers_out, events,
                                       adapter, delivery.Answered(request_id, request, response_id, len(events)),
                                       self.deliveries, scope.get(ARRIVED))
            finally:
                self.metrics.stream_ended()
        elif reply.delivery is None:  # the usual answer: all at once, no timing or faults
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", JSON), (b"content-length", b"%d" % len(body)), *headers_out]})
            await send({"type": "http.response.body", "body": body})
        else:
            await delivery.respond(reply.delivery, send, receive, status, body, ctype, headers_out, events,
                                   adapter, delivery.Answered(request_id, request, response_id, 0), self.deliveries,
                                   scope.get(ARRIVED))
        elapsed = time.perf_counter() - started
        try:
            await self.store.note_latency(entry, elapsed * 1000)
        except StateUnavailable as e:  # the answer is out; only its latency is lost
            self.state_alarm(e)
        self.metrics.observe(request.api, reply.rule, status, request.stream, elapsed)


    async def _answer_miss(self, adapter: Adapter, scope: dict[str, Any], raw: bytes, request: Request, send: Send,
                           reply: Reply, entry: Any) -> None:
        """A request no rule matched, answered by `on_miss`; the journal says who answered it."""
        assert self.on_miss is not None
        started = time.perf_counter()
        status = await self.on_miss(adapter, scope, raw, request, send)
        entry.status, entry.content, entry.error = status, None, None
        entry.notes = ("answered by the upstream (no rule matched)",)
        reply.status, reply.error, reply.content, reply.tool_calls = status, None, None, []
        entry = await self.engine.finish(reply, entry)
        self.metrics.observe(request.api, None, status, request.stream, time.perf_counter() - started)


class HeaderNames:
    """Header names as str, shared by every request of one app: decoding them is skipped, and the
    journal's header dicts do not each hold their own copies. Bounded: past the cap, names are
    decoded each time."""

    MAX = 512

    def __init__(self) -> None:
        self._names: dict[bytes, str] = {}

    def decode(self, raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
        """ASGI servers give lower-cased header names; values are almost always ASCII."""
        names = self._names
        try:
            return {names.get(k) or self._name(k): v.decode() for k, v in raw}
        except UnicodeDecodeError:
            return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}

    def _name(self, name: bytes) -> str:
        text = name.decode()
        if len(self._names) < self.MAX:
            self._names[name] = text
        return text


def _send_error(send: Send, adapter: Adapter, status: int, error: ErrorInfo, request_id: str,
                id_header: tuple[bytes, bytes]) -> Awaitable[None]:
    """An error response in the adapter's shape, with the headers its SDKs read the error from."""
    return send_response(send, status, adapter.render_error(status, error, request_id), JSON,
                         [id_header, *error_headers(adapter, status, error)])


def _assign_tool_call_ids(adapter: Adapter, reply: Reply, response_id: str) -> None:
    """Give id-less tool calls the ids the adapter would render, so the journal shows what the client got."""
    prefix = getattr(adapter, "tool_call_id_prefix", None)
    if prefix is None:
        return
    for k, call in enumerate(reply.tool_calls):
        if not call.id:
            call.id = f"{prefix}{response_id}{k}"


def _body_writer() -> Any:
    """server/protocol.py's direct body writer, when uvicorn's httptools protocol is there to use it."""
    try:
        from .protocol import body_writer
    except ImportError:  # no httptools
        return None
    return body_writer
