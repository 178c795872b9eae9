"""OpenAI Chat Completions through the official `openai` SDK: what it parses, streams and raises."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
from helpers import Served, app_from, async_openai_client, openai_client, sse_events

CONFIG = """
rules:
  - name: both
    when: {messages_contain: "weather and text", turn: 1}
    respond:
      content: "Let me check the weather for you."
      tool_calls:
        - {name: get_weather, arguments: {city: Paris, days: 3}}
  - name: parallel
    when: {messages_contain: "parallel"}
    respond:
      tool_calls:
        - {name: get_weather, arguments: {city: Paris}}
        - {name: get_weather, arguments: '{"city": "Berlin"}', id: call_berlin}
        - {name: get_time, arguments: {tz: Europe/Berlin, note: "a \\"quoted\\" word"}}
  - name: long
    when: {messages_contain: "long story"}
    respond:
      content: "Once upon a time   there was a mock server that answered every request with exactly the words
        its rules gave it,\\nand everyone tested happily ever after."
  - name: sunny
    when: {tool_result_contains: "sunny"}
    respond: {content: "The tool says it is sunny."}
  - name: parts
    when: {last_message_contains: "from parts"}
    respond: {content: "parts ok"}
  - name: plain
    when: {messages_contain: "hello"}
    respond: {content: "Hi there!"}
"""

LONG = ("Once upon a time   there was a mock server that answered every request with exactly the words "
        "its rules gave it,\nand everyone tested happily ever after.")
MODEL = "gpt-4o-mini"


@pytest.fixture
def client():
    return openai_client(app_from(CONFIG))


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# --------------------------------------------------------------------------- non-streaming


def test_full_response_shape(client):
    before = int(time.time())
    r = client.chat.completions.create(model=MODEL, messages=ask("hello"))
    assert isinstance(r, openai.types.chat.ChatCompletion)
    assert r.id.startswith("chatcmpl-")
    assert r.object == "chat.completion"
    assert isinstance(r.created, int) and before - 1 <= r.created <= time.time() + 1
    assert r.model == MODEL
    assert r.system_fingerprint and r.system_fingerprint.startswith("fp_")
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    msg = choice.message
    assert msg.role == "assistant"
    assert msg.content == "Hi there!"
    assert msg.refusal is None
    assert msg.annotations == []
    assert msg.tool_calls is None
    u = r.usage
    assert u is not None and u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.prompt_tokens_details.cached_tokens == 0
    assert u.prompt_tokens_details.audio_tokens == 0
    assert u.completion_tokens_details.reasoning_tokens == 0
    assert u.completion_tokens_details.accepted_prediction_tokens == 0
    assert u.completion_tokens_details.rejected_prediction_tokens == 0
    assert r._request_id and r._request_id.startswith("req_")

    again = client.chat.completions.create(model=MODEL, messages=ask("hello"))
    assert again.id != r.id
    assert again._request_id != r._request_id


def test_request_id_and_conversation_header(client):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask("hello"))
    completion = raw.parse()
    assert raw.headers["x-request-id"] == completion._request_id
    assert raw.headers["x-fakellm-conversation-id"].startswith("conv-")
    assert raw.headers["content-type"].startswith("application/json")

    explicit = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("hello"), extra_headers={"X-Fakellm-Conversation-Id": "session-42"})
    assert explicit.headers["x-fakellm-conversation-id"] == "session-42"

    streamed = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask("hello"), stream=True)
    assert streamed.headers["x-fakellm-conversation-id"].startswith("conv-")
    assert streamed.headers["x-request-id"].startswith("req_")
    assert streamed.headers["content-type"].startswith("text/event-stream")


def test_content_together_with_tool_calls(client):
    r = client.chat.completions.create(model=MODEL, messages=ask("weather and text please"))
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check the weather for you."
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "days": 3}


def test_parallel_tool_calls_keep_order_ids_and_arguments(client):
    r = client.chat.completions.create(model=MODEL, messages=ask("parallel calls"))
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    assert msg.content is None
    assert [c.function.name for c in msg.tool_calls] == ["get_weather", "get_weather", "get_time"]
    assert msg.tool_calls[1].id == "call_berlin"
    assert len({c.id for c in msg.tool_calls}) == 3
    # A mapping is encoded once; a JSON string is sent as is (never double-encoded).
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert msg.tool_calls[1].function.arguments == '{"city": "Berlin"}'
    assert json.loads(msg.tool_calls[2].function.arguments) == {"tz": "Europe/Berlin", "note": 'a "quoted" word'}


def test_n_choices(client):
    r = client.chat.completions.create(model=MODEL, messages=ask("weather and text"), n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    for choice in r.choices:
        assert choice.message.content == "Let me check the weather for you."
        assert choice.message.tool_calls[0].function.name == "get_weather"
        assert choice.finish_reason == "tool_calls"
    one = client.chat.completions.create(model=MODEL, messages=ask("weather and text"))
    # Like the real API, completion tokens count every choice.
    assert r.usage.completion_tokens == 3 * one.usage.completion_tokens
    assert r.usage.prompt_tokens == one.usage.prompt_tokens


@pytest.mark.parametrize("limit_field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_truncates_with_finish_reason_length(client, limit_field):
    full = client.chat.completions.create(model=MODEL, messages=ask("long story"))
    assert full.choices[0].message.content == LONG
    assert full.choices[0].finish_reason == "stop"
    assert full.usage.completion_tokens > 6

    cut = client.chat.completions.create(model=MODEL, messages=ask("long story"), **{limit_field: 6})
    text = cut.choices[0].message.content
    assert cut.choices[0].finish_reason == "length"
    assert text and LONG.startswith(text) and len(text) < len(LONG)
    assert 0 < cut.usage.completion_tokens <= 6

    # A limit larger than the reply changes nothing.
    roomy = client.chat.completions.create(model=MODEL, messages=ask("long story"), **{limit_field: 10_000})
    assert roomy.choices[0].message.content == LONG
    assert roomy.choices[0].finish_reason == "stop"


def test_parse_raises_length_finish_reason_error(client):
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model=MODEL, messages=ask("long story"), max_completion_tokens=4)
    parsed = client.chat.completions.parse(model=MODEL, messages=ask("long story"))
    assert parsed.choices[0].message.content == LONG


def test_stop_sequences_cut_the_reply(client):
    r = client.chat.completions.create(model=MODEL, messages=ask("long story"), stop="mock server")
    assert r.choices[0].message.content == "Once upon a time   there was a "
    assert r.choices[0].finish_reason == "stop"
    # The earliest of several sequences wins.
    r = client.chat.completions.create(model=MODEL, messages=ask("long story"), stop=["happily", "answered"])
    assert r.choices[0].message.content.endswith("that ")
    assert "answered" not in r.choices[0].message.content
    # A sequence that does not occur leaves the reply whole.
    r = client.chat.completions.create(model=MODEL, messages=ask("long story"), stop=["zebra"])
    assert r.choices[0].message.content == LONG
    # Streaming cuts the same way.
    with client.chat.completions.stream(model=MODEL, messages=ask("long story"), stop="mock server") as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == "Once upon a time   there was a "
    assert final.choices[0].finish_reason == "stop"


def test_content_as_array_of_parts(client):
    r = client.chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "please answer"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "text", "text": "from parts"},
        ]},
    ])
    assert r.choices[0].message.content == "parts ok"


def test_tool_message_with_parts_content(client):
    messages = [
        {"role": "user", "content": "what is the weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "Sunny, 24C"}]},
    ]
    r = client.chat.completions.create(model=MODEL, messages=messages)
    assert r.choices[0].message.content == "The tool says it is sunny."


def test_two_turn_agent_with_sdk_message_objects(client):
    """The assistant message object the SDK returned goes back into the history as is."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    messages = ask("weather and text")
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny and warm"})
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    assert second.choices[0].message.content == "The tool says it is sunny."


# --------------------------------------------------------------------------- streaming


def _final(client, **kw):
    with client.chat.completions.stream(model=MODEL, **kw) as stream:
        events = list(stream)
        return stream.get_final_completion(), events


def test_stream_helper_matches_non_streaming(client):
    for prompt in ("hello", "long story", "weather and text", "parallel calls"):
        plain = client.chat.completions.create(model=MODEL, messages=ask(prompt))
        final, events = _final(client, messages=ask(prompt))
        a, b = plain.choices[0], final.choices[0]
        assert b.message.role == "assistant"  # not "assistantassistant"
        assert b.message.content == a.message.content
        assert b.finish_reason == a.finish_reason
        assert final.model == MODEL and final.id.startswith("chatcmpl-")
        got = [(c.type, c.function.name, c.function.arguments) for c in b.message.tool_calls or []]
        want = [(c.type, c.function.name, c.function.arguments) for c in a.message.tool_calls or []]
        assert got == want
        for call in b.message.tool_calls or []:
            assert call.id.startswith("call_") and call.id.count("call_") == 1
        if a.message.content:
            deltas = [e.delta for e in events if e.type == "content.delta"]
            assert len(deltas) > 1 or len(a.message.content) < 10
            assert "".join(deltas) == a.message.content
        done = [e for e in events if e.type == "tool_calls.function.arguments.done"]
        assert [e.arguments for e in done] == [c[2] for c in want]
    assert final.choices[0].message.tool_calls[1].id == "call_berlin"


def test_stream_helper_n_choices(client):
    final, _ = _final(client, messages=ask("weather and text"), n=2)
    assert [c.index for c in final.choices] == [0, 1]
    for choice in final.choices:
        assert choice.message.role == "assistant"
        assert choice.message.content == "Let me check the weather for you."
        assert [c.function.name for c in choice.message.tool_calls] == ["get_weather"]
        assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Paris", "days": 3}
        assert choice.finish_reason == "tool_calls"


def test_raw_stream_chunks_text(client):
    chunks = list(client.chat.completions.create(model=MODEL, messages=ask("long story"), stream=True))
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.usage is None for c in chunks)  # no include_usage: no usage anywhere
    first = chunks[0].choices[0]
    assert first.delta.role == "assistant" and first.delta.content == ""
    assert first.finish_reason is None
    body = chunks[1:-1]
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    pieces = [c.choices[0].delta.content for c in body]
    assert len(pieces) > 10
    assert "".join(pieces) == LONG  # whitespace kept
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    assert last.delta.content is None and last.delta.role is None


def test_raw_stream_chunks_tool_calls(client):
    chunks = list(client.chat.completions.create(model=MODEL, messages=ask("parallel calls"), stream=True))
    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert not first.content  # the first chunk of a tool-call reply carries no text
    fragments: dict[int, list] = {}
    for chunk in chunks[1:]:
        delta = chunk.choices[0].delta
        assert delta.role is None
        for tc in delta.tool_calls or []:
            fragments.setdefault(tc.index, []).append(tc)
    assert sorted(fragments) == [0, 1, 2]
    names = []
    for index, frags in sorted(fragments.items()):
        head, rest = frags[0], frags[1:]
        assert head.id and head.type == "function" and head.function.name
        names.append(head.function.name)
        assert len(rest) >= 2, "arguments come in several fragments"
        for frag in rest:
            assert frag.id is None and frag.type is None and frag.function.name is None
        args = "".join((f.function.arguments or "") for f in frags)
        json.loads(args)
    assert names == ["get_weather", "get_weather", "get_time"]
    assert fragments[1][0].id == "call_berlin"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices[0].delta.tool_calls is None


def test_raw_stream_usage_chunk_only_with_include_usage(client):
    plain = client.chat.completions.create(model=MODEL, messages=ask("long story"))
    chunks = list(client.chat.completions.create(model=MODEL, messages=ask("long story"), stream=True,
                                                 stream_options={"include_usage": True}))
    *rest, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.model_dump() == plain.usage.model_dump()
    assert all(c.usage is None for c in rest)
    assert rest[-1].choices[0].finish_reason == "stop"

    chunks = list(client.chat.completions.create(model=MODEL, messages=ask("long story"), stream=True,
                                                 stream_options={"include_usage": False}))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices


def test_raw_stream_wire_ends_with_done(client):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask("weather and text"),
                                                           stream=True, n=2)
    events = sse_events(raw.http_response.read())
    assert events[-1] == (None, "[DONE]")
    assert all(name is None for name, _ in events)  # OpenAI streams carry no event: lines
    chunks = [json.loads(data) for _, data in events[:-1]]
    roles = [(ch["choices"][0]["index"], ch["choices"][0]["delta"].get("role")) for ch in chunks if ch["choices"]]
    assert [r for r in roles if r[1]] == [(0, "assistant"), (1, "assistant")]
    finishes = [ch["choices"][0]["index"] for ch in chunks if ch["choices"] and ch["choices"][0]["finish_reason"]]
    assert finishes == [0, 1]


def test_stream_with_max_tokens(client):
    plain = client.chat.completions.create(model=MODEL, messages=ask("long story"), max_tokens=7)
    chunks = list(client.chat.completions.create(model=MODEL, messages=ask("long story"), max_tokens=7, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "length"
    # The stream helper, like `.parse()`, refuses a reply cut by the length limit.
    with pytest.raises(openai.LengthFinishReasonError) as info:
        _final(client, messages=ask("long story"), max_tokens=7)
    assert info.value.completion.choices[0].message.content == plain.choices[0].message.content


def test_token_counts_equal_streaming_and_not(client):
    for prompt in ("hello", "long story", "weather and text", "parallel calls"):
        messages = [{"role": "system", "content": "Be brief."}, *ask(prompt)]
        plain = client.chat.completions.create(model=MODEL, messages=messages)
        final, _ = _final(client, messages=messages, stream_options={"include_usage": True})
        assert final.usage is not None
        assert final.usage.model_dump() == plain.usage.model_dump()


# --------------------------------------------------------------------------- async client


def test_async_client():
    app = app_from(CONFIG + """
  - when: {header.x-scenario: missing}
    respond: {status: 404, error: gone}
""")

    async def run():
        client = async_openai_client(app)
        r = await client.chat.completions.create(model=MODEL, messages=ask("weather and text"))
        assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
        stream = await client.chat.completions.create(model=MODEL, messages=ask("long story"), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == LONG
        async with client.chat.completions.stream(model=MODEL, messages=ask("parallel calls")) as s:
            final = await s.get_final_completion()
        assert [c.function.name for c in final.choices[0].message.tool_calls] == ["get_weather", "get_weather",
                                                                                    "get_time"]
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model=MODEL, messages=ask("x"),
                                                 extra_headers={"x-scenario": "missing"})
        results = await asyncio.gather(*[
            client.chat.completions.create(model=MODEL, messages=ask(f"hello {i}")) for i in range(10)])
        assert {r.choices[0].message.content for r in results} == {"Hi there!"}

    asyncio.run(run())


# --------------------------------------------------------------------------- errors


ERROR_CLASSES = [
    (400, openai.BadRequestError),
    (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError),
    (409, openai.ConflictError),
    (422, openai.UnprocessableEntityError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
    (529, openai.InternalServerError),
]

ERRORS_CONFIG = """
rules:
  - when: {header.x-status: "%d"}
    respond: {status: %d, error: "mock failure %d"}
"""


@pytest.mark.parametrize("status,cls", ERROR_CLASSES)
@pytest.mark.parametrize("stream", [False, True])
def test_rule_status_raises_sdk_exception(status, cls, stream):
    client = openai_client(app_from(ERRORS_CONFIG % (status, status, status)))
    with pytest.raises(cls) as info:
        client.chat.completions.create(model=MODEL, messages=ask("x"), stream=stream,
                                       extra_headers={"x-status": str(status)})
    e = info.value
    assert type(e) is cls
    assert e.status_code == status
    assert e.request_id and e.request_id.startswith("req_")
    assert isinstance(e.body, dict) and e.body["message"] == f"mock failure {status}"
    assert set(e.body) == {"message", "type", "param", "code"}
    assert e.type and isinstance(e.type, str)
    assert f"mock failure {status}" in e.message
    assert e.response.headers["x-fakellm-conversation-id"]
    if status == 429:
        assert e.code == "rate_limit_exceeded"
    if status >= 500:
        assert e.type == "server_error"
    if status in (400, 404, 409, 422):
        assert e.type == "invalid_request_error"


def test_error_mapping_fields():
    client = openai_client(app_from("""
rules:
  - respond:
      status: 400
      error: {message: "model is wrong", type: invalid_request_error, code: model_not_found, param: model}
"""))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=ask("x"))
    e = info.value
    assert "model is wrong" in e.message
    assert (e.type, e.code, e.param) == ("invalid_request_error", "model_not_found", "model")
    assert e.body == {"message": "model is wrong", "type": "invalid_request_error", "code": "model_not_found",
                      "param": "model"}


def test_error_code_as_integer_is_a_string():
    client = openai_client(app_from({"rules": [{"respond": {"status": 429, "error": {"message": "m", "code": 42}}}]}))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=MODEL, messages=ask("x"))
    assert info.value.code == "42"


def test_retry_after_is_honoured_by_sdk_retries():
    app = app_from("""
rules:
  - name: flaky
    respond:
      - status: 429
        headers: {retry-after: "0.01"}
        error: "slow down"
      - content: "recovered"
""")
    client = openai_client(app, max_retries=2)
    r = client.chat.completions.create(model=MODEL, messages=ask("retry me"))
    assert r.choices[0].message.content == "recovered"
    assert asyncio.run(app.store.stats()).total == 2

    # The wait is the header's, not the SDK's own backoff (0.375 to 0.5 s for a first retry).
    app = app_from({"rules": [{"respond": [{"status": 503, "headers": {"retry-after": "1.2"}}, {"content": "ok"}]}]})
    started = time.monotonic()
    assert openai_client(app, max_retries=1).chat.completions.create(
        model=MODEL, messages=ask("x")).choices[0].message.content == "ok"
    assert 1.2 <= time.monotonic() - started < 2.5


def test_x_should_retry_false_stops_retries():
    app = app_from("""
rules:
  - respond:
      - status: 503
        headers: {x-should-retry: "false", retry-after: "0.01"}
      - content: "should not get here"
""")
    client = openai_client(app, max_retries=3)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=MODEL, messages=ask("no retry"))
    assert info.value.response.headers["x-should-retry"] == "false"
    assert asyncio.run(app.store.stats()).total == 1


def test_over_a_real_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(CONFIG)
    with Served("--config", str(config)) as server:
        client = server.openai()
        r = client.chat.completions.create(model=MODEL, messages=ask("weather and text"))
        assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
        final, _ = _final(client, messages=ask("long story"), stream_options={"include_usage": True})
        assert final.choices[0].message.content == LONG
        assert final.usage.completion_tokens > 0


def test_token_counts_are_the_approximation_by_default(client):
    """About four characters a token (0.3.5's len // 4), per message, unless tiktoken's encoding is cached."""
    prompt = "count these forty characters, please ok."
    assert len(prompt) == 40
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    assert r.usage.prompt_tokens == 10
    assert r.usage.completion_tokens == max(1, len(r.choices[0].message.content) // 4)


def test_structured_outputs_parse_and_stream_helpers():
    import pydantic

    class Weather(pydantic.BaseModel):
        city: str
        days: int

    client = openai_client(app_from("""
rules:
  - when: {messages_contain: json}
    respond: {content: '{"city": "Paris", "days": 3}'}
  - when: {tools_include: Weather}
    respond: {tool_calls: [{name: Weather, arguments: {city: Paris, days: 3}}]}
"""))
    want = Weather(city="Paris", days=3)
    r = client.chat.completions.parse(model=MODEL, messages=ask("json please"), response_format=Weather)
    assert r.choices[0].message.parsed == want
    with client.chat.completions.stream(model=MODEL, messages=ask("json please"), response_format=Weather) as s:
        assert s.get_final_completion().choices[0].message.parsed == want
    tools = [openai.pydantic_function_tool(Weather)]
    r = client.chat.completions.parse(model=MODEL, messages=ask("tool please"), tools=tools)
    assert r.choices[0].message.tool_calls[0].function.parsed_arguments == want
    with client.chat.completions.stream(model=MODEL, messages=ask("tool please"), tools=tools) as s:
        assert s.get_final_completion().choices[0].message.tool_calls[0].function.parsed_arguments == want
