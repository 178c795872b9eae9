"""`when.api`: the `openai` family matches every OpenAI endpoint; `openai.<endpoint>` only one."""

from __future__ import annotations

import asyncio

import pytest

from fakellm.config import ConfigError, parse_config
from fakellm.server.app import FakeLLMApp
from helpers import anthropic_client, app_from, openai_client

FAMILY = """
rules:
  - when: {api: openai}
    respond: {content: "openai family", embedding: [1, 0]}
  - respond: {content: "someone else", embedding: [0, 1]}
"""


def answers(client) -> dict[str, str | list[float]]:
    user = [{"role": "user", "content": "hi"}]
    return {
        "chat": client.chat.completions.create(model="m", messages=user).choices[0].message.content,
        "responses": client.responses.create(model="m", input="hi").output_text,
        "completions": client.completions.create(model="m", prompt="hi").choices[0].text,
        "embeddings": client.embeddings.create(model="m", input="hi").data[0].embedding,
    }


def test_the_openai_family_matches_every_openai_endpoint():
    app = app_from(FAMILY)
    assert answers(openai_client(app)) == {"chat": "openai family", "responses": "openai family",
                                           "completions": "openai family", "embeddings": [1.0, 0.0]}
    message = anthropic_client(app).messages.create(model="claude-haiku-4-5", max_tokens=64,
                                                    messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "someone else"


@pytest.mark.parametrize("endpoint", ["chat", "responses", "completions", "embeddings"])
def test_one_endpoint_matches_only_itself(endpoint):
    app = app_from(FAMILY.replace("api: openai}", f"api: openai.{endpoint}}}"))
    got = answers(openai_client(app))
    for name, value in got.items():
        hit = value in ("openai family", [1.0, 0.0])
        assert hit == (name == endpoint), (name, value)


def test_unknown_api_name_is_a_config_error_when_the_server_takes_the_config():
    config = parse_config("rules:\n  - name: typo\n    when: {api: openai.embedding}\n", "t.yaml")
    with pytest.raises(ConfigError) as info:
        FakeLLMApp(config)
    assert str(info.value).startswith("t.yaml:3:17: rules[0] (typo).when.api: unknown api 'openai.embedding'")
    assert "did you mean 'openai.embeddings'" in str(info.value)
    app = app_from(None)
    with pytest.raises(ConfigError):
        asyncio.run(app.use_config(config))
    assert openai_client(app).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_an_api_name_of_the_wrong_shape_is_a_validation_error():
    with pytest.raises(ConfigError) as info:
        parse_config("rules: [{when: {api: 'OpenAI Chat'}}]", "t.yaml")
    assert "is not an API name" in str(info.value)
