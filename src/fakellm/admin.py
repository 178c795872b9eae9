"""Admin API under /_fakellm, and provider-shaped 404/405 for everything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson

from . import __version__, dashboard
from .config import ConfigError
from .http import HTML, JSON, BodyTooLarge, ClientGone, Receive, Send, query_params, read_body, send_response
from .model import ErrorInfo
from .providers import anthropic, openai_chat

if TYPE_CHECKING:
    from .server import FakeLLMApp

Handler = Callable[["FakeLLMApp", dict[str, Any], Receive], Awaitable[tuple[int, bytes, bytes]]]

ADMIN_BODY_LIMIT = 8 * 1024 * 1024


def _json(status: int, value: Any) -> tuple[int, bytes, bytes]:
    return status, orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), JSON


def _int_param(params: dict[str, str], name: str, default: int, low: int = 0, high: int = 10_000) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AdminError(400, f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise AdminError(400, f"query parameter {name!r} must be between {low} and {high}, got {value}")
    return value


class AdminError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


# -- handlers


async def page(app: FakeLLMApp, scope, receive):
    return 200, dashboard.render(app).encode(), HTML


async def stats(app: FakeLLMApp, scope, receive):
    state = app.engine.state
    _, recent_convs = state.conversations(100, 0)
    recent = [
        {
            "id": e.id,
            "ts": e.time,
            "api": e.api,
            "model": e.model,
            "stream": e.stream,
            "matched_rule": e.rule,
            "conversation_id": e.conversation_id,
            "turn": e.turn,
            "status": e.status,
        }
        for e in list(state.journal)[-50:][::-1]
    ]
    return _json(200, {
        "version": __version__,
        "total_requests": state.stats.total,
        "unmatched_requests": state.stats.unmatched,
        "by_rule": dict(state.stats.by_rule),
        "by_api": dict(state.stats.by_api),
        "recent": recent,
        "conversation_count": state.conversation_count,
        "conversations": {c["id"]: {"turn": c["turn"], "tool_results_seen": c["tool_results_seen"]}
                          for c in recent_convs},
    })


async def conversations(app: FakeLLMApp, scope, receive):
    params = query_params(scope)
    limit = _int_param(params, "limit", 100, 1, 10_000)
    offset = _int_param(params, "offset", 0, 0, 10_000_000)
    total, items = app.engine.state.conversations(limit, offset)
    return _json(200, {"total": total, "limit": limit, "offset": offset, "conversations": items})


async def reset(app: FakeLLMApp, scope, receive):
    return _json(200, {"cleared_conversations": app.engine.state.reset()})


async def reload(app: FakeLLMApp, scope, receive):
    if app.config_path is None:
        raise AdminError(400, "fakellm is serving a config that was not read from a file; nothing to reload")
    try:
        config = app.reload()
    except ConfigError as e:
        raise AdminError(400, f"{app.config_path} is invalid; still serving the previous config",
                         problems=[p.as_dict() for p in e.problems]) from None
    return _json(200, {"reloaded": True, "rules": len(config.rules), "source": str(app.config_path)})


async def health(app: FakeLLMApp, scope, receive):
    return _json(200, {"status": "ok", "version": __version__})


async def index(app: FakeLLMApp, scope, receive):
    return _json(200, {
        "name": "fakellm",
        "version": __version__,
        "openai_base_url": "/v1",
        "anthropic_base_url": "/",
        "dashboard": "/_fakellm",
    })


ROUTES: dict[str, dict[str, Handler]] = {
    "/": {"GET": index},
    "/_fakellm": {"GET": page},
    "/_fakellm/": {"GET": page},
    "/_fakellm/health": {"GET": health},
    "/_fakellm/stats": {"GET": stats},
    "/_fakellm/conversations": {"GET": conversations},
    "/_fakellm/reset": {"POST": reset},
    "/_fakellm/reload": {"POST": reload},
}

# LLM endpoints are routed by the server before admin; listed here so a wrong
# method on them gets 405 rather than 404.
LLM_METHODS = {"/v1/chat/completions": "POST", "/chat/completions": "POST", "/v1/messages": "POST"}


def _error_shape(path: str, status: int, message: str) -> bytes:
    """A 404/405 in the shape of the provider whose path this looks like."""
    error = ErrorInfo(message)
    if path.startswith("/v1/messages") or path.startswith("/v1/complete"):
        return anthropic.error_body(status, error, "req_fakellm")
    return openai_chat.error_body(status, error)


async def dispatch(app: FakeLLMApp, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    methods = ROUTES.get(path)
    if methods is None:
        if path in LLM_METHODS:
            allowed = LLM_METHODS[path]
            await _drain(receive)
            body = _error_shape(path, 405, f"Method {method} is not allowed on {path}; use {allowed}")
            await send_response(send, 405, body, JSON, [(b"allow", allowed.encode())])
            return
        await _drain(receive)
        body = _error_shape(path, 404, f"Unknown path {method} {path}. fakellm serves OpenAI at /v1 "
                                       f"(e.g. POST /v1/chat/completions), Anthropic at POST /v1/messages, "
                                       f"and its admin API under /_fakellm.")
        await send_response(send, 404, body, JSON)
        return
    handler = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
    if handler is None:
        await _drain(receive)
        allowed = ", ".join(methods)
        status, body, ctype = _json(405, {"error": {"message": f"Method {method} is not allowed on {path}; use {allowed}",
                                                    "type": "invalid_request_error"}})
        await send_response(send, status, body, ctype, [(b"allow", allowed.encode())])
        return
    try:
        status, body, ctype = await handler(app, scope, receive)
    except AdminError as e:
        status, body, ctype = _json(e.status, {"error": {"message": e.message, "type": "invalid_request_error", **e.extra}})
    except (BodyTooLarge,):
        status, body, ctype = _json(413, {"error": {"message": "request body too large", "type": "invalid_request_error"}})
    except ClientGone:
        return
    if method == "HEAD":
        body = b""
    await send_response(send, status, body, ctype)


async def _drain(receive: Receive) -> None:
    """Read and drop a request body we will not use."""
    try:
        await read_body(receive, ADMIN_BODY_LIMIT)
    except (BodyTooLarge, ClientGone):
        pass
