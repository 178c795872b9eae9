"""Config (section 2): every `when` condition and `respond` key through the SDKs, and config errors
reported as file:line:col with a "did you mean"."""

from __future__ import annotations

import asyncio

import hashlib
import json
import textwrap

import anthropic
import openai
import pytest
from helpers import anthropic_client, app_from, openai_client, raw_client

from fakellm.config import ConfigError, config_from_data, load_config, parse_config
from fakellm.config.schema import check_apis
from fakellm.providers import registry

MODEL = "gpt-4o-mini"
CLAUDE = "claude-test-model"


def chat(client, *messages, model=MODEL, **kw):
    msgs = [{"role": "user", "content": m} if isinstance(m, str) else m for m in messages]
    return client.chat.completions.create(model=model, messages=msgs, **kw).choices[0].message


def text_of(client, *messages, **kw):
    return chat(client, *messages, **kw).content


def claude(client, *messages, model=CLAUDE, **kw):
    msgs = [{"role": "user", "content": m} if isinstance(m, str) else m for m in messages]
    return client.messages.create(model=model, max_tokens=1024, messages=msgs, **kw)


def claude_text(client, *messages, **kw):
    return "".join(b.text for b in claude(client, *messages, **kw).content if b.type == "text")


def clients(config):
    app = app_from(config)
    return openai_client(app), anthropic_client(app)


def problems(text: str) -> list[str]:
    """What a server (or `fakellm check`) reports for a config: validation, then the API names."""
    with pytest.raises(ConfigError) as info:
        check_apis(parse_config(textwrap.dedent(text).lstrip("\n"), "fakellm.yaml"), registry.KNOWN_APIS)
    return [str(p) for p in info.value.problems]


def echo_like(text: str | None) -> bool:
    return text is not None and text.startswith("[mock response for ")


# --------------------------------------------------------------------------- conditions


def test_messages_contain_is_case_insensitive_and_sees_every_message():
    oai, ant = clients({"rules": [{"when": {"messages_contain": "Needle"}, "respond": {"content": "hit"}}]})
    assert text_of(oai, "there is a NEEDLE here") == "hit"
    assert text_of(oai, {"role": "system", "content": "needle in the system prompt"}, "hi") == "hit"
    assert text_of(oai, [{"role": "user", "content": [{"type": "text", "text": "parts with needle"}]}][0]) == "hit"
    tool_history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "result with a needle"},
    ]
    assert text_of(oai, *tool_history) == "hit"
    assert echo_like(text_of(oai, "nothing to see"))
    assert claude_text(ant, "a needle") == "hit"
    assert claude_text(ant, "hi", system="needle") == "hit"


def test_messages_match_regex():
    oai, ant = clients({"rules": [{"when": {"messages_match": r"order #\d{4}\b"}, "respond": {"content": "order"}}]})
    assert text_of(oai, "Where is ORDER #1234?") == "order"
    assert echo_like(text_of(oai, "where is order #12?"))
    assert claude_text(ant, "order #9876 please") == "order"


@pytest.mark.parametrize("glob,model,hit", [
    ("gpt-4*", "gpt-4o-mini", True),
    ("gpt-4*", "gpt-3.5-turbo", False),
    ("gpt-4*", "my-gpt-4", False),  # anchored at the start
    ("claude-*-sonnet-*", "claude-3-5-sonnet-20241022", True),
    ("claude-*-sonnet-*", "claude-3-5-haiku-20241022", False),
    ("*mini", "gpt-4o-mini", True),
    ("gpt-4o", "gpt-4o-mini", False),  # anchored at the end
    ("gpt-4o", "gpt-4o", True),
])
def test_model_matches_glob(glob, model, hit):
    oai, _ = clients({"rules": [{"when": {"model_matches": glob}, "respond": {"content": "hit"}}]})
    assert (text_of(oai, "x", model=model) == "hit") is hit


def test_tools_include_both_providers():
    oai, ant = clients({"rules": [{"when": {"tools_include": "get_weather"}, "respond": {"content": "hit"}}]})
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    assert text_of(oai, "x", tools=[other, tool]) == "hit"
    assert echo_like(text_of(oai, "x", tools=[other]))
    assert echo_like(text_of(oai, "x"))
    assert claude_text(ant, "x", tools=[{"name": "get_weather", "input_schema": {"type": "object"}}]) == "hit"
    assert echo_like(claude_text(ant, "x", tools=[{"name": "get_time", "input_schema": {"type": "object"}}]))


def test_turn_and_turn_in():
    oai, ant = clients("""
rules:
  - {when: {turn: 1}, respond: {content: one}}
  - {when: {turn_in: [2, 3]}, respond: {content: two-three}}
  - {respond: {content: later}}
""")
    history = ["q"]
    answers = []
    for _ in range(4):
        answer = text_of(oai, *history)
        answers.append(answer)
        history += [{"role": "assistant", "content": answer}, "next"]
    assert answers == ["one", "two-three", "two-three", "later"]
    assert claude_text(ant, "q") == "one"
    assert claude_text(ant, "q", {"role": "assistant", "content": "one"}, "again") == "two-three"


def tool_round_openai(result: str, question: str = "weather?") -> list:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]


def tool_round_anthropic(result, question: str = "weather?") -> list:
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}]},
    ]


def test_previous_message_role():
    oai, ant = clients("""
rules:
  - {when: {previous_message_role: tool}, respond: {content: after-tool}}
  - {when: {previous_message_role: assistant}, respond: {content: after-assistant}}
  - {when: {previous_message_role: system}, respond: {content: after-system}}
  - {when: {previous_message_role: user}, respond: {content: after-user}}
""")
    # OpenAI: the message before the newest one.
    assert text_of(oai, *tool_round_openai("sunny"), "thanks") == "after-tool"
    assert text_of(oai, "a", {"role": "assistant", "content": "b"}, "c") == "after-assistant"
    assert text_of(oai, {"role": "system", "content": "s"}, "c") == "after-system"
    assert text_of(oai, "a", "b") == "after-user"
    assert echo_like(text_of(oai, "only one message"))
    # Anthropic: a user message made only of tool_result blocks counts as a "tool" message.
    assert claude_text(ant, *tool_round_anthropic("sunny"), "more") == "after-tool"
    assert claude_text(ant, *tool_round_anthropic([{"type": "text", "text": "sunny"}]), "more") == "after-tool"
    # [user, assistant tool_use, user tool_result]: the newest is the tool result, before it the assistant.
    assert claude_text(ant, *tool_round_anthropic("sunny")) == "after-assistant"
    assert claude_text(ant, "a", {"role": "assistant", "content": "b"}, "c") == "after-assistant"
    assert claude_text(ant, "c", system="be brief") == "after-system"


def test_previous_message_role_user_still_matches_anthropic_tool_results():
    """0.3.5 compared the raw role: a config that says `user` for Anthropic tool results keeps working."""
    _, ant = clients({"rules": [{"when": {"previous_message_role": "user"}, "respond": {"content": "u"}}]})
    history = tool_round_anthropic("sunny")
    assert claude_text(ant, *history, "x") == "u"


def test_previous_message_contains():
    oai, ant = clients({"rules": [{"when": {"previous_message_contains": "Let me check"},
                                   "respond": {"content": "checked"}}]})
    assert text_of(oai, "q", {"role": "assistant", "content": "let me CHECK that"}, "ok") == "checked"
    assert echo_like(text_of(oai, "let me check", {"role": "assistant", "content": "no"}, "ok"))
    # The previous message of a tool result round is the assistant's tool call message (no text).
    assert echo_like(text_of(oai, *tool_round_openai("x")))
    assert text_of(oai, *tool_round_openai("Let me check the tool output"), "go on") == "checked"
    assert claude_text(ant, "q", {"role": "assistant", "content": "Let me check"}, "ok") == "checked"


def test_tool_result_contains_sees_only_the_tool_results_the_request_carries():
    """Not results remembered from earlier requests: an unrelated client that opens with the
    same first message (so lands in the same conversation) must not inherit them."""
    config = """
rules:
  - {when: {tool_result_contains: "ALPHA-42"}, respond: {content: seen}}
"""
    for provider in ("openai", "anthropic"):
        oai, ant = clients(config)
        if provider == "openai":
            first = text_of(oai, *tool_round_openai("result: alpha-42", question="find alpha"))
            later = text_of(oai, "find alpha", {"role": "assistant", "content": "done"}, "and now?")
            again = text_of(oai, *tool_round_openai("result: alpha-42", question="find alpha"))
            text_of(oai, *tool_round_openai("ALPHA-42"), extra_headers={"x-fakellm-conversation-id": "c-1"})
            explicit_later = text_of(oai, "unrelated", extra_headers={"x-fakellm-conversation-id": "c-1"})
        else:
            first = claude_text(ant, *tool_round_anthropic([{"type": "text", "text": "alpha-42"}], "find alpha"))
            later = claude_text(ant, "find alpha", {"role": "assistant", "content": "done"}, "and now?")
            again = claude_text(ant, *tool_round_anthropic([{"type": "text", "text": "alpha-42"}], "find alpha"))
            claude_text(ant, *tool_round_anthropic("ALPHA-42"), extra_headers={"x-fakellm-conversation-id": "c-1"})
            explicit_later = claude_text(ant, "unrelated", extra_headers={"x-fakellm-conversation-id": "c-1"})
        assert (first, again) == ("seen", "seen"), provider
        assert echo_like(later), provider  # same conversation, but this request carries no result
        assert echo_like(explicit_later), provider  # the conversation header does not carry them either


def test_header_condition():
    oai, ant = clients("""
rules:
  - when: {header.X-Test-Scenario: rate_limit}
    respond: {content: by-header}
  - when: {header.x-number: 5}
    respond: {content: number}
""")
    assert text_of(oai, "x", extra_headers={"x-test-scenario": "rate_limit"}) == "by-header"
    assert text_of(oai, "x", extra_headers={"X-TEST-SCENARIO": "rate_limit"}) == "by-header"
    assert echo_like(text_of(oai, "x", extra_headers={"x-test-scenario": "RATE_LIMIT"}))  # values are exact
    assert echo_like(text_of(oai, "x"))
    assert text_of(oai, "x", extra_headers={"x-number": "5"}) == "number"
    assert claude_text(ant, "x", extra_headers={"x-test-scenario": "rate_limit"}) == "by-header"


def test_system_contains():
    oai, ant = clients({"rules": [{"when": {"system_contains": "classifier"}, "respond": {"content": "sys"}}]})
    assert text_of(oai, {"role": "system", "content": "You are a Classifier."}, "x") == "sys"
    assert text_of(oai, {"role": "developer", "content": "classifier mode"}, "x") == "sys"
    assert echo_like(text_of(oai, "classifier in a user message"))
    assert claude_text(ant, "x", system="a classifier") == "sys"
    assert claude_text(ant, "x", system=[{"type": "text", "text": "CLASSIFIER"}]) == "sys"
    assert echo_like(claude_text(ant, "classifier"))


def test_last_message_contains():
    oai, ant = clients({"rules": [{"when": {"last_message_contains": "hello"}, "respond": {"content": "hi"}}]})
    assert text_of(oai, "x", {"role": "assistant", "content": "y"}, "Hello!") == "hi"
    assert echo_like(text_of(oai, "hello", {"role": "assistant", "content": "y"}, "bye"))
    assert claude_text(ant, "HELLO") == "hi"
    assert text_of(oai, *tool_round_openai("hello from the tool")) == "hi"  # a tool result is a message too


def test_api_condition():
    oai, ant = clients("""
rules:
  - {when: {api: openai.chat, messages_contain: exact}, respond: {content: openai-chat}}
  - {when: {api: anthropic.messages, messages_contain: exact}, respond: {content: anthropic-messages}}
  - {when: {api: openai}, respond: {content: openai}}
  - {when: {api: anthropic}, respond: {content: anthropic}}
""")
    assert text_of(oai, "x") == "openai"
    assert claude_text(ant, "x") == "anthropic"
    assert text_of(oai, "exact") == "openai-chat"
    assert claude_text(ant, "exact") == "anthropic-messages"


def test_no_when_matches_everything_all_conditions_must_hold_first_match_wins():
    oai, _ = clients("""
rules:
  - {when: {messages_contain: a, model_matches: "gpt-*"}, respond: {content: both}}
  - {when: {messages_contain: a}, respond: {content: first-a}}
  - {when: {messages_contain: a}, respond: {content: second-a}}
  - {respond: {content: anything}}
""")
    assert text_of(oai, "a") == "both"
    assert text_of(oai, "a", model="o3") == "first-a"
    assert text_of(oai, "zzz") == "anything"


# --------------------------------------------------------------------------- respond keys


def test_tool_call_arguments_mapping_and_json_string_never_double_encoded():
    oai, ant = clients("""
rules:
  - respond:
      tool_calls:
        - {name: a, arguments: {city: Paris, nested: {list: [1, 2]}}}
        - {name: b, arguments: '{"city": "Berlin"}'}
        - {name: c, arguments: '{"quote": "say \\"hi\\""}', id: call_fixed}
        - {name: d}
""")
    calls = chat(oai, "x").tool_calls
    assert [c.function.name for c in calls] == ["a", "b", "c", "d"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "nested": {"list": [1, 2]}}
    assert calls[1].function.arguments == '{"city": "Berlin"}'
    assert json.loads(calls[2].function.arguments) == {"quote": 'say "hi"'}
    assert calls[2].id == "call_fixed"
    assert json.loads(calls[3].function.arguments) == {}
    blocks = claude(ant, "x").content
    assert [b.input for b in blocks] == [{"city": "Paris", "nested": {"list": [1, 2]}}, {"city": "Berlin"},
                                         {"quote": 'say "hi"'}, {}]
    assert blocks[2].id == "call_fixed"


def test_status_and_error_forms():
    oai, ant = clients("""
rules:
  - when: {messages_contain: string-error}
    respond: {status: 429, error: "Too many (mock)"}
  - when: {messages_contain: mapping-error}
    respond:
      status: 400
      error: {message: "bad thing", type: custom_type, code: custom_code, param: messages}
  - when: {messages_contain: no-message}
    respond: {status: 503}
  - when: {messages_contain: ok-with-error}
    respond: {status: 200, content: fine, error: "ignored below 400"}
""")
    with pytest.raises(openai.RateLimitError) as info:
        chat(oai, "string-error")
    assert info.value.body["message"] == "Too many (mock)"
    with pytest.raises(openai.BadRequestError) as info:
        chat(oai, "mapping-error")
    assert (info.value.type, info.value.code, info.value.param) == ("custom_type", "custom_code", "messages")
    with pytest.raises(openai.InternalServerError) as info:
        chat(oai, "no-message")
    assert info.value.body["message"]  # a default message is filled in
    assert chat(oai, "ok-with-error").content == "fine"

    with pytest.raises(anthropic.RateLimitError) as info:
        claude(ant, "string-error")
    assert info.value.api_message == "Too many (mock)" and info.value.type == "rate_limit_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        claude(ant, "mapping-error")
    assert info.value.type == "custom_type" and info.value.error_code == "custom_code"
    with pytest.raises(anthropic.ServiceUnavailableError):
        claude(ant, "no-message")


def test_respond_headers():
    app = app_from("""
rules:
  - respond:
      content: hi
      headers: {X-Custom: "yes", retry-after: 3, x-ratelimit-remaining-requests: 0}
""")
    raw = openai_client(app).chat.completions.with_raw_response.create(model=MODEL, messages=[
        {"role": "user", "content": "x"}])
    assert raw.headers["x-custom"] == "yes"
    assert raw.headers["retry-after"] == "3"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    raw = anthropic_client(app).messages.with_raw_response.create(model=CLAUDE, max_tokens=5, messages=[
        {"role": "user", "content": "x"}], stream=True)
    assert raw.headers["x-custom"] == "yes"


@pytest.mark.parametrize("given,openai_reason,anthropic_reason", [
    ("stop", "stop", "end_turn"),
    ("length", "length", "max_tokens"),
    ("tool_calls", "tool_calls", "tool_use"),
    ("end_turn", "stop", "end_turn"),
    ("max_tokens", "length", "max_tokens"),
    ("content_filter", "content_filter", "refusal"),
    ("refusal", "content_filter", "refusal"),
])
def test_finish_reason_override(given, openai_reason, anthropic_reason):
    oai, ant = clients({"rules": [{"respond": {"content": "text", "finish_reason": given}}]})
    r = oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].finish_reason == openai_reason
    with oai.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "x"}]) as s:
        chunks = [e.chunk for e in s if e.type == "chunk"]
    assert chunks[-1].choices[0].finish_reason == openai_reason
    assert claude(ant, "x").stop_reason == anthropic_reason
    with ant.messages.stream(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        assert s.get_final_message().stop_reason == anthropic_reason


def test_finish_reason_tool_calls_even_with_rule_override_to_stop():
    oai, _ = clients({"rules": [{"respond": {"tool_calls": [{"name": "f"}], "finish_reason": "stop"}}]})
    choice = oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}]).choices[0]
    assert choice.finish_reason == "stop"  # the override wins, as documented
    assert choice.message.tool_calls[0].function.name == "f"


def test_usage_override():
    oai, ant = clients("""
rules:
  - respond:
      content: hi
      usage: {input_tokens: 1000, output_tokens: 7, cached_tokens: 600, reasoning_tokens: 5,
              cache_creation_input_tokens: 100}
""")
    u = oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}]).usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (1000, 7, 1007)
    assert u.prompt_tokens_details.cached_tokens == 600
    assert u.completion_tokens_details.reasoning_tokens == 5
    m = claude(ant, "x")
    assert (m.usage.input_tokens, m.usage.output_tokens) == (1000, 7)
    assert m.usage.cache_read_input_tokens == 600 and m.usage.cache_creation_input_tokens == 100


def test_partial_usage_override_keeps_the_counted_rest():
    oai, _ = clients({"rules": [{"respond": {"content": "a fairly long reply text", "usage": {"input_tokens": 3}}}]})
    u = oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}]).usage
    assert u.prompt_tokens == 3 and u.completion_tokens > 0 and u.total_tokens == 3 + u.completion_tokens


def test_respond_sequence_cycle_and_times():
    oai, _ = clients("""
rules:
  - name: seq
    when: {messages_contain: seq}
    respond: [{content: one}, {content: two}]
  - name: cyc
    when: {messages_contain: cyc}
    cycle: true
    respond: [{content: a}, {content: b}]
  - name: once
    when: {messages_contain: once}
    times: 1
    respond: {content: first-time}
  - when: {messages_contain: once}
    respond: {content: afterwards}
""")
    assert [text_of(oai, "seq") for _ in range(4)] == ["one", "two", "two", "two"]
    assert [text_of(oai, "cyc") for _ in range(5)] == ["a", "b", "a", "b", "a"]
    assert [text_of(oai, "once") for _ in range(3)] == ["first-time", "afterwards", "afterwards"]
    # Counters are per conversation.
    assert text_of(oai, "seq", extra_headers={"x-fakellm-conversation-id": "fresh"}) == "one"


def test_thinking_only_when_the_request_enables_it():
    oai, ant = clients({"rules": [{"respond": {"thinking": "hmm", "content": "answer"}}]})
    assert chat(oai, "x").content == "answer"
    m = claude(ant, "x", thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert [b.type for b in claude(ant, "x").content] == ["text"]


def test_neither_content_nor_tool_calls_gives_the_echo():
    oai, ant = clients({"rules": [{"name": "headers-only", "respond": {"headers": {"x-a": "b"}}}]})
    assert echo_like(text_of(oai, "x"))
    assert echo_like(claude_text(ant, "x"))


# --------------------------------------------------------------------------- fallbacks


def echo_035(body: dict) -> str:
    """fakellm 0.3.5's deterministic echo, as published."""
    seed = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"[mock response for {body.get('model', 'unknown')}, fingerprint {seed}]"


def test_deterministic_echo_is_the_035_echo_and_stable():
    app = app_from(None)
    http = raw_client(app)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "what is 2+2?"}], "temperature": 0.5}
    first = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert first == echo_035(body)
    # Key order does not matter; a second request (a new turn counter, a new id) gets the same echo.
    reordered = {"temperature": 0.5, "messages": body["messages"], "model": MODEL}
    assert http.post("/v1/chat/completions", json=reordered).json()["choices"][0]["message"]["content"] == first
    # A different request gets a different fingerprint.
    other = dict(body, temperature=0.7)
    assert http.post("/v1/chat/completions", json=other).json()["choices"][0]["message"]["content"] != first
    # Anthropic echoes the same way.
    abody = {"model": CLAUDE, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    assert http.post("/v1/messages", json=abody).json()["content"][0]["text"] == echo_035(abody)
    # Streaming does not change the echo.
    oai = openai_client(app)
    streamed = "".join(c.choices[0].delta.content or "" for c in oai.chat.completions.create(
        model=MODEL, messages=body["messages"], temperature=0.5, stream=True) if c.choices)
    assert streamed == first


def test_strict_fallback_error_explains_the_closest_rule():
    oai, ant = clients("""
defaults: {fallback: error}
rules:
  - name: wants_weather
    when: {messages_contain: weather, model_matches: "gpt-4*"}
    respond: {content: sunny}
""")
    assert text_of(oai, "weather?") == "sunny"
    with pytest.raises(openai.NotFoundError) as info:
        text_of(oai, "weather?", model="o3-mini")
    e = info.value
    assert e.code == "fakellm_no_match"
    assert "wants_weather" in e.message and "model_matches" in e.message and "o3-mini" in e.message
    with pytest.raises(anthropic.NotFoundError) as info:
        claude_text(ant, "hello")
    assert info.value.error_code == "fakellm_no_match"
    assert "wants_weather" in info.value.api_message


# --------------------------------------------------------------------------- 0.3.5 configs


STARTER_035 = """\
# fakellm.yaml — see https://github.com/1dg618/fakellm for docs
version: 1

defaults:
  fallback: deterministic_echo

rules:
  - name: greeting
    when:
      messages_contain: "hello"
    respond:
      content: "Hi there! This is a mock response from fakellm."

  - name: classifier_demo
    when:
      messages_contain: "classify the sentiment"
    respond:
      content: "positive"

  - name: rate_limit_scenario
    when:
      header.x-test-scenario: rate_limit
    respond:
      status: 429
      error: "Rate limit exceeded (mock)"
"""


def test_035_starter_loads_and_behaves_the_same(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(STARTER_035)
    config = load_config(path)
    assert [r.name for r in config.rules] == ["greeting", "classifier_demo", "rate_limit_scenario"]
    oai, ant = clients(STARTER_035)
    assert text_of(oai, "hello there") == "Hi there! This is a mock response from fakellm."
    assert claude_text(ant, "Hello!") == "Hi there! This is a mock response from fakellm."
    assert text_of(oai, "Please classify the sentiment of: great") == "positive"
    for call in (lambda: text_of(oai, "x", extra_headers={"x-test-scenario": "rate_limit"}),
                 lambda: claude_text(ant, "x", extra_headers={"x-test-scenario": "rate_limit"})):
        with pytest.raises((openai.RateLimitError, anthropic.RateLimitError)) as info:
            call()
        assert "Rate limit exceeded (mock)" in str(info.value)
    assert echo_like(text_of(oai, "something else"))


def test_035_rules_without_names_and_the_readme_agent():
    app = app_from("""
rules:
  - when: {turn: 1, messages_contain: "research"}
    respond:
      tool_calls:
        - name: web_search
          arguments: {query: "fakellm"}
  - when: {turn: 2, tool_result_contains: "found"}
    respond:
      content: "Based on the search, I found what you were looking for."
""")
    oai = openai_client(app)
    call = chat(oai, "Please research fakellm").tool_calls[0]
    assert call.function.name == "web_search" and json.loads(call.function.arguments) == {"query": "fakellm"}
    final = text_of(oai, *tool_round_openai("found 3 pages", question="Please research fakellm"))
    assert final == "Based on the search, I found what you were looking for."
    assert asyncio.run(app.store.stats()).by_rule == {"rule-0": 1, "rule-1": 1}


def test_python_dict_config_accepts_tuples():
    config = config_from_data({"rules": [{"when": {"turn_in": (1, 2)}, "respond": {"content": "x"}}]})
    assert config.rules[0].when.turn_in == [1, 2]


# --------------------------------------------------------------------------- config problems


# Bad configs and what `fakellm check` says about each (tests/test_json_schema.py holds the schema to them).
UNKNOWN_KEYS = [
    ("rulez: []\n", "fakellm.yaml:1:1: config: unknown key 'rulez' in top level (did you mean 'rules'?)"),
    ("defaults:\n  fallbak: error\n",
     "fakellm.yaml:2:3: defaults: unknown key 'fallbak' in defaults (did you mean 'fallback'?)"),
    ("rules:\n  - name: r\n    whne: {turn: 1}\n",
     "fakellm.yaml:3:5: rules[0] (r): unknown key 'whne' in rule (did you mean 'when'?)"),
    ("rules:\n  - when:\n      messages_contains: x\n",
     "fakellm.yaml:3:7: rules[0].when: unknown key 'messages_contains' in when (did you mean 'messages_contain'?)"),
    ("rules:\n  - respond:\n      contnet: x\n",
     "fakellm.yaml:3:7: rules[0].respond: unknown key 'contnet' in respond (did you mean 'content'?)"),
    ("rules:\n  - respond:\n      - content: a\n      - contnet: b\n",
     "fakellm.yaml:4:9: rules[0].respond[1]: unknown key 'contnet' in respond (did you mean 'content'?)"),
    ("rules:\n  - respond:\n      tool_calls:\n        - name: f\n          argument: {}\n",
     "fakellm.yaml:5:11: rules[0].respond.tool_calls[0]: unknown key 'argument' in tool call "
     "(did you mean 'arguments'?)"),
    ("rules:\n  - respond:\n      status: 500\n      error: {mesage: x}\n",
     "unknown key 'mesage' in error (did you mean 'message'?)"),
    ("rules:\n  - respond:\n      usage: {input_token: 3}\n",
     "fakellm.yaml:3:15: rules[0].respond.usage: unknown key 'input_token' in usage (did you mean 'input_tokens'?)"),
]


@pytest.mark.parametrize("text,expected", UNKNOWN_KEYS)
def test_unknown_keys_at_every_level(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


def test_unknown_when_key_suggests_header_syntax():
    [problem] = problems("rules:\n  - when:\n      x-test-scenario: rate_limit\n")
    assert problem.startswith("fakellm.yaml:3:7:") and "header.<name>" in problem


def test_misspelled_when_cannot_match_everything():
    """0.3.5 dropped `whne:` silently, so the rule matched every request; here it is an error."""
    found = problems("""
        rules:
          - name: kickoff
            whne:
              turn: 1
            respond: {content: x}
    """)
    assert found == ["fakellm.yaml:3:5: rules[0] (kickoff): unknown key 'whne' in rule (did you mean 'when'?)"]
    # At the key's own line and column, not the rule's first line, wherever the key stands.
    found = problems("""
        rules:
          - name: kickoff
            respond: {content: x}
            when: {turn: 1}
          - {name: flow, respond: {content: y}, whne: {turn: 2}}
    """)
    assert found == ["fakellm.yaml:5:41: rules[1] (flow): unknown key 'whne' in rule (did you mean 'when'?)"]


def test_every_problem_at_once_sorted_by_position():
    found = problems("""
        version: 1
        defaults:
          turns: sometimes
        rules:
          - name: a
            when: {turn: two, model_match: "gpt*"}
            respond:
              tool_calls:
                - arguments: {x: 1}
          - name: b
            respond: {status: "429", headers: [x]}
    """)
    assert len(found) == 6, found
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)
    joined = "\n".join(found)
    assert "fakellm.yaml:3:10: defaults.turns: must be 'messages' or 'requests', got a string ('sometimes')" in joined
    assert "rules[0] (a).when.turn: expected an integer, got a string ('two')" in joined
    assert "unknown key 'model_match' in when (did you mean 'model_matches'?)" in joined
    assert "rules[0] (a).respond.tool_calls[0]: required key 'name' is missing" in joined
    assert "rules[1] (b).respond.status: expected an integer, got a string ('429')" in joined
    assert "rules[1] (b).respond.headers: expected a mapping, got a list" in joined


WRONG_VALUES = [
    ("rules: [{when: {turn: true}}]", "rules[0].when.turn: expected an integer, got a boolean (True)"),
    ("rules: [{when: {turn: '2'}}]", "rules[0].when.turn: expected an integer, got a string ('2')"),
    ("rules: [{when: {turn: 2.5}}]", "rules[0].when.turn: expected an integer"),
    ("rules: [{when: {turn_in: [1]}}]", "turn_in must be a [low, high] pair"),
    ("rules: [{when: {turn_in: [3, 1]}}]", "turn_in low (3) is greater than high (1)"),
    ("rules: [{when: {turn_in: [1, x]}}]", "rules[0].when.turn_in[1]: expected an integer"),
    ("rules: [{when: {messages_contain: [a]}}]", "rules[0].when.messages_contain: expected a string, got a list"),
    ("rules: [{when: {messages_match: '(unclosed'}}]", "not a valid regular expression"),
    ("rules: [{when: {api: opnai}}]", "unknown api 'opnai' (did you mean 'openai'?)"),
    ("rules: [{respond: {headers: {Content-Length: '5'}}}]", "header Content-Length cannot be set"),
    ("rules: [{respond: {headers: {transfer-encoding: chunked}}}]", "fakellm frames the response itself"),
    ("rules: [{respond: {headers: {connection: close}}}]", "header connection cannot be set"),
    ("rules: [{when: {previous_message_role: asistant}}]", "(did you mean 'assistant'?)"),
    ("rules: [{when: {'header.': x}}]", "header name"),
    ("rules: [{when: {header.x-a: [1, 2]}}]", "header.x-a: expected a string"),
    ("rules: [{cycle: 'yes', respond: [{content: a}]}]", "rules[0].cycle: expected true or false"),
    ("rules: [{times: 0}]", "rules[0].times: Input should be greater than or equal to 1"),
    ("rules: [{respond: {status: 99}}]", "rules[0].respond.status"),
    ("rules: [{respond: {status: 101}}]", "rules[0].respond.status: Input should be greater than or equal to 200"),
    ("rules: [{respond: {status: 600}}]", "rules[0].respond.status: Input should be less than or equal to 599"),
    ("rules: [{respond: {status: '500'}}]", "rules[0].respond.status: expected an integer, got a string ('500')"),
    ("rules: [{respond: {content: 5}}]", "rules[0].respond.content: expected a string, got an integer (5)"),
    ("rules: [{respond: {error: 5, status: 500}}]", "rules[0].respond.error: expected a string or a mapping"),
    ("rules: [{respond: {tool_calls: {name: f}}}]", "rules[0].respond.tool_calls: expected a list, got a mapping"),
    ("rules: [{respond: {tool_calls: [{arguments: {}}]}}]", "rules[0].respond.tool_calls[0]: required key 'name'"),
    ("rules: [{respond: {tool_calls: [{name: f, arguments: 'not json'}]}}]", "must be JSON text"),
    ("rules: [{respond: {tool_calls: [{name: f, arguments: [1]}]}}]", "expected a mapping or a string, got a list"),
    ("rules: [{respond: {usage: {input_tokens: -1}}}]", "rules[0].respond.usage.input_tokens"),
    ("rules: [{respond: {headers: {a: {b: 1}}}}]", "rules[0].respond.headers.a"),
    ("rules: [{respond: {headers: {'bad name': x}}}]", "'bad name' is not a valid HTTP header name"),
    ("rules: [{respond: {headers: {x-a: \"one\\r\\nset-cookie: b=1\"}}}]", "printable ASCII on one line"),
    ("rules: [{respond: {headers: {x-a: caf\u00e9}}}]", "printable ASCII on one line"),
    ("rules: [{respond: {headers: {x-a: true}}}]", "rules[0].respond.headers.x-a: expected a string"),
    ("rules: [{respond: {error: {type: x}, status: 500}}]", "rules[0].respond.error: required key 'message'"),
    ("rules: {a: 1}", "rules: expected a list, got a mapping"),
    ("rules: [[1]]", "rules[0]: expected a mapping, got a list"),
    ("defaults: {max_conversations: '10'}", "defaults.max_conversations: expected an integer"),
    ("defaults: {max_conversations: 0}", "defaults.max_conversations"),
    ("defaults: {fallback: echo}", "defaults.fallback: must be 'deterministic_echo' or 'error'"),
    ("- just\n- a list\n", "the config must be a mapping, not a list"),
    ("rules: [{name: a, name: b}]", "duplicate key 'name'"),
    ("rules:\n  - name: [unclosed\n", "fakellm.yaml:2:11: invalid YAML: while parsing a flow sequence (line 2, column 11)"),
]


@pytest.mark.parametrize("text,needle", WRONG_VALUES)
def test_wrong_types_and_values(text, needle):
    found = problems(text)
    assert any(needle in p for p in found), found
    assert all(p.startswith("fakellm.yaml:") for p in found)


def test_tool_call_arguments_must_be_an_object():
    found = problems("rules: [{respond: {tool_calls: [{name: f, arguments: '[1, 2]'}]}}]")
    assert any("JSON object" in p for p in found), found


def test_config_error_from_python_dicts_names_the_place():
    with pytest.raises(ConfigError) as info:
        config_from_data({"rules": [{"name": "r", "whne": {}}]}, "my_test.py")
    [problem] = info.value.problems
    assert str(problem) == "my_test.py: rules[0] (r): unknown key 'whne' in rule (did you mean 'when'?)"


def test_model_matches_globs_like_0_3_5_only_star_is_a_wildcard():
    from helpers import app_from, openai_client

    client = openai_client(app_from("""
rules:
  - name: literal
    when: {model_matches: "gpt-4?[x]*"}
    respond: {content: literal}
  - name: star
    when: {model_matches: "claude-*-sonnet-*"}
    respond: {content: star}
"""))

    def answer(model: str) -> str:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}]).choices[0].message.content

    assert answer("gpt-4?[x]-turbo") == "literal"  # `?` and `[x]` are plain characters
    assert answer("gpt-4o") != "literal" and answer("gpt-4ax") != "literal"
    assert answer("claude-3-5-sonnet-latest") == "star"
    assert answer("claude-sonnet") != "star"


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "null\n", "~\n"])
def test_an_empty_document_is_an_error_not_a_config_without_rules(text):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "fakellm.yaml")
    assert str(info.value) == "fakellm.yaml:1:1: the config is empty; write `rules: []` for a config without rules"
    assert parse_config("rules: []\n", "fakellm.yaml").rules == []
