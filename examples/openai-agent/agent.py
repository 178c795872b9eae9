"""A small tool-using agent on the OpenAI Chat Completions API."""

from __future__ import annotations

import json
from typing import Any, Callable

from openai import OpenAI

MODEL = "gpt-4o-mini"
MAX_STEPS = 5


def get_weather(city: str) -> str:
    # A real agent would call a weather service here.
    return f"sunny, 24C in {city}"


def convert_temperature(celsius: float) -> str:
    return f"{celsius * 9 / 5 + 32:.0f}F"


TOOLS: dict[str, Callable[..., str]] = {"get_weather": get_weather, "convert_temperature": convert_temperature}

TOOL_SPECS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "convert_temperature", "description": "Celsius to Fahrenheit.",
        "parameters": {"type": "object", "properties": {"celsius": {"type": "number"}}, "required": ["celsius"]}}},
]


class AgentError(Exception):
    """The model asked for something the agent cannot do."""


def run_agent(question: str, client: OpenAI | None = None) -> str:
    """Answer `question`, running the tools the model asks for, until the model answers with text."""
    client = client or OpenAI()
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    for _ in range(MAX_STEPS):
        reply = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOL_SPECS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            tool = TOOLS.get(call.function.name)
            if tool is None:
                raise AgentError(f"the model asked for an unknown tool {call.function.name!r}")
            result = tool(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AgentError(f"no answer after {MAX_STEPS} steps")


if __name__ == "__main__":
    import sys

    print(run_agent(" ".join(sys.argv[1:]) or "What is the weather in Paris?"))
