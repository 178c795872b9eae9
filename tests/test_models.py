"""GET /v1/models: one catalogue, answered in the shape of the SDK that asks."""

from __future__ import annotations

from datetime import datetime, timezone

import anthropic
import openai
import pytest

from fakellm.engine.catalog import DEFAULT_MODELS
from fakellm.config import ConfigError, parse_config
from helpers import Served, anthropic_client, app_from, openai_client, raw_client

CONFIG = """
models:
  - gpt-4o-mini
  - {id: claude-opus-4-1, display_name: "Claude Opus 4.1", created: 1754006400}
  - {id: in-house-llm, owned_by: acme}
  - claude-haiku-4-5
  - text-embedding-3-large
"""
IDS = ["gpt-4o-mini", "claude-opus-4-1", "in-house-llm", "claude-haiku-4-5", "text-embedding-3-large"]


@pytest.fixture
def app():
    return app_from(CONFIG)


def test_openai_list_and_retrieve(app):
    client = openai_client(app)
    models = client.models.list()
    assert [m.id for m in models] == IDS
    assert all(m.object == "model" and isinstance(m.created, int) for m in models)
    owners = {m.id: m.owned_by for m in models}
    assert owners["gpt-4o-mini"] == "openai" and owners["in-house-llm"] == "acme"
    assert owners["claude-opus-4-1"] == "anthropic"
    model = client.models.retrieve("claude-opus-4-1")
    assert model.id == "claude-opus-4-1" and model.created == 1754006400
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-9")
    assert info.value.code == "model_not_found"


def test_default_catalogue_without_models_key():
    client = openai_client(app_from(None))
    assert [m.id for m in client.models.list()] == list(DEFAULT_MODELS)
    assert "gpt-4o" in DEFAULT_MODELS and "claude-sonnet-4-6" in DEFAULT_MODELS


def test_any_model_name_still_works_for_calls(app):
    client = openai_client(app)
    reply = client.chat.completions.create(model="not-in-the-list", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "not-in-the-list"


def test_anthropic_list_and_retrieve(app):
    client = anthropic_client(app)
    page = client.models.list()
    assert [m.id for m in page.data] == IDS
    assert page.has_more is False
    assert page.first_id == IDS[0] and page.last_id == IDS[-1]
    opus = client.models.retrieve("claude-opus-4-1")
    assert opus.type == "model" and opus.display_name == "Claude Opus 4.1"
    assert opus.created_at == datetime(2025, 8, 1, tzinfo=timezone.utc)
    assert client.models.retrieve("claude-haiku-4-5").display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("claude-1")
    assert info.value.type == "not_found_error"


def test_anthropic_pagination_walks_every_page(app):
    client = anthropic_client(app)
    first = client.models.list(limit=2)
    assert [m.id for m in first.data] == IDS[:2] and first.has_more is True
    assert [m.id for m in client.models.list(limit=2)] == IDS  # auto-pagination stops at has_more: false
    after = client.models.list(limit=2, after_id="claude-opus-4-1")
    assert [m.id for m in after.data] == IDS[2:4]
    before = client.models.list(limit=2, before_id="claude-haiku-4-5")
    assert [m.id for m in before.data] == IDS[1:3] and before.has_more is True


@pytest.mark.parametrize("params, fragment", [
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"after_id": "nope"}, "after_id"),
    ({"before_id": "nope"}, "before_id"),
])
def test_anthropic_bad_query_is_a_400(app, params, fragment):
    client = anthropic_client(app)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.models.list(**params)
    assert fragment in str(info.value)
    assert client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5"


def test_the_headers_pick_the_shape(app):
    http = raw_client(app)
    assert http.get("/v1/models").json()["object"] == "list"
    by_key = http.get("/v1/models", headers={"x-api-key": "k"}).json()
    assert by_key["has_more"] is False and by_key["data"][0]["type"] == "model"
    by_version = http.get("/v1/models/gpt-4o-mini", headers={"anthropic-version": "2023-06-01"}).json()
    assert by_version["type"] == "model" and by_version["created_at"].endswith("Z")
    missing = http.get("/v1/models/nope", headers={"anthropic-version": "2023-06-01"})
    assert missing.status_code == 404 and missing.json()["type"] == "error"
    assert http.get("/v1/models/nope").json()["error"]["code"] == "model_not_found"
    wrong = http.post("/v1/models", json={})
    assert wrong.status_code == 405


def test_gemini_headers_get_google_shape(app):
    http = raw_client(app)
    listing = http.get("/v1/models", headers={"x-goog-api-key": "k"})
    assert listing.status_code == 200
    assert listing.json()["models"][0]["name"] == "models/gpt-4o-mini"


@pytest.mark.parametrize("yaml_text, fragment", [
    ("models: [a, a]", "listed twice"),
    ("models: [3]", "model id (a string) or a mapping"),
    ("models: [{owned_by: x}]", "required key 'id' is missing"),
    ("models: [{id: x, dimension: 3}]", "did you mean 'dimensions'"),
    ("models: [{id: x, dimensions: 0}]", "dimensions"),
    ("models: {a: 1}", "expected a list"),
    ("models: ['']", "must not be empty"),
    ("models: [{id: ''}]", "models[0].id"),
])
def test_models_key_is_validated(yaml_text, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(yaml_text, "models.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("models.yaml:1:")


def test_over_a_real_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        assert [m.id for m in server.openai().models.list()] == IDS
        assert [m.id for m in server.anthropic().models.list()] == IDS
