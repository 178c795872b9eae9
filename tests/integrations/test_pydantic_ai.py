"""pydantic-ai driven against fakellm through its public API: an `Agent` on three models.

The models: `OpenAIChatModel` (Chat Completions), `OpenAIResponsesModel` (the Responses API), both
with an `OpenAIProvider(base_url=fakellm.openai_base_url)`, and `AnthropicModel` with an
`AnthropicProvider(base_url=fakellm.anthropic_base_url)` (the root: the SDK appends /v1/messages).
The fixture's SDK environment variables are removed, so those explicit settings are what counts.

For each model: `run_sync` with a plain answer, `run_stream` streaming text, a tool loop with an
`@agent.tool_plain` tool (turn 1 the model calls it, pydantic-ai runs it and sends its result, turn 2
the model summarizes), and `output_type=City`, which pydantic-ai asks for as a call to its
`final_result` tool, so the rule answers with that tool call and pydantic-ai validates it into a City.

Every test checks what the agent returned, and which fakellm rule answered over which API.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from fakellm import FakeLLM

GREETING = "Hello from fakellm!"
STORY = "Once upon a time an agent met a mock server and they lived deterministically ever after."
SUMMARY = "It is sunny and 24C in Paris."
CITY = {"name": "Paris", "population": 2100000}

RULES = [
    {"name": "greeting", "when": {"last_message_contains": "say hello"}, "respond": {"content": GREETING}},
    {"name": "story", "when": {"last_message_contains": "tell me a story"}, "respond": {"content": STORY}},
    {"name": "weather_lookup", "when": {"turn": 1, "tools_include": "get_weather"},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "weather_summary", "when": {"turn": 2, "tool_result_contains": "sunny, 24C in Paris"},
     "respond": {"content": SUMMARY}},
    {"name": "city_final_result", "when": {"tools_include": "final_result"},
     "respond": {"tool_calls": [{"name": "final_result", "arguments": CITY}]}},
]
# strict: a request no rule matches gets a 404 and fails the test.
pytestmark = pytest.mark.fakellm(rules=RULES, strict=True)


class City(BaseModel):
    name: str
    population: int


@dataclass(frozen=True)
class Backend:
    name: str
    api: str  # the fakellm endpoint its requests must arrive at
    build: Callable[[FakeLLM], Model]


BACKENDS = [
    Backend("openai-chat", "openai.chat", lambda llm: OpenAIChatModel(
        "gpt-4o-mini", provider=OpenAIProvider(base_url=llm.openai_base_url, api_key="sk-dummy"))),
    Backend("openai-responses", "openai.responses", lambda llm: OpenAIResponsesModel(
        "gpt-4o-mini", provider=OpenAIProvider(base_url=llm.openai_base_url, api_key="sk-dummy"))),
    Backend("anthropic", "anthropic.messages", lambda llm: AnthropicModel(
        "claude-haiku-4-5", provider=AnthropicProvider(base_url=llm.anthropic_base_url, api_key="sk-ant-dummy"))),
]


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest, fakellm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Each test runs on every model; no SDK environment, so only the explicit base_url reaches fakellm."""
    for name in fakellm.environ():
        monkeypatch.delenv(name, raising=False)
    return request.param


def make_agent(backend: Backend, llm: FakeLLM, **kwargs) -> Agent:
    agent = Agent(backend.build(llm), **kwargs)
    agent.instrument = False  # no logfire / OpenTelemetry spans
    return agent


def fired(llm: FakeLLM) -> list[tuple[str, str | None]]:
    """(API, rule) for each request fakellm answered, oldest first."""
    return [(r.api, r.rule) for r in llm.requests]


def test_run_sync_returns_the_rule_text(fakellm: FakeLLM, backend: Backend) -> None:
    result = make_agent(backend, fakellm).run_sync(f"Please say hello ({backend.name})")

    assert result.output == GREETING
    assert fired(fakellm) == [(backend.api, "greeting")]


def test_run_stream_streams_the_rule_text_in_pieces(fakellm: FakeLLM, backend: Backend) -> None:
    agent = make_agent(backend, fakellm)

    async def stream() -> tuple[list[str], str]:
        async with agent.run_stream(f"Please tell me a story ({backend.name})") as run:
            pieces = [piece async for piece in run.stream_text(delta=True, debounce_by=None)]
            return pieces, await run.get_output()

    pieces, output = asyncio.run(stream())

    assert len(pieces) > 1
    assert "".join(pieces) == STORY
    assert output == STORY
    assert fired(fakellm) == [(backend.api, "story")]
    assert fakellm.requests[0].stream is True


def test_tool_plain_runs_and_its_result_reaches_turn_two(fakellm: FakeLLM, backend: Backend) -> None:
    agent = make_agent(backend, fakellm)
    asked_for: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked_for.append(city)
        return f"sunny, 24C in {city}"

    result = agent.run_sync(f"What's the weather in Paris? ({backend.name})")

    assert asked_for == ["Paris"]
    assert result.output == SUMMARY
    assert fired(fakellm) == [(backend.api, "weather_lookup"), (backend.api, "weather_summary")]
    assert [r.turn for r in fakellm.requests] == [1, 2]
    fakellm.assert_tool_called("get_weather", arguments={"city": "Paris"}, times=1)


def test_output_type_is_validated_from_the_final_result_tool_call(fakellm: FakeLLM, backend: Backend) -> None:
    agent = make_agent(backend, fakellm, output_type=City)

    result = agent.run_sync(f"Please describe a city ({backend.name})")

    assert isinstance(result.output, City)
    assert result.output == City(**CITY)
    assert fired(fakellm) == [(backend.api, "city_final_result")]
    fakellm.assert_tool_called("final_result", arguments=CITY, times=1)


RETRY_RULES = [
    {"name": "city_bad_guess", "when": {"turn": 1, "tools_include": "final_result"},
     "respond": {"tool_calls": [{"name": "final_result", "arguments": {"name": "Paris", "population": "many"}}]}},
    {"name": "city_corrected", "when": {"turn": 2, "tool_result_contains": "valid integer"},
     "respond": {"tool_calls": [{"name": "final_result", "arguments": CITY}]}},
]


@pytest.mark.fakellm(rules=RETRY_RULES, strict=True)
def test_output_type_sends_a_validation_error_back_and_takes_the_retry(fakellm: FakeLLM, backend: Backend) -> None:
    agent = make_agent(backend, fakellm, output_type=City)

    result = agent.run_sync(f"Please describe a city, carefully ({backend.name})")

    assert result.output == City(**CITY)
    # Turn 2 matched only because pydantic's "Input should be a valid integer" came back as the tool result.
    assert fired(fakellm) == [(backend.api, "city_bad_guess"), (backend.api, "city_corrected")]
    assert [r.turn for r in fakellm.requests] == [1, 2]
