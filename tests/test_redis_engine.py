"""The whole server over a RedisStore, through the official openai SDK: it answers as over the memory
store, and two apps on one Redis (two stores, one prefix: two workers) answer as one mock."""

from __future__ import annotations

import openai
import pytest

from fakellm.app import build_app
from fakellm.config import config_from_data
from fakellm.providers import registry
from fakellm.server.app import FakeLLMApp
from fakellm.store.redis import RedisStore
from helpers import openai_client, raw_client

RULES = {"rules": [
    {"name": "counting", "when": {"messages_contain": "count"},
     "respond": [{"content": "one"}, {"content": "two"}, {"content": "three"}]},
    {"name": "twice", "when": {"messages_contain": "twice"}, "times": 2, "respond": {"content": "again"}},
    {"name": "limited", "when": {"messages_contain": "limit"}, "rate_limit": {"requests_per_minute": 1},
     "respond": {"content": "admitted"}},
    {"name": "second_turn", "when": {"turn": 2, "messages_contain": "more"}, "respond": {"content": "turn two"}},
    {"name": "hello", "respond": {"content": "hello"}},
]}


def app_over(store) -> FakeLLMApp:
    return build_app(config_from_data(RULES, "test"), store=store)


def redis_app(url: str, prefix: str, worker: str | None = None) -> FakeLLMApp:
    return app_over(RedisStore(url, prefix=prefix, redacted_headers=registry.REDACTED_HEADERS, worker=worker))


@pytest.fixture(params=["memory", "redis"])
def app(request) -> FakeLLMApp:
    if request.param == "memory":
        return app_over(None)
    return redis_app(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))


def ask(app: FakeLLMApp, text: str) -> str:
    reply = openai_client(app).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content


def journal(app: FakeLLMApp) -> list[dict]:
    response = raw_client(app).get("/_fakellm/requests")
    assert response.status_code == 200
    return response.json()["requests"]


def test_a_sequence_advances_and_stays_on_its_last_answer(app):
    assert [ask(app, "count") for _ in range(4)] == ["one", "two", "three", "three"]


def test_times_lets_a_rule_answer_twice_then_later_rules_answer(app):
    assert [ask(app, "twice") for _ in range(3)] == ["again", "again", "hello"]


def test_a_rate_limit_answers_429_once_its_bucket_is_empty(app):
    assert ask(app, "limit") == "admitted"
    with pytest.raises(openai.RateLimitError) as caught:
        ask(app, "limit")
    assert caught.value.response.headers["retry-after"]
    assert ask(app, "hello") == "hello"  # another rule, no limit


def test_a_responses_chain_continues_is_read_and_deleted(app):
    client = openai_client(app)
    first = client.responses.create(model="gpt-4o", input="hi")
    assert first.output_text == "hello"
    second = client.responses.create(model="gpt-4o", input="more please", previous_response_id=first.id)
    assert second.output_text == "turn two"  # the stored history made it the second turn
    assert client.responses.retrieve(second.id).output_text == "turn two"
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="more", previous_response_id=first.id)


def test_the_journal_lists_requests_in_order_with_secrets_redacted(app):
    for text in ("count", "count", "nothing"):
        ask(app, text)
    entries = journal(app)
    assert [e["id"] for e in entries] == [1, 2, 3]
    assert [(e["rule"], e["reply"]["content"]) for e in entries] == [("counting", "one"), ("counting", "two"),
                                                                     ("hello", "hello")]
    assert all(e["headers"]["authorization"] == "[redacted]" for e in entries)
    assert entries[0]["request"]["messages"] == [{"role": "user", "content": "count"}]
    latency = raw_client(app).get("/_fakellm/requests").json()["latency_ms"]
    assert all(latency[str(e["id"])] is not None for e in entries)


def test_a_reset_over_the_admin_api_restarts_sequences_and_keeps_the_journal(app):
    assert [ask(app, "count") for _ in range(2)] == ["one", "two"]
    assert raw_client(app).post("/_fakellm/reset").json() == {"cleared_conversations": 1}
    assert ask(app, "count") == "one"
    assert len(journal(app)) == 3


# -- two apps, one Redis: one mock

@pytest.fixture
def pair(redis_url, redis_prefix) -> tuple[FakeLLMApp, FakeLLMApp]:
    return redis_app(redis_url, redis_prefix, "worker-a"), redis_app(redis_url, redis_prefix, "worker-b")


def test_two_apps_share_sequence_position_and_times(pair):
    a, b = pair
    assert [ask(a, "count"), ask(b, "count"), ask(a, "count")] == ["one", "two", "three"]
    assert [ask(b, "twice"), ask(a, "twice"), ask(b, "twice")] == ["again", "again", "hello"]


def test_two_apps_share_a_rate_limit(pair):
    a, b = pair
    assert ask(a, "limit") == "admitted"
    with pytest.raises(openai.RateLimitError):
        ask(b, "limit")


def test_two_apps_share_stored_responses(pair):
    a, b = pair
    first = openai_client(a).responses.create(model="gpt-4o", input="hi")
    on_b = openai_client(b)
    assert on_b.responses.retrieve(first.id).output_text == "hello"
    second = on_b.responses.create(model="gpt-4o", input="more please", previous_response_id=first.id)
    assert second.output_text == "turn two"
    on_b.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        openai_client(a).responses.retrieve(first.id)


def test_two_apps_share_one_journal_that_says_who_answered(pair):
    a, b = pair
    ask(a, "count")
    ask(b, "count")
    ask(a, "nothing")
    for app in pair:
        entries = journal(app)
        assert [(e["id"], e["worker"], e["reply"]["content"]) for e in entries] == [
            (1, "worker-a", "one"), (2, "worker-b", "two"), (3, "worker-a", "hello")]


def test_a_miss_is_journaled_with_the_same_explanation_as_over_the_memory_store(redis_url, redis_prefix):
    only = {"rules": [{"name": "research", "when": {"messages_contain": "research", "turn": 1},
                       "respond": {"content": "found"}}]}
    over_memory = build_app(config_from_data(only, "test"))
    over_redis = build_app(config_from_data(only, "test"), store=RedisStore(redis_url, prefix=redis_prefix))
    for app in (over_memory, over_redis):
        assert ask(app, "something else").startswith("[mock response for gpt-4o-mini")
    [seen_in_memory], [seen_in_redis] = journal(over_memory), journal(over_redis)
    assert seen_in_redis["explanation"] == seen_in_memory["explanation"]
    assert seen_in_redis["explanation"]["closest_rule"] == "research"
    assert seen_in_redis["rule"] is None
    assert raw_client(over_redis).get("/_fakellm/stats").json()["unmatched_requests"] == 1
