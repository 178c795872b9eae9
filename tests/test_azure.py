"""Azure OpenAI: the SDK's AzureOpenAI client against the deployment paths."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from helpers import BASE, Served, SyncASGITransport2, app_from, raw_client

CONFIG = """
rules:
  - name: prod_deployment
    when: {model_matches: "prod-*", api: openai.chat}
    respond: {content: "Hello from the prod deployment."}
  - name: embed_fixed
    when: {model_matches: "embed-deploy", api: openai.embeddings}
    respond: {embedding: [0.6, 0.8]}
  - name: weather
    when: {api: openai.responses, tools_include: get_weather, turn: 1}
    respond: {tool_calls: [{name: get_weather, arguments: {city: Oslo}}]}
  - name: quota
    when: {model_matches: "over-quota"}
    respond: {status: 429, error: {message: "Requests to the deployment have exceeded the rate limit",
                                  code: "429"}}
"""

API_VERSION = "2025-04-01-preview"


@pytest.fixture
def app():
    return app_from(CONFIG)


def azure(app, **kw) -> openai.AzureOpenAI:
    kw.setdefault("max_retries", 0)
    return openai.AzureOpenAI(azure_endpoint=BASE, api_key="azure-key", api_version=API_VERSION,
                              http_client=httpx2.Client(transport=SyncASGITransport2(app)), **kw)


def test_chat_the_model_argument_names_the_deployment(app):
    client = azure(app)
    reply = client.chat.completions.create(model="prod-gpt4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello from the prod deployment."
    assert reply.model == "prod-gpt4o"
    entry = raw_client(app).get("/_fakellm/requests").json()["requests"][-1]
    assert entry["path"] == "/openai/deployments/prod-gpt4o/chat/completions"
    assert entry["headers"]["api-key"] == "[redacted]"


def test_azure_deployment_wins_over_the_model_argument(app):
    client = azure(app, azure_deployment="prod-eastus")
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "prod-eastus"
    assert reply.choices[0].message.content == "Hello from the prod deployment."


def test_chat_stream_helper(app):
    client = azure(app)
    with client.chat.completions.stream(model="prod-1", messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello from the prod deployment."
    assert final.model == "prod-1"


def test_embeddings_and_completions(app):
    client = azure(app)
    fixed = client.embeddings.create(model="embed-deploy", input="x")
    assert fixed.data[0].embedding == pytest.approx([0.6, 0.8])
    assert fixed.model == "embed-deploy"
    assert len(client.embeddings.create(model="other-embed", input="x").data[0].embedding) == 1536
    completion = client.completions.create(model="instruct-deploy", prompt="hi")
    assert completion.model == "instruct-deploy"
    assert completion.choices[0].text.startswith("[mock response for instruct-deploy")


def test_responses_create_stream_retrieve_delete(app):
    client = azure(app)
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    first = client.responses.create(model="gpt-4o-deploy", input="weather?", tools=tools)
    assert json.loads(first.output[0].arguments) == {"city": "Oslo"}
    with client.responses.stream(model="gpt-4o-deploy", input="hello") as stream:
        final = stream.get_final_response()
    assert final.output_text.startswith("[mock response for gpt-4o-deploy")
    assert client.responses.retrieve(first.id).id == first.id
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    paths = {e["path"] for e in raw_client(app).get("/_fakellm/requests").json()["requests"]}
    assert paths == {"/openai/responses"}


def test_models_list(app):
    assert "gpt-4o" in [m.id for m in azure(app).models.list()]


def test_errors_are_openai_shaped(app):
    client = azure(app)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="over-quota", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "429"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="prod-1", messages=[])
    assert "messages" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.post("/deployments/d/unknown", body={}, cast_to=object)


def test_openai_client_on_azures_v1_path(app):
    client = openai.OpenAI(base_url=f"{BASE}/openai/v1", api_key="azure-key", max_retries=0,
                           http_client=httpx2.Client(transport=SyncASGITransport2(app)))
    reply = client.chat.completions.create(model="prod-v1", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello from the prod deployment."
    assert client.responses.create(model="m", input="hi").output_text.startswith("[mock response")
    assert len(client.embeddings.create(model="m", input="x").data[0].embedding) == 1536


def test_over_a_real_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        client = openai.AzureOpenAI(azure_endpoint=server.url, api_key="k", api_version=API_VERSION, max_retries=0)
        reply = client.chat.completions.create(model="prod-x", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "Hello from the prod deployment."
