"""Anthropic Messages through the official `anthropic` SDK: what it parses, streams and raises."""

from __future__ import annotations

import asyncio

import json
import time

import anthropic
import pytest
from helpers import Served, anthropic_client, app_from, raw_client, sse_events

CONFIG = """
rules:
  - name: think
    when: {messages_contain: "think hard"}
    respond: {thinking: "Let me reason about this step by step.", content: "42"}
  - name: text_and_tool
    when: {messages_contain: "weather and text", turn: 1}
    respond:
      content: "Let me check the weather."
      tool_calls:
        - {name: get_weather, arguments: {city: Paris, units: metric}, id: toolu_weather}
  - name: tools_only
    when: {messages_contain: "only tools", turn: 1}
    respond:
      tool_calls:
        - {name: get_weather, arguments: {city: Paris}}
        - {name: get_time, arguments: '{"tz": "Europe/Paris"}'}
  - name: tool_result
    when: {tool_result_contains: "sunny", previous_message_role: assistant}
    respond: {content: "The tool says it is sunny."}
  - name: system
    when: {system_contains: "pirate"}
    respond: {content: "Arr!"}
  - name: image
    when: {last_message_contains: "describe the image"}
    respond: {content: "A small red square."}
  - name: long
    when: {messages_contain: "long story"}
    respond:
      content: "Once upon a time there was a mock server that answered every request with exactly the words its
        rules gave it, and everyone tested happily ever after."
  - name: cached
    when: {messages_contain: "cache please"}
    respond:
      content: "cached answer"
      usage: {input_tokens: 100, output_tokens: 3, cached_tokens: 80, cache_creation_input_tokens: 20}
  - name: hello
    when: {messages_contain: "hello"}
    respond: {content: "Hi there!"}
"""

LONG = ("Once upon a time there was a mock server that answered every request with exactly the words its "
        "rules gave it, and everyone tested happily ever after.")
MODEL = "claude-test-model"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture
def app():
    return app_from(CONFIG)


@pytest.fixture
def client(app):
    return anthropic_client(app)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def create(client, text: str, **kw):
    kw.setdefault("max_tokens", 1024)
    return client.messages.create(model=MODEL, messages=ask(text), **kw)


# --------------------------------------------------------------------------- auth and headers


def test_sdk_bearer_auth_response_shape(client):
    m = create(client, "hello")
    assert isinstance(m, anthropic.types.Message)
    assert m.id.startswith("msg_")
    assert m.type == "message" and m.role == "assistant" and m.model == MODEL
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == "Hi there!"
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    assert m.usage.cache_creation_input_tokens == 0 and m.usage.cache_read_input_tokens == 0
    assert m._request_id and m._request_id.startswith("req_")


def test_x_api_key_auth_and_any_version(app):
    http = raw_client(app)
    body = {"model": MODEL, "max_tokens": 50, "messages": ask("hello")}
    for headers in (
        {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        {"x-api-key": "sk-ant-test", "anthropic-version": "2026-10-21"},
        {"authorization": "Bearer sk-ant-test", "anthropic-version": "some-future-version"},
        {"x-api-key": "sk-ant-test"},
        {"x-api-key": "sk-ant-test", "anthropic-beta": "prompt-caching-2024-07-31,output-128k-2025-02-19"},
    ):
        r = http.post("/v1/messages", json=body, headers=headers)
        assert r.status_code == 200, (headers, r.text)
        assert r.json()["content"] == [{"type": "text", "text": "Hi there!"}]
        assert r.headers["request-id"].startswith("req_")
        assert r.headers["x-fakellm-conversation-id"]


def test_beta_messages_with_betas(client):
    m = client.beta.messages.create(model=MODEL, max_tokens=100, messages=ask("hello"),
                                    betas=["prompt-caching-2024-07-31", "token-efficient-tools-2025-02-19"])
    assert m.content[0].text == "Hi there!"
    with client.beta.messages.stream(model=MODEL, max_tokens=100, messages=ask("hello"),
                                     betas=["prompt-caching-2024-07-31"]) as s:
        assert s.get_final_text() == "Hi there!"


def test_conversation_and_request_id_headers(client):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=ask("hello"))
    assert raw.headers["request-id"] == raw.parse()._request_id
    assert raw.headers["x-fakellm-conversation-id"].startswith("conv-")
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=ask("hello"), stream=True,
                                                   extra_headers={"x-fakellm-conversation-id": "mine"})
    assert raw.headers["x-fakellm-conversation-id"] == "mine"
    assert raw.headers["content-type"].startswith("text/event-stream")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body,needle", [
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"model": MODEL, "max_tokens": 10}, "messages"),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": MODEL, "max_tokens": 10, "messages": [{"role": "system", "content": "hi"}]}, "role"),
    ({"model": MODEL, "max_tokens": 10, "messages": [{"role": "tool", "content": "hi"}]}, "role"),
    ({"model": MODEL, "max_tokens": "ten", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"model": MODEL, "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user"}]}, "content"),
    ({"model": MODEL, "max_tokens": 10, "messages": "hi"}, "messages"),
])
def test_validation_errors(client, body, needle):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.post("/v1/messages", body=body, cast_to=anthropic.types.Message)
    e = info.value
    assert e.status_code == 400
    assert e.type == "invalid_request_error"
    assert needle in e.api_message
    assert e.body["type"] == "error" and e.body["error"]["type"] == "invalid_request_error"
    assert e.request_id and e.body["request_id"] == e.request_id
    # The server keeps serving.
    assert create(client, "hello").content[0].text == "Hi there!"


def test_system_role_in_messages_through_sdk(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "system", "content": "x"}])
    assert "user" in info.value.api_message and "assistant" in info.value.api_message


# --------------------------------------------------------------------------- request shapes


def test_system_as_string_and_as_blocks(client):
    assert create(client, "hi", system="You are a pirate.").content[0].text == "Arr!"
    blocks = [{"type": "text", "text": "Be nice."},
              {"type": "text", "text": "You are a Pirate.", "cache_control": {"type": "ephemeral"}}]
    assert create(client, "hi", system=blocks).content[0].text == "Arr!"
    # The system prompt is not a user message: no system_contains match without it.
    assert create(client, "hi there pirate").content[0].text != "Arr!"


def test_content_blocks_with_image(client):
    m = client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
        {"type": "text", "text": "Please describe the image."},
    ]}])
    assert m.content[0].text == "A small red square."


@pytest.mark.parametrize("result_content", [
    "It is sunny, 24C",
    [{"type": "text", "text": "It is"}, {"type": "text", "text": "sunny, 24C"}],
    [{"type": "text", "text": "sunny"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                        "data": PNG}}],
])
def test_tool_use_and_tool_result_history(client, result_content):
    first = create(client, "weather and text please", tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
    assert first.stop_reason == "tool_use"
    tool_use = first.content[1]
    messages = [
        *ask("weather and text please"),
        {"role": "assistant", "content": first.content},  # SDK objects go back as they came
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": result_content}]},
    ]
    second = client.messages.create(model=MODEL, max_tokens=100, messages=messages)
    assert second.content[0].text == "The tool says it is sunny."
    assert second.stop_reason == "end_turn"


# --------------------------------------------------------------------------- replies


def test_text_and_tool_use_blocks(client):
    m = create(client, "weather and text")
    assert [b.type for b in m.content] == ["text", "tool_use"]
    assert m.content[0].text == "Let me check the weather."
    tool = m.content[1]
    assert tool.id == "toolu_weather" and tool.name == "get_weather"
    assert tool.input == {"city": "Paris", "units": "metric"}
    assert m.stop_reason == "tool_use"


def test_tool_calls_only_give_no_text_block(client):
    m = create(client, "only tools")
    assert [b.type for b in m.content] == ["tool_use", "tool_use"]
    assert [b.name for b in m.content] == ["get_weather", "get_time"]
    assert m.content[1].input == {"tz": "Europe/Paris"}  # a JSON string is not encoded twice
    assert all(b.id.startswith("toolu_") for b in m.content)
    assert m.content[0].id != m.content[1].id
    assert m.stop_reason == "tool_use"
    with client.messages.stream(model=MODEL, max_tokens=100, messages=ask("only tools")) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["tool_use", "tool_use"]
    assert [b.input for b in final.content] == [b.input for b in m.content]


def test_stop_reason_max_tokens(client):
    full = create(client, "long story")
    assert full.content[0].text == LONG
    m = create(client, "long story", max_tokens=5)
    assert m.stop_reason == "max_tokens"
    assert m.stop_sequence is None
    text = m.content[0].text
    assert text and LONG.startswith(text) and len(text) < len(LONG)
    assert m.usage.output_tokens <= 5


def test_stop_reason_stop_sequence(client):
    m = create(client, "long story", stop_sequences=["zebra", "mock server"])
    assert m.stop_reason == "stop_sequence"
    assert m.stop_sequence == "mock server"
    assert m.content[0].text == "Once upon a time there was a "
    m = create(client, "long story", stop_sequences=["zebra"])
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    with client.messages.stream(model=MODEL, max_tokens=100, messages=ask("long story"),
                                stop_sequences=["mock server"]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "mock server"
    assert final.content[0].text == "Once upon a time there was a "


def test_usage_override_with_cache_fields(client):
    m = create(client, "cache please")
    assert m.usage.input_tokens == 100 and m.usage.output_tokens == 3
    assert m.usage.cache_read_input_tokens == 80
    assert m.usage.cache_creation_input_tokens == 20
    with client.messages.stream(model=MODEL, max_tokens=100, messages=ask("cache please")) as s:
        final = s.get_final_message()
    assert final.usage.model_dump() == m.usage.model_dump()


def test_thinking_blocks_when_enabled(client):
    plain = create(client, "think hard")
    assert [b.type for b in plain.content] == ["text"]  # thinking not enabled: no thinking block
    m = create(client, "think hard", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "Let me reason about this step by step."
    assert m.content[0].signature
    assert m.content[1].text == "42"
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=ask("think hard"),
                                thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        events = list(s)
        final = s.get_final_message()
    assert final.model_dump() == {**m.model_dump(), "id": final.id}
    assert "".join(e.thinking for e in events if e.type == "thinking") == m.content[0].thinking
    assert [e.signature for e in events if e.type == "signature"] == [m.content[0].signature]
    disabled = create(client, "think hard", thinking={"type": "disabled"})
    assert [b.type for b in disabled.content] == ["text"]


# --------------------------------------------------------------------------- streaming


def test_raw_stream_event_order(client):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=1024, messages=ask("weather and text"),
                                                   stream=True)
    events = sse_events(raw.http_response.read())
    data = [json.loads(d) for _, d in events]
    # Every event has an `event:` line equal to its data's type.
    assert all(name == d["type"] for (name, _), d in zip(events, data))
    types = [d["type"] for d in data]
    assert types[0] == "message_start"
    assert types[1:3] == ["content_block_start", "ping"]
    assert types[-2:] == ["message_delta", "message_stop"]
    # Blocks: start, deltas, stop, with indexes 0, 1 and no gaps.
    blocks: list[list[dict]] = []
    for d in data[1:-2]:
        if d["type"] == "content_block_start":
            assert d["index"] == len(blocks)
            blocks.append([d])
        elif d["type"] in ("content_block_delta", "content_block_stop"):
            assert d["index"] == len(blocks) - 1
            blocks[-1].append(d)
    assert len(blocks) == 2
    text, tool = blocks
    assert text[0]["content_block"] == {"type": "text", "text": ""}
    assert all(d["delta"]["type"] == "text_delta" for d in text[1:-1])
    assert len(text) - 2 > 1
    assert "".join(d["delta"]["text"] for d in text[1:-1]) == "Let me check the weather."
    assert text[-1]["type"] == "content_block_stop"
    assert tool[0]["content_block"] == {"type": "tool_use", "id": "toolu_weather", "name": "get_weather", "input": {}}
    partial = [d["delta"]["partial_json"] for d in tool[1:-1]]
    assert all(d["delta"]["type"] == "input_json_delta" for d in tool[1:-1]) and len(partial) > 1
    assert json.loads("".join(partial)) == {"city": "Paris", "units": "metric"}
    start, delta = data[0], data[-2]
    assert start["message"]["content"] == [] and start["message"]["stop_reason"] is None
    assert start["message"]["usage"]["input_tokens"] > 0
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    plain = create(client, "weather and text")
    # message_delta usage is cumulative: it matches the non-streaming totals.
    assert delta["usage"]["output_tokens"] == plain.usage.output_tokens
    assert delta["usage"]["input_tokens"] == plain.usage.input_tokens


def test_sdk_stream_events(client):
    events = list(create(client, "hello", stream=True))
    types = [e.type for e in events]
    n = len(types) - 5
    assert n >= 2  # "Hi there!" comes in token-sized pieces
    # The SDK drops pings; they are on the wire (see the raw test).
    assert types == ["message_start", "content_block_start", *["content_block_delta"] * n,
                     "content_block_stop", "message_delta", "message_stop"]
    assert "".join(e.delta.text for e in events[2:2 + n]) == "Hi there!"
    assert events[-2].delta.stop_reason == "end_turn"


@pytest.mark.parametrize("prompt", ["hello", "long story", "weather and text", "only tools", "cache please"])
def test_stream_helper_equals_non_streaming(client, prompt):
    plain = create(client, prompt)
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=ask(prompt)) as s:
        text_events = [e.text for e in s if e.type == "text"]
        final = s.get_final_message()
    # Generated ids differ per response; everything else is equal.
    assert final.model_dump(exclude={"id", "content"}) == plain.model_dump(exclude={"id", "content"})
    assert [b.model_dump(exclude={"id", "parsed_output"}) for b in final.content] == \
        [b.model_dump(exclude={"id"}) for b in plain.content]
    texts = [b.text for b in plain.content if b.type == "text"]
    assert "".join(text_events) == "".join(texts)
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=ask(prompt)) as s:
        if texts:
            assert s.get_final_text() == "".join(texts)


def test_stream_with_max_tokens(client):
    plain = create(client, "long story", max_tokens=6)
    with client.messages.stream(model=MODEL, max_tokens=6, messages=ask("long story")) as s:
        final = s.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.content[0].text == plain.content[0].text
    assert final.usage.output_tokens == plain.usage.output_tokens


def test_token_counts_equal_streaming_and_not(client):
    for prompt in ("hello", "long story", "weather and text", "only tools"):
        kw = {"system": "You are terse.", "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}
        plain = create(client, prompt, **kw)
        with client.messages.stream(model=MODEL, max_tokens=1024, messages=ask(prompt), **kw) as s:
            final = s.get_final_message()
        assert final.usage.model_dump() == plain.usage.model_dump()
        assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


# --------------------------------------------------------------------------- errors


ERROR_CLASSES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (409, anthropic.ConflictError, None),
    (413, anthropic.RequestTooLargeError, "request_too_large"),
    (422, anthropic.UnprocessableEntityError, None),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (503, anthropic.ServiceUnavailableError, None),
    (504, anthropic.GatewayTimeoutError, "timeout_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize("status,cls,error_type", ERROR_CLASSES)
@pytest.mark.parametrize("stream", [False, True])
def test_rule_status_raises_sdk_exception(status, cls, error_type, stream):
    client = anthropic_client(app_from({"rules": [{"respond": {"status": status, "error": f"mock {status}"}}]}))
    with pytest.raises(cls) as info:
        create(client, "x", stream=stream)
    e = info.value
    assert type(e) is cls
    assert e.status_code == status
    assert e.request_id and e.request_id.startswith("req_")
    assert e.body["type"] == "error" and e.body["request_id"] == e.request_id
    assert e.body["error"]["message"] == f"mock {status}" == e.api_message
    assert e.type == e.body["error"]["type"]
    if error_type is not None:
        assert e.type == error_type
    assert e.response.headers["x-fakellm-conversation-id"]


def test_error_mapping_type_and_code():
    client = anthropic_client(app_from("""
rules:
  - respond:
      status: 400
      error: {message: "prompt is too long", type: invalid_request_error, code: prompt_too_long}
"""))
    with pytest.raises(anthropic.BadRequestError) as info:
        create(client, "x")
    e = info.value
    assert e.type == "invalid_request_error"
    assert e.api_message == "prompt is too long"
    assert e.error_code == "prompt_too_long"


def test_overloaded_retries_honour_retry_after():
    app = app_from("""
rules:
  - respond:
      - {status: 529, headers: {retry-after: "0.01"}, error: Overloaded}
      - {status: 529, headers: {retry-after: "0.01"}, error: Overloaded}
      - {content: "finally"}
""")
    client = anthropic_client(app, max_retries=2)
    started = time.monotonic()
    assert create(client, "x").content[0].text == "finally"
    assert time.monotonic() - started < 0.5
    assert asyncio.run(app.store.stats()).total == 3

    app = app_from({"rules": [{"respond": [{"status": 529, "headers": {"x-should-retry": "false"}},
                                           {"content": "no"}]}]})
    with pytest.raises(anthropic.OverloadedError):
        create(anthropic_client(app, max_retries=3), "x")
    assert asyncio.run(app.store.stats()).total == 1


def test_over_a_real_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        client = server.anthropic()
        m = create(client, "weather and text")
        assert [b.type for b in m.content] == ["text", "tool_use"]
        with client.messages.stream(model=MODEL, max_tokens=100, messages=ask("long story")) as s:
            assert s.get_final_text() == LONG
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "system", "content": "x"}])
        assert create(client, "hello").content[0].text == "Hi there!"


def test_token_counts_are_the_approximation_by_default(client):
    prompt = "count these forty characters, please ok."
    m = create(client, prompt, system="sixteen chars!!!")
    assert m.usage.input_tokens == 10 + 4
    assert m.usage.output_tokens == max(1, len(m.content[0].text) // 4)
