"""Structured output from frameworks against a fakellm with no rules at all.

instructor, pydantic-ai and LangChain ask for structured output in their own ways: a forced tool call
(instructor's TOOLS modes, pydantic-ai's `final_result` tool, LangChain's `function_calling`), or a JSON
schema in the request (`response_format`, `text.format`, `output_config.format`). fakellm answers each
with a value valid against the schema the framework sent, so the framework validates it into the model
without a single rule written for it.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

import anthropic
import instructor
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from fakellm import FakeLLM

CLAUDE = "claude-sonnet-4-6"


class Priority(str, Enum):
    low = "low"
    high = "high"


class Step(BaseModel):
    title: str = Field(min_length=3)
    minutes: int = Field(ge=1, le=120)


class Plan(BaseModel):
    goal: str
    priority: Priority
    steps: list[Step] = Field(min_length=1, max_length=5)
    owner: Optional[str] = None


@pytest.fixture(scope="module")
def fake():
    with FakeLLM(rules=[]) as server:
        yield server


def last_request(fake: FakeLLM) -> dict:
    return fake.requests[-1].request


# -- instructor


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA, instructor.Mode.JSON])
def test_instructor_openai_modes(fake, mode):
    client = instructor.from_openai(openai.OpenAI(base_url=fake.openai_base_url, api_key="x", max_retries=0), mode=mode)
    plan = client.chat.completions.create(model="gpt-4o", response_model=Plan, max_retries=0,
                                          messages=[{"role": "user", "content": "Plan my week"}])
    assert isinstance(plan, Plan) and plan.steps


def test_instructor_anthropic_tools(fake):
    client = instructor.from_anthropic(anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="x",
                                                           max_retries=0))
    plan = client.messages.create(model=CLAUDE, max_tokens=1024, response_model=Plan, max_retries=0,
                                  messages=[{"role": "user", "content": "Plan my week"}])
    assert isinstance(plan, Plan)
    assert last_request(fake)["tool_choice"]["type"] == "tool"


# -- pydantic-ai


def _models(fake: FakeLLM) -> dict:
    openai_provider = OpenAIProvider(base_url=fake.openai_base_url, api_key="x")
    return {
        "chat": OpenAIChatModel("gpt-4o", provider=openai_provider),
        "responses": OpenAIResponsesModel("gpt-4o", provider=openai_provider),
        "anthropic": AnthropicModel(CLAUDE, provider=AnthropicProvider(base_url=fake.anthropic_base_url, api_key="x")),
    }


@pytest.mark.parametrize("name", ["chat", "responses", "anthropic"])
def test_pydantic_ai_tool_output(fake, name):
    agent = Agent(_models(fake)[name], output_type=Plan)
    result = agent.run_sync("Plan my week")
    assert isinstance(result.output, Plan)


@pytest.mark.parametrize("name", ["chat", "responses"])
def test_pydantic_ai_native_output(fake, name):
    agent = Agent(_models(fake)[name], output_type=NativeOutput(Plan))
    result = agent.run_sync("Plan my week")
    assert isinstance(result.output, Plan)
    body = last_request(fake)
    assert "response_format" in body or "format" in body.get("text", {})


# -- LangChain


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_openai_structured_output(fake, method):
    llm = ChatOpenAI(model="gpt-4o", base_url=fake.openai_base_url, api_key="x", max_retries=0)
    plan = llm.with_structured_output(Plan, method=method).invoke("Plan my week")
    assert isinstance(plan, Plan)


def test_langchain_anthropic_structured_output(fake):
    llm = ChatAnthropic(model=CLAUDE, base_url=fake.anthropic_base_url, api_key="x", max_retries=0)
    plan = llm.with_structured_output(Plan).invoke("Plan my week")
    assert isinstance(plan, Plan)
