"""The whole fakellm server: the ASGI app (server/) with the admin API and dashboard (admin/)."""

from __future__ import annotations

from pathlib import Path

from .admin import api as admin
from .config.schema import Config, load_config
from .server.app import FakeLLMApp
from .store.base import Store


def build_app(config: Config, config_path: str | Path | None = None, *, watch: bool = False,
              store: Store | None = None) -> FakeLLMApp:
    """The server for `config`, with the admin API under /_fakellm and the dashboard."""
    return FakeLLMApp(config, config_path, watch=watch, store=store, extensions=(admin.register,))


def create_app(config: Config | str | Path | None = None, *, watch: bool = False) -> FakeLLMApp:
    """Build the app from a Config, a config file path, or the built-in starter config."""
    from .config.starter import starter_config

    if config is None:
        return build_app(starter_config())
    if isinstance(config, Config):
        return build_app(config)
    return build_app(load_config(config), config, watch=watch)
