"""Google Vertex AI: Gemini through google-genai (`vertexai=True`) and Claude through `anthropic.AnthropicVertex`,
against a real server on 127.0.0.1. Credentials are fixed bearer tokens: nothing reaches Google."""

from __future__ import annotations

import anthropic
import google.oauth2.credentials
import httpx
import pytest
from google import genai
from google.genai import errors, types

from fakellm.testing import FakeLLM

PROJECT = "test-project"
GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4@20250514"

RULES = [
    {"name": "weather_call", "when": {"tools_include": "get_weather", "turn": 1},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "weather_answer", "when": {"tool_result_contains": "20 degrees"},
     "respond": {"content": "It is 20 degrees in Paris."}},
    {"name": "claude_only", "when": {"api": "vertex.anthropic", "messages_contain": "which api"},
     "respond": {"content": "Claude on Vertex"}},
    {"name": "vertex_family", "when": {"api": "vertex", "messages_contain": "which family"},
     "respond": {"content": "some Vertex model"}},
    {"name": "vertex_gemini_only", "when": {"api": "vertex.gemini", "messages_contain": "which gemini"},
     "respond": {"content": "Gemini on Vertex"}},
    {"name": "quota", "when": {"messages_contain": "over quota"},
     "respond": {"status": 429, "error": {"message": "Quota exceeded for aiplatform.googleapis.com"}}},
    {"name": "broken_stream", "when": {"messages_contain": "break the stream"},
     "respond": {"content": "one two three four five six", "fault": {"type": "error_event", "after_chunks": 2}}},
    {"name": "limited", "when": {"messages_contain": "limited"}, "rate_limit": {"requests_per_minute": 1},
     "respond": {"content": "within the limit"}},
    {"name": "story", "when": {"messages_contain": "story"},
     "respond": {"content": "Once upon a time a mock server answered every call."}},
]


@pytest.fixture(scope="module")
def llm():
    with FakeLLM(rules=RULES) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(llm):
    llm.reset()


def vertex_gemini(llm: FakeLLM, api_version: str | None = None, location: str = "us-central1") -> genai.Client:
    """google-genai on Vertex AI, pointed at fakellm, with a fixed token (no refresh, no metadata server)."""
    options = types.HttpOptions(base_url=llm.url, api_version=api_version)
    return genai.Client(vertexai=True, project=PROJECT, location=location, http_options=options,
                        credentials=google.oauth2.credentials.Credentials(token="test-token"))


def vertex_claude(llm: FakeLLM, base_url: str | None = None, region: str = "us-east5") -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(region=region, project_id=PROJECT, access_token="test-token", max_retries=0,
                                     base_url=base_url if base_url is not None else llm.url + "/v1")


# Clients live in fixtures or variables: a client garbage-collected mid-call closes its connection.
@pytest.fixture
def gemini(llm):
    return vertex_gemini(llm)


@pytest.fixture
def claude(llm):
    return vertex_claude(llm)


@pytest.fixture(params=[None, "v1"], ids=["v1beta1", "v1"])
def gemini_client(request, llm):
    return vertex_gemini(llm, request.param)


WEATHER_TOOL = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}))])
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)
CLAUDE_WEATHER = {"name": "get_weather", "description": "Current weather",
                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
HI = [{"role": "user", "content": "hi"}]


# --------------------------------------------------------------------------- Gemini on Vertex

def test_gemini_generate(llm, gemini_client):
    config = types.GenerateContentConfig(labels={"team": "search"}, system_instruction="be brief")
    resp = gemini_client.models.generate_content(model=GEMINI, contents="tell me a story", config=config)
    assert resp.text == "Once upon a time a mock server answered every call."
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.model_version == GEMINI
    assert resp.usage_metadata.total_token_count == (resp.usage_metadata.prompt_token_count
                                                     + resp.usage_metadata.candidates_token_count)
    [entry] = llm.requests
    version = gemini_client._api_client._http_options.api_version
    assert entry.path == (f"/{version}/projects/{PROJECT}/locations/us-central1/publishers/google/models/"
                          f"{GEMINI}:generateContent")
    assert (entry.api, entry.model, entry.rule) == ("vertex.gemini", GEMINI, "story")
    assert entry.request["labels"] == {"team": "search"}
    assert entry.headers["authorization"] == "[redacted]"


def test_gemini_defaults_to_v1beta1(llm):
    client = vertex_gemini(llm)
    assert client.models.generate_content(model=GEMINI, contents="a story").text.startswith("Once upon")
    assert llm.requests[0].path.startswith(f"/v1beta1/projects/{PROJECT}/locations/us-central1/")


def test_gemini_stream(llm, gemini_client):
    chunks = list(gemini_client.models.generate_content_stream(model=GEMINI, contents="a story please"))
    assert len(chunks) > 3
    assert "".join(c.text or "" for c in chunks) == "Once upon a time a mock server answered every call."
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count > 0
    assert llm.requests[0].stream is True


def test_gemini_count_tokens_matches_the_prompt_usage(gemini_client):
    contents = "please count the tokens of this story"
    config = types.CountTokensConfig(system_instruction="be brief", tools=[WEATHER_TOOL])
    counted = gemini_client.models.count_tokens(model=GEMINI, contents=contents, config=config)
    resp = gemini_client.models.generate_content(
        model=GEMINI, contents=contents, config=types.GenerateContentConfig(system_instruction="be brief"))
    assert counted.total_tokens == resp.usage_metadata.prompt_token_count > 0


def test_gemini_tool_call_round_trip(llm, gemini_client):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL], automatic_function_calling=NO_AFC)
    first = gemini_client.models.generate_content(model=GEMINI, contents="weather in Paris?", config=config)
    [call] = first.function_calls
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    history = [
        types.Content(role="user", parts=[types.Part(text="weather in Paris?")]),
        first.candidates[0].content,
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"result": "20 degrees and sunny"})]),
    ]
    second = gemini_client.models.generate_content(model=GEMINI, contents=history, config=config)
    assert second.text == "It is 20 degrees in Paris."
    assert [(r.rule, r.turn) for r in llm.requests] == [("weather_call", 1), ("weather_answer", 2)]


def test_gemini_automatic_function_calling(gemini_client):
    calls = []

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return "20 degrees and sunny"

    resp = gemini_client.models.generate_content(
        model=GEMINI, contents="weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather]))
    assert calls == ["Paris"]
    assert resp.text == "It is 20 degrees in Paris."


def test_gemini_bad_request_is_googles_400_and_the_server_keeps_serving(gemini_client):
    with pytest.raises(errors.ClientError) as info:
        gemini_client.models.generate_content(
            model=GEMINI, contents="a story", config=types.GenerateContentConfig(candidate_count=9))
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert "candidate_count" in info.value.message
    assert gemini_client.models.generate_content(model=GEMINI, contents="a story").text.startswith("Once upon")


@pytest.mark.parametrize("body, words", [
    ({"contents": []}, "contents is not specified"),
    ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "labels": ["team"]}, "labels"),
    ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "labels": {"team": 7}}, "labels"),
    ({"contents": [{"role": "robot", "parts": [{"text": "hi"}]}]}, "valid role"),
])
@pytest.mark.parametrize("method", ["generateContent", "countTokens"])
def test_gemini_bad_bodies(llm, body, words, method):
    url = f"{llm.url}/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{GEMINI}:{method}"
    resp = httpx.post(url, json=body, headers={"authorization": "Bearer t"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert words in error["message"]


def test_gemini_count_tokens_reports_billable_characters(llm):
    url = f"{llm.url}/v1beta1/projects/{PROJECT}/locations/us-central1/publishers/google/models/{GEMINI}:countTokens"
    resp = httpx.post(url, json={"contents": [{"role": "user", "parts": [{"text": "ab cd\nef"}]}]})
    assert resp.json() == {"totalTokens": 2, "totalBillableCharacters": 6}


def test_gemini_unknown_location_is_a_404(llm):
    client = vertex_gemini(llm, location=PROJECT)  # the project where the location belongs
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=GEMINI, contents="a story")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")
    assert f"Location '{PROJECT}' is not a Vertex AI location" in info.value.message
    with pytest.raises(errors.ClientError) as info:
        client.models.count_tokens(model=GEMINI, contents="a story")
    assert info.value.code == 404


@pytest.mark.parametrize("location", ["global", "us", "europe-west4", "us-east5", "northamerica-northeast1"])
def test_gemini_real_locations_are_served(llm, location):
    client = vertex_gemini(llm, location=location)
    assert client.models.generate_content(
        model=GEMINI, contents="a story").text.startswith("Once upon")


def test_gemini_rule_error_and_mid_stream_fault(gemini_client):
    with pytest.raises(errors.ClientError) as info:
        gemini_client.models.generate_content(model=GEMINI, contents="over quota")
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")
    got = []
    with pytest.raises(errors.APIError):
        for chunk in gemini_client.models.generate_content_stream(model=GEMINI, contents="break the stream"):
            got.append(chunk.text)
    assert got == ["one", " two"]


# --------------------------------------------------------------------------- Claude on Vertex

def test_claude_messages(llm, claude):
    message = claude.messages.create(model=CLAUDE, max_tokens=64,
                                                 messages=[{"role": "user", "content": "tell me a story"}])
    assert message.content[0].text == "Once upon a time a mock server answered every call."
    assert (message.model, message.stop_reason) == (CLAUDE, "end_turn")
    assert message.usage.output_tokens > 0
    [entry] = llm.requests
    assert entry.path == f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    assert (entry.api, entry.model, entry.rule) == ("vertex.anthropic", CLAUDE, "story")
    assert isinstance(entry.request["anthropic_version"], str)
    assert entry.headers["authorization"] == "[redacted]"


def test_claude_base_url_without_v1_works_too(llm):
    client = vertex_claude(llm, base_url=llm.url)
    message = client.messages.create(
        model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "a story"}])
    assert message.content[0].text.startswith("Once upon")
    assert llm.requests[0].path.startswith(f"/projects/{PROJECT}/locations/us-east5/")


def test_claude_stream(llm, claude):
    with claude.messages.stream(model=CLAUDE, max_tokens=64,
                                            messages=[{"role": "user", "content": "a story"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 3 and "".join(pieces) == "Once upon a time a mock server answered every call."
    assert final.stop_reason == "end_turn"
    [entry] = llm.requests
    assert entry.path.endswith(f"/models/{CLAUDE}:streamRawPredict") and entry.stream


def test_claude_tool_use_round_trip(llm):
    client = vertex_claude(llm)
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client.messages.create(model=CLAUDE, max_tokens=64, tools=[CLAUDE_WEATHER], messages=messages)
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                               "content": "20 degrees and sunny"}]}]
    second = client.messages.create(model=CLAUDE, max_tokens=64, tools=[CLAUDE_WEATHER], messages=messages)
    assert second.content[0].text == "It is 20 degrees in Paris."
    assert [r.rule for r in llm.requests] == ["weather_call", "weather_answer"]


def test_claude_streamed_tool_use(claude):
    with claude.messages.stream(model=CLAUDE, max_tokens=64, tools=[CLAUDE_WEATHER],
                                            messages=[{"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].input == {"city": "Paris"}


def test_claude_count_tokens(llm):
    messages = [{"role": "user", "content": "please count the tokens of this story"}]
    client = vertex_claude(llm)
    counted = client.messages.count_tokens(model=CLAUDE, messages=messages)
    message = client.messages.create(model=CLAUDE, max_tokens=64, messages=messages)
    assert counted.input_tokens == message.usage.input_tokens > 0


def test_claude_bad_body_is_anthropics_400_and_the_server_keeps_serving(llm):
    client = vertex_claude(llm)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "robot", "content": "hi"}])
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.0.role" in info.value.message
    assert client.messages.create(model=CLAUDE, max_tokens=64, messages=HI).content[0].text


def test_claude_body_without_anthropic_version_is_a_400(llm):
    url = f"{llm.url}/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/models/{CLAUDE}:rawPredict"
    resp = httpx.post(url, json={"max_tokens": 16, "messages": HI})
    assert resp.status_code == 400
    assert resp.json()["error"] == {"type": "invalid_request_error", "message": "anthropic_version: Field required"}


def test_claude_unknown_location_is_a_404(llm):
    client = vertex_claude(llm, region="Europe West")
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model=CLAUDE, max_tokens=16, messages=HI)
    assert "is not a Vertex AI location" in info.value.message
    assert info.value.body["error"]["type"] == "not_found_error"


def test_claude_rule_errors_and_faults(llm):
    client = vertex_claude(llm)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "over quota"}])
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model=CLAUDE, max_tokens=64,
                                    messages=[{"role": "user", "content": "break the stream"}]) as stream:
            for _ in stream.text_stream:
                pass
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_rate_limits_count_per_bearer_token(llm):
    """The access token is the API key a rate limit counts by (`per: api_key`)."""
    first, second = vertex_gemini(llm), vertex_claude(llm)
    assert first.models.generate_content(model=GEMINI, contents="limited").text == "within the limit"
    with pytest.raises(errors.ClientError) as info:
        first.models.generate_content(model=GEMINI, contents="limited")
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(anthropic.RateLimitError) as limited:
        second.messages.create(model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "limited"}])
    assert int(limited.value.response.headers["retry-after"]) > 0
    other = anthropic.AnthropicVertex(region="us-east5", project_id=PROJECT, access_token="another-token",
                                      base_url=llm.url + "/v1", max_retries=0)
    assert other.messages.create(model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "limited"}]) \
        .content[0].text == "within the limit"


# --------------------------------------------------------------------------- when.api

def test_vertex_anthropic_rule_answers_only_vertex_claude(llm, claude, gemini):
    question = [{"role": "user", "content": "which api is this?"}]
    assert claude.messages.create(model=CLAUDE, max_tokens=64,
                                              messages=question).content[0].text == "Claude on Vertex"
    direct = anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="sk-ant-test", max_retries=0)
    assert direct.messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                  messages=question).content[0].text != "Claude on Vertex"
    assert gemini.models.generate_content(model=GEMINI, contents="which api is this?").text \
        != "Claude on Vertex"
    assert [r.rule for r in llm.requests] == ["claude_only", None, None]


def test_the_vertex_family_matches_both_vertex_apis_and_nothing_else(llm, claude, gemini):
    gemini_direct = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=llm.gemini_base_url))
    answers = [
        gemini.models.generate_content(model=GEMINI, contents="which family?").text,
        claude.messages.create(model=CLAUDE, max_tokens=64,
                                           messages=[{"role": "user", "content": "which family?"}]).content[0].text,
        gemini_direct.models.generate_content(model=GEMINI, contents="which family?").text,
    ]
    assert answers[:2] == ["some Vertex model"] * 2 and answers[2] != "some Vertex model"
    assert gemini.models.generate_content(model=GEMINI, contents="which gemini?").text \
        == "Gemini on Vertex"
    assert gemini_direct.models.generate_content(model=GEMINI, contents="which gemini?").text != "Gemini on Vertex"


# --------------------------------------------------------------------------- paths and environment

@pytest.mark.parametrize("path", [
    "/v1/projects/p/locations/us-central1/publishers/meta/models/llama-3:rawPredict",
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:predict",
    "/v1beta1/projects/p/publishers/google/models/gemini-2.5-flash:generateContent",
    "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude:generateContent",
])
def test_unknown_vertex_paths_are_googles_404_naming_the_served_calls(llm, gemini, path):
    resp = httpx.post(llm.url + path, json={"contents": []})
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert error["message"].startswith(f"Unknown path POST {path}. fakellm serves Vertex AI's Gemini at")
    assert ":rawPredict" in error["message"]
    assert gemini.models.generate_content(model=GEMINI, contents="a story").text


def test_get_on_a_vertex_call_is_a_405_in_googles_shape(llm):
    resp = httpx.get(f"{llm.url}/v1/projects/p/locations/us-central1/publishers/google/models/{GEMINI}:generateContent")
    assert resp.status_code == 405 and resp.headers["allow"] == "POST"
    assert resp.json()["error"]["code"] == 405


def test_environ_points_vertex_clients_at_the_server(llm, monkeypatch):
    for name, value in llm.environ().items():
        monkeypatch.setenv(name, value)
    gemini = genai.Client(vertexai=True, project=PROJECT, location="us-central1",
                          credentials=google.oauth2.credentials.Credentials(token="test-token"))
    assert gemini.models.generate_content(model=GEMINI, contents="a story").text.startswith("Once upon")
    claude = anthropic.AnthropicVertex(region="us-east5", project_id=PROJECT, access_token="t", max_retries=0)
    assert claude.messages.create(model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "a story"}]) \
        .content[0].text.startswith("Once upon")
    assert [r.api for r in llm.requests] == ["vertex.gemini", "vertex.anthropic"]
