"""Conversations and turns (section 3): conversation ids, turns derived from the request, 0.3.5's
request counting, and bounded state."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import tracemalloc

import orjson
import pytest
from helpers import anthropic_client, app_from, openai_client, raw_client

MODEL = "gpt-4o-mini"
CONV = "x-fakellm-conversation-id"


def conv_hash(text: str) -> str:
    return "conv-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def conversation_of(raw) -> str:
    return raw.headers[CONV]


# --------------------------------------------------------------------------- conversation ids


def test_conversation_id_from_header_first_user_message_or_body():
    app = app_from(None)
    oai, ant = openai_client(app), anthropic_client(app)
    create = oai.chat.completions.with_raw_response.create

    # 1. The header wins.
    raw = create(model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_headers={CONV: "my-test-7"})
    assert conversation_of(raw) == "my-test-7"

    # 2. A hash of the first user message, as 0.3.5 computes it; later turns keep it.
    first = create(model=MODEL, messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "Plan a trip"}])
    assert conversation_of(first) == conv_hash("Plan a trip")
    later = create(model=MODEL, messages=[
        {"role": "system", "content": "different system prompt"},
        {"role": "user", "content": "Plan a trip"},
        {"role": "assistant", "content": "Where to?"},
        {"role": "user", "content": "Paris"},
    ])
    assert conversation_of(later) == conversation_of(first)
    # Text parts are joined with a space, as 0.3.5 did.
    parts = create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Plan"}, {"type": "image_url", "image_url": {"url": "data:,"}},
        {"type": "text", "text": "a trip"}]}])
    assert conversation_of(parts) == conv_hash("Plan a trip")
    # Anthropic: the same rule, so both providers bucket the same prompt together.
    araw = ant.messages.with_raw_response.create(model="c", max_tokens=5, system="s",
                                                 messages=[{"role": "user", "content": "Plan a trip"}])
    assert conversation_of(araw) == conv_hash("Plan a trip")
    ablocks = ant.messages.with_raw_response.create(model="c", max_tokens=5, messages=[
        {"role": "user", "content": [{"type": "text", "text": "Plan"}, {"type": "text", "text": "a trip"}]}])
    assert conversation_of(ablocks) == conv_hash("Plan a trip")
    assert conversation_of(create(model=MODEL, messages=[{"role": "user", "content": "other"}])) \
        != conv_hash("Plan a trip")

    # 3. No user message: a hash of the whole body.
    body = {"model": MODEL, "messages": [{"role": "system", "content": "only a system prompt"}]}
    r = raw_client(app).post("/v1/chat/completions", json=body)
    expected = "anon-" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    assert r.headers[CONV] == expected


def test_every_llm_response_carries_the_conversation_header():
    app = app_from("""
rules:
  - {when: {messages_contain: fail}, respond: {status: 500, error: boom}}
  - {when: {messages_contain: tools}, respond: {tool_calls: [{name: f}]}}
""")
    oai, ant = openai_client(app), anthropic_client(app)
    for prompt in ("plain", "tools"):
        for stream in (False, True):
            raw = oai.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}], stream=stream)
            assert conversation_of(raw) == conv_hash(prompt)
            raw = ant.messages.with_raw_response.create(
                model="c", max_tokens=5, messages=[{"role": "user", "content": prompt}], stream=stream)
            assert conversation_of(raw) == conv_hash(prompt)
    r = raw_client(app).post("/v1/chat/completions", json={"model": MODEL, "messages": [
        {"role": "user", "content": "fail"}]})
    assert r.status_code == 500 and r.headers[CONV] == conv_hash("fail")


# --------------------------------------------------------------------------- turns


TURN_RULES = """
rules:
  - {when: {turn: 1}, respond: {content: "turn one"}}
  - {when: {turn: 2}, respond: {content: "turn two"}}
  - {when: {turn: 3}, respond: {content: "turn three"}}
"""


def ask(client, *history):
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": m} for i, m in enumerate(history)]
    return client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content


def test_turn_is_derived_from_the_request():
    app = app_from(TURN_RULES)
    oai = openai_client(app)
    # The same request, again and again: always turn 1 (0.3.5 would count 1, 2, 3).
    assert [ask(oai, "start") for _ in range(3)] == ["turn one"] * 3
    assert ask(oai, "start", "turn one", "more") == "turn two"
    assert ask(oai, "start", "turn one", "more", "turn two", "again") == "turn three"
    # A second run of the same "test", without a reset, sees the same turns.
    assert ask(oai, "start") == "turn one"
    assert ask(oai, "start", "turn one", "more") == "turn two"
    # Tool messages are not assistant messages; the assistant's tool call message is.
    tool_history = [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "result"},
    ]
    assert oai.chat.completions.create(model=MODEL, messages=tool_history).choices[0].message.content == "turn two"
    # Anthropic counts the same way.
    ant = anthropic_client(app)
    m = ant.messages.create(model="c", max_tokens=10, messages=[
        {"role": "user", "content": "start"}, {"role": "assistant", "content": "turn one"},
        {"role": "user", "content": "more"}])
    assert m.content[0].text == "turn two"
    turns = [e.turn for e in asyncio.run(app.store.journal())]
    assert turns == [1, 1, 1, 2, 3, 1, 2, 2, 2]


RETRY_RULES = """
defaults: {turns: %s}
rules:
  - name: first
    when: {turn: 1}
    respond:
      - {status: 500, headers: {retry-after: "0.01"}, error: "try again"}
      - {content: "turn one"}
  - name: second
    when: {turn: 2}
    respond: {content: "turn two"}
"""


def test_an_sdk_retry_gets_the_same_turn():
    app = app_from(RETRY_RULES % "messages")
    oai = openai_client(app, max_retries=2)
    assert ask(oai, "hello") == "turn one"
    assert [e.turn for e in asyncio.run(app.store.journal())] == [1, 1]


def test_turns_requests_counts_every_request_like_035_and_reset_clears_it():
    app = app_from(RETRY_RULES % "requests")
    oai = openai_client(app, max_retries=2)
    # 0.3.5 counting: the retry advances the turn.
    assert ask(oai, "hello") == "turn two"
    assert [e.turn for e in asyncio.run(app.store.journal())] == [1, 2]

    app = app_from(TURN_RULES.replace("rules:", "defaults: {turns: requests}\nrules:"))
    oai, http = openai_client(app), raw_client(app)
    assert [ask(oai, "same") for _ in range(3)] == ["turn one", "turn two", "turn three"]
    assert ask(oai, "another conversation") == "turn one"
    r = http.post("/_fakellm/reset")
    assert r.status_code == 200 and r.json()["cleared_conversations"] == 2
    assert ask(oai, "same") == "turn one"


# --------------------------------------------------------------------------- tool results


def tool_request(client, conversation: str, result: str | None, question: str = "go"):
    messages = [{"role": "user", "content": question}]
    if result is not None:
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": result},
        ]
    return client.chat.completions.create(model=MODEL, messages=messages,
                                          extra_headers={CONV: conversation}).choices[0].message.content


def test_tool_results_per_conversation_are_capped():
    """The conversation listing counts the tool results seen, capped; matching never uses them."""
    app = app_from("""
defaults: {max_tool_results: 3}
rules:
  - {when: {tool_result_contains: result-0}, respond: {content: saw-0}}
""")
    oai = openai_client(app)
    assert tool_request(oai, "c1", "result-0") == "saw-0"
    assert tool_request(oai, "c1", None) != "saw-0"  # a later request without the result
    for i in range(1, 5):
        tool_request(oai, "c1", f"result-{i}")
    convs = raw_client(app).get("/_fakellm/conversations").json()["conversations"]
    assert [c for c in convs if c["id"] == "c1"][0]["tool_results_seen"] == 3
    # The same result sent again (the history is resent every turn) is counted once.
    for _ in range(5):
        tool_request(oai, "c2", "same result")
    assert [c for c in raw_client(app).get("/_fakellm/conversations").json()["conversations"]
            if c["id"] == "c2"][0]["tool_results_seen"] == 1


# --------------------------------------------------------------------------- bounded state


async def call_app(app, body: bytes, path: str = "/v1/chat/completions") -> int:
    """One request straight into the ASGI app (no HTTP client): fast enough for many thousands."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-type", b"application/json")], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 9999), "client": ("127.0.0.1", 50000), "root_path": ""}
    await app(scope, receive, send)
    return sent[0]["status"]


def test_many_conversations_are_evicted_least_recently_used():
    app = app_from("""
defaults: {max_conversations: 100, journal_size: 50, turns: requests}
rules:
  - {when: {turn: 1}, respond: {content: new}}
  - {respond: {content: remembered}}
""")
    oai = openai_client(app)
    assert tool_request(oai, "keep-me", None) == "new"

    async def flood(start: int, stop: int) -> None:
        for i in range(start, stop):
            body = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": f"conversation {i}"}]})
            assert await call_app(app, body) == 200

    for start in range(0, 20_000, 50):
        asyncio.run(flood(start, start + 50))
        # Keep one conversation in use: it is never the least recently used, so it stays.
        assert tool_request(oai, "keep-me", None) == "remembered"
    store = app.store
    assert asyncio.run(store.conversation_count()) == 100
    page = raw_client(app).get("/_fakellm/conversations", params={"limit": 1000}).json()
    assert page["total"] == 100 and len(page["conversations"]) == 100
    ids = {c["id"] for c in page["conversations"]}
    assert "keep-me" in ids
    assert conv_hash("conversation 19999") in ids and conv_hash("conversation 0") not in ids
    assert len(asyncio.run(store.journal())) == 50
    # A forgotten conversation starts over (at turn 1), and the count stays at the cap.
    assert tool_request(oai, "conversation 0", None) == "new"
    assert asyncio.run(store.conversation_count()) == 100


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def test_memory_is_bounded_with_the_default_cap():
    """20,000 and 40,000 distinct conversations (each with a tool result) use the same memory:
    the default cap (10,000) holds. Unbounded, the second 20,000 cost about 30 MB."""
    app = app_from(None)
    assert app.config.defaults.max_conversations == 10_000

    async def run(start: int, stop: int) -> None:
        for i in range(start, stop):
            body = orjson.dumps({"model": MODEL, "messages": [
                {"role": "user", "content": f"distinct conversation {i}"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": f"tool result {i}"},
            ]})
            assert await call_app(app, body) == 200

    def measure() -> int:
        gc.collect()
        rss = _rss_bytes()
        return rss if rss is not None else tracemalloc.get_traced_memory()[0]

    tracing = _rss_bytes() is None  # no /proc: fall back to tracemalloc (slower)
    if tracing:
        tracemalloc.start()
    try:
        asyncio.run(run(0, 20_000))
        at_20k = measure()
        assert asyncio.run(app.store.conversation_count()) == 10_000
        asyncio.run(run(20_000, 40_000))
        at_40k = measure()
    finally:
        if tracing:
            tracemalloc.stop()
    assert asyncio.run(app.store.conversation_count()) == 10_000
    assert at_40k - at_20k < 5_000_000, (at_20k, at_40k)


@pytest.mark.parametrize("cap", [1, 3])
def test_tiny_caps_still_answer(cap):
    app = app_from({"defaults": {"max_conversations": cap}, "rules": [
        {"when": {"turn": 2}, "respond": {"content": "second"}}]})
    oai = openai_client(app)
    for i in range(10):
        assert ask(oai, f"c{i}", "a", "b") == "second"
    assert asyncio.run(app.store.conversation_count()) == cap
