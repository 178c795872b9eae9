"""A recording in progress: the exchanges so far, and the file that says them as rules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from .exchange import Exchange
from .output import write_atomically
from .rules import rules_of, to_yaml
from .scrub import Scrubber


class Recording:
    """Adds exchanges and rewrites `path` after each. `kept` rules (a file recorded before, in hybrid
    mode) come first, as they were. `on_written(rules)` runs after each write with the new rules."""

    def __init__(self, path: Path, upstream: str, kept: list[Any] | None = None,
                 on_written: Callable[[list[dict[str, Any]]], None] | None = None):
        self.path = path
        self.upstream = upstream
        self.kept = list(kept or [])
        self.exchanges: list[Exchange] = []
        self.scrubber = Scrubber()
        self.on_written = on_written
        self.started = time.strftime("%Y-%m-%d %H:%M:%S")
        self.write()  # a valid (empty) file from the start

    def add(self, exchange: Exchange) -> list[dict[str, Any]]:
        self.exchanges.append(exchange)
        return self.write()

    def write(self) -> list[dict[str, Any]]:
        rules = rules_of(self.exchanges, self.scrubber)
        header = (f"Recorded by fakellm {__version__} from {self.upstream}, started {self.started}:\n"
                  f"{len(self.exchanges)} exchange(s). Edit freely: these are ordinary fakellm rules.\n"
                  f"Check with `fakellm check --config {self.path.name}`, "
                  f"replay with `fakellm serve --config {self.path.name}`.")
        write_atomically(self.path, to_yaml(rules, header, self.kept))
        if self.on_written is not None:
            self.on_written(rules)
        return rules
