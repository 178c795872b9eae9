"""Replies that satisfy the client's schema, through the official SDKs against `fakellm serve`:
structured outputs (OpenAI chat `response_format`, Responses `text.format`, Anthropic
`output_config.format`, Gemini `responseSchema`/`responseJsonSchema`, Ollama `format`), tool
arguments generated from the offered tool's schema, `tool_calls: auto`, forced tools, `respond.json`
checked against a strict schema, and the 400s for malformed schema and tool-choice fields."""

from __future__ import annotations

import json
from enum import Enum
from typing import Literal, Optional

import anthropic
import httpx
import jsonschema
import openai
import pytest
from google.genai import types
from helpers import Served, gemini_client, ollama_client
from pydantic import BaseModel, Field

CONFIG = """
rules:
  - name: profile
    when: {messages_contain: profile please}
    respond:
      json: {name: Ada, age: 36, color: blue, addresses: [{city: London, zip: "N1"}], nickname: null, kind: a}
  - name: wrong_profile
    when: {messages_contain: wrong profile}
    respond:
      json: {name: Ada, age: "thirty-six"}
  - name: chatty
    when: {messages_contain: chatty}
    respond: {content: "Let me think about that in prose."}
  - name: weather_call
    when: {messages_contain: weather}
    respond:
      tool_calls: [{name: get_weather}]
  - name: fixed_weather
    when: {messages_contain: fixed forecast}
    respond:
      content: "Here you go."
      tool_calls: [{name: get_weather, arguments: {city: Paris, unit: c}}]
  - name: anything_auto
    when: {messages_contain: use a tool}
    respond:
      tool_calls: auto
"""


class Color(str, Enum):
    red = "red"
    blue = "blue"


class Address(BaseModel):
    city: str
    zip: str = Field(pattern=r"^[A-Z0-9]{2,8}$")


class Profile(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=150)
    color: Color
    addresses: list[Address] = Field(min_length=1)
    nickname: Optional[str] = None
    kind: Literal["a", "b"]


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 2},
                   "unit": {"type": "string", "enum": ["c", "f"]},
                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
SEARCH_SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "search", "parameters": SEARCH_SCHEMA}},
                {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
ANTHROPIC_TOOLS = [{"name": "search", "input_schema": SEARCH_SCHEMA},
                   {"name": "get_weather", "input_schema": WEATHER_SCHEMA}]
CLAUDE = "claude-sonnet-4-6"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = tmp_path_factory.mktemp("structured") / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as served:
        yield served


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """`fakellm serve` with no config at all (the built-in starter), as a newcomer runs it."""
    with Served(cwd=tmp_path_factory.mktemp("bare")) as served:
        yield served


@pytest.fixture(scope="module")
def oai(server):
    return server.openai()


@pytest.fixture(scope="module")
def claude(server):
    return server.anthropic()


def journal(server, n: int = 1) -> list[dict]:
    return httpx.get(f"{server.url}/_fakellm/requests", params={"limit": n}).json()["requests"]


# -- structured outputs with no rule: the fallback keeps to the schema


def test_chat_parse_gives_a_model_instance_from_a_bare_server(bare):
    client = bare.openai()
    completion = client.chat.completions.parse(model="gpt-4o", messages=user("Extract the profile of Ada"),
                                               response_format=Profile)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Profile)
    assert parsed.addresses and isinstance(parsed.color, Color)
    assert completion.choices[0].finish_reason == "stop"
    # Deterministic: the same request gives the same instance.
    again = client.chat.completions.parse(model="gpt-4o", messages=user("Extract the profile of Ada"),
                                          response_format=Profile)
    assert again.choices[0].message.content == completion.choices[0].message.content


def test_chat_parse_streamed(oai):
    with oai.chat.completions.stream(model="gpt-4o", messages=user("Extract a profile"),
                                     response_format=Profile) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Profile)


def test_responses_parse(oai):
    response = oai.responses.parse(model="gpt-4o", input="Extract a profile", text_format=Profile)
    assert isinstance(response.output_parsed, Profile)


def test_responses_parse_streamed(oai):
    with oai.responses.stream(model="gpt-4o", input="Extract a profile", text_format=Profile) as stream:
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, Profile)


def test_anthropic_parse(claude):
    message = claude.messages.parse(model=CLAUDE, max_tokens=1024, messages=user("Extract a profile"),
                                    output_format=Profile)
    assert isinstance(message.parsed_output, Profile)


def test_anthropic_output_config_schema_dict(claude):
    schema = Profile.model_json_schema()
    message = claude.messages.create(model=CLAUDE, max_tokens=1024, messages=user("Extract a profile"),
                                     output_config={"format": {"type": "json_schema", "schema": schema}})
    jsonschema.validate(json.loads(message.content[0].text), schema)


def test_gemini_response_schema_and_json_schema(server):
    client = gemini_client(server.url)
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Profile)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Extract a profile", config=config)
    assert isinstance(response.parsed, Profile)
    schema = Profile.model_json_schema()
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Extract a profile", config=config)
    jsonschema.validate(json.loads(response.text), schema)
    streamed = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Extract a profile", config=config))
    assert json.loads(streamed) == json.loads(response.text)


def test_ollama_format_schema_and_json(server):
    client = ollama_client(server.url)
    schema = Profile.model_json_schema()
    Profile.model_validate_json(client.chat(model="llama3", messages=user("a profile"), format=schema).message.content)
    assert isinstance(json.loads(client.chat(model="llama3", messages=user("a profile"), format="json").message.content),
                      dict)


def test_json_object_mode_gives_a_json_object(oai):
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("Reply in JSON"),
                                             response_format={"type": "json_object"})
    assert isinstance(json.loads(completion.choices[0].message.content), dict)
    response = oai.responses.create(model="gpt-4o", input="Reply in JSON", text={"format": {"type": "json_object"}})
    assert isinstance(json.loads(response.output_text), dict)


def test_a_rule_with_content_keeps_its_text(oai):
    """A rule that says what to answer is answered as written, schema or not (the user decided)."""
    completion = oai.chat.completions.create(
        model="gpt-4o", messages=user("be chatty"),
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": SEARCH_SCHEMA}})
    assert completion.choices[0].message.content == "Let me think about that in prose."


# -- respond.json


def test_respond_json_is_the_content_and_matches_a_strict_schema(oai):
    completion = oai.chat.completions.parse(model="gpt-4o", messages=user("profile please"), response_format=Profile)
    parsed = completion.choices[0].message.parsed
    assert parsed == Profile(name="Ada", age=36, color=Color.blue, addresses=[Address(city="London", zip="N1")],
                             nickname=None, kind="a")
    plain = oai.chat.completions.create(model="gpt-4o", messages=user("profile please"))
    assert json.loads(plain.choices[0].message.content)["name"] == "Ada"


def test_respond_json_not_matching_a_strict_schema_is_a_clear_error(server, oai):
    with pytest.raises(openai.InternalServerError) as info:
        oai.chat.completions.parse(model="gpt-4o", messages=user("wrong profile"), response_format=Profile)
    message = info.value.body["message"]
    assert "respond.json does not match the request's schema 'Profile'" in message
    assert "'thirty-six' is not of type 'integer'" in message and "/age" in message
    assert info.value.body["code"] == "fakellm_schema_error"
    assert info.value.response.headers["x-should-retry"] == "false"
    entry = journal(server)[0]
    assert entry["rule"] == "wrong_profile" and entry["reply"]["status"] == 500
    assert "does not match" in entry["reply"]["error"]["message"]
    # The server keeps serving.
    assert oai.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content


def test_respond_json_against_a_loose_schema_is_sent_with_a_journal_note(server, oai):
    fmt = {"type": "json_schema", "json_schema": {"name": "Profile", "schema": Profile.model_json_schema()}}
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("wrong profile"), response_format=fmt)
    assert json.loads(completion.choices[0].message.content) == {"name": "Ada", "age": "thirty-six"}
    notes = journal(server)[0]["notes"]
    assert any("does not match" in n and "not strict" in n for n in notes), notes


# -- tool arguments from the request's schema


def test_a_tool_call_without_arguments_gets_them_from_the_schema(server, oai, claude):
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("weather in Paris?"), tools=OPENAI_TOOLS)
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_SCHEMA)
    assert completion.choices[0].finish_reason == "tool_calls"

    message = claude.messages.create(model=CLAUDE, max_tokens=256, messages=user("weather in Paris?"),
                                     tools=ANTHROPIC_TOOLS)
    block = next(b for b in message.content if b.type == "tool_use")
    jsonschema.validate(block.input, WEATHER_SCHEMA)
    assert block.input == json.loads(call.function.arguments)  # the same schema, the same arguments

    response = oai.responses.create(model="gpt-4o", input="weather in Paris?",
                                    tools=[{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}])
    jsonschema.validate(json.loads(response.output[0].arguments), WEATHER_SCHEMA)

    client = gemini_client(server.url)
    decl = types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)
    gemini = client.models.generate_content(model="gemini-2.5-flash", contents="weather in Paris?",
                                            config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])]))
    jsonschema.validate(gemini.function_calls[0].args, WEATHER_SCHEMA)


def test_gemini_openapi_parameters_are_read_as_json_schema(server):
    client = gemini_client(server.url)
    decl = types.FunctionDeclaration(name="get_weather", parameters=types.Schema(
        type="OBJECT", required=["city", "days"],
        properties={"city": types.Schema(type="STRING", min_length=2),
                    "days": types.Schema(type="INTEGER", minimum=1, maximum=7),
                    "note": types.Schema(type="STRING", nullable=True)}))
    gemini = client.models.generate_content(model="gemini-2.5-flash", contents="weather in Paris?",
                                            config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])]))
    args = gemini.function_calls[0].args
    assert isinstance(args["city"], str) and len(args["city"]) >= 2 and 1 <= args["days"] <= 7


def test_streamed_generated_arguments(oai, claude):
    chunks = list(oai.chat.completions.create(model="gpt-4o", messages=user("weather?"), tools=OPENAI_TOOLS,
                                              stream=True))
    arguments = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                        for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    jsonschema.validate(json.loads(arguments), WEATHER_SCHEMA)
    with claude.messages.stream(model=CLAUDE, max_tokens=256, messages=user("weather?"), tools=ANTHROPIC_TOOLS) as s:
        final = s.get_final_message()
    jsonschema.validate(final.content[-1].input, WEATHER_SCHEMA)
    with oai.responses.stream(model="gpt-4o", input="be chatty", tool_choice="required",
                              tools=[{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]) as s:
        response = s.get_final_response()
    assert [item.type for item in response.output] == ["function_call"]
    jsonschema.validate(json.loads(response.output[0].arguments), WEATHER_SCHEMA)


def test_tool_calls_auto_calls_the_first_offered_tool_or_the_chosen_one(oai, claude):
    first = oai.chat.completions.create(model="gpt-4o", messages=user("use a tool"), tools=OPENAI_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "search"
    jsonschema.validate(json.loads(call.function.arguments), SEARCH_SCHEMA)
    chosen = oai.chat.completions.create(model="gpt-4o", messages=user("use a tool"), tools=OPENAI_TOOLS,
                                         tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert chosen.choices[0].message.tool_calls[0].function.name == "get_weather"
    message = claude.messages.create(model=CLAUDE, max_tokens=256, messages=user("use a tool"), tools=ANTHROPIC_TOOLS,
                                     tool_choice={"type": "tool", "name": "get_weather"})
    assert [b.name for b in message.content if b.type == "tool_use"] == ["get_weather"]


def test_tool_calls_auto_without_tools_is_a_clear_error(server, oai):
    with pytest.raises(openai.InternalServerError) as info:
        oai.chat.completions.create(model="gpt-4o", messages=user("use a tool"))
    assert "answers `tool_calls: auto`, but the request offers no function tools" in info.value.body["message"]
    assert oai.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content


# -- forced tools


def test_openai_forced_function_sets_a_rules_text_aside(server, oai):
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("be chatty"), tools=OPENAI_TOOLS,
                                             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    message = completion.choices[0].message
    assert message.content is None
    assert [c.function.name for c in message.tool_calls] == ["get_weather"]
    jsonschema.validate(json.loads(message.tool_calls[0].function.arguments), WEATHER_SCHEMA)
    assert completion.choices[0].finish_reason == "tool_calls"
    entry = journal(server)[0]
    assert entry["rule"] == "chatty"
    assert any("text was set aside" in n and "get_weather" in n for n in entry["notes"]), entry["notes"]


def test_openai_required_calls_the_first_tool_from_the_fallback(bare):
    client = bare.openai()
    tools = [{"type": "function", "function": {"name": "search", "parameters": SEARCH_SCHEMA}},
             {"type": "function", "function": {"name": "forecast", "parameters": WEATHER_SCHEMA}}]
    completion = client.chat.completions.create(model="gpt-4o", messages=user("What now?"), tools=tools,
                                                tool_choice="required")
    assert completion.choices[0].message.tool_calls[0].function.name == "search"
    jsonschema.validate(json.loads(completion.choices[0].message.tool_calls[0].function.arguments), SEARCH_SCHEMA)
    response = client.responses.create(model="gpt-4o", input="What now?", tool_choice="required",
                                       tools=[{"type": "function", "name": "forecast", "parameters": WEATHER_SCHEMA}])
    assert response.output[0].type == "function_call" and response.output[0].name == "forecast"
    jsonschema.validate(json.loads(response.output[0].arguments), WEATHER_SCHEMA)


def test_a_rules_call_of_the_forced_tool_is_kept(server, oai):
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("fixed forecast"), tools=OPENAI_TOOLS,
                                             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    message = completion.choices[0].message
    assert json.loads(message.tool_calls[0].function.arguments) == {"city": "Paris", "unit": "c"}
    assert message.content is None  # the rule's text is set aside: a forced call comes alone


def test_a_rules_call_of_another_tool_is_replaced_by_the_forced_one(server, oai):
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("fixed forecast"), tools=OPENAI_TOOLS,
                                             tool_choice={"type": "function", "function": {"name": "search"}})
    calls = completion.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["search"]
    notes = journal(server)[0]["notes"]
    assert any("'get_weather'" in n and "set aside" in n for n in notes), notes


def test_anthropic_any_and_tool_force_a_call(claude):
    message = claude.messages.create(model=CLAUDE, max_tokens=256, messages=user("be chatty"), tools=ANTHROPIC_TOOLS,
                                     tool_choice={"type": "any"})
    assert [b.type for b in message.content] == ["tool_use"] and message.stop_reason == "tool_use"
    with claude.messages.stream(model=CLAUDE, max_tokens=256, messages=user("be chatty"), tools=ANTHROPIC_TOOLS,
                                tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        final = stream.get_final_message()
    assert [(b.type, b.name) for b in final.content] == [("tool_use", "get_weather")]
    jsonschema.validate(final.content[0].input, WEATHER_SCHEMA)


def test_gemini_mode_any_forces_a_call(server):
    client = gemini_client(server.url)
    decls = [types.FunctionDeclaration(name="search", parameters_json_schema=SEARCH_SCHEMA),
             types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)]
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=decls)],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
            mode="ANY", allowed_function_names=["get_weather"])))
    response = client.models.generate_content(model="gemini-2.5-flash", contents="be chatty", config=config)
    assert [c.name for c in response.function_calls] == ["get_weather"]
    assert response.text is None


def test_tool_choice_none_and_auto_leave_a_text_rule_alone(oai):
    for choice in ("none", "auto"):
        completion = oai.chat.completions.create(model="gpt-4o", messages=user("be chatty"), tools=OPENAI_TOOLS,
                                                 tool_choice=choice)
        assert completion.choices[0].message.content == "Let me think about that in prose."


# -- what cannot be answered, and malformed fields


def test_a_schema_that_cannot_be_satisfied_is_a_clear_error_not_retried(server):
    client = server.openai(max_retries=2)
    bad = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 5}}, "required": ["n"]}
    before = httpx.get(f"{server.url}/_fakellm/stats").json()["total_requests"]
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="gpt-4o", messages=user("hi"),
                                       response_format={"type": "json_schema", "json_schema": {"name": "bad", "schema": bad}})
    assert "fakellm cannot make a reply valid against the request's schema" in info.value.body["message"]
    assert httpx.get(f"{server.url}/_fakellm/stats").json()["total_requests"] == before + 1  # x-should-retry: false


@pytest.mark.parametrize("kwargs, fragment", [
    ({"response_format": {"type": "xml"}}, "Supported values are"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}, "response_format.json_schema.name"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "object"}}}, "schema"),
    ({"tool_choice": "required"}, "only allowed when 'tools' are specified"),
    ({"tools": OPENAI_TOOLS, "tool_choice": "sometimes"}, "Supported values are"),
    ({"tools": OPENAI_TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "'nope'"),
])
def test_openai_bad_fields_are_400s(oai, kwargs, fragment):
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="gpt-4o", messages=user("hi"), **kwargs)
    assert fragment in info.value.body["message"]
    assert oai.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content


def test_responses_bad_text_format_is_a_400(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.responses.create(model="gpt-4o", input="hi", text={"format": {"type": "json_schema", "schema": {}}})
    assert "text.format.name" in info.value.body["message"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "sometimes"}}, "does not match any of the expected tags"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "tool", "name": "nope"}}, "'nope'"),
    ({"tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "any"}, "thinking": {"type": "enabled", "budget_tokens": 1024}},
     "Thinking may not be enabled when tool_choice forces tool use"),
    ({"output_config": {"format": {"type": "xml"}}}, "output_config.format.type"),
    ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
])
def test_anthropic_bad_fields_are_400s(claude, kwargs, fragment):
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=CLAUDE, max_tokens=2048, messages=user("hi"), **kwargs)
    assert fragment in info.value.body["error"]["message"]
    assert claude.messages.create(model=CLAUDE, max_tokens=64, messages=user("hi")).content


def test_gemini_bad_fields_are_400s(server):
    client = gemini_client(server.url)
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "search"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}
    raw = httpx.post(f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert raw.status_code == 400 and raw.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "function_calling_config.mode" in raw.json()["error"]["message"]
    body = {"contents": body["contents"],
            "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "ARRAY", "minItems": -1}}}
    raw = httpx.post(f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert raw.status_code == 400 and "minItems" in raw.json()["error"]["message"]
    body = {"contents": body["contents"], "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"a": "not a schema"}}}}
    raw = httpx.post(f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert raw.status_code == 400 and "responseSchema.properties.a" in raw.json()["error"]["message"]
    # Through the SDK, a declaration without parameters still gets a call (of an empty object).
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="ping")])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")))
    response = client.models.generate_content(model="gemini-2.5-flash", contents="hi", config=config)
    assert [(c.name, c.args) for c in response.function_calls] == [("ping", {})]


def test_ollama_bad_format_is_a_400(server):
    raw = httpx.post(f"{server.url}/api/chat", json={"model": "llama3", "messages": user("hi"), "format": "yaml",
                                                      "stream": False})
    assert raw.status_code == 400 and "invalid format" in raw.json()["error"]


def test_notes_reach_the_python_api():
    from fakellm import FakeLLM

    with FakeLLM(rules=[{"name": "chatty", "respond": {"content": "Just text."}}]) as fake:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="x", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=user("hi"), tools=OPENAI_TOOLS, tool_choice="required")
        recorded = fake.requests[-1]
    assert recorded.rule == "chatty" and "text was set aside" in recorded.notes[0]


def test_admin_api_shows_json_and_auto_rules():
    from fakellm import FakeLLM

    rules = [{"name": "a", "respond": {"tool_calls": "auto"}}, {"name": "b", "respond": {"json": {"x": 1}}}]
    with FakeLLM(rules=rules) as fake:
        summary = httpx.get(f"{fake.url}/_fakellm/rules").json()["rules"]
        config = httpx.get(f"{fake.url}/_fakellm/config").json()["config"]["rules"]
    assert [r["respond"] for r in summary] == [["tool calls: auto"], ['"{\\"x\\":1}"']]
    assert config == [{"name": "a", "respond": [{"tool_calls": "auto"}]}, {"name": "b", "respond": [{"json": {"x": 1}}]}]


@pytest.mark.parametrize("respond, fragment", [
    ({"tool_calls": "manual"}, "tool_calls must be a list of tool calls ({name, arguments}) or `auto`"),
    ({"json": {"a": 1}, "content": "x"}, "give content or json, not both"),
    ({"json": {"a": 1}, "template": "x"}, "give template or json, not both"),
    ({"jsn": {"a": 1}}, "did you mean 'json'?"),
])
def test_config_problems(respond, fragment):
    from fakellm.config import ConfigError, config_from_data

    with pytest.raises(ConfigError) as info:
        config_from_data({"rules": [{"name": "r", "respond": respond}]})
    assert fragment in str(info.value)
