"""Gemini Developer API, driven through google-genai (api_version v1 and v1beta) as apps use it."""

from __future__ import annotations

import asyncio

import json
import math

import httpx
import pytest
from google.genai import errors, types
from helpers import BASE, Served, app_from, gemini_client, raw_client

from fakellm.model import ErrorInfo
from fakellm.providers.gemini import wire as gemini

CONFIG = """
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
  - name: second_turn
    when: {turn: 2, messages_contain: "again"}
    respond: {content: "You said it twice."}
  - name: thinker
    when: {messages_contain: "think hard"}
    respond: {content: "The answer is 42.", thinking: "Six times seven."}
  - name: only_gemini
    when: {api: gemini.generate, messages_contain: "which api"}
    respond: {content: "gemini it is"}
  - name: fixed_vector
    when: {api: gemini.embed, messages_contain: "fixed"}
    respond: {embedding: [0.6, 0.8]}
  - name: story
    when: {messages_contain: story}
    respond:
      content: "Once upon a time there was a small mock server that answered every call with care and speed."
"""

MODEL = "gemini-2.5-flash"
VERSIONS = ["v1", "v1beta"]


@pytest.fixture(scope="module")
def app():
    return app_from(CONFIG)


@pytest.fixture(params=VERSIONS)
def client(request, app):
    return gemini_client(app, api_version=request.param)


WEATHER_TOOL = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather",
    description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}),
)])
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


# --------------------------------------------------------------------------- generateContent

def test_generate_content_text(client):
    resp = client.models.generate_content(model=MODEL, contents="tell me a story")
    assert resp.text.startswith("Once upon a time")
    candidate = resp.candidates[0]
    assert candidate.finish_reason == types.FinishReason.STOP
    assert candidate.content.role == "model"
    usage = resp.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert resp.model_version == MODEL
    assert resp.response_id


def test_models_prefix_and_unmatched_echo_name_the_model(client):
    resp = client.models.generate_content(model="models/gemini-2.0-flash", contents="nothing matches this")
    assert resp.text.startswith("[mock response for gemini-2.0-flash, fingerprint ")
    again = client.models.generate_content(model="gemini-2.0-flash", contents="nothing matches this")
    assert again.text == resp.text


def test_system_instruction_is_the_system_prompt(client):
    resp = client.models.generate_content(
        model=MODEL, contents="hello", config=types.GenerateContentConfig(system_instruction="You are a pirate."))
    assert resp.text == "Arr, matey!"


def test_api_condition_singles_out_gemini(app, client):
    assert client.models.generate_content(model=MODEL, contents="which api?").text == "gemini it is"
    from helpers import openai_client
    other = openai_client(app).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "which api?"}])
    assert other.choices[0].message.content != "gemini it is"


def test_function_call_then_function_response(client):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL], automatic_function_calling=NO_AFC)
    first = client.models.generate_content(model=MODEL, contents="weather in Paris?", config=config)
    assert first.text is None
    [call] = first.function_calls
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    assert first.candidates[0].finish_reason == types.FinishReason.STOP

    history = [
        types.Content(role="user", parts=[types.Part(text="weather in Paris?")]),
        first.candidates[0].content,
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"result": "20 degrees and sunny"})]),
    ]
    second = client.models.generate_content(model=MODEL, contents=history, config=config)
    assert second.text == "It is 20 degrees in Paris."
    assert not second.function_calls


def test_a_function_response_turn_is_a_tool_message(client):
    history = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args={"city": "Rome"})]),
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather", response={"t": 9})]),
        types.Content(role="user", parts=[types.Part(text="and now?")]),
    ]
    assert client.models.generate_content(model=MODEL, contents=history).text == "after the tool"


def test_automatic_function_calling_runs_the_python_tool(client):
    calls = []

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return "20 degrees and sunny"

    resp = client.models.generate_content(
        model=MODEL, contents="weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather]))
    assert calls == ["Paris"]
    assert resp.text == "It is 20 degrees in Paris."


def test_chat_session_counts_turns(client):
    chat = client.chats.create(model=MODEL)
    first = chat.send_message("say it again please")
    assert first.text != "You said it twice."  # turn 1
    second = chat.send_message("again!")
    assert second.text == "You said it twice."


def test_max_output_tokens_gives_max_tokens(client):
    resp = client.models.generate_content(
        model=MODEL, contents="a story", config=types.GenerateContentConfig(max_output_tokens=3))
    assert resp.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert resp.text == "Once upon a"
    assert resp.usage_metadata.candidates_token_count <= 3


def test_stop_sequences_cut_the_text(client):
    resp = client.models.generate_content(
        model=MODEL, contents="a story", config=types.GenerateContentConfig(stop_sequences=["mock"]))
    assert resp.text == "Once upon a time there was a small "
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP


def test_candidate_count(client):
    resp = client.models.generate_content(
        model=MODEL, contents="a story", config=types.GenerateContentConfig(candidate_count=3))
    assert [c.index for c in resp.candidates] == [0, 1, 2]
    assert all(c.content.parts[0].text.startswith("Once upon") for c in resp.candidates)


def test_thoughts_when_include_thoughts(client):
    plain = client.models.generate_content(model=MODEL, contents="think hard")
    assert plain.text == "The answer is 42."
    assert all(not p.thought for p in plain.candidates[0].content.parts)

    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    resp = client.models.generate_content(model=MODEL, contents="think hard", config=config)
    parts = resp.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "Six times seven."
    assert resp.text == "The answer is 42."  # thoughts are not text
    assert resp.usage_metadata.thoughts_token_count > 0


# --------------------------------------------------------------------------- streaming

def test_stream_chunks_carry_only_new_text(client):
    whole = client.models.generate_content(model=MODEL, contents="tell me a story")
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="tell me a story"))
    assert len(chunks) > 2
    assert "".join(c.text for c in chunks) == whole.text
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == whole.usage_metadata.candidates_token_count
    assert len({c.response_id for c in chunks}) == 1


def test_stream_function_call(client):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL], automatic_function_calling=NO_AFC)
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="weather?", config=config))
    calls = [fc for c in chunks for fc in (c.function_calls or [])]
    assert [(fc.name, fc.args) for fc in calls] == [("get_weather", {"city": "Paris"})]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_stream_max_tokens(client):
    chunks = list(client.models.generate_content_stream(
        model=MODEL, contents="a story", config=types.GenerateContentConfig(max_output_tokens=3)))
    assert "".join(c.text for c in chunks) == "Once upon a"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_chat_stream(client):
    chat = client.chats.create(model=MODEL)
    "".join(c.text for c in chat.send_message_stream("say it again"))
    assert "".join(c.text for c in chat.send_message_stream("again")) == "You said it twice."


def test_async_client_stream(app):
    import asyncio

    from google import genai

    async def run() -> str:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(
            base_url=BASE, api_version="v1beta",
            httpx_async_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)))
        text = ""
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="a story"):
            text += chunk.text
        return text

    assert asyncio.run(run()).startswith("Once upon a time")


def test_sse_framing_is_strict(app):
    """Only `data: <json>` lines and blank lines: no event lines, comments or [DONE]."""
    with raw_client(app) as http:
        r = http.post(f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse",
                      json={"contents": [{"role": "user", "parts": [{"text": "a story"}]}]})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    body = r.text
    assert body.endswith("\r\n\r\n")
    events = body.split("\r\n\r\n")[:-1]
    assert len(events) > 2
    for event in events:
        assert event.startswith("data: {") and "\n" not in event and "\r" not in event
        json.loads(event[len("data: "):])


def test_stream_without_alt_sse_is_a_json_array(app):
    with raw_client(app) as http:
        r = http.post(f"/v1beta/models/{MODEL}:streamGenerateContent",
                      json={"contents": [{"parts": [{"text": "a story"}]}]})
    assert r.status_code == 200
    chunks = r.json()
    assert isinstance(chunks, list) and len(chunks) > 2
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks).startswith("Once upon")
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_snake_case_keys_work_like_camel_case(app):
    snake = {
        "contents": [{"role": "user", "parts": [{"text": "a story"}]}],
        "system_instruction": {"parts": [{"text": "talk like a pirate"}]},
        "generation_config": {"max_output_tokens": 1},
    }
    camel = {
        "contents": [{"role": "user", "parts": [{"text": "a story"}]}],
        "systemInstruction": {"parts": [{"text": "talk like a pirate"}]},
        "generationConfig": {"maxOutputTokens": 1},
    }
    with raw_client(app) as http:
        a = http.post(f"/v1/models/{MODEL}:generateContent", json=snake).json()
        b = http.post(f"/v1/models/{MODEL}:generateContent", json=camel).json()
    for resp in (a, b):
        assert resp["candidates"][0]["content"]["parts"][0]["text"] == "Arr,"
        assert resp["candidates"][0]["finishReason"] == "MAX_TOKENS"

    history = {"contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"function_call": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"t": "20 degrees"}}}]},
    ], "tools": [{"function_declarations": [{"name": "get_weather"}]}]}
    with raw_client(app) as http:
        resp = http.post(f"/v1beta/models/{MODEL}:generateContent", json=history).json()
    assert resp["candidates"][0]["content"]["parts"][0]["text"] == "It is 20 degrees in Paris."


# --------------------------------------------------------------------------- errors

STATUSES = [
    (400, "INVALID_ARGUMENT", errors.ClientError),
    (401, "UNAUTHENTICATED", errors.ClientError),
    (403, "PERMISSION_DENIED", errors.ClientError),
    (404, "NOT_FOUND", errors.ClientError),
    (429, "RESOURCE_EXHAUSTED", errors.ClientError),
    (500, "INTERNAL", errors.ServerError),
    (503, "UNAVAILABLE", errors.ServerError),
    (504, "DEADLINE_EXCEEDED", errors.ServerError),
]


@pytest.mark.parametrize("status,name,exc", STATUSES)
@pytest.mark.parametrize("stream", [False, True])
def test_rule_errors_raise_the_sdk_exceptions(status, name, exc, stream):
    app = app_from({"rules": [{"respond": {"status": status, "error": f"failing with {status}"}}]})
    client = gemini_client(app)
    with pytest.raises(exc) as info:
        if stream:
            list(client.models.generate_content_stream(model=MODEL, contents="hi"))
        else:
            client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == status
    assert info.value.status == name
    assert info.value.message == f"failing with {status}"


def test_rule_error_type_names_the_status_and_code_the_reason():
    app = app_from({"rules": [{"respond": {"status": 429, "error": {
        "message": "quota", "type": "RESOURCE_EXHAUSTED", "code": "RATE_LIMIT_EXCEEDED"}}}]})
    client = gemini_client(app, "v1")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    assert (info.value.code, info.value.status, info.value.message) == (429, "RESOURCE_EXHAUSTED", "quota")
    assert info.value.details["error"]["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"


def test_strict_mode_miss_is_a_gemini_404():
    client = gemini_client(app_from({"defaults": {"fallback": "error"}}))
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert "no rule matched" in info.value.message


def test_mid_stream_error_chunk_raises_in_the_sdk():
    """`stream_error_event` (for errors injected after a stream started) makes the SDK raise."""
    from fakellm.engine.engine import Engine
    from fakellm.store.memory import MemoryStore
    from fakellm.config.starter import starter_config

    adapter = gemini.GeminiGenerate(streaming=True)
    request = adapter.parse({"contents": [{"parts": [{"text": "a story"}]}]}, {}, "/", {"model": MODEL, "alt": "sse"})
    reply, _ = asyncio.run(Engine(starter_config(), MemoryStore()).handle(request))
    chunks = adapter.render_stream(reply, request, "r1")
    body = chunks[0] + gemini.stream_error_event(503, ErrorInfo("The model is overloaded."))

    async def broken_stream(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": body})

    client = gemini_client(broken_stream)
    received = []
    with pytest.raises(errors.ServerError) as info:
        for chunk in client.models.generate_content_stream(model=MODEL, contents="a story"):
            received.append(chunk.text)
    assert len(received) == 1
    assert (info.value.code, info.value.status, info.value.message) == (503, "UNAVAILABLE", "The model is overloaded.")


def test_error_event_fault_mid_stream():
    """The delivery layer's error_event fault ends a Gemini stream with Google's error chunk."""
    app = app_from({"rules": [{"respond": {"content": "one two three four five", "fault": {
        "type": "error_event", "after_chunks": 2, "status": 503, "error": "overloaded"}}}]})
    received = []
    with pytest.raises(errors.ServerError) as info:
        for chunk in gemini_client(app).models.generate_content_stream(model=MODEL, contents="hi"):
            received.append(chunk.text)
    assert received == ["one", " two"]
    assert (info.value.code, info.value.status, info.value.message) == (503, "UNAVAILABLE", "overloaded")


def test_truncate_fault_drops_the_finishing_chunk():
    app = app_from({"rules": [{"respond": {"content": "one two three four five", "fault": {
        "type": "truncate", "after_chunks": 3}}}]})
    chunks = list(gemini_client(app).models.generate_content_stream(model=MODEL, contents="hi"))
    assert [c.text for c in chunks] == ["one", " two", " three"]
    assert all(c.candidates[0].finish_reason is None for c in chunks)


BAD_GENERATE = [
    (b"{not json", "JSON"),
    (b"[1, 2]", "JSON object"),
    (b"{}", "contents is not specified"),
    (b'{"contents": []}', "contents is not specified"),
    (b'{"contents": "hi"}', "contents"),
    (b'{"contents": [1]}', "contents[0]"),
    (b'{"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}', "valid role"),
    (b'{"contents": [{"role": "user"}]}', "parts"),
    (b'{"contents": [{"role": "user", "parts": []}]}', "must not be empty"),
    (b'{"contents": [{"parts": [{"text": 5}]}]}', "text"),
    (b'{"contents": [{"parts": ["hi"]}]}', "Part"),
    (b'{"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]}', "Name cannot be empty"),
    (b'{"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": "x"}}]}]}', "args"),
    (b'{"contents": [{"parts": [{"functionResponse": {"name": "f", "response": 3}}]}]}', "response"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "systemInstruction": 7}', "systemInstruction"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "tools": {}}', "tools"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{}]}]}', "Name cannot be empty"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": []}', "generationConfig"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "5"}}', "maxOutputTokens"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 0}}', "positive"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"stopSequences": [1]}}', "stopSequences"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 9}}', "candidate_count"),
    (b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": true}}', "candidateCount"),
]


# countTokens takes only `contents`; the other fields' checks are generateContent's.
BAD_CASES = [(m, body, needle) for m in ("generateContent", "streamGenerateContent?alt=sse", "countTokens")
             for body, needle in BAD_GENERATE
             if m != "countTokens" or not any(k in body for k in (b"generationConfig", b"tools", b"systemInstruction"))]


@pytest.mark.parametrize("method,body,needle", BAD_CASES)
def test_bad_generate_bodies_get_google_400s(app, method, body, needle):
    with raw_client(app) as http:
        r = http.post(f"/v1beta/models/{MODEL}:{method}", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
        assert needle in error["message"]
        ok = http.post(f"/v1beta/models/{MODEL}:generateContent", json={"contents": [{"parts": [{"text": "story"}]}]})
        assert ok.status_code == 200


def test_bad_input_through_the_sdk_is_a_client_error(client):
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi", config=types.GenerateContentConfig(candidate_count=9))
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert client.models.generate_content(model=MODEL, contents="a story").text.startswith("Once")


@pytest.mark.parametrize("method,path,body,status,needle", [
    ("POST", "/v1beta/models/gemini-x:fooBar", b"{}", 404, "Method not found"),
    ("POST", "/v1/models/gemini-x:fooBar", b"{}", 404, "Method not found"),
    ("POST", "/v1beta/models/gemini-x", b"{}", 404, "generateContent"),
    ("GET", "/v1beta/models/gemini-x:generateContent", b"", 404, "POST"),
    ("GET", "/v1beta/models/no-such-model", b"", 404, "not found"),
    ("GET", "/v1beta/models?pageSize=abc", b"", 400, "pageSize"),
    ("GET", "/v1beta/models?pageSize=0", b"", 400, "pageSize"),
    ("GET", "/v1beta/cachedContents", b"", 404, "Unknown path"),
    ("POST", "/v1beta/files", b"{}", 404, "Unknown path"),
    ("DELETE", "/v1beta/models/gemini-x:generateContent", b"", 405, "not allowed"),
    ("POST", "/v1/models/gemini-x:countTokens", b'{"foo": 1}', 400, "contents"),
    ("POST", "/v1/models/gemini-x:countTokens", b'{"generateContentRequest": 1}', 400, "generate_content_request"),
    ("POST", "/v1/models/gemini-x:countTokens", b"nope", 400, "JSON"),
    ("POST", "/v1/models/gemini-x:countTokens", b"[]", 400, "JSON object"),
    # A model call without its API version (LiteLLM's gemini/ with a bare base URL): a 404 that says
    # which paths are served, never a 405 that says "use GET".
    ("POST", "/models/gemini-x:generateContent", b"{}", 404, "POST /v1beta/models/gemini-x:generateContent"),
    ("POST", "/models/gemini-x:streamGenerateContent?alt=sse", b"{}", 404, "needs the API version"),
    ("POST", "/gemini/models/gemini-x:embedContent", b"{}", 404, "POST /v1/models/gemini-x:embedContent"),
])
def test_unknown_paths_and_bad_requests_are_google_shaped(app, method, path, body, status, needle):
    with raw_client(app) as http:
        r = http.request(method, path, content=body)
        assert r.status_code == status, r.text
        error = r.json()["error"]
        assert error["code"] == status and error["status"] == gemini.status_name(status)
        assert needle in error["message"]
        assert http.post(f"/v1/models/{MODEL}:generateContent",
                         json={"contents": [{"parts": [{"text": "story"}]}]}).status_code == 200


def test_a_client_whose_base_url_lacks_the_version_is_told_to_add_it(app):
    """google-genai with api_version="" posts /models/{m}:generateContent, as LiteLLM's gemini/ does
    with a base URL without /v1beta: the SDK raises a 404 whose message names the served paths."""
    client = gemini_client(app, api_version="")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert "/v1beta/models/" in info.value.message and "Add the version" in info.value.message
    assert gemini_client(app).models.generate_content(model=MODEL, contents="a story").text.startswith("Once")


def test_body_over_the_limit_is_a_google_413():
    app = app_from({"defaults": {"max_body_bytes": 2048}})
    big = {"contents": [{"parts": [{"text": "x" * 5000}]}]}
    with raw_client(app) as http:
        for method in ("generateContent", "countTokens", "batchEmbedContents"):
            r = http.post(f"/v1beta/models/{MODEL}:{method}", json=big)
            assert r.status_code == 413
            assert r.json()["error"]["code"] == 413


# --------------------------------------------------------------------------- countTokens

def test_count_tokens_matches_the_usage_of_a_real_call(client):
    contents = "Please tell me a long story about dragons and mock servers."
    counted = client.models.count_tokens(model=MODEL, contents=contents)
    used = client.models.generate_content(model=MODEL, contents=contents)
    assert counted.total_tokens == used.usage_metadata.prompt_token_count > 0


def test_count_tokens_with_a_generate_content_request(app):
    with raw_client(app) as http:
        body = {"generateContentRequest": {"model": f"models/{MODEL}",
                                           "contents": [{"parts": [{"text": "twelve chars"}]}]}}
        r = http.post(f"/v1beta/models/{MODEL}:countTokens", json=body)
    assert r.status_code == 200 and r.json() == {"totalTokens": 3}


# --------------------------------------------------------------------------- embeddings

def test_embed_content_batch_is_deterministic_unit_vectors(client):
    config = types.EmbedContentConfig(output_dimensionality=64)
    resp = client.models.embed_content(model="gemini-embedding-001", contents=["alpha", "beta", "alpha"], config=config)
    vectors = [e.values for e in resp.embeddings]
    assert [len(v) for v in vectors] == [64, 64, 64]
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5)
    again = client.models.embed_content(model="gemini-embedding-001", contents="alpha", config=config)
    assert again.embeddings[0].values == vectors[0]


def test_embed_default_size_comes_from_the_catalogue():
    app = app_from({"models": [{"id": "text-embedding-004", "dimensions": 768}]})
    client = gemini_client(app)
    resp = client.models.embed_content(model="text-embedding-004", contents="hello")
    assert len(resp.embeddings[0].values) == 768


def test_embed_fixed_vector_from_a_rule(client):
    resp = client.models.embed_content(model="gemini-embedding-001", contents=["fixed one", "fixed two"])
    assert [e.values for e in resp.embeddings] == [[0.6, 0.8], [0.6, 0.8]]


def test_embed_fixed_vectors_one_per_input_cycle():
    app = app_from({"rules": [{"when": {"api": "gemini"}, "respond": {"embedding": [[1, 0], [0, 1]]}}]})
    resp = gemini_client(app).models.embed_content(model="gemini-embedding-001", contents=["a", "b", "c"])
    assert [e.values for e in resp.embeddings] == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]


def test_embed_content_single(app):
    with raw_client(app) as http:
        r = http.post("/v1beta/models/text-embedding-004:embedContent",
                      json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16})
        batch = http.post("/v1beta/models/text-embedding-004:batchEmbedContents", json={"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16}]})
    assert r.status_code == 200
    values = r.json()["embedding"]["values"]
    assert len(values) == 16
    assert batch.json()["embeddings"][0]["values"] == values


@pytest.mark.parametrize("method,body,needle", [
    ("embedContent", {}, "content is required"),
    ("embedContent", {"content": "hi"}, "Content object"),
    ("embedContent", {"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 0}, "positive"),
    ("embedContent", {"content": {"parts": [{"text": "x"}]}, "outputDimensionality": "8"}, "outputDimensionality"),
    ("batchEmbedContents", {}, "requests"),
    ("batchEmbedContents", {"requests": []}, "must not be empty"),
    ("batchEmbedContents", {"requests": [5]}, "requests[0]"),
    ("batchEmbedContents", {"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]},
     "model in the URL"),
    ("batchEmbedContents", {"requests": [{"content": {"parts": []}}]}, "must not be empty"),
    ("batchEmbedContents", {"requests": [{"content": {"parts": [{"text": "x"}]}}] * 101}, "at most 100"),
])
def test_bad_embed_bodies_get_google_400s(app, method, body, needle):
    with raw_client(app) as http:
        r = http.post(f"/v1beta/models/text-embedding-004:{method}", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert needle in r.json()["error"]["message"]
        assert http.post("/v1beta/models/text-embedding-004:embedContent",
                         json={"content": {"parts": [{"text": "ok"}]}}).status_code == 200


def test_embed_rule_error():
    app = app_from({"rules": [{"when": {"api": "gemini.embed"}, "respond": {"status": 429, "error": "slow"}}]})
    client = gemini_client(app)
    with pytest.raises(errors.ClientError) as info:
        client.models.embed_content(model="gemini-embedding-001", contents="x")
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")


# --------------------------------------------------------------------------- models

@pytest.mark.parametrize("version", VERSIONS)
def test_models_list_and_get_from_the_catalogue(version):
    """v1beta is Gemini's own; GET /v1/models is shared with OpenAI and Anthropic and answers by the SDK's headers."""
    app = app_from({"models": ["gemini-2.5-flash", {"id": "gemini-2.5-pro", "display_name": "Pro",
                                                    "input_token_limit": 1000000}, "text-embedding-004"]})
    client = gemini_client(app, version)
    models = list(client.models.list())
    assert [m.name for m in models] == ["models/gemini-2.5-flash", "models/gemini-2.5-pro", "models/text-embedding-004"]
    pro = client.models.get(model="gemini-2.5-pro")
    assert pro.display_name == "Pro" and pro.input_token_limit == 1000000
    assert "generateContent" in pro.supported_actions
    assert "embedContent" in client.models.get(model="models/text-embedding-004").supported_actions
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model="gemini-nope")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")


@pytest.mark.parametrize("version", VERSIONS)
def test_models_list_pages(version):
    ids = [f"gemini-{i}" for i in range(7)]
    app = app_from({"models": ids})
    client = gemini_client(app, version)
    pager = client.models.list(config={"page_size": 3})
    assert len(pager.page) == 3
    assert [m.name for m in pager] == [f"models/{i}" for i in ids]


# --------------------------------------------------------------------------- over a real socket

@pytest.mark.parametrize("version", VERSIONS)
def test_over_a_socket(tmp_path, version):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        assert f"  Gemini base URL:    {server.url}\n" in server.output
        client = gemini_client(server.url, version)
        assert client.models.generate_content(model=MODEL, contents="a story").text.startswith("Once upon")
        chunks = list(client.models.generate_content_stream(model=MODEL, contents="a story"))
        assert len(chunks) > 2 and "".join(c.text for c in chunks).startswith("Once upon")
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model=MODEL, contents="x", config={"candidate_count": 9})
        assert info.value.code == 400
        assert client.models.count_tokens(model=MODEL, contents="hello there").total_tokens > 0
