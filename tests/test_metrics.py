"""GET /metrics: Prometheus text format, read back with prometheus_client's own parser."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from helpers import Served, anthropic_client, app_from, openai_client, raw_client
from prometheus_client.parser import text_string_to_metric_families

from fakellm.app import create_app

RULES = r"""
rules:
  - name: greeting
    when: {last_message_contains: hello}
    respond: {content: "Hi there"}
  - name: busy
    when: {last_message_contains: busy}
    respond: {status: 429, error: "slow down"}
  - name: "odd \"name\" \\ with\na newline"
    when: {last_message_contains: odd}
    respond: {content: odd}
"""


def scrape(app) -> dict:
    """{family name: family} parsed from the app's /metrics."""
    response = raw_client(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    matches = [s.value for s in families[family].samples
               if (sample is None or s.name == sample) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (family, labels, families[family].samples)
    return matches[0]


def chat(client: openai.OpenAI, text: str, **kw):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kw)


def test_requests_are_counted_by_api_rule_status_and_stream():
    app = app_from(RULES)
    oa, an = openai_client(app), anthropic_client(app)
    chat(oa, "hello")
    chat(oa, "hello again")
    for _ in chat(oa, "hello, streamed", stream=True):
        pass
    with pytest.raises(openai.RateLimitError):
        chat(oa, "are you busy?")
    chat(oa, "something no rule knows")
    an.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hello"}])
    chat(oa, "odd one")

    m = scrape(app)
    assert m["fakellm_requests"].type == "counter"
    total = "fakellm_requests_total"
    assert value(m, "fakellm_requests", total, api="openai.chat", rule="greeting", status="200", stream="false") == 2
    assert value(m, "fakellm_requests", total, api="openai.chat", rule="greeting", status="200", stream="true") == 1
    assert value(m, "fakellm_requests", total, api="openai.chat", rule="busy", status="429", stream="false") == 1
    assert value(m, "fakellm_requests", total, api="openai.chat", rule="", status="200", stream="false") == 1
    assert value(m, "fakellm_requests", total, api="anthropic.messages", rule="greeting", status="200") == 1
    # A rule name with a quote, a backslash and a newline survives the label escaping.
    assert value(m, "fakellm_requests", total, rule='odd "name" \\ with\na newline') == 1
    assert sum(s.value for s in m["fakellm_requests"].samples) == 7

    assert value(m, "fakellm_unmatched_requests", api="openai.chat") == 1
    assert [s for s in m["fakellm_unmatched_requests"].samples if s.labels["api"] == "anthropic.messages"] == []


def test_latency_histogram_is_cumulative_and_counts_every_request():
    app = app_from(RULES)
    oa, an = openai_client(app), anthropic_client(app)
    for i in range(5):
        chat(oa, f"hello {i}")
    an.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hello"}])

    m = scrape(app)
    histogram = m["fakellm_request_duration_seconds"]
    assert histogram.type == "histogram"
    for api, expected in (("openai.chat", 5), ("anthropic.messages", 1)):
        buckets = [(s.labels["le"], s.value) for s in histogram.samples
                   if s.name.endswith("_bucket") and s.labels["api"] == api]
        assert buckets[-1] == ("+Inf", expected)
        counts = [count for _, count in buckets]
        assert counts == sorted(counts), "buckets must be cumulative"
        bounds = [float(le) for le, _ in buckets[:-1]]
        assert bounds == sorted(bounds)
        assert value(m, "fakellm_request_duration_seconds", "fakellm_request_duration_seconds_count", api=api) == expected
        total_seconds = value(m, "fakellm_request_duration_seconds", "fakellm_request_duration_seconds_sum", api=api)
        assert 0 < total_seconds < 5 * expected


def test_reloads_and_failures_are_counted(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(RULES)
    app = create_app(path)
    m = scrape(app)
    assert value(m, "fakellm_config_reloads") == 0 and value(m, "fakellm_config_reload_failures") == 0
    assert value(m, "fakellm_rules") == 3

    path.write_text("rules:\n  - respnd: {content: x}\n")
    response = raw_client(app).post("/_fakellm/reload")
    assert response.status_code == 400
    m = scrape(app)
    assert value(m, "fakellm_config_reload_failures") == 1 and value(m, "fakellm_config_reloads") == 0

    path.write_text("rules:\n  - respond: {content: x}\n")
    assert raw_client(app).post("/_fakellm/reload").status_code == 200
    m = scrape(app)
    assert value(m, "fakellm_config_reloads") == 1 and value(m, "fakellm_config_reload_failures") == 1
    assert value(m, "fakellm_rules") == 1


def test_gauges_read_the_state():
    app = app_from(RULES)
    oa = openai_client(app)
    chat(oa, "hello")
    oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}],
                               extra_headers={"x-fakellm-conversation-id": "second"})
    m = scrape(app)
    assert value(m, "fakellm_conversations") == 2
    assert value(m, "fakellm_journal_entries") == 2
    assert value(m, "fakellm_build_info", version=app_version()) == 1
    raw_client(app).delete("/_fakellm/requests")
    assert value(scrape(app), "fakellm_journal_entries") == 0


def app_version() -> str:
    from fakellm import __version__
    return __version__


def test_active_streams_counts_a_stream_while_it_is_being_sent():
    """Scrape /metrics from inside the stream's own send: the gauge must read 1 there, 0 after."""
    app = app_from(RULES)
    seen_during_send: list[float] = []

    async def scrape_now() -> str:
        chunks: list[bytes] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app({"type": "http", "method": "GET", "path": "/metrics", "headers": [], "query_string": b""},
                  receive, send)
        return b"".join(chunks).decode()

    async def run_stream() -> None:
        body = b'{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hello"}]}'
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.body" and message.get("body"):
                families = {f.name: f for f in text_string_to_metric_families(await scrape_now())}
                seen_during_send.append(families["fakellm_active_streams"].samples[0].value)

        scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
                 "headers": [(b"content-type", b"application/json")]}
        await app(scope, receive, send)

    asyncio.run(run_stream())
    assert seen_during_send and all(v == 1 for v in seen_during_send)
    assert value(scrape(app), "fakellm_active_streams") == 0


def test_metrics_over_a_socket_and_wrong_method():
    with Served() as server:
        client = server.openai()
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
        response = httpx.get(f"{server.url}/metrics")
        assert response.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        assert sum(s.value for s in families["fakellm_requests"].samples) == 1
        # A wrong method gets the usual provider-shaped 405, and the server keeps serving.
        wrong = httpx.post(f"{server.url}/metrics", content=b"{}")
        assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
        assert "error" in wrong.json()
        assert httpx.get(f"{server.url}/metrics").status_code == 200
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
