"""The OpenAI Agents SDK (`openai-agents`) against fakellm, on the Responses API.

Each test builds an agent the way an app would, points its OpenAI client at the
`fakellm` fixture's server and checks both sides: what the SDK returns (final
output, the parsed pydantic object, the tool having run, stream events) and, in
fakellm's journal, which rule answered each request at which turn. Rules run
strict, so a request no rule matched fails the test instead of getting the echo.

The SDK exports traces to api.openai.com whatever the client's base URL, so
tracing is switched off here, and a guard fails any test that tries to reach a
host other than the loopback.
"""

from __future__ import annotations

import asyncio

import openai
import pytest
from agents import (
    Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool, set_default_openai_api,
    set_default_openai_client, set_tracing_disabled,
)
from agents.models import _openai_shared  # only to restore the SDK's defaults after one test
from openai.types.shared import Reasoning
from pydantic import BaseModel

set_tracing_disabled(True)  # overrides OPENAI_AGENTS_DISABLE_TRACING either way

MODEL = "gpt-4.1-mini"
QUESTION = "What's the weather in Paris?"
SUMMARY = "It is sunny and 22C in Paris today."
TOOL_OUTPUT = "sunny and 22C in Paris"

# The summary rule comes first and does not say `turn: 2`: only the tool result in the
# request itself may select it, so a run that has not called the tool yet must skip it.
WEATHER_RULES = [
    {"name": "weather_summary", "when": {"tool_result_contains": "sunny"}, "respond": {"content": SUMMARY}},
    {"name": "weather_call", "when": {"turn": 1, "messages_contain": "weather"},
     "respond": {"thinking": "I should call the weather tool.",
                 "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
]
CHAT_RULES = [
    {"name": "follow_up", "when": {"turn": 2, "last_message_contains": "and tomorrow"},
     "respond": {"content": "Tomorrow it rains."}},
    {"name": "city_json", "when": {"system_contains": "extract", "last_message_contains": "capital"},
     "respond": {"content": '{"name": "Paris", "population": 2100000}'}},
    {"name": "greeting", "when": {"turn": 1, "last_message_contains": "hello"},
     "respond": {"content": "Hello there, friend."}},
]
STORE = pytest.mark.parametrize("store", [None, False], ids=["store-default", "store-false"])


class City(BaseModel):
    name: str
    population: int




def responses_model(fakellm) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(MODEL, openai.AsyncOpenAI(base_url=fakellm.openai_base_url, api_key="test"))


def weather_agent(fakellm, store=None, **settings):
    """An agent with a `get_weather` tool; returns it and the list of cities the tool was run for."""
    cities: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        cities.append(city)
        return f"sunny and 22C in {city}"

    agent = Agent(name="weather", instructions="Answer weather questions with the tool.", tools=[get_weather],
                  model=responses_model(fakellm), model_settings=ModelSettings(store=store, **settings))
    return agent, cities


def rules_and_turns(fakellm) -> list[tuple[str | None, int]]:
    return [(r.rule, r.turn) for r in fakellm.requests]


def assert_weather_loop(fakellm, result, cities):
    assert result.final_output == SUMMARY
    assert cities == ["Paris"]
    assert [item.output for item in result.new_items if item.type == "tool_call_output_item"] == [TOOL_OUTPUT]
    assert rules_and_turns(fakellm)[-2:] == [("weather_call", 1), ("weather_summary", 2)]


@STORE
@pytest.mark.fakellm(rules=CHAT_RULES, strict=True)
def test_plain_run_answers_with_the_rule_and_stores_unless_store_false(fakellm, store):
    agent = Agent(name="greeter", model=responses_model(fakellm), model_settings=ModelSettings(store=store))
    result = asyncio.run(Runner.run(agent, "hello"))

    assert result.final_output == "Hello there, friend."
    assert rules_and_turns(fakellm) == [("greeting", 1)]
    assert fakellm.requests[0].request.get("store", True) is (store is None)
    client = openai.OpenAI(base_url=fakellm.openai_base_url, api_key="test")
    if store is None:
        assert client.responses.retrieve(result.last_response_id).output_text == "Hello there, friend."
    else:
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(result.last_response_id)


@pytest.mark.fakellm(rules=CHAT_RULES, strict=True)
def test_run_sync_through_the_sdk_default_client(fakellm):
    saved = _openai_shared.get_default_openai_client(), _openai_shared.get_use_responses_by_default()
    set_default_openai_client(openai.AsyncOpenAI(base_url=fakellm.openai_base_url, api_key="test"),
                              use_for_tracing=False)
    set_default_openai_api("responses")
    try:
        result = Runner.run_sync(Agent(name="greeter", model=MODEL), "hello")
    finally:
        _openai_shared.set_default_openai_client(saved[0])
        _openai_shared.set_use_responses_by_default(saved[1])

    assert result.final_output == "Hello there, friend."
    assert [(r.api, r.rule) for r in fakellm.requests] == [("openai.responses", "greeting")]


@pytest.mark.parametrize("mode", ["resend", "store-false", "chained"])
@pytest.mark.fakellm(rules=WEATHER_RULES, strict=True)
def test_tool_loop_runs_the_tool_then_summarizes(fakellm, mode):
    agent, cities = weather_agent(fakellm, store=False if mode == "store-false" else None)
    result = asyncio.run(Runner.run(agent, QUESTION, auto_previous_response_id=mode == "chained"))

    assert_weather_loop(fakellm, result, cities)
    fakellm.assert_tool_called("get_weather", arguments={"city": "Paris"}, times=1)
    first, second = (r.request for r in fakellm.requests)
    first_id = result.raw_responses[0].response_id
    if mode == "chained":  # turn 2 sends only the tool result; fakellm supplies the rest from its store
        assert second["previous_response_id"] == first_id
        assert [item["type"] for item in second["input"]] == ["function_call_output"]
    else:  # the whole conversation travels again, with no reference to the stored response
        assert "previous_response_id" not in second
        assert [item.get("type", "message") for item in second["input"]] == [
            "message", "function_call", "function_call_output"]
        assert second.get("store", True) is first.get("store", True) is (mode == "resend")


@pytest.mark.fakellm(rules=WEATHER_RULES, strict=True)
def test_streamed_tool_loop_emits_items_and_text_deltas(fakellm):
    agent, cities = weather_agent(fakellm)

    async def run():
        streamed = Runner.run_streamed(agent, QUESTION)
        names, deltas = [], []
        async for event in streamed.stream_events():
            if event.type == "run_item_stream_event":
                names.append(event.name)
            elif event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                deltas.append(event.data.delta)
        return streamed, names, deltas

    streamed, names, deltas = asyncio.run(run())
    assert names == ["tool_called", "tool_output", "message_output_created"]
    assert len(deltas) > 1 and "".join(deltas) == SUMMARY
    assert streamed.final_output == SUMMARY and cities == ["Paris"]
    assert [(r.rule, r.turn, r.stream) for r in fakellm.requests] == [
        ("weather_call", 1, True), ("weather_summary", 2, True)]


@STORE
@pytest.mark.fakellm(rules=CHAT_RULES, strict=True)
def test_structured_output_parses_into_the_pydantic_model(fakellm, store):
    agent = Agent(name="extractor", instructions="Extract the city.", output_type=City,
                  model=responses_model(fakellm), model_settings=ModelSettings(store=store))
    result = asyncio.run(Runner.run(agent, "Which city is the capital of France?"))

    assert result.final_output == City(name="Paris", population=2100000)
    assert rules_and_turns(fakellm) == [("city_json", 1)]
    text_format = fakellm.requests[0].request["text"]["format"]
    assert text_format["type"] == "json_schema" and text_format["strict"] is True
    assert text_format["schema"]["required"] == ["name", "population"]


@pytest.mark.fakellm(rules=CHAT_RULES, strict=True)
def test_second_user_turn_chains_with_previous_response_id(fakellm):
    agent = Agent(name="chat", model=responses_model(fakellm))

    async def two_user_turns():  # one event loop: the client's connections belong to it
        first = await Runner.run(agent, "hello")
        return first, await Runner.run(agent, "and tomorrow?", previous_response_id=first.last_response_id)

    first, second = asyncio.run(two_user_turns())

    assert (first.final_output, second.final_output) == ("Hello there, friend.", "Tomorrow it rains.")
    assert rules_and_turns(fakellm) == [("greeting", 1), ("follow_up", 2)]
    one, two = fakellm.requests
    assert two.request["previous_response_id"] == first.last_response_id
    assert two.request["input"] == [{"role": "user", "content": "and tomorrow?"}]
    assert one.conversation_id == two.conversation_id


@pytest.mark.fakellm(rules=CHAT_RULES, strict=True)
def test_a_store_false_response_cannot_be_chained(fakellm):
    agent = Agent(name="chat", model=responses_model(fakellm), model_settings=ModelSettings(store=False))

    async def chain_from_unstored():
        first = await Runner.run(agent, "hello")
        await Runner.run(agent, "and tomorrow?", previous_response_id=first.last_response_id)

    with pytest.raises(openai.NotFoundError, match="not found"):
        asyncio.run(chain_from_unstored())
    assert fakellm.requests[0].rule == "greeting"
    assert "follow_up" not in [r.rule for r in fakellm.requests]


@pytest.mark.fakellm(rules=WEATHER_RULES, strict=True)
def test_store_false_reasoning_round_trips_encrypted_content(fakellm):
    agent, cities = weather_agent(fakellm, store=False, reasoning=Reasoning(effort="low", summary="auto"),
                                  response_include=["reasoning.encrypted_content"])
    result = asyncio.run(Runner.run(agent, QUESTION))

    assert_weather_loop(fakellm, result, cities)
    reasoning = [item.raw_item for item in result.new_items if item.type == "reasoning_item"]
    assert [r.summary[0].text for r in reasoning] == ["I should call the weather tool."]
    assert reasoning[0].encrypted_content, "include: reasoning.encrypted_content was asked for"
    resent = [item for item in fakellm.requests[1].request["input"] if item.get("type") == "reasoning"]
    assert [item.get("encrypted_content") for item in resent] == [reasoning[0].encrypted_content]


@pytest.mark.fakellm(rules=WEATHER_RULES, strict=True)
def test_store_false_reasoning_without_encrypted_content_is_a_404_like_openai(fakellm):
    # Without the include the SDK resends the reasoning item by its id alone, which the
    # real API cannot resolve: an unstored item is "not found".
    agent, cities = weather_agent(fakellm, store=False, reasoning=Reasoning(effort="low", summary="auto"))

    with pytest.raises(openai.NotFoundError, match="Items are not persisted when `store` is set to false"):
        asyncio.run(Runner.run(agent, QUESTION))
    assert cities == ["Paris"]  # turn 1 was answered and the tool ran; turn 2 was refused
    assert rules_and_turns(fakellm)[0] == ("weather_call", 1)


@pytest.mark.fakellm(rules=WEATHER_RULES, strict=True)
def test_replaying_the_tool_loop_on_one_server_gives_the_same_answers(fakellm):
    for _ in range(2):
        agent, cities = weather_agent(fakellm)
        assert_weather_loop(fakellm, asyncio.run(Runner.run(agent, QUESTION)), cities)

    # A fresh run with the same first message has no tool result yet: the turn-1 rule
    # must answer (with the tool call, which this agent returns as its output).
    agent, cities = weather_agent(fakellm)
    agent.tool_use_behavior = "stop_on_first_tool"
    result = asyncio.run(Runner.run(agent, QUESTION))
    assert result.final_output == TOOL_OUTPUT and cities == ["Paris"]
    assert rules_and_turns(fakellm) == [("weather_call", 1), ("weather_summary", 2)] * 2 + [("weather_call", 1)]
    fakellm.assert_tool_called("get_weather", arguments={"city": "Paris"}, times=3)
