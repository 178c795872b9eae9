"""Prometheus metrics: counters kept on the request path, text exposition at GET /metrics.

The request path only increments: one counter keyed by (api, rule, status,
stream) and one histogram bucket. Everything else (unmatched totals, cumulative
buckets, gauges read from the state) is computed when /metrics is scraped.
One event loop updates these, so no locks are needed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from typing import TYPE_CHECKING

from .. import __version__

if TYPE_CHECKING:
    from ..server.app import FakeLLMApp

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

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


def _label(value: object) -> str:
    """A label value escaped as the text format requires."""
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


async def render(app: FakeLLMApp) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of `app`'s metrics."""
    metrics: Metrics = app.metrics
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("fakellm_build_info", "gauge", "The running fakellm version.")
    lines.append(f'fakellm_build_info{{version="{_label(__version__)}"}} 1')

    family("fakellm_requests_total", "counter",
           "LLM requests answered, by api, matched rule (empty: no rule matched), status and stream flag.")
    unmatched: defaultdict[str, int] = defaultdict(int)
    for (api, rule, status, stream), count in sorted(metrics.requests.items(), key=_request_key):
        lines.append(f'fakellm_requests_total{{api="{_label(api)}",rule="{_label(rule or "")}",'
                     f'status="{status}",stream="{"true" if stream else "false"}"}} {count}')
        if rule is None:
            unmatched[api] += count

    family("fakellm_unmatched_requests_total", "counter", "LLM requests no rule matched, by api.")
    for api in sorted(unmatched):
        lines.append(f'fakellm_unmatched_requests_total{{api="{_label(api)}"}} {unmatched[api]}')

    family("fakellm_request_duration_seconds", "histogram",
           "Time from receiving an LLM request to sending the last byte of its answer, by api.")
    for api in sorted(metrics.latency):
        histogram = metrics.latency[api]
        cumulative = 0
        for i, bound in enumerate(LATENCY_BUCKETS):
            cumulative += histogram[i]
            lines.append(f'fakellm_request_duration_seconds_bucket{{api="{_label(api)}",le="{bound}"}} {cumulative}')
        cumulative += histogram[len(LATENCY_BUCKETS)]
        lines.append(f'fakellm_request_duration_seconds_bucket{{api="{_label(api)}",le="+Inf"}} {cumulative}')
        lines.append(f'fakellm_request_duration_seconds_sum{{api="{_label(api)}"}} {_number(histogram[-1])}')
        lines.append(f'fakellm_request_duration_seconds_count{{api="{_label(api)}"}} {cumulative}')

    family("fakellm_active_streams", "gauge", "Streamed answers being sent right now.")
    lines.append(f"fakellm_active_streams {metrics.active_streams}")

    family("fakellm_config_reloads_total", "counter", "Configs put into service after startup (reloads and PUTs).")
    lines.append(f"fakellm_config_reloads_total {app.reloads}")
    family("fakellm_config_reload_failures_total", "counter", "Reloads that found an invalid config file.")
    lines.append(f"fakellm_config_reload_failures_total {app.reload_failures}")

    family("fakellm_rules", "gauge", "Rules in the active config.")
    lines.append(f"fakellm_rules {len(app.engine.rules)}")
    family("fakellm_conversations", "gauge", "Conversations held in memory.")
    lines.append(f"fakellm_conversations {await app.store.conversation_count()}")
    family("fakellm_journal_entries", "gauge", "Requests held in the journal.")
    held, _, _ = await app.store.journal_info()
    lines.append(f"fakellm_journal_entries {held}")
    return ("\n".join(lines) + "\n").encode()


def _request_key(item: tuple[tuple[str, str | None, int, bool], int]) -> tuple[str, str, int, bool]:
    api, rule, status, stream = item[0]
    return api, rule or "", status, stream
