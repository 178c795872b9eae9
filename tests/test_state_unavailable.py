"""Redis failing at request time: a 503 in each provider's shape (code or type
`fakellm_state_unavailable`) within a second, one log line, and recovery once Redis is back."""

from __future__ import annotations

import logging
import time

import anthropic
import openai
import pytest
from helpers import anthropic_client, gemini_client, ollama_client, openai_client, raw_client

from fakellm.app import build_app
from fakellm.config import config_from_data
from fakellm.engine.engine import bounds_of
from fakellm.providers import registry
from fakellm.store.redis import RedisStore

CONFIG = {"rules": [{"when": {"messages_contain": "ping"}, "respond": {"content": "pong"}}]}
CODE = "fakellm_state_unavailable"


@pytest.fixture
def app(own_redis):
    config = config_from_data(CONFIG)
    store = RedisStore.connect(own_redis.url, prefix="s", bounds=bounds_of(config),
                               redacted_headers=registry.REDACTED_HEADERS)
    return build_app(config, store=store)


def ping_openai(app):
    reply = openai_client(app, max_retries=0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "ping"}])
    return reply.choices[0].message.content


def test_every_provider_answers_503_while_redis_is_down_and_recovers(app, own_redis, caplog):
    assert ping_openai(app) == "pong"
    stored = openai_client(app, max_retries=0).responses.create(model="m", input="ping")
    own_redis.stop()

    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as caught:
        ping_openai(app)
    assert time.monotonic() - started < 1.0
    assert caught.value.status_code == 503 and caught.value.code == CODE
    assert "could not reach its shared state" in caught.value.message and "redis://127.0.0.1:" in caught.value.message

    with pytest.raises(anthropic.InternalServerError) as caught:
        anthropic_client(app, max_retries=0).messages.create(
            model="c", max_tokens=5, messages=[{"role": "user", "content": "ping"}])
    assert caught.value.status_code == 503 and caught.value.body["error"]["type"] == CODE

    from google.genai import errors

    client = gemini_client(app)
    with pytest.raises(errors.ServerError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="ping")
    assert caught.value.code == 503 and "shared state" in caught.value.message

    import ollama

    with pytest.raises(ollama.ResponseError) as caught:
        ollama_client(app).chat(model="llama3.2", messages=[{"role": "user", "content": "ping"}])
    assert caught.value.status_code == 503 and "shared state" in caught.value.error

    with raw_client(app) as http:
        assert http.get(f"/v1/responses/{stored.id}").json()["error"]["code"] == CODE
        journal = http.get("/_fakellm/requests")
        assert journal.status_code == 503 and journal.json()["error"]["code"] == CODE
        assert http.get("/_fakellm/health").status_code == 200  # the process itself is fine

    # One log line for the burst, not one per request.
    lines = [r for r in caplog.records if "state store is unavailable" in r.getMessage()]
    assert len(lines) == 1 and not any(r.exc_info for r in caplog.records)

    own_redis.start()  # the same port, empty: fakellm picks up again
    assert ping_openai(app) == "pong"
    with raw_client(app) as http:
        assert http.get("/_fakellm/requests").status_code == 200
