"""`when.api`: the `openai` family matches every OpenAI endpoint; `openai.<endpoint>` only one."""

from __future__ import annotations

import pytest

from fakellm.config import ConfigError, parse_config
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


def test_unknown_api_name_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        parse_config("rules: [{when: {api: openai.embedding}}]", "t.yaml")
    assert "did you mean 'openai.embeddings'" in str(info.value)
