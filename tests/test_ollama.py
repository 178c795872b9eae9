"""Ollama's native API, driven through the official `ollama` client (and LangChain's ChatOllama)."""

from __future__ import annotations

import asyncio

import json
import math
from datetime import datetime

import ollama
import pytest
from helpers import Served, app_from, ollama_client, openai_client, raw_client

from fakellm.engine.engine import Engine
from fakellm.store.memory import MemoryStore
from fakellm.model import ErrorInfo
from fakellm.providers.ollama import wire as ollama_wire
from fakellm.config.starter import starter_config

CONFIG = """
models: [llama3.2, nomic-embed-text]
rules:
  - name: weather_call
    when: {tools_include: get_weather, turn: 1}
    respond:
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: weather_answer
    when: {tool_result_contains: "20 degrees"}
    respond: {content: "It is 20 degrees in Paris."}
  - name: after_tool
    when: {previous_message_role: tool, last_message_contains: "and now"}
    respond: {content: "after the tool"}
  - name: pirate
    when: {system_contains: pirate}
    respond: {content: "Arr, matey!"}
  - name: only_ollama
    when: {api: ollama, messages_contain: "which api"}
    respond: {content: "ollama it is"}
  - name: thinker
    when: {messages_contain: "think hard"}
    respond: {content: "The answer is 42.", thinking: "Six times seven."}
  - name: fixed_vector
    when: {api: ollama.embed, messages_contain: "fixed"}
    respond: {embedding: [0.6, 0.8]}
  - name: story
    when: {messages_contain: story}
    respond:
      content: "Once upon a time there was a small mock server that answered every call with care and speed."
"""

MODEL = "llama3.2"
STORY = "Once upon a time there was a small mock server that answered every call with care and speed."


@pytest.fixture(scope="module")
def app():
    return app_from(CONFIG)


@pytest.fixture
def client(app):
    return ollama_client(app)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
      city: The city's name.
    """
    return "20 degrees and sunny"


# --------------------------------------------------------------------------- /api/chat

def test_chat_not_streamed(client):
    resp = client.chat(model=MODEL, messages=user("tell me a story"), stream=False)
    assert resp.message.role == "assistant" and resp.message.content == STORY
    assert resp.done is True and resp.done_reason == "stop"
    assert resp.model == MODEL
    assert resp.prompt_eval_count > 0 and resp.eval_count > 0
    assert resp.total_duration >= resp.eval_duration > 0
    datetime.fromisoformat(resp.created_at.replace("Z", "+00:00"))


def test_chat_streamed(client):
    parts = list(client.chat(model=MODEL, messages=user("tell me a story"), stream=True))
    assert len(parts) > 3
    assert "".join(p.message.content for p in parts) == STORY
    assert all(p.done is False for p in parts[:-1])
    last = parts[-1]
    assert last.done is True and last.done_reason == "stop" and last.eval_count > 0


def test_chat_system_message_and_api_condition(app, client):
    messages = [{"role": "system", "content": "You are a pirate."}, *user("hello")]
    assert client.chat(model=MODEL, messages=messages).message.content == "Arr, matey!"
    assert client.chat(model=MODEL, messages=user("which api?")).message.content == "ollama it is"
    other = openai_client(app).chat.completions.create(model="gpt-4o", messages=user("which api?"))
    assert other.choices[0].message.content != "ollama it is"


def test_chat_tool_call_then_tool_result(client):
    first = client.chat(model=MODEL, messages=user("weather in Paris?"), tools=[get_weather])
    [call] = first.message.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
    assert first.done_reason == "stop"

    messages = [*user("weather in Paris?"), first.message,
                {"role": "tool", "content": get_weather(**call.function.arguments), "tool_name": "get_weather"}]
    second = client.chat(model=MODEL, messages=messages, tools=[get_weather])
    assert second.message.content == "It is 20 degrees in Paris." and not second.message.tool_calls

    # A tool message counts as `tool` for previous_message_role.
    other = [*user("where am I?"), first.message, {"role": "tool", "content": "no data"}, *user("and now?")]
    assert client.chat(model=MODEL, messages=other).message.content == "after the tool"


def test_chat_tool_call_streamed(client):
    parts = list(client.chat(model=MODEL, messages=user("weather?"), tools=[get_weather], stream=True))
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [(c.function.name, c.function.arguments) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert parts[-1].done is True


def test_chat_num_predict_and_stop(client):
    short = client.chat(model=MODEL, messages=user("a story"), options={"num_predict": 3})
    assert short.message.content == "Once upon a" and short.done_reason == "length"
    assert short.eval_count <= 3
    cut = client.chat(model=MODEL, messages=user("a story"), options={"stop": ["mock"]})
    assert cut.message.content == "Once upon a time there was a small " and cut.done_reason == "stop"
    unlimited = client.chat(model=MODEL, messages=user("a story"), options={"num_predict": -1})
    assert unlimited.message.content == STORY


def test_chat_thinking(client):
    assert client.chat(model=MODEL, messages=user("think hard")).message.thinking is None
    resp = client.chat(model=MODEL, messages=user("think hard"), think=True)
    assert resp.message.thinking == "Six times seven." and resp.message.content == "The answer is 42."
    parts = list(client.chat(model=MODEL, messages=user("think hard"), think="high", stream=True))
    assert "".join(p.message.thinking or "" for p in parts) == "Six times seven."
    assert "".join(p.message.content for p in parts) == "The answer is 42."


def test_chat_unmatched_echo_names_the_model(client):
    resp = client.chat(model="qwen3:8b", messages=user("nothing matches"))
    assert resp.message.content.startswith("[mock response for qwen3:8b, fingerprint ")


def test_raw_stream_is_ndjson_by_default(app):
    with raw_client(app) as http:
        r = http.post("/api/chat", json={"model": MODEL, "messages": user("a story")})
        single = http.post("/api/chat", json={"model": MODEL, "messages": user("a story"), "stream": False})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    assert r.text.endswith("\n")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) > 3 and lines[-1]["done"] is True
    assert single.headers["content-type"].startswith("application/json")
    assert single.json()["message"]["content"] == STORY


def test_async_client(app):
    import asyncio

    import httpx

    async def run() -> str:
        client = ollama.AsyncClient(host="http://fakellm.test", transport=httpx.ASGITransport(app=app))
        text = ""
        async for part in await client.chat(model=MODEL, messages=user("a story"), stream=True):
            text += part.message.content
        return text

    assert asyncio.run(run()) == STORY


# --------------------------------------------------------------------------- /api/generate

def test_generate(client):
    resp = client.generate(model=MODEL, prompt="tell me a story")
    assert resp.response == STORY and resp.done and resp.done_reason == "stop"
    assert resp.prompt_eval_count > 0 and resp.eval_count > 0
    assert client.generate(model=MODEL, prompt="hi", system="Talk like a pirate").response == "Arr, matey!"
    short = client.generate(model=MODEL, prompt="a story", options={"num_predict": 3})
    assert short.response == "Once upon a" and short.done_reason == "length"


def test_generate_streamed(client):
    parts = list(client.generate(model=MODEL, prompt="a story", stream=True))
    assert len(parts) > 3 and "".join(p.response for p in parts) == STORY
    assert parts[-1].done and parts[-1].done_reason == "stop"
    thoughts = list(client.generate(model=MODEL, prompt="think hard", think=True, stream=True))
    assert "".join(p.thinking or "" for p in thoughts) == "Six times seven."


# --------------------------------------------------------------------------- /api/tags, /api/embed

def test_list_models_from_the_catalogue(client):
    names = [m.model for m in client.list().models]
    assert names == ["llama3.2:latest", "nomic-embed-text:latest"]
    model = client.list().models[0]
    assert model.size > 0 and model.digest and model.details.format == "gguf"


def test_version(app):
    with raw_client(app) as http:
        assert http.get("/api/version").json()["version"]


def test_embed(client):
    resp = client.embed(model="nomic-embed-text", input=["alpha", "beta", "alpha"], dimensions=32)
    vectors = resp.embeddings
    assert [len(v) for v in vectors] == [32, 32, 32]
    assert vectors[0] == vectors[2] != vectors[1]
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5) for v in vectors)
    assert client.embed(model="nomic-embed-text", input="alpha", dimensions=32).embeddings[0] == vectors[0]
    assert len(client.embeddings(model="nomic-embed-text", prompt="alpha").embedding) == 1536
    assert client.embed(model="nomic-embed-text", input="fixed").embeddings == [[0.6, 0.8]]


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
@pytest.mark.parametrize("stream", [False, True])
def test_rule_errors_raise_response_error(status, stream):
    client = ollama_client(app_from({"rules": [{"respond": {"status": status, "error": f"failing {status}"}}]}))
    with pytest.raises(ollama.ResponseError) as info:
        if stream:
            list(client.chat(model=MODEL, messages=user("hi"), stream=True))
        else:
            client.chat(model=MODEL, messages=user("hi"))
    assert info.value.status_code == status and info.value.error == f"failing {status}"
    with pytest.raises(ollama.ResponseError) as info:
        client.generate(model=MODEL, prompt="hi")
    assert info.value.status_code == status


def test_mid_stream_error_line_raises_response_error():
    """`stream_error_line` (for errors injected after a stream started) makes the client raise."""
    adapter = ollama_wire.OllamaChat()
    request = adapter.parse({"model": MODEL, "messages": user("a story")}, {}, "/api/chat", {})
    reply, _ = asyncio.run(Engine(starter_config(), MemoryStore()).handle(request))
    body = adapter.render_stream(reply, request, "r1")[0] + adapter.render_stream_error(
        500, ErrorInfo("model runner has unexpectedly stopped"), "req")

    async def broken_stream(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ollama_wire.NDJSON)]})
        await send({"type": "http.response.body", "body": body})

    received = []
    with pytest.raises(ollama.ResponseError) as info:
        for part in ollama_client(broken_stream).chat(model=MODEL, messages=user("a story"), stream=True):
            received.append(part)
    assert len(received) == 1 and info.value.error == "model runner has unexpectedly stopped"


def test_error_event_fault_mid_stream():
    """The delivery layer's error_event fault ends an Ollama stream with an `{"error": ...}` line."""
    app = app_from({"rules": [{"respond": {"content": "one two three four five", "fault": {
        "type": "error_event", "after_chunks": 2, "status": 500, "error": "runner stopped"}}}]})
    received = []
    with pytest.raises(ollama.ResponseError) as info:
        for part in ollama_client(app).chat(model=MODEL, messages=user("hi"), stream=True):
            received.append(part.message.content)
    assert received == ["one", " two"] and info.value.error == "runner stopped"


BAD = [
    ("/api/chat", b"{oops", "JSON"),
    ("/api/chat", b"[]", "JSON object"),
    ("/api/chat", b'{"messages": []}', "model is required"),
    ("/api/chat", b'{"model": ""}', "model is required"),
    ("/api/chat", b'{"model": 7}', "cannot unmarshal number"),
    ("/api/chat", b'{"model": "m", "messages": {}}', "cannot unmarshal object"),
    ("/api/chat", b'{"model": "m", "messages": ["hi"]}', "api.Message"),
    ("/api/chat", b'{"model": "m", "messages": [{"role": "robot", "content": "x"}]}', "invalid role"),
    ("/api/chat", b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', "cannot unmarshal number"),
    ("/api/chat", b'{"model": "m", "messages": [{"role": "assistant", "tool_calls": [{}]}]}', "name is required"),
    ("/api/chat", b'{"model": "m", "messages": [{"role": "assistant", "tool_calls": '
                  b'[{"function": {"name": "f", "arguments": 3}}]}]}', "arguments"),
    ("/api/chat", b'{"model": "m", "tools": [{"type": "function"}]}', "name is required"),
    ("/api/chat", b'{"model": "m", "stream": "yes"}', "stream of type bool"),
    ("/api/chat", b'{"model": "m", "options": []}', "options"),
    ("/api/chat", b'{"model": "m", "options": {"num_predict": "5"}}', "num_predict"),
    ("/api/chat", b'{"model": "m", "options": {"stop": [1]}}', "stop"),
    ("/api/chat", b'{"model": "m", "think": "maximum"}', "invalid think value"),
    ("/api/generate", b'{"prompt": "x"}', "model is required"),
    ("/api/generate", b'{"model": "m", "prompt": 1}', "prompt of type string"),
    ("/api/generate", b'{"model": "m", "system": []}', "system of type string"),
    ("/api/generate", b'{"model": "m", "context": "x"}', "context"),
    ("/api/generate", b'{"model": "m", "stream": 1}', "stream of type bool"),
    ("/api/embed", b'{"model": "m", "input": 5}', "invalid input type"),
    ("/api/embed", b'{"model": "m", "input": "x", "dimensions": 0}', "dimensions"),
    ("/api/embed", b'{"input": "x"}', "model is required"),
    ("/api/embeddings", b'{"model": "m", "prompt": []}', "prompt of type string"),
]


@pytest.mark.parametrize("path,body,needle", BAD)
def test_bad_input_gets_an_ollama_400(app, path, body, needle):
    with raw_client(app) as http:
        r = http.post(path, content=body)
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"error"} and needle in r.json()["error"]
        ok = http.post("/api/chat", json={"model": MODEL, "messages": user("a story"), "stream": False})
        assert ok.status_code == 200 and ok.json()["message"]["content"] == STORY


@pytest.mark.parametrize("body,needle", [
    ({"model": "nomic-embed-text", "input": "hi", "dimensions": 10_000_000}, "between 1 and 8192"),
    ({"model": "nomic-embed-text", "input": "hi", "dimensions": 2_147_483_648}, "between 1 and 8192"),
    ({"model": "nomic-embed-text", "input": ["x"] * 2049}, "at most 2048"),
])
def test_embed_is_bounded_like_openai_and_gemini(client, body, needle):
    """A huge `dimensions` or input count is a 400, not a body of hundreds of megabytes."""
    with pytest.raises(ollama.ResponseError) as info:
        client.embed(**body)
    assert info.value.status_code == 400 and needle in info.value.error
    assert len(client.embed(model="nomic-embed-text", input=["x"] * 2048, dimensions=8192).embeddings) == 2048


def test_bad_input_through_the_client(client):
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model=MODEL, messages=user("x"), options={"num_predict": "many"})
    assert info.value.status_code == 400 and "num_predict" in info.value.error


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/nope", 404),
    ("POST", "/api/pull", 404),
    ("GET", "/api/chat", 405),
    ("POST", "/api/tags", 405),
])
def test_unknown_api_paths_are_ollama_shaped(app, method, path, status):
    with raw_client(app) as http:
        r = http.request(method, path)
        assert r.status_code == status
        assert set(r.json()) == {"error"}
    with pytest.raises(ollama.ResponseError) as info:
        ollama_client(app).pull("llama3.2")
    assert info.value.status_code == 404


def test_body_over_the_limit_is_a_413():
    app = app_from({"defaults": {"max_body_bytes": 2048}})
    with raw_client(app) as http:
        r = http.post("/api/chat", json={"model": MODEL, "messages": user("x" * 5000)})
    assert r.status_code == 413 and "limit" in r.json()["error"]


# --------------------------------------------------------------------------- over a real socket

def test_over_a_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        assert f"  Ollama host:        {server.url}\n" in server.output
        client = ollama_client(server.url)
        assert client.chat(model=MODEL, messages=user("a story")).message.content == STORY
        assert "".join(p.message.content for p in client.chat(model=MODEL, messages=user("a story"), stream=True)) == STORY
        assert "".join(p.response for p in client.generate(model=MODEL, prompt="a story", stream=True)) == STORY
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model=MODEL, messages=[{"role": "robot", "content": "x"}])
        assert info.value.status_code == 400
        assert client.list().models[0].model == "llama3.2:latest"


def test_langchain_chat_ollama_agent_loop(tmp_path):
    """LangChain's Ollama integration: model validation, tool calls, a tool result, streaming."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_ollama import ChatOllama, OllamaEmbeddings

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "20 degrees and sunny"

    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        llm = ChatOllama(model=MODEL, base_url=server.url, validate_model_on_init=True).bind_tools([get_weather])
        messages = [HumanMessage("weather in Paris?")]
        ai = llm.invoke(messages)
        assert [(c["name"], c["args"]) for c in ai.tool_calls] == [("get_weather", {"city": "Paris"})]
        assert ai.usage_metadata["input_tokens"] > 0
        messages += [ai, ToolMessage(get_weather.invoke(ai.tool_calls[0]["args"]), tool_call_id=ai.tool_calls[0]["id"])]
        assert llm.invoke(messages).content == "It is 20 degrees in Paris."
        assert "".join(chunk.content for chunk in llm.stream(messages)) == "It is 20 degrees in Paris."
        assert len(OllamaEmbeddings(model="nomic-embed-text", base_url=server.url).embed_query("hi")) == 1536
        with pytest.raises(ValueError, match="not found"):
            ChatOllama(model="not-configured", base_url=server.url, validate_model_on_init=True)
