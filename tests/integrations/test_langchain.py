"""fakellm behind LangChain and LangGraph, used the way an app uses them.

Each chat model class talks to fakellm through its own SDK and wire format:
`ChatOpenAI` (Chat Completions), `ChatOpenAI(use_responses_api=True)` (Responses API)
and `ChatAnthropic` (Messages). For each one this module checks a plain call, a stream,
structured output (`with_structured_output`: OpenAI json_schema, Responses `text.format`,
Anthropic a forced tool call) and a LangGraph ReAct agent that runs a real Python tool
on turn 1 and answers from its result on turn 2.

Every test asserts both what LangChain parsed and returned and, from fakellm's journal,
which rule answered over which API. Rules run strict, so a request no rule matched
fails the test. Clients get only explicit settings (the fixture's SDK environment
variables are removed), and conftest.py fails any test that tries to leave 127.0.0.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent
from pydantic import BaseModel

API_KEY = "test-key"
SDK_ENV = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")
TRACING_ENV = ("LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING", "LANGSMITH_TRACING", "LANGCHAIN_API_KEY", "LANGSMITH_API_KEY")


def strict_rules(*rules: dict[str, Any]) -> pytest.MarkDecorator:
    return pytest.mark.fakellm(rules=list(rules), strict=True)


@dataclass(frozen=True)
class Provider:
    id: str
    api: str  # the endpoint fakellm should see, as its journal names it
    model: str
    make: Callable[..., BaseChatModel]


PROVIDERS = [
    Provider("openai-chat", "openai.chat", "gpt-4o-mini",
             lambda llm, **kw: ChatOpenAI(model="gpt-4o-mini", base_url=llm.openai_base_url, api_key=API_KEY, **kw)),
    Provider("openai-responses", "openai.responses", "gpt-4o-mini",
             lambda llm, **kw: ChatOpenAI(model="gpt-4o-mini", base_url=llm.openai_base_url, api_key=API_KEY,
                                          use_responses_api=True, **kw)),
    Provider("anthropic", "anthropic.messages", "claude-sonnet-4-5",
             lambda llm, **kw: ChatAnthropic(model="claude-sonnet-4-5", base_url=llm.anthropic_base_url,
                                             api_key=API_KEY, **kw)),
]
# The agent also runs over the stateful Responses API: turn 2 sends only the tool
# output and `previous_response_id`, so fakellm's stored history must supply the rest.
AGENT_PROVIDERS = PROVIDERS + [
    Provider("openai-responses-previous-id", "openai.responses", "gpt-4o-mini",
             lambda llm: PROVIDERS[1].make(llm, use_previous_response_id=True)),
]
each_provider = pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.id)


@pytest.fixture(autouse=True)
def no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LangSmith tracing (conftest.py refuses anything beyond 127.0.0.1 besides)."""
    for name in TRACING_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")


@pytest.fixture
def server(fakellm, monkeypatch: pytest.MonkeyPatch):
    """The `fakellm` fixture without its SDK environment variables: clients need explicit settings."""
    for name in SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    return fakellm


def answered(llm) -> list[tuple[str | None, int, str]]:
    """(rule, turn, api) of every request fakellm saw, oldest first."""
    return [(r.rule, r.turn, r.api) for r in llm.requests]


# --------------------------------------------------------------------------- plain call and stream


@each_provider
@strict_rules({"name": "greet", "when": {"last_message_contains": "hello"}, "respond": {"content": "Hi from fakellm!"}})
def test_invoke_returns_the_rule_content(server, provider):
    reply = provider.make(server).invoke("hello, who is there?")

    assert isinstance(reply, AIMessage)
    assert reply.text == "Hi from fakellm!"
    assert reply.usage_metadata["output_tokens"] > 0
    assert answered(server) == [("greet", 1, provider.api)]
    assert server.requests[0].model == provider.model


@each_provider
@strict_rules({"name": "streamed", "when": {"last_message_contains": "stream"},
               "respond": {"content": "One two three four five."}})
def test_stream_yields_the_rule_content_in_several_chunks(server, provider):
    chunks = list(provider.make(server).stream("please stream a sentence"))

    texts = [chunk.text for chunk in chunks]
    assert "".join(texts) == "One two three four five."
    assert len([t for t in texts if t]) > 1, f"not streamed: {texts}"
    assert answered(server) == [("streamed", 1, provider.api)]
    assert server.requests[0].stream is True


# --------------------------------------------------------------------------- structured output


class CityFacts(BaseModel):
    name: str
    population: int
    landmarks: list[str]


PARIS = {"name": "Paris", "population": 2102650, "landmarks": ["Eiffel Tower", "Louvre"]}
# Where each API carries the schema LangChain asked for.
SCHEMA_SENT = {
    "openai.chat": lambda body: body["response_format"]["json_schema"]["name"],
    "openai.responses": lambda body: body["text"]["format"]["name"],
    "anthropic.messages": lambda body: body["tool_choice"]["name"],
}


@each_provider
@strict_rules(
    {"name": "city_as_tool_call", "when": {"api": "anthropic", "tools_include": "CityFacts"},
     "respond": {"tool_calls": [{"name": "CityFacts", "arguments": PARIS}]}},
    {"name": "city_as_json", "when": {"api": "openai", "last_message_contains": "facts about"},
     "respond": {"content": json.dumps(PARIS)}},
)
def test_with_structured_output_parses_the_rule_into_the_pydantic_model(server, provider):
    facts = provider.make(server).with_structured_output(CityFacts).invoke("Give me facts about Paris")

    assert facts == CityFacts(**PARIS)
    expected_rule = "city_as_tool_call" if provider.api == "anthropic.messages" else "city_as_json"
    assert answered(server) == [(expected_rule, 1, provider.api)]
    assert SCHEMA_SENT[provider.api](server.requests[0].request) == "CityFacts"


# --------------------------------------------------------------------------- LangGraph ReAct agent

WEATHER_AGENT_RULES = [
    {"name": "ask_for_weather_tool",
     "when": {"turn": 1, "system_contains": "weather assistant", "last_message_contains": "weather in paris",
              "tools_include": "get_weather"},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "summarize_weather", "when": {"turn": 2, "tool_result_contains": "sunny in Paris"},
     "respond": {"content": "It is 21C and sunny in Paris today."}},
]


def weather_agent(model: BaseChatModel):
    """A ReAct agent with one Python tool; returns the agent and the list of the tool's calls."""
    calls: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return f"21C and sunny in {city}."

    return create_react_agent(model, [get_weather], prompt="You are a weather assistant."), calls


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
@pytest.mark.parametrize("provider", AGENT_PROVIDERS, ids=lambda p: p.id)
@strict_rules(*WEATHER_AGENT_RULES)
def test_react_agent_runs_the_tool_then_answers_from_its_result(server, provider):
    agent, tool_calls = weather_agent(provider.make(server))

    result = agent.invoke({"messages": [HumanMessage(f"What is the weather in Paris? ({provider.id})")]})

    human, call, tool_result, final = result["messages"]
    assert isinstance(human, HumanMessage)
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert tool_calls == ["Paris"]  # LangGraph ran the Python tool with the rule's arguments
    assert isinstance(tool_result, ToolMessage) and tool_result.content == "21C and sunny in Paris."
    assert tool_result.tool_call_id == call.tool_calls[0]["id"]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text == "It is 21C and sunny in Paris today."

    assert answered(server) == [("ask_for_weather_tool", 1, provider.api), ("summarize_weather", 2, provider.api)]
    server.assert_tool_called("get_weather", arguments={"city": "Paris"}, times=1)
    first, second = server.requests
    assert first.conversation_id == second.conversation_id
    assert first.tool_calls[0].id == call.tool_calls[0]["id"]


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
@strict_rules(
    {"name": "think_then_call", "when": {"turn": 1, "last_message_contains": "weather in paris"},
     "respond": {"thinking": "The user wants the weather: call get_weather.",
                 "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "think_then_summarize", "when": {"turn": 2, "tool_result_contains": "sunny in Paris"},
     "respond": {"thinking": "The tool answered.", "content": "Sunny, 21C."}},
)
def test_responses_reasoning_agent_with_store_false_replays_encrypted_reasoning(server):
    """A reasoning model without server-side storage (store=False, as zero-data-retention apps run):
    the reasoning item must come back with `encrypted_content`, and LangChain replays it on turn 2."""
    model = ChatOpenAI(model="o4-mini", base_url=server.openai_base_url, api_key=API_KEY, use_responses_api=True,
                       store=False, include=["reasoning.encrypted_content"],
                       reasoning={"effort": "low", "summary": "auto"})
    agent, tool_calls = weather_agent(model)

    result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris, briefly?")]})

    call, final = result["messages"][1], result["messages"][-1]
    reasoning = [block for block in call.content if block["type"] == "reasoning"]
    assert [s["text"] for s in reasoning[0]["summary"]] == ["The user wants the weather: call get_weather."]
    encrypted = reasoning[0].get("encrypted_content")
    assert isinstance(encrypted, str) and encrypted, f"no encrypted_content in {reasoning[0]}"
    assert tool_calls == ["Paris"]
    assert final.text == "Sunny, 21C."

    assert answered(server) == [("think_then_call", 1, "openai.responses"), ("think_then_summarize", 2, "openai.responses")]
    turn_two_input = server.requests[1].request["input"]
    assert [item.get("encrypted_content") for item in turn_two_input if item.get("type") == "reasoning"] == [encrypted]
