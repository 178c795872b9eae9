"""Prometheus metrics: the text exposition at GET /metrics of the server's counters
(server/metrics.py). Everything but the counters (unmatched totals, cumulative buckets,
gauges read from the store) is computed when /metrics is scraped.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from .. import __version__
from ..server.metrics import LATENCY_BUCKETS

if TYPE_CHECKING:
    from ..server.app import FakeLLMApp

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

def _label(value: object) -> str:
    """A label value escaped as the text format requires."""
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


async def render(app: FakeLLMApp) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of `app`'s metrics: the whole fleet's when the
    app shares a store with other processes."""
    if app.fleet is not None:
        metrics, reloads, reload_failures = await app.fleet.metrics()
    else:
        metrics, reloads, reload_failures = app.metrics, app.reloads, app.reload_failures
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
    lines.append(f"fakellm_config_reloads_total {reloads}")
    family("fakellm_config_reload_failures_total", "counter", "Reloads that found an invalid config file.")
    lines.append(f"fakellm_config_reload_failures_total {reload_failures}")

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
