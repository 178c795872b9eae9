"""Processes on one Redis answer as one mock: one config, shared counters, fleet-wide metrics.

In-process here (two FakeLLM servers in this process, each with its own RedisStore and event
loop); tests/test_fleet_serve.py does the same with `fakellm serve` processes.
"""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from fakellm import FakeLLM

SEQUENCE = [{"name": "steps", "respond": [{"content": "one"}, {"content": "two"}, {"content": "three"},
                                           {"content": "four"}]}]


def ask(llm: FakeLLM, text: str = "hi", conversation: str = "fleet-test") -> str:
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0,
                           default_headers={"x-fakellm-conversation": conversation})
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content


def until(check, seconds: float = 3.0):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture
def state(redis_url, redis_prefix):
    return f"{redis_url}?prefix={redis_prefix}"


def test_the_newest_start_wins_and_a_config_put_on_one_reaches_the_other(state):
    with FakeLLM(rules=[{"respond": {"content": "from a"}}], state=state) as a, \
         FakeLLM(rules=[{"respond": {"content": "from b"}}], state=state) as b:
        assert until(lambda: ask(a) == "from b")  # b started last: its config is the fleet's
        assert ask(b) == "from b"
        a.set_config({"rules": [{"respond": {"content": "put on a"}}]})
        started = time.monotonic()
        assert until(lambda: ask(b) == "put on a", 1.0), "b did not take a's config within a second"
        assert time.monotonic() - started < 1.0
        # A config PUT over HTTP on b: validated there, then everywhere.
        bad = httpx.put(f"{b.url}/_fakellm/config", content=b"rules: [{respond: {contnt: x}}]\n")
        assert bad.status_code == 400
        time.sleep(0.2)
        assert ask(a) == "put on a" and ask(b) == "put on a"  # a rejected config changed nothing
        good = httpx.put(f"{b.url}/_fakellm/config", content=b"rules: [{respond: {content: put on b}}]\n")
        assert good.status_code == 200
        assert until(lambda: ask(a) == "put on b", 1.0)


def test_a_sequence_advances_across_processes_and_the_journal_shows_both(state):
    with FakeLLM(rules=SEQUENCE, state=state) as a, FakeLLM(rules=SEQUENCE, state=state) as b:
        a.reset()
        answers = [ask(a), ask(b), ask(a), ask(b)]
        assert answers == ["one", "two", "three", "four"]
        journal = httpx.get(f"{b.url}/_fakellm/requests").json()["requests"]
        assert [e["reply"]["content"] for e in journal][-4:] == answers
        workers = [e["worker"] for e in journal[-4:]]
        assert workers[0] == workers[2] != workers[1] == workers[3]
        ids = [e["id"] for e in journal[-4:]]
        assert ids == sorted(ids) and len(set(ids)) == 4
        # Reset on one resets both: the sequence starts over wherever the next request lands.
        httpx.post(f"{a.url}/_fakellm/reset")
        assert ask(b) == "one"


def test_metrics_add_up_across_the_fleet(state):
    from prometheus_client.parser import text_string_to_metric_families

    def total(llm: FakeLLM) -> float:
        text = httpx.get(f"{llm.url}/metrics").text
        return sum(s.value for f in text_string_to_metric_families(text) if f.name == "fakellm_requests"
                   for s in f.samples if s.name == "fakellm_requests_total")

    with FakeLLM(rules=[{"respond": {"content": "ok"}}], state=state) as a, \
         FakeLLM(rules=[{"respond": {"content": "ok"}}], state=state) as b:
        for _ in range(3):
            ask(a)
        for _ in range(2):
            ask(b)
        # Each process shares its counters every second (and when scraped itself).
        assert until(lambda: total(a) == 5 and total(b) == 5, 3.0)
