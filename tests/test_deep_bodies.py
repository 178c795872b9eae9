"""One nesting limit for every request body: 128 levels of arrays and objects.

Deeper bodies once gave 500s (recursion in the echo, in error messages, in token counting) or
were answered and then broke the journal for every reader (orjson encodes at most 254 levels).
Now any endpoint answers them with a provider-shaped 400 at parse time, and the journal stays
readable.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from helpers import anthropic_client, app_from, gemini_client, ollama_client, openai_client, raw_client

from fakellm.server.bodies import MAX_DEPTH


def nested(levels: int) -> Any:
    """A value `levels` containers deep (objects and arrays in turn)."""
    value: Any = "deep"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
VERTEX = "/v1/projects/p/locations/us-central1/publishers"
VERTEX_CLAUDE = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}

# (path, a valid body, where the deep value goes)
ENDPOINTS = [
    ("/v1/chat/completions", CHAT, "metadata"),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "metadata"),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "user"),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "tools"),
    ("/v1/responses/input_tokens", {"model": "gpt-4o-mini", "input": "hi"}, "metadata"),
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "input"),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, "prompt"),
    ("/v1/messages", {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, "metadata"),
    ("/v1/messages/count_tokens", {"model": "c", "messages": [{"role": "user", "content": "hi"}]}, "tools"),
    ("/v1beta/models/gemini-2.5-flash:generateContent", GEMINI, "generationConfig"),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI, "contents"),
    ("/v1beta/models/gemini-2.5-flash:countTokens", GEMINI, "contents"),
    ("/v1beta/models/text-embedding-004:embedContent", {"content": {"parts": [{"text": "hi"}]}}, "content"),
    ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}, "options"),
    ("/api/generate", {"model": "llama3.2", "prompt": "hi"}, "format"),
    ("/api/embed", {"model": "nomic-embed-text", "input": "hi"}, "input"),
    ("/openai/deployments/d/responses?api-version=2024-10-21", {"input": "hi"}, "metadata"),
    (f"{VERTEX}/google/models/gemini-2.5-flash:generateContent", GEMINI, "labels"),
    (f"{VERTEX}/google/models/gemini-2.5-flash:countTokens", GEMINI, "contents"),
    (f"{VERTEX}/anthropic/models/claude-sonnet-4@20250514:rawPredict", VERTEX_CLAUDE, "metadata"),
    (f"{VERTEX}/anthropic/models/count-tokens:rawPredict", {**VERTEX_CLAUDE, "model": "c"}, "tools"),
]


def error_text(response: httpx.Response) -> str:
    """The error message in any provider's error shape."""
    body = response.json()
    error = body["error"]
    return error if isinstance(error, str) else error["message"]


@pytest.fixture
def app():
    return app_from({"rules": [{"when": {"messages_contain": "ping"}, "respond": {"content": "pong"}}]})


@pytest.mark.parametrize("path,body,field", ENDPOINTS, ids=[f"{p.split('?')[0]} {f}" for p, _, f in ENDPOINTS])
def test_a_body_deeper_than_the_limit_is_a_400_on_every_endpoint(app, path, body, field):
    with raw_client(app) as http:
        for depth in (MAX_DEPTH, 255, 1000, 1023):  # the body itself is one level more
            response = http.post(path, json={**body, field: nested(depth)} if depth < 900 else None,
                                 content=None if depth < 900 else _raw_deep(body, field, depth))
            assert response.status_code == 400, (depth, response.text[:300])
            assert f"nested deeper than {MAX_DEPTH} levels" in error_text(response)
        assert http.get("/_fakellm/requests").status_code == 200


def _raw_deep(body: dict[str, Any], field: str, depth: int) -> bytes:
    rest = json.dumps({k: v for k, v in body.items() if k != field})[1:-1]
    head = "{" + (rest + ", " if rest else "") + f'"{field}": '
    return head.encode() + b"[" * depth + b"1" + b"]" * depth + b"}"


def test_a_body_at_the_limit_is_accepted_and_the_journal_reads_it_back(app):
    with raw_client(app) as http:
        body = {**CHAT, "x_extra": nested(MAX_DEPTH - 1)}  # MAX_DEPTH levels with the body
        response = http.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        journal = http.get("/_fakellm/requests")
        assert journal.status_code == 200
        assert journal.json()["requests"][-1]["request"]["x_extra"] == body["x_extra"]
        # And the dashboard's other reads.
        assert http.get("/_fakellm/stats").status_code == 200


def test_the_sdks_raise_their_bad_request_errors(app):
    deep = nested(300)
    with pytest.raises(openai.BadRequestError, match="nested deeper than 128"):
        openai_client(app).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                   extra_body={"metadata": deep})
    with pytest.raises(openai.BadRequestError, match="nested deeper than 128"):
        openai_client(app).responses.create(model="m", input="hi", extra_body={"tools": deep})
    with pytest.raises(anthropic.BadRequestError, match="nested deeper than 128"):
        anthropic_client(app).messages.count_tokens(
            model="c", messages=[{"role": "user", "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": deep}}]}])
    from google.genai import errors

    client = gemini_client(app)
    with pytest.raises(errors.ClientError, match="nested deeper than 128") as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi",
                                       config={"http_options": {"extra_body": {"x": deep}}})
    assert info.value.code == 400
    import ollama

    with pytest.raises(ollama.ResponseError, match="nested deeper than 128"):
        ollama_client(app).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], format={"k": deep})
    # The server keeps serving.
    reply = openai_client(app).chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}])
    assert reply.choices[0].message.content == "pong"


def test_a_bad_ollama_role_is_named_without_a_traceback(app, caplog):
    with raw_client(app) as http:
        for role in ([], {}, 5, None, "wizard"):
            response = http.post("/api/chat", json={"model": "llama3.2", "messages": [{"role": role, "content": "x"}]})
            assert response.status_code == 400
            assert "role" in response.json()["error"]
    assert not [r for r in caplog.records if r.exc_info], "bad input was logged with a traceback"
