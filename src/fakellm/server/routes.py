"""Every route fakellm serves, and provider-shaped answers for paths it does not."""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..admin import api as admin
from ..providers.gemini import routes as gemini_routes
from ..providers.ollama import routes as ollama_routes
from ..providers.openai import routes as openai_routes
from .http import JSON, BodyTooLarge, ClientGone, Receive, Send, read_body, send_response
from ..model import ErrorInfo
from ..providers.anthropic import messages as anthropic
from ..providers.openai import chat as openai_chat
from ..providers.base import Adapter
from .router import Router

if TYPE_CHECKING:
    from .app import FakeLLMApp

DRAIN_LIMIT = 8 * 1024 * 1024

# The request id of the 404/405 being rendered: sent as a header and, in Anthropic's shape, in the body.
_REQUEST_ID: ContextVar[str] = ContextVar("fakellm_no_route_request_id", default="req_fakellm")


def llm(adapter: Adapter):
    """A route that runs one LLM call through `adapter`."""

    def route(app: FakeLLMApp, scope, receive, send, params) -> Awaitable[None]:
        # Not a coroutine itself: the caller awaits serve_llm's directly, one frame fewer per request.
        return app.serve_llm(adapter, scope, receive, send, params)

    return route


def install(app: FakeLLMApp, router: Router) -> None:
    chat = llm(openai_chat.OpenAIChat())
    router.add("POST", "/v1/chat/completions", chat)
    router.add("POST", "/chat/completions", chat)
    router.add("POST", "/v1/messages", llm(anthropic.AnthropicMessages()))
    openai_routes.install(app, router, llm)
    gemini_routes.install(app, router)
    ollama_routes.install(app, router)
    admin.register(router)


# Error shapes for unknown paths and methods, by the provider the path belongs to:
# (does the path belong to it, render(status, message) -> body). First match wins;
# OpenAI's shape is the default.
ERROR_SHAPES: list[tuple[Callable[[str], bool], Callable[[int, str], bytes]]] = [
    (lambda path: path.startswith(("/v1/messages", "/v1/complete")),
     lambda status, message: anthropic.error_body(status, ErrorInfo(message), _REQUEST_ID.get())),
    (gemini_routes.belongs_to_gemini, gemini_routes.error),
    (ollama_routes.belongs_to_ollama, ollama_routes.error),
]


def error_for_path(path: str, status: int, message: str) -> bytes:
    for belongs, render in ERROR_SHAPES:
        if belongs(path):
            return render(status, message)
    return openai_chat.error_body(status, ErrorInfo(message))


async def no_route(scope: dict[str, Any], receive: Receive, send: Send, allowed: list[str]) -> None:
    """404 for an unknown path, 405 for a known path with the wrong method."""
    path, method = scope["path"], scope["method"]
    await _drain(receive)
    request_id = "req_" + os.urandom(12).hex()
    _REQUEST_ID.set(request_id)
    # Both providers' request id headers: the SDKs read `x-request-id` (OpenAI) or `request-id` (Anthropic).
    headers = [(b"x-request-id", request_id.encode()), (b"request-id", request_id.encode())]
    advice = gemini_routes.missing_version(path) if method == "POST" else None
    if advice is not None:  # a 405 ("use GET") would send the user the wrong way
        await send_response(send, 404, gemini_routes.error(404, advice), JSON, headers)
        return
    if allowed:
        body = error_for_path(path, 405, f"Method {method} is not allowed on {path}; use {', '.join(allowed)}")
        await send_response(send, 405, body, JSON, [(b"allow", ", ".join(allowed).encode()), *headers])
        return
    body = error_for_path(path, 404, f"Unknown path {method} {path}. fakellm serves OpenAI under /v1 "
                                     f"(e.g. POST /v1/chat/completions), Anthropic at POST /v1/messages, "
                                     f"Gemini under /v1beta and /v1 (POST .../models/{{model}}:generateContent), "
                                     f"Ollama under /api (POST /api/chat), and its admin API under /_fakellm.")
    await send_response(send, 404, body, JSON, headers)


async def _drain(receive: Receive) -> None:
    """Read and drop a request body we will not use, so the connection stays usable."""
    try:
        await read_body(receive, DRAIN_LIMIT)
    except (BodyTooLarge, ClientGone):
        pass
