"""Every endpoint's valid request, sent five times byte for byte, gets five identical answers.

Load tests and test suites repeat bodies; nothing fakellm keeps between requests (parses,
memos, stored responses) may change the status or the body of a repeat. Ids, timestamps
and durations differ per request by design and are set aside.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import app_from, raw_client, sse_events

CONFIG = {"rules": [{"name": "hello", "when": {"api": "openai.embeddings"}, "respond": {"embedding": [0.5, 0.25]}},
                    {"name": "text", "respond": {"content": "Hello from a rule, in a few words."}}]}

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "gpt-4o-mini", "input": "hi"}
EMBED = {"model": "text-embedding-3-small", "input": ["one", "two"]}
COMPLETIONS = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"}
ANTHROPIC = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
GEMINI_EMBED = {"content": {"parts": [{"text": "hi"}]}}
GEMINI_BATCH = {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}}]}
OLLAMA_CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
AZURE = "/openai/deployments/dep-1"
Q = "?api-version=2024-10-21"
VERTEX = "/projects/p/locations/us-central1/publishers"
VERTEX_CLAUDE = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 100,
                 "messages": [{"role": "user", "content": "hi"}]}

# (method, path, body or None)
CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/chat/completions", CHAT),
    ("POST", "/v1/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
    ("POST", "/chat/completions", CHAT),
    ("POST", "/openai/v1/chat/completions", CHAT),
    ("POST", "/v1/responses", RESPONSES),
    ("POST", "/v1/responses", {**RESPONSES, "stream": True}),
    ("POST", "/v1/responses", {**RESPONSES, "store": False}),
    ("POST", "/v1/responses/input_tokens", RESPONSES),
    ("POST", "/v1/embeddings", EMBED),
    ("POST", "/v1/completions", COMPLETIONS),
    ("POST", "/v1/completions", {**COMPLETIONS, "stream": True}),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/gpt-4o", None),
    ("POST", "/v1/messages", ANTHROPIC),
    ("POST", "/v1/messages", {**ANTHROPIC, "stream": True}),
    ("POST", "/v1/messages/count_tokens", {k: v for k, v in ANTHROPIC.items() if k != "max_tokens"}),
    ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI),
    ("POST", "/v1/models/gemini-2.5-flash:generateContent", GEMINI),
    ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI),
    ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", GEMINI),
    ("POST", "/v1beta/models/gemini-2.5-flash:countTokens", GEMINI),
    ("POST", "/v1beta/models/text-embedding-004:embedContent", GEMINI_EMBED),
    ("POST", "/v1beta/models/text-embedding-004:batchEmbedContents", GEMINI_BATCH),
    ("GET", "/v1beta/models", None),
    ("POST", "/api/chat", OLLAMA_CHAT),
    ("POST", "/api/chat", {**OLLAMA_CHAT, "stream": False}),
    ("POST", "/api/generate", {"model": "llama3.2", "prompt": "hi", "stream": False}),
    ("POST", "/api/embed", {"model": "nomic-embed-text", "input": ["one", "two"]}),
    ("POST", "/api/embeddings", {"model": "nomic-embed-text", "prompt": "one"}),
    ("GET", "/api/tags", None),
    ("POST", f"{AZURE}/chat/completions{Q}", CHAT),
    ("POST", f"{AZURE}/chat/completions{Q}", {**CHAT, "stream": True}),
    ("POST", f"{AZURE}/embeddings{Q}", {"input": ["one", "two"]}),
    ("POST", f"{AZURE}/completions{Q}", {"prompt": "Say hi"}),
    ("POST", f"{AZURE}/responses{Q}", {"input": "hi"}),
    ("POST", f"/openai/responses{Q}", RESPONSES),
    ("POST", f"/v1beta1{VERTEX}/google/models/gemini-2.5-flash:generateContent", GEMINI),
    ("POST", f"/v1{VERTEX}/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI),
    ("POST", f"/v1beta1{VERTEX}/google/models/gemini-2.5-flash:countTokens", GEMINI),
    ("POST", f"/v1{VERTEX}/anthropic/models/claude-sonnet-4@20250514:rawPredict", VERTEX_CLAUDE),
    ("POST", f"/v1{VERTEX}/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
     {**VERTEX_CLAUDE, "stream": True}),
    ("POST", f"/v1{VERTEX}/anthropic/models/count-tokens:rawPredict", {**VERTEX_CLAUDE, "model": "claude-x"}),
]

# Fields that differ per request by design.
PER_REQUEST = {"id", "created", "created_at", "completed_at", "call_id", "item_id", "responseId", "system_fingerprint",
               "total_duration", "load_duration", "prompt_eval_duration", "eval_duration", "msg_id"}


def comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in PER_REQUEST}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def answer_of(response) -> Any:
    """The body as data with per-request fields set aside: JSON, SSE events or NDJSON lines."""
    ctype = response.headers.get("content-type", "")
    text = response.text
    if "text/event-stream" in ctype:
        return [(name, comparable(json.loads(data)) if data != "[DONE]" else data)
                for name, data in sse_events(text.replace("\r\n", "\n"))]  # Gemini ends lines with CRLF
    if "ndjson" in ctype:
        return [comparable(json.loads(line)) for line in text.splitlines() if line]
    return comparable(json.loads(text))


@pytest.mark.parametrize("method,path,body", CASES, ids=[f"{m} {p}" + (" stream" if b and b.get("stream") else "")
                                                          for m, p, b in CASES])
def test_five_identical_requests_get_five_identical_answers(method, path, body):
    app = app_from(CONFIG)
    raw = json.dumps(body).encode() if body is not None else b""
    with raw_client(app) as http:
        answers = []
        for _ in range(5):
            r = http.request(method, path, content=raw, headers={"content-type": "application/json"})
            answers.append((r.status_code, answer_of(r)))
    assert answers[0][0] == 200, answers[0]
    assert all(a == answers[0] for a in answers), [a[0] for a in answers]


def test_a_store_false_response_repeated_is_never_stored():
    app = app_from(CONFIG)
    raw = json.dumps({**RESPONSES, "store": False}).encode()
    with raw_client(app) as http:
        for path in ("/v1/responses", f"{AZURE}/responses{Q}"):
            for _ in range(5):
                created = http.post(path, content=raw, headers={"content-type": "application/json"}).json()
                assert http.get(f"/v1/responses/{created['id']}").status_code == 404


def test_repeated_azure_responses_are_each_stored():
    app = app_from(CONFIG)
    raw = json.dumps({"input": "hi"}).encode()
    with raw_client(app) as http:
        for _ in range(5):
            created = http.post(f"{AZURE}/responses{Q}", content=raw, headers={"content-type": "application/json"})
            assert created.status_code == 200
            assert http.get(f"/v1/responses/{created.json()['id']}").status_code == 200


def test_a_repeated_chain_from_a_deleted_response_is_a_404_every_time():
    app = app_from(CONFIG)
    with raw_client(app) as http:
        first = http.post("/v1/responses", json=RESPONSES).json()
        raw = json.dumps({**RESPONSES, "previous_response_id": first["id"]}).encode()
        for path in ("/v1/responses", f"{AZURE}/responses{Q}"):
            assert http.post(path, content=raw, headers={"content-type": "application/json"}).status_code == 200
        assert http.delete(f"/v1/responses/{first['id']}").status_code == 200
        for path in ("/v1/responses", f"{AZURE}/responses{Q}"):
            for _ in range(3):
                r = http.post(path, content=raw, headers={"content-type": "application/json"})
                assert r.status_code == 404, r.text
