"""Hybrid serving (`fakellm serve --upstream URL [--record-to FILE]`): the rules answer what they can,
the upstream answers the rest, and what it answers is recorded and served from then on."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config.schema import Config, ConfigError, config_from_data, load_config
from ..model import Request
from ..providers.base import Adapter
from ..server.app import FakeLLMApp
from .forward import Upstream, shown_url
from .proxy import Recorder
from .recording import Recording

log = logging.getLogger("fakellm")


class Hybrid:
    """The misses of a server go to `upstream`; with `record_to`, they are recorded there and added to
    what the server serves (after the config's own rules, and the rules `record_to` already had)."""

    def __init__(self, config: Config, upstream: str, record_to: Path | None):
        self.base = dict(config.data) if isinstance(config.data, dict) else {}
        self.kept: list[Any] = []
        if record_to is not None and record_to.exists():
            recorded = load_config(record_to)  # ConfigError: the caller reports it
            self.kept = list((recorded.data or {}).get("rules") or [])
        self.app: FakeLLMApp | None = None
        recording = Recording(record_to, shown_url(upstream), self.kept) if record_to is not None else None
        self.recorder = Recorder(Upstream(upstream), recording, self._serve_rules if recording else None)

    def config(self) -> Config:
        """What the server serves at start: the config's rules, then those recorded before."""
        return self._with([])

    def attach(self, app: FakeLLMApp) -> None:
        self.app = app

    async def on_miss(self, adapter: Adapter, scope: dict[str, Any], raw: bytes, request: Request, send) -> int:
        return await self.recorder.forward_llm(adapter, scope, raw, request, send)

    async def _serve_rules(self, rules: list[dict[str, Any]]) -> None:
        if self.app is None:
            return
        try:
            await self.app.replace_config(lambda: self._with(rules))
        except ConfigError as e:  # the file has them; the server goes on with what it served
            log.warning("fakellm: the recorded rules could not be served:\n%s", e)

    def _with(self, rules: list[dict[str, Any]]) -> Config:
        data = {**self.base, "rules": [*(self.base.get("rules") or []), *self.kept, *rules]}
        return config_from_data(data, "config and recorded rules")

