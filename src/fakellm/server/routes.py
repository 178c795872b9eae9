"""Every route fakellm serves, from the provider registry, and provider-shaped answers for
paths it does not serve."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Awaitable

from ..asgi import JSON, BodyTooLarge, ClientGone, Receive, Send, query_params, read_body, send_response
from ..model import ErrorInfo
from ..providers import registry
from ..providers.base import Adapter, Call, EndpointFn, ErrorRenderer, SocketOpener
from .endpoints import json_endpoint
from .router import Router

if TYPE_CHECKING:
    from .app import FakeLLMApp

DRAIN_LIMIT = 8 * 1024 * 1024


class RouteTable:
    """The server's side of `providers.base.Routes`: what a family registers becomes a route."""

    def __init__(self, router: Router, sockets: dict[str, SocketOpener]):
        self.router = router
        self.sockets = sockets  # WebSocket endpoints by exact path

    def llm(self, method: str, path: str, adapter: Adapter, *, with_query: bool = False) -> None:
        if with_query:
            def route(app: FakeLLMApp, scope, receive, send, params) -> Awaitable[None]:
                return app.serve_llm(adapter, scope, receive, send, {**query_params(scope), **params})
        else:
            def route(app: FakeLLMApp, scope, receive, send, params) -> Awaitable[None]:
                # Not a coroutine itself: the caller awaits serve_llm's directly, one frame fewer per request.
                return app.serve_llm(adapter, scope, receive, send, params)
        self.router.add(method, path, route)

    def json(self, method: str, path: str, fn: EndpointFn, render_error: ErrorRenderer, *,
             with_body: bool = False, request_id_headers: tuple[str, ...] = ("x-request-id",)) -> None:
        self.router.add(method, path, json_endpoint(fn, render_error, with_body=with_body,
                                                    request_id_headers=request_id_headers))

    def model_listing(self, list_path: str, get_path: str) -> None:
        self.router.add("GET", list_path, _LIST_MODELS)
        self.router.add("GET", get_path, _GET_MODEL)

    def socket(self, path: str, opener: SocketOpener) -> None:
        self.sockets[path] = opener


def _listing(which: str) -> Any:
    """The shared listing: the family whose SDK asks (by its headers) answers."""
    def answer(call: Call) -> tuple[int, bytes]:
        family = registry.family_of_listing(call.headers)
        assert family.models is not None
        return getattr(family.models, which)(call)

    def render_error(status: int, error: ErrorInfo, request_id: str) -> bytes:
        return registry.DEFAULT.error(status, error.message, request_id)

    # Both request id headers: the SDKs read `x-request-id` (OpenAI) or `request-id` (Anthropic).
    return json_endpoint(answer, render_error, request_id_headers=("x-request-id", "request-id"))


_LIST_MODELS = _listing("list")
_GET_MODEL = _listing("get")


def install(app: FakeLLMApp, router: Router) -> None:
    table = RouteTable(router, app.sockets)
    for family in registry.FAMILIES:
        family.install(table, app)


async def no_route(scope: dict[str, Any], receive: Receive, send: Send, allowed: list[str]) -> None:
    """404 for an unknown path, 405 for a known path with the wrong method, in the shape of the
    family the path belongs to."""
    path, method = scope["path"], scope["method"]
    await _drain(receive)
    request_id = "req_" + os.urandom(12).hex()
    # Both providers' request id headers: the SDKs read `x-request-id` (OpenAI) or `request-id` (Anthropic).
    headers = [(b"x-request-id", request_id.encode()), (b"request-id", request_id.encode())]
    family = registry.family_of_path(path)
    advice = next((a for a in (f.advice(method, path) for f in registry.FAMILIES) if a is not None), None)
    if advice is not None:  # a near miss: say what to change (a 405 "use GET" would send the user the wrong way)
        await send_response(send, 404, family.error(404, advice, request_id), JSON, headers)
        return
    if allowed:
        body = family.error(405, f"Method {method} is not allowed on {path}; use {', '.join(allowed)}", request_id)
        await send_response(send, 405, body, JSON, [(b"allow", ", ".join(allowed).encode()), *headers])
        return
    body = family.error(404, f"Unknown path {method} {path}. fakellm serves OpenAI under /v1 "
                             f"(e.g. POST /v1/chat/completions), Anthropic at POST /v1/messages, "
                             f"Gemini under /v1beta and /v1 (POST .../models/{{model}}:generateContent), "
                             f"Vertex AI under /v1/projects and /v1beta1/projects, Bedrock under /model, "
                             f"Ollama under /api (POST /api/chat), and its admin API under /_fakellm.", request_id)
    await send_response(send, 404, body, JSON, headers)


async def _drain(receive: Receive) -> None:
    """Read and drop a request body we will not use, so the connection stays usable."""
    try:
        await read_body(receive, DRAIN_LIMIT)
    except (BodyTooLarge, ClientGone):
        pass
