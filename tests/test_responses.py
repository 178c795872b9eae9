"""OpenAI Responses API through the official SDK: create, stream helpers, stored state, errors."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai.types.responses import ResponseFailedEvent

from fakellm.model import ErrorInfo
from fakellm.providers.openai.responses import OpenAIResponses, failed_event
from helpers import Served, app_from, async_openai_client, openai_client, raw_client

AGENT = """
rules:
  - name: ask_weather
    when: {api: openai.responses, turn: 1, tools_include: get_weather}
    respond:
      tool_calls:
        - {name: get_weather, arguments: {city: Paris}}
  - name: summarize
    when: {turn: 2, tool_result_contains: "20C"}
    respond: {content: "It is 20C in Paris."}
  - name: be_brief
    when: {system_contains: "pirate"}
    respond: {content: "Arr, ahoy there matey, the seas be calm today and the wind be fair."}
  - name: think
    when: {messages_contain: "think"}
    respond: {thinking: "Let me consider the options.", content: "Option B."}
  - name: limited
    when: {header.x-test: rate}
    respond: {status: 429, error: "Slow down", headers: {retry-after: "0"}}
  - name: greet
    respond: {content: "Hello from fakellm."}
"""

TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
          "strict": False}]


@pytest.fixture
def app():
    return app_from(AGENT)


@pytest.fixture
def client(app):
    return openai_client(app)


def test_string_input_gives_output_text_and_usage(client):
    response = client.responses.create(model="gpt-4o-mini", input="Say hello")
    assert response.output_text == "Hello from fakellm."
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4o-mini"
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response._request_id.startswith("req_")


def test_instructions_are_the_system_prompt(client):
    response = client.responses.create(model="gpt-4o", instructions="Talk like a pirate", input="hi")
    assert response.output_text.startswith("Arr")
    assert response.instructions == "Talk like a pirate"


def test_function_call_then_tool_output_in_items(client):
    """An agent loop that resends the whole history as items."""
    items: list = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.responses.create(model="gpt-4o", input=items, tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert calls[0].call_id and calls[0].id
    items += [item.model_dump(exclude_none=True) for item in first.output]
    items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "20C and sunny"})
    second = client.responses.create(model="gpt-4o", input=items, tools=TOOLS)
    assert second.output_text == "It is 20C in Paris."
    assert not [item for item in second.output if item.type == "function_call"]


def test_assistant_output_text_history_counts_as_a_turn(client):
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "20C"}]},
    ]
    assert client.responses.create(model="gpt-4o", input=items, tools=TOOLS).output_text == "It is 20C in Paris."


def test_max_output_tokens_makes_the_response_incomplete(client):
    response = client.responses.create(model="gpt-4o", instructions="pirate", input="hi", max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage.output_tokens <= 3
    assert response.output_text and "Arr, ahoy there matey".startswith(response.output_text.rstrip())


def test_create_stream_yields_typed_events_in_order(client):
    events = list(client.responses.create(model="gpt-4o", input="hello", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert {e.response.id for e in events if hasattr(e, "response")} == {events[0].response.id}
    assert events[0].response.status == "in_progress"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello from fakellm."
    assert events[-1].response.output_text == text
    assert events[-1].response.usage.output_tokens > 0


def test_stream_helper_final_response_with_text(client):
    with client.responses.stream(model="gpt-4o", input="hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Hello from fakellm."
    assert final.output_text == "Hello from fakellm."
    assert final.status == "completed"


def test_stream_helper_with_function_call(client):
    with client.responses.stream(model="gpt-4o", input="weather in Paris?", tools=TOOLS) as stream:
        snapshots = [e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert snapshots and snapshots[-1] == call.arguments


def test_stream_incomplete_ends_with_response_incomplete(client):
    with client.responses.stream(model="gpt-4o", instructions="pirate", input="hi", max_output_tokens=2) as stream:
        events = list(stream)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    with pytest.raises(RuntimeError, match="response.completed"):
        stream.get_final_response()


def test_reasoning_summary_when_asked(client):
    plain = client.responses.create(model="o4-mini", input="think about it")
    assert [item.type for item in plain.output] == ["message"]
    response = client.responses.create(model="o4-mini", input="think about it",
                                       reasoning={"effort": "low", "summary": "auto"})
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary[0].text == "Let me consider the options."
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    with client.responses.stream(model="o4-mini", input="think about it",
                                 reasoning={"effort": "low", "summary": "auto"}) as stream:
        summary = "".join(e.delta for e in stream if e.type == "response.reasoning_summary_text.delta")
        final = stream.get_final_response()
    assert summary == "Let me consider the options."
    assert final.output_text == "Option B."


def test_async_stream(app):
    async def run():
        client = async_openai_client(app)
        async with client.responses.stream(model="gpt-4o", input="hello") as stream:
            async for _ in stream:
                pass
            return await stream.get_final_response()

    assert asyncio.run(run()).output_text == "Hello from fakellm."


# -- stored responses


def test_retrieve_and_delete(client):
    created = client.responses.create(model="gpt-4o", input="hello")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    assert client.responses.delete(created.id) is None
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(created.id)
    assert created.id in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_streamed_responses_are_stored_too(client):
    with client.responses.stream(model="gpt-4o", input="hello") as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == "Hello from fakellm."


def test_input_items_list_the_request_input(client):
    created = client.responses.create(model="gpt-4o", input=[
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "20C"},
    ])
    newest_first = list(client.responses.input_items.list(created.id))
    assert [item.type for item in newest_first] == ["function_call_output", "function_call", "message"]
    assert newest_first[2].content[0].text == "weather?" and newest_first[2].role == "user"
    assert len({item.id for item in newest_first}) == 3
    page = client.responses.input_items.list(created.id, order="asc", limit=2)
    assert [item.type for item in page.data] == ["message", "function_call"] and page.has_more is True
    assert [item.id for item in client.responses.input_items.list(created.id, order="asc", limit=2)] == \
        [item.id for item in reversed(newest_first)]  # auto-pagination follows `after`
    single = client.responses.create(model="gpt-4o", input="just text")
    assert [item.content[0].text for item in client.responses.input_items.list(single.id)] == ["just text"]


@pytest.mark.parametrize("params", [{"order": "sideways"}, {"limit": 0}, {"limit": 101}, {"after": "msg_nope"}])
def test_input_items_bad_query_is_a_400(client, params):
    created = client.responses.create(model="gpt-4o", input="hello")
    with pytest.raises(openai.BadRequestError):
        client.responses.input_items.list(created.id, **params)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_missing")


def test_store_false_is_not_kept(client):
    created = client.responses.create(model="gpt-4o", input="hello", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)


def test_previous_response_id_continues_the_conversation(client):
    """Only the new items are sent; the stored history gives turn 2 and the tool result."""
    first = client.responses.with_raw_response.create(model="gpt-4o", input="What's the weather in Paris?",
                                                      tools=TOOLS)
    parsed = first.parse()
    call = parsed.output[0]
    assert call.type == "function_call"
    second = client.responses.with_raw_response.create(
        model="gpt-4o", previous_response_id=parsed.id, tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "20C"}],
    )
    assert second.parse().output_text == "It is 20C in Paris."
    assert second.parse().previous_response_id == parsed.id
    conversation = first.headers["x-fakellm-conversation-id"]
    assert second.headers["x-fakellm-conversation-id"] == conversation
    # A third link: the tool result is still in the history.
    third = client.responses.with_raw_response.create(model="gpt-4o", previous_response_id=second.parse().id,
                                                      input="thanks")
    assert third.headers["x-fakellm-conversation-id"] == conversation


def test_previous_response_id_history_counts_for_turns():
    app = app_from("""
rules:
  - when: {turn: 1}
    respond: {content: "first"}
  - when: {turn: 3, messages_contain: "alpha"}
    respond: {content: "third, and I remember alpha"}
  - when: {turn: 2}
    respond: {content: "second"}
""")
    client = openai_client(app)
    a = client.responses.create(model="m", input="alpha")
    b = client.responses.create(model="m", input="beta", previous_response_id=a.id)
    c = client.responses.create(model="m", input="gamma", previous_response_id=b.id)
    assert (a.output_text, b.output_text, c.output_text) == ("first", "second", "third, and I remember alpha")


def test_unknown_previous_response_id_is_a_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_nope")
    assert info.value.param == "previous_response_id"
    assert "resp_nope" in info.value.message
    assert client.responses.create(model="gpt-4o", input="hello").output_text == "Hello from fakellm."


def test_unknown_response_id_is_a_404(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")
    with pytest.raises(openai.NotFoundError):
        client.responses.delete("resp_missing")


def test_store_is_bounded():
    client = openai_client(app_from({"defaults": {"max_responses": 2}}))
    ids = [client.responses.create(model="m", input=f"q{i}").id for i in range(3)]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(ids[0])
    assert client.responses.retrieve(ids[2]).id == ids[2]


def test_admin_reset_forgets_stored_responses(app, client):
    created = client.responses.create(model="gpt-4o", input="hello")
    assert raw_client(app).post("/_fakellm/reset").status_code == 200
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_input_tokens_count_matches_usage(client):
    kwargs = dict(model="gpt-4o", instructions="be nice", input=[
        {"role": "user", "content": "What's the weather in Paris today, please?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "20C and sunny all day long"},
    ])
    counted = client.responses.input_tokens.count(**kwargs)
    assert counted.object == "response.input_tokens"
    assert counted.input_tokens == client.responses.create(**kwargs).usage.input_tokens


# -- errors


def test_rule_error_status_raises_the_sdk_exception(client):
    limited = client.with_options(default_headers={"x-test": "rate"})
    with pytest.raises(openai.RateLimitError) as info:
        limited.responses.create(model="gpt-4o", input="hi")
    assert info.value.message.endswith("Slow down")
    assert info.value.type == "requests"
    with pytest.raises(openai.RateLimitError):
        with limited.responses.stream(model="gpt-4o", input="hi") as stream:
            list(stream)


def test_failed_event_parses_as_response_failed():
    adapter = OpenAIResponses()
    request = adapter.parse({"model": "gpt-4o", "input": "hi", "store": False}, {}, "/v1/responses", {})
    raw = failed_event(ErrorInfo("The server had an error"), request, "abc", 7)
    event_line, data_line = raw.decode().strip().split("\n")
    assert event_line == "event: response.failed"
    event = ResponseFailedEvent.model_validate(json.loads(data_line.removeprefix("data: ")))
    assert event.sequence_number == 7
    assert event.response.id == "resp_abc" and event.response.status == "failed"
    assert event.response.error.code == "server_error"
    assert event.response.error.message == "The server had an error"
    limited = failed_event(ErrorInfo("slow"), request, "abc", 3, status=429)
    assert json.loads(limited.decode().split("data: ", 1)[1])["response"]["error"]["code"] == "rate_limit_exceeded"


FAULTS = """
rules:
  - when: {messages_contain: fail}
    respond:
      content: "one two three four five six seven eight"
      fault: {type: error_event, after_chunks: 2, status: 500, error: "Backend exploded"}
"""


def test_error_event_fault_ends_the_stream_with_response_failed():
    client = openai_client(app_from(FAULTS))
    with client.responses.stream(model="gpt-4o", input="please fail") as stream:
        events = list(stream)
    created, failed = events[0], events[-1]
    assert failed.type == "response.failed"
    assert failed.response.id == created.response.id
    assert failed.response.error.message == "Backend exploded"
    assert failed.response.error.code == "server_error"
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(set(numbers))
    assert len([e for e in events if e.type == "response.output_text.delta"]) == 2
    with pytest.raises(RuntimeError):
        stream.get_final_response()
    typed = list(client.responses.create(model="gpt-4o", input="please fail", stream=True))
    assert isinstance(typed[-1], ResponseFailedEvent)


@pytest.mark.parametrize("body, fragment", [
    ({"input": "hi"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": 3, "input": "hi"}, "model"),
    ({"model": "m", "input": 42}, "input"),
    ({"model": "m", "input": [42]}, "input[0]"),
    ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": [{"role": "user"}]}, "input[0].content"),
    ({"model": "m", "input": [{"role": "user", "content": [{"text": "no type"}]}]}, "input[0].content[0]"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]}, "text"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "call_id"),
    ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}, "output"),
    ({"model": "m", "input": [{"type": 7}]}, "type"),
    ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": "m", "input": "hi", "tools": "all"}, "tools"),
    ({"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
    ({"model": "m", "input": "hi", "instructions": ["x"]}, "instructions"),
    ({"model": "m", "input": "hi", "previous_response_id": 5}, "previous_response_id"),
    ({"model": "m", "input": "hi", "include": "reasoning.encrypted_content"}, "include"),
    ({"model": "m", "input": "hi", "include": [7]}, "include[0]"),
    ({"model": "m", "input": [{"type": "item_reference"}]}, "input[0].id"),
    ({"model": "m", "input": [{"type": "reasoning", "summary": []}]}, "input[0].id"),
    ({"model": "m", "input": [{"type": "reasoning", "id": "rs_1", "encrypted_content": 5}]}, "encrypted_content"),
])
def test_bad_input_is_a_400(client, body, fragment):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/responses", body=body, cast_to=object)
    assert info.value.status_code == 400
    assert fragment in info.value.message
    assert client.responses.create(model="gpt-4o", input="hello").output_text == "Hello from fakellm."


def test_malformed_json_and_wrong_methods(app):
    http = raw_client(app)
    bad = http.post("/v1/responses", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "error" in bad.json()
    not_object = http.post("/v1/responses", json=["model"])
    assert not_object.status_code == 400
    wrong = http.put("/v1/responses/resp_1", json={})
    assert wrong.status_code == 405 and wrong.json()["error"]["message"]
    bad_count = http.post("/v1/responses/input_tokens", content=b"[", headers={"content-type": "application/json"})
    assert bad_count.status_code == 400 and bad_count.json()["error"]["type"] == "invalid_request_error"
    assert http.get("/_fakellm/health").status_code == 200


def test_journal_names_the_api(app, client):
    client.responses.create(model="gpt-4o", input="hello")
    entries = raw_client(app).get("/_fakellm/requests", params={"api": "openai.responses"}).json()["requests"]
    assert [(e["api"], e["path"], e["rule"]) for e in entries] == [("openai.responses", "/v1/responses", "greet")]


def test_over_a_real_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(AGENT)
    with Served("--config", str(config)) as server:
        client = server.openai()
        with client.responses.stream(model="gpt-4o", input="weather in Paris?", tools=TOOLS) as stream:
            final = stream.get_final_response()
        call = final.output[0]
        follow = client.responses.create(
            model="gpt-4o", previous_response_id=final.id, tools=TOOLS,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "20C"}])
        assert follow.output_text == "It is 20C in Paris."


# --------------------------------------------------------------------------- reasoning items and store: false

ENCRYPTED = ["reasoning.encrypted_content"]


def test_reasoning_item_without_a_summary_when_only_effort_is_set(client):
    response = client.responses.create(model="o4-mini", input="think about it", reasoning={"effort": "low"})
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary == [] and response.output[0].encrypted_content is None
    with client.responses.stream(model="o4-mini", input="think about it", reasoning={"effort": "low"}) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" not in kinds
    assert final.output[0].type == "reasoning" and final.output_text == "Option B."


@pytest.mark.parametrize("stream", [False, True])
def test_included_encrypted_content_is_deterministic_and_accepted_back(client, stream):
    def create(**kw):
        if not stream:
            return client.responses.create(**kw)
        with client.responses.stream(**kw) as events:
            return events.get_final_response()

    first = create(model="o4-mini", input="think about it", store=False, include=ENCRYPTED,
                   reasoning={"effort": "low", "summary": "auto"})
    again = create(model="o4-mini", input="think about it", store=False, include=ENCRYPTED,
                   reasoning={"effort": "low", "summary": "auto"})
    reasoning = first.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Let me consider the options."
    assert isinstance(reasoning.encrypted_content, str) and reasoning.encrypted_content
    assert again.output[0].encrypted_content == reasoning.encrypted_content  # deterministic
    assert "Let me consider" not in reasoning.encrypted_content  # opaque
    # A client with store: false sends the item back, by value, on its next turn.
    follow_up = client.responses.create(model="o4-mini", store=False, include=ENCRYPTED, input=[
        {"role": "user", "content": "think about it"},
        reasoning.model_dump(exclude_none=True),
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "and then?"},
    ])
    assert follow_up.output_text == "Option B."


def test_encrypted_content_fakellm_did_not_make_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="o4-mini", input=[
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "gAAAAAtampered"}])
    assert "could not be verified" in info.value.message and info.value.code == "invalid_encrypted_content"
    assert client.responses.create(model="gpt-4o", input="still serving").output_text == "Hello from fakellm."


def test_an_unpersisted_item_given_by_id_alone_is_the_apis_404(client):
    """As the real API answers when a store: false client resends a reasoning item without its
    encrypted content (the Vercel AI SDK's and the Agents SDK's failure mode)."""
    first = client.responses.create(model="o4-mini", input="think about it", store=False,
                                    reasoning={"effort": "low", "summary": "auto"})
    reasoning = first.output[0]
    assert reasoning.encrypted_content is None
    for item in (reasoning.model_dump(exclude_none=True), {"type": "item_reference", "id": first.output[1].id}):
        with pytest.raises(openai.NotFoundError) as info:
            client.responses.create(model="o4-mini", store=False, input=[
                {"role": "user", "content": "think about it"}, item, {"role": "user", "content": "and then?"}])
        assert info.value.body["message"] == (
            f"Item with id '{item['id']}' not found. Items are not persisted when `store` is set to false. "
            f"Try again with `store` set to true, or remove this item from your input.")
    # Once the response is stored, the same references resolve.
    stored = client.responses.create(model="o4-mini", input="think about it",
                                     reasoning={"effort": "low", "summary": "auto"})
    reply = client.responses.create(model="o4-mini", input=[
        {"role": "user", "content": "think about it"}, stored.output[0].model_dump(exclude_none=True),
        {"type": "item_reference", "id": stored.output[1].id}, {"role": "user", "content": "and then?"}])
    assert reply.output_text == "Option B."


def test_an_item_reference_brings_the_stored_answer_into_the_history(app, client):
    """The Vercel AI SDK resends earlier assistant output as item references when store is on:
    they count as the assistant's turn."""
    first = client.responses.create(model="gpt-4o", input="hello")
    client.responses.create(model="gpt-4o", input=[
        {"role": "user", "content": "hello"}, {"type": "item_reference", "id": first.output[0].id},
        {"role": "user", "content": "and again"}])
    turns = [entry["turn"] for entry in raw_client(app).get("/_fakellm/requests").json()["requests"]]
    assert turns[-2:] == [1, 2]
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": first.output[0].id}])
