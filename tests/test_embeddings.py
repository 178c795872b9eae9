"""OpenAI embeddings through the official SDK: deterministic vectors, base64, dimensions, rules."""

from __future__ import annotations

import base64
import math
from array import array

import openai
import pytest

from helpers import app_from, openai_client, raw_client

CONFIG = """
models:
  - text-embedding-3-small
  - {id: tiny-embedder, dimensions: 8}
rules:
  - name: fixed_one
    when: {api: openai.embeddings, messages_contain: "fixed"}
    respond: {embedding: [0.5, -1.0, 0.25]}
  - name: fixed_each
    when: {api: openai.embeddings, messages_contain: "each"}
    respond: {embedding: [[1, 0], [0, 1]]}
  - name: throttled
    when: {api: openai.embeddings, messages_contain: "throttle"}
    respond: {status: 429, error: "Too many embeddings"}
  - name: chat_only
    when: {api: openai.chat}
    respond: {content: "chat"}
"""


@pytest.fixture
def app():
    return app_from(CONFIG)


@pytest.fixture
def client(app):
    return openai_client(app)


def norm(vector) -> float:
    return math.sqrt(math.fsum(x * x for x in vector))


def decode(b64: str) -> list[float]:
    values = array("f")
    values.frombytes(base64.b64decode(b64))
    return values.tolist()


def test_sdk_default_is_base64_and_decodes_to_unit_vectors(client):
    result = client.embeddings.create(model="text-embedding-3-small", input="hello world")
    vector = result.data[0].embedding
    assert len(vector) == 1536
    assert abs(norm(vector) - 1.0) < 1e-5
    assert result.model == "text-embedding-3-small"
    assert result.object == "list" and result.data[0].object == "embedding" and result.data[0].index == 0
    assert result.usage.prompt_tokens > 0 and result.usage.total_tokens == result.usage.prompt_tokens


def test_same_text_same_vector_other_text_other_vector(client):
    a = client.embeddings.create(model="text-embedding-3-small", input="same text").data[0].embedding
    b = client.embeddings.create(model="text-embedding-3-small", input="same text").data[0].embedding
    c = client.embeddings.create(model="text-embedding-3-small", input="other text").data[0].embedding
    assert a == b
    assert a != c
    # A fresh server gives the same vectors too.
    fresh = openai_client(app_from(CONFIG))
    assert fresh.embeddings.create(model="text-embedding-3-small", input="same text").data[0].embedding == a


def test_float_and_base64_carry_the_same_numbers(app, client):
    as_floats = client.embeddings.create(model="m", input="compare me", encoding_format="float")
    assert isinstance(as_floats.data[0].embedding[0], float)
    raw = raw_client(app).post("/v1/embeddings", json={"model": "m", "input": "compare me",
                                                        "encoding_format": "base64"}).json()
    assert isinstance(raw["data"][0]["embedding"], str)
    assert decode(raw["data"][0]["embedding"]) == as_floats.data[0].embedding


def test_model_dimension_large_and_configured(client):
    assert len(client.embeddings.create(model="text-embedding-3-large", input="x").data[0].embedding) == 3072
    assert len(client.embeddings.create(model="tiny-embedder", input="x").data[0].embedding) == 8
    assert len(client.embeddings.create(model="some-unknown-model", input="x").data[0].embedding) == 1536


def test_dimensions_shortens_like_matryoshka(client):
    full = client.embeddings.create(model="text-embedding-3-small", input="shorten me").data[0].embedding
    short = client.embeddings.create(model="text-embedding-3-small", input="shorten me", dimensions=256)
    vector = short.data[0].embedding
    assert len(vector) == 256
    assert abs(norm(vector) - 1.0) < 1e-5
    prefix = full[:256]
    scale = norm(prefix)
    assert all(abs(x - y / scale) < 1e-5 for x, y in zip(vector, prefix, strict=True))


def test_list_of_strings_and_token_arrays(client):
    result = client.embeddings.create(model="m", input=["one", "two", "one"])
    assert [d.index for d in result.data] == [0, 1, 2]
    assert result.data[0].embedding == result.data[2].embedding != result.data[1].embedding
    tokens = client.embeddings.create(model="m", input=[1, 2, 3])
    assert len(tokens.data) == 1 and tokens.usage.prompt_tokens == 3
    batches = client.embeddings.create(model="m", input=[[1, 2], [3, 4, 5]])
    assert len(batches.data) == 2 and batches.usage.prompt_tokens == 5
    # A token array is a different input from the text of its numbers.
    text = client.embeddings.create(model="m", input="1 2 3").data[0].embedding
    assert text != tokens.data[0].embedding


def test_rule_gives_one_fixed_vector_for_every_input(client):
    result = client.embeddings.create(model="m", input=["fixed a", "fixed b"])
    assert [d.embedding for d in result.data] == [[0.5, -1.0, 0.25], [0.5, -1.0, 0.25]]
    as_floats = client.embeddings.create(model="m", input="fixed", encoding_format="float")
    assert as_floats.data[0].embedding == [0.5, -1.0, 0.25]


def test_rule_gives_one_vector_per_input(client):
    result = client.embeddings.create(model="m", input=["each 1", "each 2", "each 3"])
    assert [d.embedding for d in result.data] == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]


def test_rule_error_status(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.embeddings.create(model="m", input="please throttle")
    assert "Too many embeddings" in info.value.message


def test_journal_sees_the_inputs_and_no_echo(app, client):
    client.embeddings.create(model="m", input=["fixed", "more"])
    client.embeddings.create(model="m", input="no rule for this")
    entries = raw_client(app).get("/_fakellm/requests", params={"api": "openai.embeddings"}).json()["requests"]
    assert [e["rule"] for e in entries] == ["fixed_one", None]
    assert entries[1]["reply"]["content"] is None  # embeddings get no echo text


def test_the_embeddings_api_is_not_chat(client):
    # `api: openai.chat` does not catch embeddings; the vector is the deterministic one.
    assert len(client.embeddings.create(model="m", input="hello").data[0].embedding) == 1536


@pytest.mark.parametrize("body, fragment", [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": ""}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": ["ok", ""]}, "input[1]"),
    ({"model": "m", "input": ["ok", 5]}, "input[1]"),
    ({"model": "m", "input": [[1, 2], []]}, "input[1]"),
    ({"model": "m", "input": {"text": "x"}}, "input"),
    ({"model": "m", "input": ["x"] * 2049}, "2048"),
    ({"model": "m", "input": "x", "encoding_format": "hex"}, "encoding_format"),
    ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "m", "input": "x", "dimensions": "many"}, "dimensions"),
    ({"model": "tiny-embedder", "input": "x", "dimensions": 9}, "at most 8"),
])
def test_bad_input_is_a_400(client, body, fragment):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/embeddings", body=body, cast_to=object)
    assert fragment in info.value.message
    assert len(client.embeddings.create(model="m", input="still serving").data[0].embedding) == 1536


def test_malformed_json(app):
    response = raw_client(app).post("/v1/embeddings", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
