"""Two fakellm servers in one process share nothing: journals, sequences, stored responses,
rate-limit buckets and in-flight deliveries are each server's own."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from fakellm import FakeLLM

RULES = [
    {"name": "counting", "when": {"messages_contain": "count"},
     "respond": [{"content": "one"}, {"content": "two"}, {"content": "three"}]},
    {"name": "slow", "when": {"messages_contain": "hang"}, "respond": {"content": "never", "fault": "hang"}},
    {"name": "limited", "when": {"messages_contain": "limit"}, "rate_limit": {"requests_per_minute": 1},
     "respond": {"content": "admitted"}},
    {"name": "hello", "respond": {"content": "hello"}},
]


def ask(llm: FakeLLM, text: str) -> str:
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    return client.chat.completions.create(model="gpt-4o-mini",
                                          messages=[{"role": "user", "content": text}]).choices[0].message.content


@pytest.fixture
def pair():
    with FakeLLM(rules=RULES) as first, FakeLLM(rules=RULES) as second:
        yield first, second


def test_sequences_and_journals_are_each_servers_own(pair):
    first, second = pair
    assert [ask(first, "count") for _ in range(2)] == ["one", "two"]
    # The same conversation on the other server starts its own sequence.
    assert [ask(second, "count") for _ in range(3)] == ["one", "two", "three"]
    assert ask(first, "count") == "three"
    assert [r.rule for r in first.requests] == ["counting"] * 3
    assert [r.rule for r in second.requests] == ["counting"] * 3
    first.reset()
    assert first.requests == [] and len(second.requests) == 3
    assert ask(second, "count") == "three"  # the other server's counters survive the first's reset


def test_stored_responses_and_rate_limits_are_each_servers_own(pair):
    first, second = pair
    client = openai.OpenAI(base_url=first.openai_base_url, api_key="x", max_retries=0)
    created = client.responses.create(model="gpt-4o", input="hi")
    other = openai.OpenAI(base_url=second.openai_base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    assert ask(first, "limit") == "admitted"
    with pytest.raises(openai.RateLimitError):
        ask(first, "limit")
    assert ask(second, "limit") == "admitted"  # its bucket is untouched


def test_in_flight_deliveries_are_counted_per_server(pair):
    first, second = pair
    hung = threading.Thread(target=lambda: _ignore(lambda: httpx.post(
        first.openai_base_url + "/chat/completions", timeout=2.0,
        json={"model": "m", "messages": [{"role": "user", "content": "hang"}]})), daemon=True)
    hung.start()
    deadline = time.monotonic() + 5
    while httpx.get(first.url + "/_fakellm/debug").json()["deliveries_in_flight"] != 1:
        assert time.monotonic() < deadline, "the hang never started"
        time.sleep(0.02)
    assert httpx.get(second.url + "/_fakellm/debug").json()["deliveries_in_flight"] == 0
    hung.join(timeout=5)


def _ignore(call) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass
