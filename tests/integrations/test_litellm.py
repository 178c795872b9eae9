"""LiteLLM driven against fakellm through its public API, `litellm.completion` and `litellm.acompletion`.

For each of LiteLLM's `openai/`, `anthropic/` and `gemini/` providers: a plain completion, a stream
(sync and async), a two-turn tool loop (turn 1 the model asks for a tool, the app runs it and sends
the result back, turn 2 the model summarizes it) and structured output with `response_format` (a
pydantic model on all three; a json_schema dict on `openai/`; and the forced `json_tool_call` that
LiteLLM uses for Claude models without native structured outputs).

Each provider reaches fakellm by `api_base` alone (the fixture's environment variables are removed):

    openai/     api_base=fakellm.openai_base_url     http://127.0.0.1:PORT/v1
    anthropic/  api_base=fakellm.anthropic_base_url  the root; LiteLLM appends /v1/messages
    gemini/     api_base=fakellm.url + "/v1beta"     LiteLLM posts {api_base}/models/{model}:generateContent

Every test checks what LiteLLM parsed and returned, and which fakellm rule answered over which API.
"""

from __future__ import annotations

import os

# Before importing litellm: it fetches its model cost map (and, for Claude's structured outputs,
# its Anthropic beta headers) from GitHub unless told to use the copies it ships with; offline mode
# also covers any other catalog or tokenizer it would download on its own.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import asyncio  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable  # noqa: E402

import litellm  # noqa: E402
import pytest  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from fakellm import FakeLLM  # noqa: E402

GREETING = "Hello from fakellm!"
STORY = "Once upon a time a test met a mock server and they lived deterministically ever after."
SUMMARY = "It is sunny and 24C in Paris."
CITY = {"name": "Paris", "population": 2100000}

RULES = [
    {"name": "greeting", "when": {"last_message_contains": "say hello"}, "respond": {"content": GREETING}},
    {"name": "story", "when": {"last_message_contains": "tell me a story"}, "respond": {"content": STORY}},
    {"name": "weather_lookup", "when": {"turn": 1, "tools_include": "get_weather"},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "weather_summary", "when": {"turn": 2, "tool_result_contains": "sunny, 24C in Paris"},
     "respond": {"content": SUMMARY}},
    # Before city_as_json: a Claude model without native structured outputs gets a forced tool instead.
    {"name": "city_via_json_tool", "when": {"tools_include": "json_tool_call"},
     "respond": {"tool_calls": [{"name": "json_tool_call", "arguments": CITY}]}},
    {"name": "city_as_json", "when": {"last_message_contains": "describe a city"},
     "respond": {"content": json.dumps(CITY)}},
]
pytestmark = [
    pytest.mark.fakellm(rules=RULES, strict=True),  # strict: a request no rule matches gets a 404, failing the test
    # LiteLLM's own types, built lazily on first use; nothing to do with fakellm.
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning"),
]


@dataclass(frozen=True)
class Provider:
    name: str
    model: str
    api: str  # the fakellm endpoint its requests must arrive at
    api_base: Callable[[FakeLLM], str]


PROVIDERS = [
    Provider("openai", "openai/gpt-4o-mini", "openai.chat", lambda llm: llm.openai_base_url),
    Provider("anthropic", "anthropic/claude-haiku-4-5", "anthropic.messages", lambda llm: llm.anthropic_base_url),
    Provider("gemini", "gemini/gemini-2.5-flash", "gemini.generate", lambda llm: llm.url + "/v1beta"),
]
each_provider = pytest.mark.parametrize("provider", PROVIDERS, ids=[p.name for p in PROVIDERS])


class City(BaseModel):
    name: str
    population: int


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def get_weather(city: str) -> str:
    return f"sunny, 24C in {city}"


@pytest.fixture(autouse=True)
def _explicit_settings_only(fakellm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    """No LiteLLM callbacks or banners, and no SDK environment: only the explicit api_base reaches fakellm."""
    for name in ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                 "_async_failure_callback"):
        monkeypatch.setattr(litellm, name, [])
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    for name in fakellm.environ():
        monkeypatch.delenv(name, raising=False)


def target(provider: Provider, llm: FakeLLM) -> dict[str, Any]:
    """What a user passes LiteLLM to reach fakellm: the model, the api_base and a dummy key."""
    return {"model": provider.model, "api_base": provider.api_base(llm), "api_key": "sk-dummy"}


def fired(llm: FakeLLM) -> list[tuple[str, str | None]]:
    """(API, rule) for each request fakellm answered, oldest first."""
    return [(r.api, r.rule) for r in llm.requests]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def run_tool_loop(complete: Callable[..., Any], prompt: str) -> tuple[str, list[tuple[str, dict]]]:
    """The app's agent loop: call the model, run each tool it asks for, send the results, until it answers."""
    messages: list[Any] = user(prompt)
    ran: list[tuple[str, dict]] = []
    for _ in range(4):
        message = complete(messages=messages, tools=[WEATHER_TOOL]).choices[0].message
        if not message.tool_calls:
            return message.content, ran
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            ran.append((call.function.name, arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(**arguments)})
    raise AssertionError("the model never answered with text")


@each_provider
def test_completion_returns_the_rule_text(fakellm: FakeLLM, provider: Provider) -> None:
    reply = litellm.completion(messages=user(f"Please say hello ({provider.name})"), **target(provider, fakellm))

    assert reply.choices[0].message.content == GREETING
    assert reply.choices[0].finish_reason == "stop"
    assert fired(fakellm) == [(provider.api, "greeting")]


@each_provider
def test_stream_delivers_the_rule_text_in_several_chunks(fakellm: FakeLLM, provider: Provider) -> None:
    stream = litellm.completion(messages=user(f"Please tell me a story ({provider.name})"), stream=True,
                                **target(provider, fakellm))
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]

    assert len(pieces) > 1
    assert "".join(pieces) == STORY
    assert fired(fakellm) == [(provider.api, "story")]
    assert fakellm.requests[0].stream is True


@each_provider
def test_acompletion_plain_and_streamed_get_the_rule_text(fakellm: FakeLLM, provider: Provider) -> None:
    async def ask() -> tuple[str, list[str]]:
        try:
            kwargs = target(provider, fakellm)
            plain = await litellm.acompletion(messages=user(f"Please say hello, async ({provider.name})"), **kwargs)
            stream = await litellm.acompletion(messages=user(f"Please tell me a story, async ({provider.name})"),
                                               stream=True, **kwargs)
            pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
            return plain.choices[0].message.content, pieces
        finally:
            await litellm.close_litellm_async_clients()  # its cached clients belong to this event loop

    text, pieces = asyncio.run(ask())

    assert text == GREETING
    assert len(pieces) > 1 and "".join(pieces) == STORY
    assert fired(fakellm) == [(provider.api, "greeting"), (provider.api, "story")]
    assert [r.stream for r in fakellm.requests] == [False, True]


@each_provider
def test_tool_loop_runs_the_tool_and_turn_two_summarizes_its_result(fakellm: FakeLLM, provider: Provider) -> None:
    complete = functools.partial(litellm.completion, **target(provider, fakellm))

    answer, ran = run_tool_loop(complete, f"What's the weather in Paris? ({provider.name})")

    assert ran == [("get_weather", {"city": "Paris"})]
    assert answer == SUMMARY
    assert fired(fakellm) == [(provider.api, "weather_lookup"), (provider.api, "weather_summary")]
    assert [r.turn for r in fakellm.requests] == [1, 2]
    fakellm.assert_tool_called("get_weather", arguments={"city": "Paris"}, times=1)


@each_provider
def test_response_format_pydantic_model_parses_into_the_model(fakellm: FakeLLM, provider: Provider) -> None:
    reply = litellm.completion(messages=user(f"Please describe a city ({provider.name})"), response_format=City,
                               **target(provider, fakellm))

    assert City.model_validate_json(reply.choices[0].message.content) == City(**CITY)
    assert fired(fakellm) == [(provider.api, "city_as_json")]


def test_response_format_json_schema_reaches_openai_as_sent(fakellm: FakeLLM) -> None:
    response_format = {"type": "json_schema",
                       "json_schema": {"name": "city", "schema": City.model_json_schema(), "strict": True}}

    reply = litellm.completion(messages=user("Please describe a city as JSON (openai json_schema)"),
                               response_format=response_format, **target(PROVIDERS[0], fakellm))

    assert json.loads(reply.choices[0].message.content) == CITY
    assert fired(fakellm) == [("openai.chat", "city_as_json")]
    assert fakellm.requests[0].request["response_format"] == response_format


def test_older_claude_structured_output_comes_back_from_the_forced_json_tool(fakellm: FakeLLM) -> None:
    older_claude = Provider("anthropic", "anthropic/claude-3-5-haiku-20241022", "anthropic.messages",
                            lambda llm: llm.anthropic_base_url)

    reply = litellm.completion(messages=user("Please describe a city (older Claude)"), response_format=City,
                               **target(older_claude, fakellm))

    # LiteLLM turns the forced tool call back into the message text.
    assert City.model_validate_json(reply.choices[0].message.content) == City(**CITY)
    assert reply.choices[0].message.tool_calls is None
    assert fired(fakellm) == [("anthropic.messages", "city_via_json_tool")]
    assert fakellm.requests[0].request["tool_choice"] == {"type": "tool", "name": "json_tool_call"}
