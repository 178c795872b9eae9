"""The agent against fakellm: the rules of fakellm.yaml (or a test's own) play the model."""

import openai
import pytest

from agent import AgentError, run_agent


def test_weather_question_runs_the_tool_and_summarizes(fakellm):
    answer = run_agent("What is the weather in Paris?")

    assert answer == "It is sunny in Paris, 24 degrees Celsius."
    fakellm.assert_tool_called("get_weather", {"city": "Paris"}, times=1)
    first, second = fakellm.requests
    assert (first.rule, second.rule) == ("ask_for_weather", "summarize_weather")
    # The tool's result went back to the model on turn 2.
    tool_message = second.request["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"] == "sunny, 24C in Paris"


def test_no_tool_when_none_is_needed(fakellm):
    assert run_agent("hello there") == "Hello! Ask me about the weather."
    fakellm.assert_called(rule="small_talk", times=1)


@pytest.mark.fakellm(rules=[
    {"name": "convert", "when": {"turn": 1}, "respond": {"tool_calls": [
        {"name": "convert_temperature", "arguments": {"celsius": 100}}]}},
    {"name": "answer", "when": {"turn": 2, "tool_result_contains": "212F"},
     "respond": {"content": "100C is 212F."}},
])
def test_a_test_can_bring_its_own_rules(fakellm):
    assert run_agent("How hot is 100C in F?") == "100C is 212F."


@pytest.mark.fakellm(rules=[
    {"name": "hallucinated_tool", "respond": {"tool_calls": [{"name": "launch_rockets", "arguments": {}}]}},
])
def test_an_unknown_tool_is_an_agent_error(fakellm):
    with pytest.raises(AgentError, match="unknown tool 'launch_rockets'"):
        run_agent("What is the weather in Paris?")


@pytest.mark.fakellm(rules=[
    {"name": "overloaded", "respond": {"status": 503, "error": "The model is overloaded"}},
])
def test_a_server_error_reaches_the_caller(fakellm):
    client = openai.OpenAI(max_retries=0)
    with pytest.raises(openai.InternalServerError, match="overloaded"):
        run_agent("What is the weather in Paris?", client=client)
