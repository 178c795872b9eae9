"""Anthropic count_tokens and thinking (streamed and not), through the official SDK."""

from __future__ import annotations

import json

import anthropic
import pytest

from helpers import anthropic_client, app_from, raw_client, sse_events

CONFIG = """
rules:
  - name: deep
    when: {messages_contain: "ponder"}
    respond:
      thinking: "First, consider the question. Then weigh both answers carefully."
      content: "The answer is 42."
  - name: think_then_call
    when: {tools_include: calculator, turn: 1}
    respond:
      thinking: "I should use the calculator."
      tool_calls: [{name: calculator, arguments: {expression: "6*7"}}]
"""

THINKING = {"type": "enabled", "budget_tokens": 2048}
TOOLS = [{"name": "calculator", "description": "Evaluate arithmetic",
          "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}}}]


@pytest.fixture
def app():
    return app_from(CONFIG)


@pytest.fixture
def client(app):
    return anthropic_client(app)


# -- count_tokens


BODIES = [
    dict(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "Hello there, how are you today?"}]),
    dict(model="claude-sonnet-4-6", system="You are a careful assistant who answers briefly.",
         messages=[{"role": "user", "content": "ponder this"}]),
    dict(model="claude-sonnet-4-6", tools=TOOLS, system=[{"type": "text", "text": "Use tools."}], messages=[
        {"role": "user", "content": "What is six times seven?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me compute that."},
            {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "6*7"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
    ]),
]


@pytest.mark.parametrize("body", BODIES)
def test_count_tokens_equals_the_usage_of_a_call(client, body):
    counted = client.messages.count_tokens(**body)
    assert counted.input_tokens > 0
    message = client.messages.create(max_tokens=1024, **body)
    assert counted.input_tokens == message.usage.input_tokens
    with client.messages.stream(max_tokens=1024, **body) as stream:
        assert stream.get_final_message().usage.input_tokens == counted.input_tokens


def test_count_tokens_does_not_touch_the_journal(app, client):
    client.messages.count_tokens(**BODIES[0])
    assert raw_client(app).get("/_fakellm/requests").json()["requests"] == []


@pytest.mark.parametrize("body, fragment", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "claude"}, "messages"),
    ({"model": "claude", "messages": "hi"}, "messages"),
    ({"model": "claude", "messages": [{"role": "robot", "content": "hi"}]}, "role"),
    ({"model": "claude", "messages": [{"role": "user"}]}, "content"),
    ({"model": "claude", "messages": [{"role": "user", "content": "hi"}], "system": 5}, "system"),
    ({"model": "claude", "messages": [{"role": "user", "content": "hi"}], "tools": [{}]}, "tools.0.name"),
])
def test_count_tokens_bad_input_is_an_anthropic_400(client, body, fragment):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.post("/v1/messages/count_tokens", body=body, cast_to=object)
    assert info.value.type == "invalid_request_error"
    assert fragment in info.value.message
    assert info.value.request_id
    assert client.messages.count_tokens(**BODIES[0]).input_tokens > 0


def test_count_tokens_malformed_json_and_method(app):
    http = raw_client(app)
    bad = http.post("/v1/messages/count_tokens", content=b"{oops", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["type"] == "error"
    assert bad.json()["error"]["type"] == "invalid_request_error"
    wrong = http.get("/v1/messages/count_tokens")
    assert wrong.status_code == 405 and wrong.json()["type"] == "error"


# -- thinking


def test_thinking_block_comes_first_with_a_signature(client):
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=4096, thinking=THINKING,
                                     messages=[{"role": "user", "content": "ponder life"}])
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking.startswith("First, consider")
    assert message.content[0].signature
    assert message.content[1].text == "The answer is 42."


def test_no_thinking_unless_the_request_enables_it(client):
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=1024,
                                     messages=[{"role": "user", "content": "ponder life"}])
    assert [b.type for b in message.content] == ["text"]
    disabled = client.messages.create(model="claude-sonnet-4-6", max_tokens=1024, thinking={"type": "disabled"},
                                      messages=[{"role": "user", "content": "ponder life"}])
    assert [b.type for b in disabled.content] == ["text"]


def test_thinking_stream_helper(client):
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=4096, thinking=THINKING,
                                messages=[{"role": "user", "content": "ponder life"}]) as stream:
        thinking, signatures, text = [], [], []
        for event in stream:
            if event.type == "thinking":
                thinking.append(event.thinking)
            elif event.type == "signature":
                signatures.append(event.signature)
            elif event.type == "text":
                text.append(event.text)
        final = stream.get_final_message()
    assert "".join(thinking) == "First, consider the question. Then weigh both answers carefully."
    assert len(thinking) > 1  # streamed in pieces
    assert signatures == [final.content[0].signature]
    assert "".join(text) == "The answer is 42."
    assert [b.type for b in final.content] == ["thinking", "text"]


def test_thinking_then_tool_call_stream(client):
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=4096, thinking=THINKING, tools=TOOLS,
                                messages=[{"role": "user", "content": "six times seven?"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"expression": "6*7"}
    assert final.stop_reason == "tool_use"


def test_raw_thinking_events(app):
    response = raw_client(app).post("/v1/messages", json={
        "model": "claude-sonnet-4-6", "max_tokens": 4096, "stream": True, "thinking": THINKING,
        "messages": [{"role": "user", "content": "ponder"}]})
    events = [(name, json.loads(data)) for name, data in sse_events(response.content)]
    assert all(name == data["type"] for name, data in events)
    block0 = [d for _, d in events if d.get("index") == 0]
    assert block0[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [d["delta"]["type"] for d in block0 if d["type"] == "content_block_delta"]
    assert set(deltas[:-1]) == {"thinking_delta"} and deltas[-1] == "signature_delta"
    assert block0[-1]["type"] == "content_block_stop"
