"""Routes: exact paths in a dict (the hot path), `{name}` patterns in a short list."""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Sequence

from ..asgi import Receive, Send

# handler(app, scope, receive, send, params)
Handler = Callable[[Any, dict[str, Any], Receive, Send, dict[str, str]], Awaitable[None]]

_PARAM = re.compile(r"\{(\w+)\}")
# The params of every exact route: one shared empty dict (handlers only read params).
_NO_PARAMS: dict[str, str] = {}


class Router:
    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Route `method path`; `{name}` in the path matches one segment (`{name:path}`: the rest)."""
        if "{" not in path:
            self._exact.setdefault(path, {})[method] = handler
            return
        regex = "^" + re.sub(
            r"\\\{(\w+)(?::path)?\\\}",
            lambda m: f"(?P<{m.group(1)}>.+)" if ":path" in m.group(0) else f"(?P<{m.group(1)}>[^/]+)",
            re.escape(path),
        ) + "$"
        for pattern, methods in self._patterns:
            if pattern.pattern == regex:
                methods[method] = handler
                return
        self._patterns.append((re.compile(regex), {method: handler}))

    def find(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], Sequence[str]]:
        """The handler and path parameters, or None and the methods the path allows (for a 405)."""
        methods = self._exact.get(path)
        if methods is not None:
            handler = methods.get(method) or _pick(methods, method)
            if handler is not None:
                return handler, _NO_PARAMS, ()
        allowed = set(methods or ())
        # Several patterns may match one path (e.g. GET /v1/models/{id} and a POST
        # /{version}/models/{model}); the first that serves this method wins.
        for pattern, candidate in self._patterns:
            m = pattern.match(path)
            if m is None:
                continue
            handler = _pick(candidate, method)
            if handler is not None:
                return handler, m.groupdict(), ()
            allowed.update(candidate)
        return None, {}, sorted(allowed)


def _pick(methods: dict[str, Handler], method: str) -> Handler | None:
    handler = methods.get(method)
    if handler is None and method == "HEAD":
        handler = methods.get("GET")
    return handler
