"""A shared store that fails: a 503 in the provider's shape, and a log line now and then."""

from __future__ import annotations

import logging
import time

from ..model import ErrorInfo
from ..store.base import StateUnavailable

log = logging.getLogger("fakellm")

CODE = "fakellm_state_unavailable"


class StateAlarm:
    """Turns a store failure into the error a request gets, logging one line per burst of failures
    (at most every `every_s` seconds), not one per request."""

    def __init__(self, every_s: float = 5.0):
        self.every_s = every_s
        self._last_logged: float | None = None

    def __call__(self, error: StateUnavailable) -> ErrorInfo:
        now = time.monotonic()
        if self._last_logged is None or now - self._last_logged >= self.every_s:
            self._last_logged = now
            log.warning("fakellm: the state store is unavailable, answering 503: %s", error)
        return ErrorInfo(f"fakellm could not reach its shared state: {error}", type=CODE, code=CODE)
