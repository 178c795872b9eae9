"""Requests that repeat byte for byte: the shared header dict and the text rendered once
(TextMemo) must never change what a request gets."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest

from fakellm.providers.base import TextMemo

from helpers import anthropic_client, app_from, openai_client, raw_client

RULES = {
    "rules": [
        {"name": "red", "when": {"header.x-team": "red"}, "respond": {"content": "red team"}},
        {"name": "counting", "when": {"messages_contain": "count"},
         "respond": [{"content": "one"}, {"content": "two"}, {"content": "three"}]},
        {"name": "sized", "when": {"messages_contain": "sized"},
         "respond": {"content": "abcdefghijklmnopqrstuvw", "chunk_size": 5}},
        {"name": "plain", "when": {"messages_contain": "plain"}, "respond": {"content": "abcdefghijklmnopqrstuvw"}},
        {"name": "hello", "respond": {"content": "Hello from a rule."}},
    ]
}
ASK = [{"role": "user", "content": "hi there"}]


def journal(app) -> list[dict]:
    return [e.as_dict() for e in asyncio.run(app.store.journal())]


def test_a_repeated_body_is_answered_by_each_requests_own_headers():
    app = app_from(RULES)
    client = openai_client(app)
    teams = ["blue", "red", "red", "blue", "red", None, "red"]
    answers = []
    for team in teams:
        extra = {"X-Team": team} if team else {}
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, extra_headers=extra)
        answers.append(reply.choices[0].message.content)
    assert answers == ["red team" if t == "red" else "Hello from a rule." for t in teams]
    entries = journal(app)
    assert [e["headers"].get("x-team") for e in entries] == teams
    assert [e["rule"] for e in entries] == ["red" if t == "red" else "hello" for t in teams]


def test_a_repeated_body_counts_its_conversation_from_the_header_it_brings():
    app = app_from(RULES)
    client = openai_client(app)
    ask = [{"role": "user", "content": "count with me"}]

    def say(conversation: str | None) -> tuple[str, str]:
        extra = {"X-Fakellm-Conversation-Id": conversation} if conversation else {}
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask,
                                                              extra_headers=extra)
        return raw.parse().choices[0].message.content, raw.headers["x-fakellm-conversation-id"]

    assert say("a") == ("one", "a")
    assert say("a") == ("two", "a")
    assert say("b") == ("one", "b")
    implicit = say(None)  # the id from the first user message, worked out once and shared
    assert implicit[0] == "one" and implicit[1].startswith("conv-")
    assert say(None) == ("two", implicit[1])
    assert say("a") == ("three", "a")


def test_a_repeated_body_keeps_its_usage_and_is_journaled_whole():
    app = app_from(RULES)
    client = openai_client(app)
    usages = [client.chat.completions.create(model="gpt-4o-mini", messages=ASK).usage for _ in range(4)]
    assert len({(u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usages}) == 1
    assert usages[0].prompt_tokens >= 1
    bodies = [e["request"] for e in journal(app)]
    assert bodies == [{"model": "gpt-4o-mini", "messages": ASK}] * 4
    assert len({e["id"] for e in journal(app)}) == 4


def test_the_same_bytes_on_two_paths_keep_their_paths():
    app = app_from(RULES)
    http = raw_client(app)
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    paths = ["/v1/chat/completions", "/chat/completions"] * 3
    for path in paths:
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "Hello from a rule."
    assert [e["path"] for e in journal(app)] == paths


@pytest.mark.parametrize("body, status", [
    (b'{"model": "gpt-4o-mini", "messages": [', 400),
    (b'{"model": "gpt-4o-mini", "messages": []}', 400),
    (b'{"model": "gpt-4o-mini"}', 400),
])
def test_a_bad_body_sent_again_gets_the_same_error(body, status):
    app = app_from(RULES)
    http = raw_client(app)
    first = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    for _ in range(3):
        again = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert again.status_code == first.status_code == status
        assert again.json()["error"]["message"] == first.json()["error"]["message"]
    ok = openai_client(app).chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert ok.choices[0].message.content == "Hello from a rule."


def test_azure_deployments_with_the_same_body_keep_their_own_model():
    import httpx2

    from helpers import BASE, SyncASGITransport2

    app = app_from(RULES)

    def azure(deployment: str) -> openai.AzureOpenAI:
        return openai.AzureOpenAI(azure_endpoint=BASE, api_key="azure-key", api_version="2025-04-01-preview",
                                  azure_deployment=deployment, max_retries=0,
                                  http_client=httpx2.Client(transport=SyncASGITransport2(app)))

    east, west = azure("prod-east"), azure("prod-west")
    for client, deployment in [(east, "prod-east"), (west, "prod-west")] * 3:
        reply = client.chat.completions.create(model="gpt-4o", messages=ASK)
        assert reply.model == deployment
        assert reply.choices[0].message.content == "Hello from a rule."
    assert [e["model"] for e in journal(app)] == ["prod-east", "prod-west"] * 3


def test_anthropic_repeated_bodies_and_a_changing_header():
    app = app_from(RULES)
    client = anthropic_client(app)
    for team in ["red", "blue", "red", "blue"]:
        message = client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=ASK,
                                         extra_headers={"X-Team": team})
        assert message.content[0].text == ("red team" if team == "red" else "Hello from a rule.")
        assert message.usage.input_tokens >= 1
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=0, messages=ASK)
    with pytest.raises(anthropic.BadRequestError):  # the same bad body again: still checked
        client.messages.create(model="claude-sonnet-4-6", max_tokens=0, messages=ASK)


def test_a_streamed_fixed_text_is_the_same_every_time_and_chunk_size_still_cuts_it():
    app = app_from(RULES)
    client = openai_client(app)

    def pieces(word: str) -> list[str]:
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": word}])
        return [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]

    plain = [pieces("plain") for _ in range(3)]
    assert plain[0] == plain[1] == plain[2] and "".join(plain[0]) == "abcdefghijklmnopqrstuvw"
    sized = pieces("sized")  # the same text with chunk_size: not the memo's token-sized pieces
    assert sized == ["abcde", "fghij", "klmno", "pqrst", "uvw"]
    with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "plain"}]) as s:
        assert s.get_final_completion().choices[0].message.content == "abcdefghijklmnopqrstuvw"


def test_n_choices_and_limits_are_not_served_from_the_memo():
    app = app_from(RULES)
    client = openai_client(app)
    several = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, n=3)
    assert [c.index for c in several.choices] == [0, 1, 2]
    assert {c.message.content for c in several.choices} == {"Hello from a rule."}
    cut = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, max_tokens=1)
    assert cut.choices[0].finish_reason == "length" and cut.choices[0].message.content != "Hello from a rule."
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert whole.choices[0].message.content == "Hello from a rule." and whole.choices[0].finish_reason == "stop"


def test_text_memo_builds_each_text_once_and_stays_bounded():
    calls: list[str] = []

    def build(text: str) -> list[str]:
        calls.append(text)
        return [text.upper()]

    memo = TextMemo(build, max_entries=2)
    assert memo("a") is memo("a")
    assert calls == ["a"]
    memo("b")
    memo("c")  # evicts "a", the oldest
    memo("a")
    assert calls == ["a", "b", "c", "a"]
    long = "x" * (TextMemo.MAX_TEXT + 1)
    assert memo(long) == [long.upper()] and memo(long) == [long.upper()]
    assert calls[-2:] == [long, long]  # long texts are built every time, never kept
    assert len(memo._items) == 2


def test_the_same_request_through_the_async_client_many_times():
    import asyncio

    from helpers import async_openai_client

    app = app_from(RULES)

    async def main() -> list[str]:
        client = async_openai_client(app)
        replies = await asyncio.gather(*[
            client.chat.completions.create(model="gpt-4o-mini", messages=ASK,
                                           extra_headers={"X-Team": "red" if i % 2 else "blue"})
            for i in range(10)
        ])
        return [r.choices[0].message.content for r in replies]

    answers = asyncio.run(main())
    assert answers == ["red team" if i % 2 else "Hello from a rule." for i in range(10)]


def test_openai_errors_from_rules_are_unchanged_when_repeated():
    app = app_from({"rules": [{"respond": {"status": 429, "error": "slow down"}}]})
    client = openai_client(app)
    for _ in range(3):
        with pytest.raises(openai.RateLimitError) as e:
            client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        assert "slow down" in str(e.value)


def test_the_echo_and_stop_sequences_of_a_repeated_body_stay_right():
    app = app_from({"rules": [{"when": {"messages_contain": "cut"}, "respond": {"content": "keep this. drop that"}}]})
    client = openai_client(app)
    echoes = [client.chat.completions.create(model="gpt-4o-mini", messages=ASK).choices[0].message.content
              for _ in range(3)]
    assert echoes[0].startswith("[mock response for gpt-4o-mini") and len(set(echoes)) == 1
    other = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "other"}])
    assert other.choices[0].message.content != echoes[0]
    for _ in range(3):
        cut = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "cut"}],
                                             stop=[". drop"])
        assert cut.choices[0].message.content == "keep this" and cut.choices[0].finish_reason == "stop"
        whole = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "cut"}])
        assert whole.choices[0].message.content == "keep this. drop that"


def test_a_new_config_answers_a_repeated_body_by_its_own_rules():
    app = app_from({"rules": [{"respond": {"content": "old rules"}}]})
    client = openai_client(app)
    for _ in range(3):
        assert client.chat.completions.create(model="gpt-4o-mini", messages=ASK).choices[0].message.content == \
            "old rules"
    asyncio.run(app.use_config(app_from({"rules": [{"respond": {"content": "new rules"}}]}).config))
    for _ in range(3):
        assert client.chat.completions.create(model="gpt-4o-mini", messages=ASK).choices[0].message.content == \
            "new rules"
