"""One config for a fleet: every fakellm process on one shared store serves the same rules.

The store keeps the fleet's config text and announces each new version (Redis publish/
subscribe). A process that starts publishes the config it loaded (the newest start wins; a log
line says so when it replaces a different one) and keeps every counter. A config applied on any
process (PUT /_fakellm/config, POST /_fakellm/reload) is validated there, published, and applied
by every other process when the announcement arrives, within milliseconds; after the
subscription breaks (Redis restarting) a process re-reads the config once it is back. Only a
valid config is ever published, so a rejected one changes nothing anywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Protocol

from ..config.schema import Config, ConfigError, parse_config
from ..store.base import StateUnavailable
from .metrics import Metrics

if TYPE_CHECKING:
    from .app import FakeLLMApp

log = logging.getLogger("fakellm")

RETRY_S = 1.0  # how soon a broken subscription is tried again
METRICS_EVERY_S = 1.0  # how often a process shares its metrics (/metrics also shares them when scraped)
ALIVE_S = 10.0  # a process that shared its metrics this recently counts toward the active-streams gauge


class SharedConfig(Protocol):
    """What a store offers to keep a fleet's config (RedisStore does)."""

    worker: str

    async def put_config(self, text: str, origin: str) -> tuple[int, Any]: ...

    async def get_config(self) -> Any: ...

    def config_versions(self) -> AsyncIterator[int]: ...

    async def put_metrics(self, snapshot: bytes) -> None: ...

    async def fleet_metrics(self) -> list[tuple[bytes, float]]: ...


def shares_config(store: object) -> bool:
    return all(hasattr(store, name) for name in ("put_config", "get_config", "config_versions", "put_metrics",
                                                 "fleet_metrics"))


def config_text(config: Config) -> str:
    """The text that rebuilds `config` in another process: its YAML as loaded, or its data as JSON."""
    return config.text if config.text is not None else json.dumps(config.data if config.data is not None else {})


class Fleet:
    """This process's part in a fleet: keeping the fleet's config, and sharing its metrics."""

    def __init__(self, app: FakeLLMApp, store: SharedConfig):
        self.app = app
        self.store = store
        self.version = 0  # the fleet config version this process serves
        self._task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None

    async def metrics(self) -> tuple[Metrics, int, int]:
        """The fleet's metrics, this process's as of now: (counters, reloads, reload failures)."""
        await self.share_metrics()
        now = time.time()
        return Metrics.combined((snapshot, now - seen < ALIVE_S) for snapshot, seen in await self.store.fleet_metrics())

    async def share_metrics(self) -> None:
        app = self.app
        await self.store.put_metrics(app.metrics.snapshot(app.reloads, app.reload_failures))

    async def _share_metrics_often(self) -> None:
        while True:
            await asyncio.sleep(METRICS_EVERY_S)
            try:
                await self.share_metrics()
            except StateUnavailable:
                pass  # the next round tries again; requests log the outage

    async def publish(self, config: Config, *, starting: bool = False) -> None:
        """Make `config` the fleet's; at start, say so when it replaces a different one."""
        text = config_text(config)
        self.version, previous = await self.store.put_config(text, f"{self.store.worker} {config.source}")
        if starting and previous is not None and previous.text != text:
            log.warning("fakellm: this process's config (%s) replaces the fleet's config published by %s",
                        config.source, previous.origin)

    def follow(self) -> None:
        """From now on (in the running loop): apply the configs other processes publish, and share
        this process's metrics every METRICS_EVERY_S."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._follow())
        if self._metrics_task is None or self._metrics_task.done():
            self._metrics_task = loop.create_task(self._share_metrics_often())

    async def stop(self) -> None:
        for task in (self._task, self._metrics_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._task = self._metrics_task = None

    async def _follow(self) -> None:
        while True:
            try:
                await self.catch_up()  # anything published while this process was not listening
                async for version in self.store.config_versions():
                    if version > self.version:
                        await self.catch_up()
            except StateUnavailable as e:
                log.warning("fakellm: cannot follow the fleet's config (%s); trying again", e)
            await asyncio.sleep(RETRY_S)

    async def catch_up(self) -> None:
        """Serve the fleet's config if it is newer than this process's."""
        current = await self.store.get_config()
        if current is None or current.version <= self.version:
            return
        if current.text == config_text(self.app.config):  # another worker starting with the same file
            self.version = current.version
            return
        try:
            await self.app.replace_config(lambda: parse_config(current.text, f"the fleet's config (from "
                                                                             f"{current.origin})"), from_fleet=True)
        except ConfigError as e:  # published by a process of another fakellm version, perhaps
            log.warning("fakellm: the fleet's config version %d is invalid here; still serving the previous "
                        "one:\n%s", current.version, e)
        self.version = current.version  # (a StateUnavailable leaves it, so the next try applies it)
