"""The server's counters for Prometheus, kept on the request path: one counter keyed by
(api, rule, status, stream) and one histogram bucket per request. The admin API renders
them (admin/metrics.py). One event loop updates these, so no locks are needed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from typing import Iterable

import orjson

# Upper bounds in seconds: a mock answers in well under a millisecond unless a
# rule adds delays, so the buckets reach down to 0.25 ms and up to a minute.
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)


class Metrics:
    """Counters for one app. Read by `render`; reset only by restarting the server."""

    def __init__(self) -> None:
        # (api, rule or None, status, stream) -> count
        self.requests: defaultdict[tuple[str, str | None, int, bool], int] = defaultdict(int)
        # api -> per-bucket counts (not cumulative), then +Inf, then the sum of seconds
        self.latency: dict[str, list[float]] = {}
        self.active_streams = 0

    def observe(self, api: str, rule: str | None, status: int, stream: bool, seconds: float) -> None:
        """Count one answered LLM request and its latency."""
        self.requests[(api, rule, status, stream)] += 1
        histogram = self.latency.get(api)
        if histogram is None:
            histogram = self.latency[api] = [0] * (len(LATENCY_BUCKETS) + 2)
        histogram[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram[-1] += seconds

    def stream_started(self) -> None:
        self.active_streams += 1

    def stream_ended(self) -> None:
        self.active_streams -= 1

    # -- a fleet's metrics: each process shares a snapshot; /metrics on any of them sums them

    def snapshot(self, reloads: int, reload_failures: int) -> bytes:
        """This process's counters as bytes, for `combined` in another process."""
        return orjson.dumps({
            "requests": [[api, rule, status, stream, n] for (api, rule, status, stream), n in self.requests.items()],
            "latency": self.latency,
            "active_streams": self.active_streams,
            "reloads": reloads,
            "reload_failures": reload_failures,
        })

    @classmethod
    def combined(cls, snapshots: Iterable[tuple[bytes, bool]]) -> tuple[Metrics, int, int]:
        """The sum of snapshots (each with whether its process is still alive: only live processes
        count toward the active-streams gauge); also the summed reloads and reload failures."""
        total = cls()
        reloads = failures = 0
        for raw, alive in snapshots:
            try:
                data = orjson.loads(raw)
                for api, rule, status, stream, n in data["requests"]:
                    total.requests[(api, rule, status, stream)] += n
                for api, histogram in data["latency"].items():
                    mine = total.latency.setdefault(api, [0] * (len(LATENCY_BUCKETS) + 2))
                    for i, value in enumerate(histogram[: len(mine)]):
                        mine[i] += value
                if alive:
                    total.active_streams += data["active_streams"]
                reloads += data["reloads"]
                failures += data["reload_failures"]
            except (ValueError, KeyError, TypeError):  # a snapshot of another fakellm version
                continue
        return total, reloads, failures
