"""Sequences (`respond` lists, `cycle`), `times: N` limits, and resets clearing their counters."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from fakellm import FakeLLM

RATE_LIMITED_ONCE = [{
    "name": "flaky",
    "respond": [
        {"status": 429, "error": "slow down", "headers": {"retry-after": "0.01"}},
        {"content": "made it"},
    ],
}]


@pytest.fixture(scope="module")
def server():
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def llm(server):
    server.set_config({"rules": []})
    server.reset()
    return server


def ask(llm, text: str = "hello", **kw):
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", **kw)
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_openai_client_with_default_retries_gets_past_a_429(llm):
    llm.set_rules(RATE_LIMITED_ONCE)
    reply = ask(llm)  # the SDK's default max_retries (2)
    assert reply.choices[0].message.content == "made it"
    first, second = llm.requests
    assert (first.rule, first.status, first.error.message) == ("flaky", 429, "slow down")
    assert (second.rule, second.status, second.content) == ("flaky", 200, "made it")
    assert [r.headers["x-stainless-retry-count"] for r in (first, second)] == ["0", "1"]
    assert first.conversation_id == second.conversation_id and first.turn == second.turn == 1
    llm.assert_called(rule="flaky", times=2)


def test_anthropic_client_with_default_retries_gets_past_a_429(llm):
    llm.set_rules(RATE_LIMITED_ONCE)
    client = anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="x")
    reply = client.messages.create(model="claude-test-model", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "made it"
    assert [r.status for r in llm.requests] == [429, 200]


def test_without_retries_the_client_sees_the_429(llm):
    llm.set_rules(RATE_LIMITED_ONCE)
    with pytest.raises(openai.RateLimitError) as raised:
        ask(llm, max_retries=0)
    assert raised.value.response.headers["retry-after"] == "0.01"
    # The next request of the same conversation gets the next item.
    assert ask(llm, max_retries=0).choices[0].message.content == "made it"


def test_after_the_last_item_the_last_one_repeats(llm):
    llm.set_rules([{"name": "seq", "respond": [{"content": "one"}, {"content": "two"}]}])
    assert [ask(llm).choices[0].message.content for _ in range(4)] == ["one", "two", "two", "two"]


def test_cycle_wraps_around(llm):
    llm.set_rules([{"name": "seq", "cycle": True, "respond": [{"content": "a"}, {"content": "b"}, {"content": "c"}]}])
    assert [ask(llm).choices[0].message.content for _ in range(5)] == ["a", "b", "c", "a", "b"]


def test_sequences_count_per_conversation(llm):
    llm.set_rules([{"name": "seq", "respond": [{"content": "first"}, {"content": "again"}]}])
    assert ask(llm, text="conversation A").choices[0].message.content == "first"
    assert ask(llm, text="conversation B").choices[0].message.content == "first"
    assert ask(llm, text="conversation A").choices[0].message.content == "again"


def test_sequence_items_can_be_streamed(llm):
    llm.set_rules([{"name": "seq", "respond": [{"content": "streamed one"}, {"content": "streamed two"}]}])
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    texts = []
    for _ in range(2):
        stream = client.chat.completions.create(model="gpt-4o", stream=True,
                                                messages=[{"role": "user", "content": "s"}])
        texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    assert texts == ["streamed one", "streamed two"]


def test_times_limits_matches_per_conversation_then_later_rules_answer(llm):
    llm.set_rules([
        {"name": "twice", "times": 2, "respond": {"content": "limited"}},
        {"name": "after", "respond": {"content": "fallback rule"}},
    ])
    assert [ask(llm).choices[0].message.content for _ in range(3)] == ["limited", "limited", "fallback rule"]
    assert ask(llm, text="another conversation").choices[0].message.content == "limited"
    llm.assert_called(rule="twice", times=3)
    llm.assert_called(rule="after", times=1)


def test_times_with_nothing_after_falls_back_and_strict_explains(llm):
    llm.set_config({"defaults": {"fallback": "error"}, "rules": [{"name": "once", "times": 1,
                                                                   "respond": {"content": "ok"}}]})
    assert ask(llm, max_retries=0).choices[0].message.content == "ok"
    with pytest.raises(openai.NotFoundError) as raised:
        ask(llm, max_retries=0)
    assert "already answered 1 times" in raised.value.message or "times: 1" in raised.value.message


def test_llm_reset_clears_sequence_and_times_counters(llm):
    llm.set_rules([
        {"name": "seq", "respond": [{"content": "one"}, {"content": "two"}]},
    ])
    assert ask(llm).choices[0].message.content == "one"
    assert ask(llm).choices[0].message.content == "two"
    llm.reset()
    assert llm.requests == []
    assert ask(llm).choices[0].message.content == "one"
    llm.set_rules([{"name": "once", "times": 1, "respond": {"content": "ok"}}])
    assert ask(llm).choices[0].message.content == "ok"
    assert ask(llm).choices[0].message.content.startswith("[mock response")
    llm.reset()
    assert ask(llm).choices[0].message.content == "ok"


def test_admin_reset_clears_counters_but_keeps_the_journal(llm):
    llm.set_rules([{"name": "seq", "respond": [{"content": "one"}, {"content": "two"}]}])
    assert ask(llm).choices[0].message.content == "one"
    response = httpx.post(f"{llm.url}/_fakellm/reset")
    assert response.status_code == 200 and response.json()["cleared_conversations"] == 1
    assert ask(llm).choices[0].message.content == "one"
    assert len(llm.requests) == 2


@pytest.mark.parametrize("rule, expected", [
    ({"respond": []}, "respond list must not be empty"),
    ({"times": 0, "respond": {"content": "x"}}, "times"),
    ({"cycle": "sometimes", "respond": {"content": "x"}}, "cycle"),
    ({"respond": [{"content": "x"}, {"contnet": "y"}]}, "did you mean 'content'"),
])
def test_bad_sequence_keys_are_config_errors(llm, rule, expected):
    from fakellm.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        llm.set_rules([rule])
    assert expected in str(raised.value)
    # The previous rules keep serving.
    assert ask(llm, max_retries=0).choices[0].message.content.startswith("[mock response")
