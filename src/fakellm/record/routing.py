"""Which fakellm adapter understands a request: the providers' own LLM routes, without a server."""

from __future__ import annotations

from typing import Any

from ..asgi import query_params
from ..config.schema import config_from_data
from ..engine.catalog import Catalog
from ..engine.engine import bounds_of
from ..providers import registry
from ..providers.base import Adapter
from ..server.router import Router
from ..store.memory import MemoryStore


class _Served:
    """What the families' adapters may read (providers.base.Served): an empty catalogue and store."""

    def __init__(self) -> None:
        config = config_from_data({})
        self.catalog = Catalog(config.spec.models)
        self.store = MemoryStore(bounds_of(config), registry.REDACTED_HEADERS)


class LLMRoutes:
    """`providers.base.Routes` keeping only the LLM calls: (adapter, with_query) by method and path."""

    def __init__(self) -> None:
        self.router = Router()
        served = _Served()
        for family in registry.FAMILIES:
            family.install(self, served)

    def llm(self, method: str, path: str, adapter: Adapter, *, with_query: bool = False) -> None:
        self.router.add(method, path, (adapter, with_query))  # type: ignore[arg-type]

    def json(self, *args: Any, **kw: Any) -> None:
        """Plain JSON endpoints (listings, token counts) are forwarded but not recorded."""

    def model_listing(self, list_path: str, get_path: str) -> None:
        """Forwarded but not recorded."""

    def socket(self, path: str, opener: Any) -> None:
        """WebSocket endpoints (the Realtime API) are neither proxied nor recorded: the proxy speaks HTTP."""

    def find(self, scope: dict[str, Any]) -> tuple[Adapter, dict[str, str]] | None:
        """The adapter for this request and the params it parses with, or None (not an LLM call)."""
        found, params, _ = self.router.find(scope["method"], scope["path"])
        if found is None:
            return None
        adapter, with_query = found  # type: ignore[misc]
        return adapter, ({**query_params(scope), **params} if with_query else dict(params))
