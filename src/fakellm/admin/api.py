"""Admin API under /_fakellm, and provider-shaped 404/405 for everything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson

from .. import __version__
from ..asgi import JSON, BodyTooLarge, ClientGone, Receive, Send, query_params, read_body, send_response
from ..config.schema import ConfigError, parse_config_bytes
from ..engine.apis import api_matches
from ..providers import registry
from ..server.router import Handler as RouteHandler
from ..server.router import Router
from ..store.base import JournalEntry, StateUnavailable
from . import dashboard, metrics
from .access import AdminAccess, guard

if TYPE_CHECKING:
    from ..server.app import FakeLLMApp

AdminHandler = Callable[["FakeLLMApp", dict[str, Any], Receive, dict[str, str]], Awaitable[tuple[int, bytes, bytes]]]

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


async def stats(app: FakeLLMApp, scope, receive, params):
    store = app.store
    _, recent_convs = await store.conversations(100, 0)
    counts = await store.stats()
    journal = await store.journal()
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
        for e in journal[-50:][::-1]
    ]
    return _json(200, {
        "version": __version__,
        "total_requests": counts.total,
        "unmatched_requests": counts.unmatched,
        "by_rule": counts.by_rule,
        "by_api": counts.by_api,
        "recent": recent,
        "conversation_count": await store.conversation_count(),
        "conversations": {c["id"]: {"turn": c["turn"], "tool_results_seen": c["tool_results_seen"]}
                          for c in recent_convs},
    })


async def conversations(app: FakeLLMApp, scope, receive, params):
    params = query_params(scope)
    limit = _int_param(params, "limit", 100, 1, 10_000)
    offset = _int_param(params, "offset", 0, 0, 10_000_000)
    total, items = await app.store.conversations(limit, offset)
    return _json(200, {"total": total, "limit": limit, "offset": offset, "conversations": items})


async def reset(app: FakeLLMApp, scope, receive, params):
    return _json(200, {"cleared_conversations": await app.store.reset()})


async def reload(app: FakeLLMApp, scope, receive, params):
    if app.config_path is None:
        raise AdminError(400, "fakellm is serving a config that was not read from a file; nothing to reload")
    try:
        config = await app.reload()
    except ConfigError as e:
        raise AdminError(400, f"{app.config_path} is invalid; still serving the previous config",
                         problems=[p.as_dict() for p in e.problems]) from None
    return _json(200, {"reloaded": True, "rules": len(config.rules), "source": str(app.config_path)})


JOURNAL_PAGE = 100  # entries per GET /_fakellm/requests unless `limit` says otherwise
JOURNAL_PAGE_MAX = 1_000


async def requests(app: FakeLLMApp, scope, receive, params):
    """One page of the journal, oldest first. Filters: rule (a name, or `none` for misses), conversation,
    api. Paging: with `after` (a poller's cursor), the first `limit` matching entries with a larger id;
    otherwise the newest `limit` (before `before` when given). `has_more` says whether more matching
    entries lie beyond the page in its direction; `next_after` is the cursor for the next forward page.
    `oldest_id` is the oldest entry still held, so a poller can drop entries the journal evicted or a DELETE
    cleared; `latency_ms` maps each returned entry's id to the time its answer took (null while it is
    still being sent)."""
    query = query_params(scope)
    limit = _int_param(query, "limit", JOURNAL_PAGE, 1, JOURNAL_PAGE_MAX)
    forward = "after" in query
    after = _int_param(query, "after", 0, 0, 2**62)
    before = _int_param(query, "before", 2**62, 1, 2**62)
    rule, conversation, api = query.get("rule"), query.get("conversation"), query.get("api")

    def wanted(entry: JournalEntry) -> bool:
        return (entry.id < before
                and (rule is None or (entry.rule or "none") == rule)
                and (conversation is None or entry.conversation_id == conversation)
                and (api is None or api_matches(api, entry.api)))

    store = app.store
    journal = await store.journal(after)
    page: list[JournalEntry] = []
    has_more = False
    for entry in journal if forward else reversed(journal):
        if not wanted(entry):
            continue
        if len(page) == limit:
            has_more = True
            break
        page.append(entry)
    if not forward:
        page.reverse()
    _, oldest_id, _ = await store.journal_info()
    return _json(200, {"requests": [e.as_dict(store.redacted_headers) for e in page],
                       "oldest_id": oldest_id,
                       "has_more": has_more,
                       "next_after": page[-1].id if page else after,
                       "latency_ms": {e.id: None if e.latency_ms is None else round(e.latency_ms, 3) for e in page}})


async def rules(app: FakeLLMApp, scope, receive, params):
    """The active rules with their hit counts and last hit, the config file, and the totals."""
    store = app.store
    counts = await store.stats()
    by_rule, last_hit = counts.by_rule, counts.last_hit
    held, _, capacity = await store.journal_info()
    return _json(200, {
        "path": str(app.config_path) if app.config_path is not None else None,
        "source": app.config.source,
        "version": __version__,
        "started": counts.started,  # a new value means the server restarted: journal ids start over
        "reloads": app.reloads,
        "reload_failures": app.reload_failures,
        "last_reload_error": app.last_reload_error,
        "totals": {
            "requests": counts.total,
            "unmatched": counts.unmatched,
            "conversations": await store.conversation_count(),
            "journal": held,
            "journal_size": capacity,
        },
        "rules": [
            {
                "index": rule.index,
                "name": rule.name,
                "when": [cond.label for cond in rule.conditions],
                "respond": [_respond_summary(spec) for spec in rule.responds],
                "times": rule.times,
                "cycle": rule.cycle,
                "hits": by_rule.get(rule.name, 0),
                "last_hit": last_hit.get(rule.name),
            }
            for rule in app.engine.rules
        ],
    })


def _respond_summary(spec: Any) -> str:
    """One line saying what a `respond` item answers, for the dashboard."""
    if spec.status >= 400:
        error = spec.error if isinstance(spec.error, str) or spec.error is None else spec.error.message
        return f"status {spec.status}" + (f": {error}" if error else "")
    parts = []
    if spec.tool_calls == "auto":
        parts.append("tool calls: auto")
    elif spec.tool_calls:
        parts.append("tool calls: " + ", ".join(call.name for call in spec.tool_calls))
    text = spec.content
    if spec.json_ is not None:
        text = orjson.dumps(spec.json_).decode()
    elif spec.template is not None:
        text = "template: " + spec.template
    if text is not None:
        text = text if len(text) <= 120 else text[:119] + "…"
        parts.append(orjson.dumps(text).decode())
    if getattr(spec, "embedding", None) is not None:
        parts.append("embedding")
    return "; ".join(parts) or "echo"




async def clear_requests(app: FakeLLMApp, scope, receive, params):
    return _json(200, {"cleared_requests": await app.store.clear_journal()})


async def get_config(app: FakeLLMApp, scope, receive, params):
    config = app.config
    return _json(200, {
        "source": config.source,
        "path": str(app.config_path) if app.config_path is not None else None,
        "text": config.text,
        "config": config.spec.model_dump(mode="json", exclude_defaults=True, by_alias=True),
    })


async def put_config(app: FakeLLMApp, scope, receive, params):
    """Replace the active config with a YAML or JSON body, validated like the file. It is parsed and
    compiled off the event loop (see `FakeLLMApp.replace_config`): a big config does not stall serving."""
    raw = await read_body(receive, ADMIN_BODY_LIMIT)
    try:
        config = await app.replace_config(lambda: parse_config_bytes(raw, "PUT /_fakellm/config"))
    except ConfigError as e:
        raise AdminError(400, "invalid config; still serving the previous one",
                         problems=[p.as_dict() for p in e.problems]) from None
    return _json(200, {"replaced": True, "rules": len(config.rules)})


async def metrics_text(app: FakeLLMApp, scope, receive, params):
    return 200, await metrics.render(app), metrics.CONTENT_TYPE


async def health(app: FakeLLMApp, scope, receive, params):
    return _json(200, {"status": "ok", "version": __version__})


async def debug(app: FakeLLMApp, scope, receive, params):
    """Counts for spotting leaks: asyncio tasks alive, and replies still being delivered slowly."""
    import asyncio

    return _json(200, {
        "asyncio_tasks": len(asyncio.all_tasks()),
        "deliveries_in_flight": app.deliveries.in_flight,
        "rate_limit_buckets": await app.store.bucket_count(),
    })


async def index(app: FakeLLMApp, scope, receive, params):
    return _json(200, {
        "name": "fakellm",
        "version": __version__,
        **{f"{family.name}_base_url": family.base_path or "/" for family in registry.FAMILIES},
        "dashboard": "/_fakellm",
    })


def register(router: Router, access: AdminAccess) -> None:
    """The admin API, behind `access`; `/` and the health check stay open (they show only the version,
    and probes call them by the container's address, without a token)."""
    for method, path, handler in (
        ("GET", "/", index),
        ("GET", "/_fakellm/health", health),
    ):
        router.add(method, path, endpoint(handler))
    for method, path, handler in (
        ("GET", "/_fakellm/debug", debug),
        ("GET", "/_fakellm/stats", stats),
        ("GET", "/_fakellm/conversations", conversations),
        ("POST", "/_fakellm/reset", reset),
        ("POST", "/_fakellm/reload", reload),
        ("GET", "/_fakellm/requests", requests),
        ("DELETE", "/_fakellm/requests", clear_requests),
        ("GET", "/_fakellm/rules", rules),
        ("GET", "/_fakellm/config", get_config),
        ("PUT", "/_fakellm/config", put_config),
        ("GET", "/metrics", metrics_text),
    ):
        router.add(method, path, guard(endpoint(handler), access))
    dashboard.register(router, access)


def endpoint(handler: AdminHandler) -> RouteHandler:
    """Wrap a handler returning (status, body, content type) as a route."""

    async def route(app: FakeLLMApp, scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]) -> None:
        try:
            status, body, ctype = await handler(app, scope, receive, params)
        except AdminError as e:
            status, body, ctype = _json(e.status, {"error": {"message": e.message, "type": "invalid_request_error", **e.extra}})
        except BodyTooLarge:
            status, body, ctype = _json(413, {"error": {"message": "request body too large", "type": "invalid_request_error"}})
        except StateUnavailable as e:
            error = app.state_alarm(e)
            status, body, ctype = _json(503, {"error": {"message": error.message, "type": error.type, "code": error.code}})
        except ClientGone:
            return
        if scope["method"] == "HEAD":
            body = b""
        await send_response(send, status, body, ctype)

    return route
