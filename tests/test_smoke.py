"""The 0.3.5 README's two-turn agent, in-process and over a real socket."""

from __future__ import annotations

import json

from helpers import Served, app_from, openai_client

AGENT_CONFIG = """
rules:
  - name: kickoff_research
    when:
      turn: 1
      messages_contain: "research"
    respond:
      tool_calls:
        - name: web_search
          arguments: {query: "fakellm"}
  - name: summarize_results
    when:
      turn: 2
      tool_result_contains: "found"
    respond:
      content: "Based on the search, I found what you were looking for."
"""

TOOLS = [{"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}]


def run_my_agent(client, prompt: str) -> str:
    """A minimal agent loop: call tools until the model answers with text."""
    messages = [{"role": "user", "content": prompt}]
    for _ in range(5):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            assert json.loads(call.function.arguments) == {"query": "fakellm"}
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "found 3 pages about fakellm"})
    raise AssertionError("agent did not finish")


def test_two_turn_agent_in_process():
    client = openai_client(app_from(AGENT_CONFIG))
    assert "found what you were looking for" in run_my_agent(client, "Please research fakellm")
    # A second run of the same test sees the same turns: no reset needed.
    assert "found what you were looking for" in run_my_agent(client, "Please research fakellm")


def test_two_turn_agent_over_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(AGENT_CONFIG)
    with Served("--config", str(config)) as server:
        assert "found what you were looking for" in run_my_agent(server.openai(), "Please research fakellm")
