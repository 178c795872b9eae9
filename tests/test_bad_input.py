"""Bad input never gives a 500: every case gets a provider-shaped 4xx that says what is wrong,
the SDKs raise their usual exceptions, and the server keeps serving."""

from __future__ import annotations

import asyncio
import copy
import json

import anthropic
import httpx
import openai
import pytest
from helpers import BASE, Served, anthropic_client, app_from, openai_client, raw_client

CONFIG = {
    "defaults": {"max_body_bytes": 4096},
    "rules": [{"when": {"messages_contain": "ping"}, "respond": {"content": "pong"}}],
}
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def app():
    return app_from(CONFIG)


@pytest.fixture
def oai(app):
    return openai_client(app)


@pytest.fixture
def ant(app):
    return anthropic_client(app)


def still_serving(oai, ant):
    r = oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}])
    assert r.choices[0].message.content == "pong"
    m = ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "ping"}])
    assert m.content[0].text == "pong"


# --------------------------------------------------------------------------- OpenAI


OPENAI_BAD = [
    # (body: dict/list/bytes, what the message must mention)
    (b"{not json", "could not parse the JSON"),
    (b"", "could not parse the JSON"),
    (b'{"model": "m", "messages": [}', "could not parse the JSON"),
    (b"\xff\xfe{}", "could not parse the JSON"),
    ([1, 2], "must be a JSON object, not an array"),
    ("just a string", "must be a JSON object, not a string"),
    (b"null", "must be a JSON object, not null"),
    ({"messages": USER}, "model: Field required"),
    ({"model": "m"}, "messages: Field required"),
    ({"model": 5, "messages": USER}, "model: Input should be a valid string"),
    ({"model": "m", "messages": "hi"}, "messages: Input should be a valid array"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": [5]}, "messages[0]: Input should be an object"),
    ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"model": "m", "messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0]"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": "x"}]}, "messages[0].tool_calls"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"type": "function"}]}]},
     "messages[0].tool_calls[0].function"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]},
     "messages[0].tool_calls[0].function.arguments"),
    ({"model": "m", "messages": USER, "max_tokens": "5"}, "max_tokens: Input should be a valid integer"),
    ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"model": "m", "messages": USER, "max_completion_tokens": -3}, "max_completion_tokens"),
    ({"model": "m", "messages": USER, "max_tokens": True}, "max_tokens"),
    ({"model": "m", "messages": USER, "stream": "yes"}, "stream: Input should be a valid boolean"),
    ({"model": "m", "messages": USER, "stream": True, "stream_options": "x"}, "stream_options"),
    ({"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": "yes"}},
     "stream_options.include_usage"),
    ({"model": "m", "messages": USER, "n": 0}, "n: Input should be greater than or equal to 1"),
    ({"model": "m", "messages": USER, "n": 1.5}, "n: Input should be a valid integer"),
    ({"model": "m", "messages": USER, "n": 1000}, "n: Input should be less than or equal to 128"),
    ({"model": "m", "messages": USER, "stop": 5}, "stop"),
    ({"model": "m", "messages": USER, "stop": ["a", 5]}, "stop"),
    ({"model": "m", "messages": USER, "tools": {"a": 1}}, "tools: Input should be a valid array"),
    ({"model": "m", "messages": USER, "tools": [5]}, "tools[0]"),
    ({"model": "m", "messages": USER, "tools": [{"type": "function"}]}, "tools[0].function.name"),
    ({"model": "m", "messages": USER, "tools": [{"type": "function", "function": "f"}]}, "tools[0].function.name"),
    ({"model": "m", "messages": USER, "tools": [{"type": ["function"], "function": {"name": "f"}}]}, "tools[0].type"),
    ({"model": "m", "messages": USER, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
     "tools[0].function.parameters"),
]


@pytest.mark.parametrize("body,needle", OPENAI_BAD, ids=[f"openai-{i}" for i in range(len(OPENAI_BAD))])
def test_openai_bad_input(oai, ant, body, needle):
    kw = {"content": body} if isinstance(body, bytes) else {"body": body}
    with pytest.raises(openai.BadRequestError) as info:
        oai.post("/chat/completions", cast_to=openai.types.chat.ChatCompletion, **kw)
    e = info.value
    assert e.status_code == 400
    assert e.type == "invalid_request_error"
    assert needle in e.message, e.message
    assert set(e.body) == {"message", "type", "param", "code"}
    assert e.request_id and e.request_id.startswith("req_")
    still_serving(oai, ant)


# --------------------------------------------------------------------------- Anthropic


def msg(**kw):
    return {"model": "c", "max_tokens": 10, "messages": USER, **kw}


def with_content(*blocks, role="user"):
    return msg(messages=[{"role": role, "content": list(blocks)}])


ANTHROPIC_BAD = [
    (b"{not json", "could not parse the JSON"),
    (b"", "could not parse the JSON"),
    ([{"role": "user"}], "must be a JSON object, not an array"),
    (42, "must be a JSON object"),
    ({"max_tokens": 10, "messages": USER}, "model: Field required"),
    ({"model": "c", "messages": USER}, "max_tokens: Field required"),
    ({"model": "c", "max_tokens": 10}, "messages: Field required"),
    (msg(model=["c"]), "model: Input should be a valid string"),
    (msg(max_tokens="10"), "max_tokens: Input should be a valid integer"),
    (msg(max_tokens=10.5), "max_tokens: Input should be a valid integer"),
    (msg(max_tokens=0), "max_tokens"),
    (msg(messages="hi"), "messages: Input should be a valid list"),
    (msg(messages=[]), "messages"),
    (msg(messages=[7]), "messages.0"),
    (msg(messages=[{"role": "system", "content": "x"}]), "messages.0.role"),
    (msg(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
    (msg(messages=[{"role": {"a": 1}, "content": "x"}]), "messages.0.role"),
    (msg(messages=[{"role": "user"}]), "messages.0.content"),
    (msg(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
    (with_content({"text": "x"}), "messages.0.content.0"),
    (with_content({"type": "text"}), "messages.0.content.0.text"),
    (with_content({"type": "text", "text": 5}), "messages.0.content.0.text"),
    (with_content({"type": "image"}), "messages.0.content.0.source"),
    (with_content({"type": "tool_use", "id": "t", "input": {}}, role="assistant"), "messages.0.content.0.name"),
    (with_content({"type": "tool_use", "id": "t", "name": "f", "input": "x"}, role="assistant"),
     "messages.0.content.0.input"),
    (with_content({"type": "tool_result", "content": "x"}), "messages.0.content.0.tool_use_id"),
    (with_content({"type": "tool_result", "tool_use_id": "t", "content": 5}), "messages.0.content.0.content"),
    (with_content({"type": "tool_result", "tool_use_id": "t", "content": [5]}), "messages.0.content.0.content.0"),
    (with_content({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}),
     "messages.0.content.0.content.0.text"),
    (msg(system=5), "system"),
    (msg(system=[{"type": "image"}]), "system"),
    (msg(stream="yes"), "stream: Input should be a valid boolean"),
    (msg(stop_sequences="x"), "stop_sequences"),
    (msg(stop_sequences=[1]), "stop_sequences"),
    (msg(tools="x"), "tools: Input should be a valid list"),
    (msg(tools=[{"description": "no name"}]), "tools.0.name"),
    (msg(tools=[{"name": "f", "input_schema": "x"}]), "tools.0.input_schema"),
    (msg(thinking="on"), "thinking"),
]


@pytest.mark.parametrize("body,needle", ANTHROPIC_BAD, ids=[f"anthropic-{i}" for i in range(len(ANTHROPIC_BAD))])
def test_anthropic_bad_input(oai, ant, body, needle):
    kw = {"content": body} if isinstance(body, bytes) else {"body": body}
    with pytest.raises(anthropic.BadRequestError) as info:
        ant.post("/v1/messages", cast_to=anthropic.types.Message, **kw)
    e = info.value
    assert e.status_code == 400
    assert e.type == "invalid_request_error"
    assert needle in e.api_message, e.api_message
    assert e.body["type"] == "error" and e.body["request_id"] == e.request_id
    still_serving(oai, ant)


# --------------------------------------------------------------------------- paths and methods


def test_unknown_paths(oai, ant, app):
    with pytest.raises(openai.NotFoundError) as info:
        oai.get("/no/such/thing", cast_to=object)
    assert "Unknown path GET /v1/no/such/thing" in info.value.message
    assert "/v1/chat/completions" in info.value.message  # says where to go instead
    assert info.value.request_id
    with pytest.raises(openai.NotFoundError):
        oai.post("/chat/completionz", cast_to=object, body={"model": "m", "messages": USER})
    with pytest.raises(anthropic.NotFoundError) as info:
        ant.post("/v1/messages/nope", cast_to=object, body={})
    assert info.value.type == "not_found_error"
    assert info.value.request_id and info.value.body["request_id"] == info.value.request_id
    r = raw_client(app).get("/definitely/not/here")
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("Unknown path")
    still_serving(oai, ant)


def test_wrong_methods(oai, ant, app):
    with pytest.raises(openai.APIStatusError) as info:
        oai.get("/chat/completions", cast_to=object)
    assert info.value.status_code == 405
    assert "use POST" in info.value.message
    assert info.value.response.headers["allow"] == "POST"
    with pytest.raises(anthropic.APIStatusError) as info:
        ant.get("/v1/messages", cast_to=object)
    assert info.value.status_code == 405
    assert info.value.type == "invalid_request_error"
    assert "use POST" in info.value.api_message
    http = raw_client(app)
    for method in ("PUT", "DELETE", "PATCH"):
        r = http.request(method, "/v1/chat/completions", json={"model": "m", "messages": USER})
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert r.json()["error"]["type"] == "invalid_request_error"
    still_serving(oai, ant)


# --------------------------------------------------------------------------- size limit


def test_body_over_the_size_limit(oai, ant):
    big = "x" * 5000  # defaults.max_body_bytes is 4096 here
    with pytest.raises(openai.APIStatusError) as info:
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": big}])
    assert info.value.status_code == 413
    assert "4096" in info.value.message and info.value.code == "request_too_large"
    with pytest.raises(anthropic.RequestTooLargeError) as info:
        ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": big}])
    assert info.value.type == "request_too_large" and "4096" in info.value.api_message
    still_serving(oai, ant)
    # Just under the limit is fine.
    ok = oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "ping " + "y" * 3500}])
    assert ok.choices[0].message.content == "pong"


def test_body_over_the_size_limit_over_a_socket(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text("defaults: {max_body_bytes: 2048}\nrules: [{when: {messages_contain: ping}, "
                      "respond: {content: pong}}]\n")
    with Served("--config", str(config)) as server:
        http = httpx.Client(base_url=server.url)
        huge = {"model": "m", "messages": [{"role": "user", "content": "z" * (4 * 1024 * 1024)}]}
        r = http.post("/v1/chat/completions", json=huge)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "request_too_large"
        r = http.post("/v1/messages", json={**huge, "max_tokens": 5})
        assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
        r = http.post("/v1/chat/completions", content=b"{oops")
        assert r.status_code == 400
        client = server.openai()
        assert client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}]) \
            .choices[0].message.content == "pong"


# --------------------------------------------------------------------------- no 500s, ever


JUNK = [None, 0, -1, 1.5, "", "x", [], [1], [None], {}, {"a": 1}, True, [{}], [{"type": 5}],
        [{"type": "text", "text": None}], "__delete__"]

VALID_OPENAI = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "u"}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "stream": True, "stream_options": {"include_usage": True}, "n": 2, "max_tokens": 5, "stop": ["a"],
}

VALID_ANTHROPIC = {
    "model": "c", "max_tokens": 5, "system": [{"type": "text", "text": "s"}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "x"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                          {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "r"}]}]},
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "thinking": {"type": "enabled", "budget_tokens": 1024}, "stream": True, "stop_sequences": ["x"],
}


def mutations(body):
    """Every value anywhere in `body` replaced by each junk value (or its key removed)."""
    paths = []

    def walk(node, path):
        paths.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            walk(value, (*path, key))

    walk(body, ())
    for path in paths[1:]:
        for junk in JUNK:
            copied = copy.deepcopy(body)
            node = copied
            for part in path[:-1]:
                node = node[part]
            if junk == "__delete__":
                if not isinstance(node, dict):
                    continue
                del node[path[-1]]
            else:
                node[path[-1]] = junk
            yield path, junk, copied


@pytest.mark.parametrize("path,body,shape", [
    ("/v1/chat/completions", VALID_OPENAI, "openai"),
    ("/v1/messages", VALID_ANTHROPIC, "anthropic"),
])
def test_mutated_bodies_never_give_a_500(path, body, shape):
    app = app_from(CONFIG)

    async def run():
        seen = {200: 0, 400: 0}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            assert (await http.post(path, json=body)).status_code == 200
            for where, junk, mutated in mutations(body):
                r = await http.post(path, json=mutated)
                assert r.status_code in (200, 400), (where, junk, r.status_code, r.text)
                seen[r.status_code] += 1
                if r.status_code == 400:
                    error = r.json()
                    if shape == "openai":
                        assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"]
                    else:
                        assert error["type"] == "error" and error["error"]["message"]
                        assert error["request_id"] == r.headers["request-id"]
        return seen

    seen = asyncio.run(run())
    assert seen[400] > 300 and seen[200] > 50
    still_serving(openai_client(app), anthropic_client(app))


def test_mutated_bodies_bad_json_text():
    """Truncated JSON at every length is a 400, never a crash."""
    app = app_from(CONFIG)
    text = json.dumps(VALID_ANTHROPIC).encode()

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            for cut in range(0, len(text), 7):
                for path in ("/v1/messages", "/v1/chat/completions"):
                    r = await http.post(path, content=text[:cut])
                    assert r.status_code == 400, (cut, r.text)

    asyncio.run(run())
