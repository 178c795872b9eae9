"""A rule's `thinking` as each API shows it, through the official SDKs against `fakellm serve`:
Anthropic thinking blocks, a Responses reasoning item with its summary, reasoning tokens in chat
completions, Gemini thought parts; streamed and not, with the usage each API reports."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google.genai import types
from helpers import Served, gemini_client

from fakellm.engine import tokens

THOUGHT = "First weigh both options. The train is cheaper and nearly as fast, so take the train."
ANSWER = "Take the train."
CONFIG = f"""
rules:
  - name: ponder
    when: {{messages_contain: ponder}}
    respond: {{thinking: "{THOUGHT}", content: "{ANSWER}"}}
  - name: weather_call
    when: {{messages_contain: weather, turn: 1}}
    respond:
      thinking: "I need the weather tool for this."
      tool_calls: [{{name: get_weather, arguments: {{city: Paris}}}}]
  - name: weather_answer
    when: {{tool_result_contains: "20C"}}
    respond: {{thinking: "The tool said 20C.", content: "It is 20C in Paris."}}
  - name: fixed_count
    when: {{messages_contain: counted}}
    respond: {{thinking: "{THOUGHT}", content: "{ANSWER}", usage: {{reasoning_tokens: 77}}}}
"""

CLAUDE = "claude-sonnet-4-6"
ENABLED = {"type": "enabled", "budget_tokens": 2048}
TOOLS = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = tmp_path_factory.mktemp("reasoning") / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as served:
        yield served


@pytest.fixture(scope="module")
def claude(server):
    return server.anthropic()


@pytest.fixture(scope="module")
def oai(server):
    return server.openai()


@pytest.fixture(scope="module")
def gemini(server):
    return gemini_client(server.url)


def ask(text):
    return [{"role": "user", "content": text}]


# --------------------------------------------------------------------------- Anthropic Messages


def message(client, text="ponder this", **kw):
    kw.setdefault("max_tokens", 4096)
    return client.messages.create(model=CLAUDE, messages=ask(text), **kw)


@pytest.mark.parametrize("thinking", [ENABLED, {"type": "adaptive"}, {"type": "adaptive", "display": "summarized"}])
def test_anthropic_thinking_block_comes_first_and_counts_as_output(claude, thinking):
    plain = message(claude)
    m = message(claude, thinking=thinking)
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == THOUGHT and m.content[1].text == ANSWER
    assert m.content[0].signature and m.content[0].signature == message(claude, thinking=thinking).content[0].signature
    # Thinking is billed as output: the same answer plus the thinking's tokens.
    assert m.usage.output_tokens == plain.usage.output_tokens + tokens.count(THOUGHT)
    assert m.usage.input_tokens == plain.usage.input_tokens


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}, {"type": "between_tools"}])
def test_anthropic_no_thinking_block_unless_thinking_is_on(claude, thinking):
    kw = {"thinking": thinking} if thinking else {}
    m = message(claude, **kw)
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == ANSWER
    assert m.usage.output_tokens == tokens.count(ANSWER)
    with claude.messages.stream(model=CLAUDE, max_tokens=4096, messages=ask("ponder this"), **kw) as stream:
        kinds = {event.type for event in stream}
    assert "thinking" not in kinds and "signature" not in kinds


def test_anthropic_thinking_stream_events_in_order(claude):
    events = list(message(claude, thinking=ENABLED, stream=True))
    shape = []
    for event in events:
        if event.type == "content_block_start":
            shape.append(("start", event.index, event.content_block.type))
        elif event.type == "content_block_delta":
            if not shape or shape[-1] != ("delta", event.index, event.delta.type):
                shape.append(("delta", event.index, event.delta.type))
        elif event.type == "content_block_stop":
            shape.append(("stop", event.index))
        else:
            shape.append((event.type,))
    assert shape == [
        ("message_start",),
        ("start", 0, "thinking"), ("delta", 0, "thinking_delta"), ("delta", 0, "signature_delta"), ("stop", 0),
        ("start", 1, "text"), ("delta", 1, "text_delta"), ("stop", 1),
        ("message_delta",), ("message_stop",),
    ]
    start = next(e for e in events if e.type == "content_block_start")
    assert start.content_block.thinking == "" and start.content_block.signature == ""
    thinking = [e.delta.thinking for e in events if e.type == "content_block_delta" and e.delta.type == "thinking_delta"]
    assert len(thinking) > 1 and "".join(thinking) == THOUGHT  # streamed in pieces
    signatures = [e.delta.signature for e in events if e.type == "content_block_delta"
                  and e.delta.type == "signature_delta"]
    assert signatures == [message(claude, thinking=ENABLED).content[0].signature]
    assert events[-2].usage.output_tokens == tokens.count(ANSWER) + tokens.count(THOUGHT)


def test_anthropic_stream_helper_final_message_equals_the_unstreamed_one(claude):
    created = message(claude, thinking=ENABLED)
    with claude.messages.stream(model=CLAUDE, max_tokens=4096, messages=ask("ponder this"), thinking=ENABLED) as stream:
        thinking = [e.thinking for e in stream if e.type == "thinking"]
        final = stream.get_final_message()
    assert "".join(thinking) == THOUGHT
    assert final.model_dump() == {**created.model_dump(), "id": final.id}
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature == created.content[0].signature


def test_anthropic_omitted_display_keeps_the_signature_without_the_text(claude):
    thinking = {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}
    shown = message(claude, thinking=ENABLED)
    m = message(claude, thinking=thinking)
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "" and m.content[0].signature == shown.content[0].signature
    assert m.usage.output_tokens == shown.usage.output_tokens  # still thought, and billed
    with claude.messages.stream(model=CLAUDE, max_tokens=4096, messages=ask("ponder this"), thinking=thinking) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert "thinking" not in kinds and kinds.count("signature") == 1
    assert final.content[0].thinking == "" and final.content[0].signature == shown.content[0].signature


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_with_tools_round_trip(claude, stream):
    """Anthropic requires the thinking block to be sent back with the tool use it came with."""
    first = message(claude, "what is the weather in Paris?", thinking=ENABLED, tools=TOOLS)
    assert [b.type for b in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    history = [
        {"role": "user", "content": "what is the weather in Paris?"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[1].id, "content": "20C"}]},
    ]
    kw = {"model": CLAUDE, "max_tokens": 4096, "thinking": ENABLED, "tools": TOOLS, "messages": history}
    if stream:
        with claude.messages.stream(**kw) as s:
            second = s.get_final_message()
    else:
        second = claude.messages.create(**kw)
    assert [b.type for b in second.content] == ["thinking", "text"]
    assert second.content[0].thinking == "The tool said 20C." and second.content[1].text == "It is 20C in Paris."


def test_anthropic_redacted_thinking_in_the_history_is_accepted(claude):
    m = claude.messages.create(model=CLAUDE, max_tokens=4096, thinking=ENABLED, tools=TOOLS, messages=[
        {"role": "user", "content": "what is the weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
            {"type": "thinking", "thinking": "Recorded from the real API.", "signature": "ErUBCkYIBRgCIkB"},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "20C"}]},
    ])
    assert [b.type for b in m.content] == ["thinking", "text"] and m.content[1].text == "It is 20C in Paris."


ANTHROPIC_BAD = [
    ({"thinking": {"type": "enabled"}}, "thinking.enabled.budget_tokens: Field required"),
    ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": "lots"}}, "budget_tokens: Input should be a valid integer"),
    ({"thinking": {"type": "sometimes"}}, "Input tag 'sometimes' found using 'type'"),
    ({"thinking": {"budget_tokens": 2048}}, "Input tag None found using 'type'"),
    ({"thinking": {"type": "adaptive", "display": "full"}}, "thinking.adaptive.display"),
    ({"thinking": "on"}, "thinking: Input should be an object"),
    ({"messages": [{"role": "user", "content": "ponder"},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}]},
                   {"role": "user", "content": "go on"}]}, "messages.1.content.0.signature: Field required"),
    ({"messages": [{"role": "user", "content": "ponder"},
                   {"role": "assistant", "content": [{"type": "redacted_thinking"}]},
                   {"role": "user", "content": "go on"}]}, "messages.1.content.0.data: Field required"),
]


@pytest.mark.parametrize("change,needle", ANTHROPIC_BAD, ids=[n for _, n in ANTHROPIC_BAD])
def test_anthropic_bad_thinking_is_a_400(claude, change, needle):
    body = {"model": CLAUDE, "max_tokens": 4096, "messages": ask("ponder this"), **change}
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.post("/v1/messages", cast_to=anthropic.types.Message, body=body)
    assert info.value.type == "invalid_request_error" and needle in info.value.api_message
    assert message(claude, thinking=ENABLED).content[1].text == ANSWER  # still serving


def test_anthropic_a_modified_thinking_block_is_refused(claude):
    first = message(claude, "what is the weather in Paris?", thinking=ENABLED, tools=TOOLS)
    thinking, call = (b.model_dump() for b in first.content)
    history = [
        {"role": "user", "content": "what is the weather in Paris?"},
        {"role": "assistant", "content": [{**thinking, "thinking": "Something else."}, call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "20C"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=4096, thinking=ENABLED, tools=TOOLS, messages=history)
    assert info.value.api_message == "messages.1.content.0: Invalid `signature` in `thinking` block"
    history[1]["content"][0] = thinking  # unmodified, it is accepted
    m = claude.messages.create(model=CLAUDE, max_tokens=4096, thinking=ENABLED, tools=TOOLS, messages=history)
    assert m.content[-1].text == "It is 20C in Paris."


# --------------------------------------------------------------------------- OpenAI Responses


def respond(client, text="ponder this", **kw):
    return client.responses.create(model="o4-mini", input=text, **kw)


def without_ids(response):
    """A response as a dict, without what differs between two calls (ids and times) and the stream
    helper's `parsed` additions."""
    data = response.model_dump()
    for key in ("id", "created_at", "completed_at"):
        data.pop(key, None)
    for item in data["output"]:
        item.pop("id", None)
        for part in item.get("content") or ():
            part.pop("parsed", None)
    return data


@pytest.mark.parametrize("summary", ["auto", "concise", "detailed"])
def test_responses_reasoning_item_with_its_summary_before_the_message(oai, summary):
    plain = respond(oai)
    response = respond(oai, reasoning={"effort": "medium", "summary": summary})
    assert [item.type for item in plain.output] == ["message"]
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.id.startswith("rs_") and reasoning.status == "completed"
    assert [(s.type, s.text) for s in reasoning.summary] == [("summary_text", THOUGHT)]
    assert reasoning.encrypted_content is None and reasoning.content is None
    assert response.output_text == ANSWER  # the summary is not output text
    assert response.reasoning.effort == "medium" and response.reasoning.summary == summary
    details = response.usage.output_tokens_details.reasoning_tokens
    assert details > 0 and plain.usage.output_tokens_details.reasoning_tokens == 0
    assert response.usage.output_tokens == plain.usage.output_tokens + details
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_responses_reasoning_summary_stream_events_in_order(oai):
    events = list(respond(oai, reasoning={"effort": "low", "summary": "auto"}, stream=True))
    kinds = [e.type for e in events]
    deltas = kinds.count("response.reasoning_summary_text.delta")
    assert deltas > 1
    text_deltas = kinds.count("response.output_text.delta")
    assert kinds == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * deltas,
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", *["response.output_text.delta"] * text_deltas,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added, done = events[2], events[6 + deltas]
    assert added.output_index == 0 and added.item.type == "reasoning" and added.item.summary == []
    assert added.item.status == "in_progress"
    assert done.output_index == 0 and done.item.id == added.item.id and done.item.status == "completed"
    assert [(s.type, s.text) for s in done.item.summary] == [("summary_text", THOUGHT)]
    summary_events = events[3:6 + deltas]
    assert all(e.item_id == added.item.id and e.output_index == 0 and e.summary_index == 0 for e in summary_events)
    assert (events[3].part.type, events[3].part.text) == ("summary_text", "")
    assert "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta") == THOUGHT
    assert events[4 + deltas].text == THOUGHT
    assert (events[5 + deltas].part.type, events[5 + deltas].part.text) == ("summary_text", THOUGHT)
    message_added = events[7 + deltas]
    assert message_added.output_index == 1 and message_added.item.type == "message"
    final = events[-1].response
    assert [item.id for item in final.output] == [added.item.id, message_added.item.id]
    assert final.usage.output_tokens_details.reasoning_tokens > 0


def test_responses_stream_helper_final_response_equals_the_unstreamed_one(oai):
    reasoning = {"effort": "high", "summary": "detailed"}
    created = respond(oai, reasoning=reasoning)
    with oai.responses.stream(model="o4-mini", input="ponder this", reasoning=reasoning) as stream:
        summary = "".join(e.delta for e in stream if e.type == "response.reasoning_summary_text.delta")
        final = stream.get_final_response()
    assert summary == THOUGHT
    assert without_ids(final) == without_ids(created)
    assert final.output[0].summary[0].text == THOUGHT and final.output_text == ANSWER


def test_responses_without_a_summary_the_item_is_empty(oai):
    response = respond(oai, reasoning={"effort": "low"})
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary == [] and response.usage.output_tokens_details.reasoning_tokens > 0
    events = list(respond(oai, reasoning={"effort": "low"}, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.output_item.done"]
    assert not any(k.startswith("response.reasoning_summary") for k in kinds)
    assert events[3].item.summary == [] and without_ids(events[-1].response) == without_ids(response)


def test_responses_effort_none_means_no_reasoning(oai):
    response = respond(oai, reasoning={"effort": "none"})
    assert [item.type for item in response.output] == ["message"]
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert response.usage.output_tokens == respond(oai).usage.output_tokens


def test_responses_a_rules_reasoning_token_count_wins(oai):
    response = respond(oai, "counted", reasoning={"effort": "low", "summary": "auto"})
    assert response.usage.output_tokens_details.reasoning_tokens == 77


@pytest.mark.parametrize("reasoning,param", [
    ({"effort": "extreme"}, "reasoning.effort"),
    ({"summary": "verbose"}, "reasoning.summary"),
    ({"generate_summary": True}, "reasoning.generate_summary"),
])
def test_responses_bad_reasoning_is_a_400(oai, reasoning, param):
    with pytest.raises(openai.BadRequestError) as info:
        respond(oai, reasoning=reasoning)
    assert info.value.param == param and info.value.code == "invalid_value"
    assert "Supported values are:" in info.value.message
    assert respond(oai, reasoning={"summary": "auto"}).output[0].summary[0].text == THOUGHT  # still serving


# --------------------------------------------------------------------------- OpenAI chat completions


def chat(client, text="ponder this", **kw):
    return client.chat.completions.create(model="o4-mini", messages=ask(text), **kw)


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high"])
def test_chat_reports_reasoning_tokens_and_never_the_thinking(oai, effort):
    plain = chat(oai)
    completion = chat(oai, reasoning_effort=effort)
    assert completion.choices[0].message.content == ANSWER
    reasoning = completion.usage.completion_tokens_details.reasoning_tokens
    assert reasoning > 0 and plain.usage.completion_tokens_details.reasoning_tokens == 0
    # As the real API: completion tokens include the reasoning tokens.
    assert completion.usage.completion_tokens == plain.usage.completion_tokens + reasoning
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_stream_with_reasoning_shows_only_the_answer(oai):
    chunks = list(chat(oai, reasoning_effort="low", stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert not any("weigh" in c.model_dump_json() for c in chunks)
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == chat(
        oai, reasoning_effort="low").usage.completion_tokens_details.reasoning_tokens > 0


def test_chat_without_reasoning_effort_or_with_none_no_reasoning_tokens(oai):
    for kw in ({}, {"reasoning_effort": "none"}):
        completion = chat(oai, **kw)
        assert completion.choices[0].message.content == ANSWER
        assert completion.usage.completion_tokens_details.reasoning_tokens == 0
    assert chat(oai, "counted", reasoning_effort="high").usage.completion_tokens_details.reasoning_tokens == 77


def test_chat_bad_reasoning_effort_is_a_400(oai):
    with pytest.raises(openai.BadRequestError) as info:
        chat(oai, reasoning_effort="extreme")
    assert info.value.param == "reasoning_effort" and info.value.code == "invalid_value"
    assert info.value.body["message"].startswith("Invalid value: 'extreme'. Supported values are: 'none', 'minimal'")
    assert chat(oai, reasoning_effort="low").choices[0].message.content == ANSWER  # still serving


# --------------------------------------------------------------------------- Gemini


MODEL = "gemini-2.5-flash"
SHOW = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))


def generate(client, text="ponder this", config=None):
    return client.models.generate_content(model=MODEL, contents=text, config=config)


def test_gemini_thought_parts_before_the_answer(gemini):
    response = generate(gemini, config=SHOW)
    parts = response.candidates[0].content.parts
    assert [(p.thought, p.text) for p in parts] == [(True, THOUGHT), (None, ANSWER)]
    assert response.text == ANSWER  # the SDK leaves thoughts out of the text
    usage = response.usage_metadata
    assert usage.thoughts_token_count == tokens.count(THOUGHT)
    assert usage.candidates_token_count == tokens.count(ANSWER)
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count


def test_gemini_thoughts_stream_in_chunks_of_their_own(gemini):
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="ponder this", config=SHOW))
    kinds = []
    for chunk in chunks:
        parts = chunk.candidates[0].content.parts or []
        flags = {bool(p.thought) for p in parts if p.text}
        assert len(flags) <= 1  # a chunk is all thought or all answer
        kinds.append("thought" if flags == {True} else "answer" if flags else "end")
    thoughts = kinds.count("thought")
    assert thoughts > 1 and kinds[:thoughts] == ["thought"] * thoughts  # thoughts first
    assert "thought" not in kinds[thoughts:]
    thought_text = "".join(p.text for c in chunks for p in c.candidates[0].content.parts or [] if p.thought)
    assert thought_text == THOUGHT
    assert "".join(c.text or "" for c in chunks) == ANSWER
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.thoughts_token_count == tokens.count(THOUGHT)


def test_gemini_without_include_thoughts_thoughts_are_counted_not_shown(gemini):
    shown = generate(gemini, config=SHOW)
    for config in (None, types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=1024))):
        response = generate(gemini, config=config)
        assert [(p.thought, p.text) for p in response.candidates[0].content.parts] == [(None, ANSWER)]
        assert response.usage_metadata.model_dump() == shown.usage_metadata.model_dump()
        chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="ponder this", config=config))
        assert not any(p.thought for c in chunks for p in c.candidates[0].content.parts or [])
        assert chunks[-1].usage_metadata.thoughts_token_count == tokens.count(THOUGHT)


def test_gemini_a_zero_budget_turns_thinking_off(gemini):
    off = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0, include_thoughts=True))
    response = generate(gemini, config=off)
    assert [(p.thought, p.text) for p in response.candidates[0].content.parts] == [(None, ANSWER)]
    assert response.usage_metadata.thoughts_token_count is None
    assert response.usage_metadata.total_token_count == (response.usage_metadata.prompt_token_count
                                                         + tokens.count(ANSWER))


@pytest.mark.parametrize("thinking_config,where", [
    ({"includeThoughts": "yes"}, "thinkingConfig.includeThoughts"),
    ({"thinkingBudget": "lots"}, "thinkingConfig.thinkingBudget"),
    ({"thinkingLevel": 3}, "thinkingConfig.thinkingLevel"),
    ("on", "thinkingConfig"),
])
def test_gemini_bad_thinking_config_is_a_400(server, gemini, thinking_config, where):
    # The SDK checks these types itself, so the body goes out as a raw request.
    body = {"contents": [{"role": "user", "parts": [{"text": "ponder this"}]}],
            "generationConfig": {"thinkingConfig": thinking_config}}
    r = httpx.post(f"{server.url}/v1beta/models/{MODEL}:generateContent", json=body,
                   headers={"x-goog-api-key": "gemini-test"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and where in error["message"]
    assert generate(gemini, config=SHOW).text == ANSWER  # still serving
