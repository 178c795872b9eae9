"""Legacy OpenAI completions through the official SDK, streaming and not."""

from __future__ import annotations

import openai
import pytest

from helpers import app_from, openai_client, raw_client, sse_events

CONFIG = """
rules:
  - name: poem
    when: {api: openai.completions, messages_contain: "roses"}
    respond: {content: "are red, violets are blue. END and more"}
  - name: broken
    when: {api: openai.completions, messages_contain: "explode"}
    respond: {status: 500, error: "The engine is overloaded"}
  - name: chat_only
    when: {api: openai.chat}
    respond: {content: "not for completions"}
"""


@pytest.fixture
def app():
    return app_from(CONFIG)


@pytest.fixture
def client(app):
    return openai_client(app)


def test_completion(client):
    result = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Roses")
    assert result.object == "text_completion"
    assert result.id.startswith("cmpl-")
    assert result.model == "gpt-3.5-turbo-instruct"
    choice = result.choices[0]
    assert choice.text == "are red, violets are blue. END and more"
    assert choice.finish_reason == "stop" and choice.index == 0
    assert result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_unmatched_prompt_gets_the_echo(client):
    text = client.completions.create(model="davinci-002", prompt="something else").choices[0].text
    assert text.startswith("[mock response for davinci-002")


def test_max_tokens_and_stop(client):
    short = client.completions.create(model="m", prompt="roses", max_tokens=2).choices[0]
    assert short.finish_reason == "length"
    assert "are red, violets are blue. END and more".startswith(short.text) and len(short.text) < 20
    stopped = client.completions.create(model="m", prompt="roses", stop=["END"]).choices[0]
    assert stopped.text == "are red, violets are blue. " and stopped.finish_reason == "stop"


def test_n_and_a_list_of_prompts(client):
    result = client.completions.create(model="m", prompt=["roses one", "roses two"], n=2)
    assert [c.index for c in result.choices] == [0, 1, 2, 3]
    assert {c.text for c in result.choices} == {"are red, violets are blue. END and more"}


def test_echo_puts_the_prompt_first(client):
    result = client.completions.create(model="m", prompt=["Roses ", "roses? "], echo=True)
    assert [c.text for c in result.choices] == ["Roses are red, violets are blue. END and more",
                                                "roses? are red, violets are blue. END and more"]


def test_token_prompts(client):
    assert client.completions.create(model="m", prompt=[1, 2, 3]).choices[0].text.startswith("[mock response")
    assert len(client.completions.create(model="m", prompt=[[1, 2], [3]]).choices) == 2


def test_stream(client):
    stream = client.completions.create(model="m", prompt="roses", stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "text_completion" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text_chunks = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].text for c in text_chunks) == "are red, violets are blue. END and more"
    assert [c.choices[0].finish_reason for c in text_chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in text_chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stream_with_n_echo_and_length(client):
    chunks = list(client.completions.create(model="m", prompt="Roses ", n=2, echo=True, max_tokens=2, stream=True))
    by_index: dict[int, str] = {}
    finish: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            by_index[choice.index] = by_index.get(choice.index, "") + choice.text
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert set(by_index) == {0, 1} and by_index[0] == by_index[1]
    assert by_index[0].startswith("Roses are")
    assert finish == {0: "length", 1: "length"}
    assert not any(c.usage for c in chunks)  # no include_usage, no usage chunk


def test_raw_stream_ends_with_done(app):
    response = raw_client(app).post("/v1/completions", json={"model": "m", "prompt": "roses", "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.content)
    assert events[-1] == (None, "[DONE]")


def test_rule_error(client):
    with pytest.raises(openai.InternalServerError) as info:
        client.completions.create(model="m", prompt="explode")
    assert "overloaded" in info.value.message


@pytest.mark.parametrize("body, fragment", [
    ({"prompt": "x"}, "model"),
    ({"model": "m"}, "prompt"),
    ({"model": "m", "prompt": 5}, "prompt"),
    ({"model": "m", "prompt": []}, "prompt"),
    ({"model": "m", "prompt": ["ok", {"x": 1}]}, "prompt[1]"),
    ({"model": "m", "prompt": "x", "n": 0}, "n"),
    ({"model": "m", "prompt": "x", "max_tokens": "ten"}, "max_tokens"),
    ({"model": "m", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"model": "m", "prompt": "x", "stop": 3}, "stop"),
    ({"model": "m", "prompt": "x", "echo": "yes"}, "echo"),
    ({"model": "m", "prompt": "x", "stream": 1}, "stream"),
])
def test_bad_input_is_a_400(client, body, fragment):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/completions", body=body, cast_to=object)
    assert fragment in info.value.message
    assert client.completions.create(model="m", prompt="roses").choices[0].text.startswith("are red")
