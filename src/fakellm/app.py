"""The whole fakellm server: the ASGI app (server/) with the admin API and dashboard (admin/)."""

from __future__ import annotations

from pathlib import Path

from .admin import api as admin
from .admin.access import AdminAccess
from .config.schema import Config, load_config
from .server.app import FakeLLMApp, MissHandler
from .store.base import Store


STATE_ENV = "FAKELLM_STATE"


def build_app(config: Config, config_path: str | Path | None = None, *, watch: bool = False,
              store: Store | None = None, admin_token: str | None = None, state: str | None = None,
              replay_speed: float = 1.0, on_miss: MissHandler | None = None) -> FakeLLMApp:
    """The server for `config`, with the admin API under /_fakellm and the dashboard.

    With `admin_token`, admin calls need `Authorization: Bearer <admin_token>`; without it, they are
    answered only when addressed to loopback and, when they change state, not sent by another site
    (admin/access.py). A token that cannot travel in a header raises ValueError.
    `state` names where the state lives (`open_store`), unless a `store` is given. `replay_speed` and
    `on_miss`: see FakeLLMApp.
    """
    access = AdminAccess(admin_token)
    if store is None:
        store = open_store(state, config)
    return FakeLLMApp(config, config_path, watch=watch, store=store,
                      extensions=(lambda router: admin.register(router, access),),
                      replay_speed=replay_speed, on_miss=on_miss)


def open_store(state: str | None, config: Config) -> Store | None:
    """The store `state` names: None or `memory` for this process's own memory (None: the app makes
    it), a `redis://[:password@]host:port/db[?prefix=name]` URL for state shared by every process on
    that Redis. Raises ValueError for anything else, StateUnavailable when Redis does not answer.
    Neither message shows a password."""
    if state is None or state == "memory":
        return None
    if state.startswith("redis://"):
        from .engine.engine import bounds_of
        from .providers import registry
        try:
            from .store.redis import RedisStore
        except ImportError:  # the optional `redis` package
            raise ValueError("a redis:// state needs the redis package: pip install 'fakellm[redis]'") from None
        return RedisStore.connect(state, bounds=bounds_of(config), redacted_headers=registry.REDACTED_HEADERS)
    scheme = state.partition("://")[0] if "://" in state else state[:20]
    raise ValueError(f"the state must be `memory` or a redis:// URL, not {scheme!r}...")


def create_app(config: Config | str | Path | None = None, *, watch: bool = False,
               admin_token: str | None = None) -> FakeLLMApp:
    """Build the app from a Config, a config file path, or the built-in starter config."""
    from .config.starter import starter_config

    if config is None:
        return build_app(starter_config(), admin_token=admin_token)
    if isinstance(config, Config):
        return build_app(config, admin_token=admin_token)
    return build_app(load_config(config), config, watch=watch, admin_token=admin_token)
