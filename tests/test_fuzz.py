"""Fuzz: generated bad bodies on every endpoint never give a 5xx or a logged traceback.

Each endpoint gets at least 200 bodies made by mutating a valid one (tests/fuzz_bodies.py,
seeded: a failure names its seed and index), then the nesting, size and encoding edge cases.
Every answer must be a 2xx or a 4xx with a JSON error body, nothing may be logged with a
traceback, and the server must answer a valid request afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
import zlib
from typing import Any

import httpx
import pytest
from fuzz_bodies import bodies
from helpers import BASE, app_from

PER_ENDPOINT = int(os.environ.get("FAKELLM_FUZZ_BODIES", "200"))  # more for a longer run

CONFIG = {
    "defaults": {"max_body_bytes": 256 * 1024},
    "rules": [
        {"name": "tool", "when": {"messages_contain": "weather"},
         "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
        {"name": "embed", "when": {"api": "openai.embeddings"}, "respond": {"embedding": [0.5, 0.25]}},
        # Everything else gets the deterministic echo, which reads the whole request.
    ],
}

TOOL_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT = {
    "model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 50, "n": 1, "seed": 3, "stop": ["\n\n"],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": TOOL_SCHEMA}}],
    "tool_choice": "auto", "response_format": {"type": "text"}, "metadata": {"k": "v"}, "user": "u1",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ],
}
RESPONSES = {
    "model": "gpt-4o-mini", "instructions": "Be brief.", "store": True, "metadata": {"k": "v"},
    "tools": [{"type": "function", "name": "get_weather", "parameters": TOOL_SCHEMA}],
    "reasoning": {"effort": "low", "summary": "auto"}, "text": {"format": {"type": "text"}},
    "include": ["reasoning.encrypted_content"],
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "It is sunny."}]},
        {"role": "user", "content": "thanks"},
    ],
}
ANTHROPIC = {
    "model": "claude-sonnet-4-5", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
    "tools": [{"name": "get_weather", "input_schema": TOOL_SCHEMA}], "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 1024}, "stop_sequences": ["END"], "metadata": {"user_id": "u"},
    "messages": [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                          {"type": "tool_use", "id": "tu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1",
                                      "content": [{"type": "text", "text": "sunny"}]}]},
    ],
}
GEMINI = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50, "candidateCount": 1,
                         "responseMimeType": "text/plain", "thinkingConfig": {"thinkingBudget": 0}},
    "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": TOOL_SCHEMA}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "contents": [
        {"role": "user", "parts": [{"text": "weather in Paris?"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]},
    ],
}
OLLAMA_CHAT = {
    "model": "llama3.2", "stream": False, "options": {"temperature": 0.2, "num_predict": 50, "seed": 1},
    "format": "json", "keep_alive": "5m", "think": False,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": TOOL_SCHEMA}}],
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather in Paris?", "images": ["AAAA"]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather",
                                                                          "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ],
}
AZURE = "/openai/deployments/dep-1"
Q = "?api-version=2024-10-21"

ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/chat/completions", CHAT),
    ("/v1/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
    ("/v1/responses", RESPONSES),
    ("/v1/responses", {**RESPONSES, "stream": True}),
    ("/v1/responses/input_tokens", RESPONSES),
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["one", "two"], "dimensions": 8,
                        "encoding_format": "float"}),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": ["Say hi", "and bye"], "max_tokens": 5,
                         "echo": False, "logprobs": None, "suffix": None, "n": 1}),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "stream": True}),
    ("/v1/messages", ANTHROPIC),
    ("/v1/messages", {**ANTHROPIC, "stream": True}),
    ("/v1/messages/count_tokens", {k: v for k, v in ANTHROPIC.items() if k not in ("max_tokens", "stop_sequences",
                                                                                 "metadata")}),
    ("/v1beta/models/gemini-2.5-flash:generateContent", GEMINI),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI),
    ("/v1beta/models/gemini-2.5-flash:countTokens", GEMINI),
    ("/v1beta/models/text-embedding-004:embedContent", {"content": {"parts": [{"text": "hi"}]},
                                                        "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8}),
    ("/v1beta/models/text-embedding-004:batchEmbedContents",
     {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}}]}),
    ("/api/chat", OLLAMA_CHAT),
    ("/api/chat", {**OLLAMA_CHAT, "stream": True}),
    ("/api/generate", {"model": "llama3.2", "prompt": "hi", "system": "Be brief.", "stream": False,
                       "options": {"temperature": 0.1}, "images": ["AAAA"], "raw": False}),
    ("/api/embed", {"model": "nomic-embed-text", "input": ["one", "two"], "dimensions": 8, "truncate": True}),
    ("/api/embeddings", {"model": "nomic-embed-text", "prompt": "one"}),
    (f"{AZURE}/chat/completions{Q}", CHAT),
    (f"{AZURE}/embeddings{Q}", {"input": ["one", "two"]}),
    (f"{AZURE}/completions{Q}", {"prompt": "Say hi"}),
    (f"{AZURE}/responses{Q}", RESPONSES),
]


def _nested(levels: int) -> Any:
    value: Any = "deep"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def _edge_cases(valid: dict[str, Any]) -> list[bytes]:
    """Nesting, size and encoding edge cases, as raw bytes."""
    cases = []
    for depth in (127, 129, 300, 1000, 1023, 1024, 1025, 5000):  # the body itself is one level
        cases.append(json.dumps({**valid, "x_deep": _nested(depth)}).encode() if depth < 900
                     else b'{"x":' + b"[" * depth + b"1" + b"]" * depth + b"}")
    for field in list(valid)[:4]:
        cases.append(json.dumps({**valid, field: _nested(200)}).encode())
    text = json.dumps(valid)
    cases += [
        b"", b" ", b"\n", b"null", b"[]", b"1", b'"s"', b"{", b"}", b"{}", b"[" * 100_000,
        b'{"a":' * 2000, text.encode()[:-1], text.encode() + b"x",
        text.encode("utf-16"), text.encode("utf-32"), b"\xef\xbb\xbf" + text.encode(),
        text.encode().replace(b'"', b"\xff", 1), b"\xc3\x28" + text.encode(), b"\xed\xa0\x80",
        text.replace('"', '"\x00', 1).encode(), text.replace(":", ":\x01", 1).encode(),
        text.replace("}", ', "s": "\\ud800"}', 1).encode(), text.replace("}", ', "s": "\\udfff\\ud800"}', 1).encode(),
        text.replace("}", ', "n": 1e400}', 1).encode(), text.replace("}", ', "n": -1e400}', 1).encode(),
        text.replace("}", ', "n": 123456789012345678901234567890}', 1).encode(),
        text.replace("}", ', "s": "\\u0000\\u0001\\u001f"}', 1).encode(),
        text.replace("}", ', "x": NaN}', 1).encode(), text.replace("}", ', "x": Infinity}', 1).encode(),
        json.dumps({**valid, "pad": "x" * 300_000}).encode(),  # over max_body_bytes: 413
        json.dumps({**valid, "pad": "x" * 250_000}).encode(),  # under it
    ]
    return cases


def _check(status: int, content: bytes, ctype: str) -> str | None:
    """What is wrong with an answer, or None."""
    if status >= 500:
        return f"status {status}: {content[:300]!r}"
    if status >= 400:
        try:
            json.loads(content)
        except ValueError:
            return f"status {status} with a body that is not JSON: {content[:200]!r}"
    elif "json" in ctype and "ndjson" not in ctype:
        try:
            json.loads(content)
        except ValueError:
            return f"status {status} with bad JSON: {content[:200]!r}"
    return None


async def _send_all(app, path: str, raw_bodies: list[bytes]) -> list[tuple[int, str]]:
    problems = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as http:
        for i, raw in enumerate(raw_bodies):
            response = await http.post(path, content=raw, headers={"content-type": "application/json"})
            problem = _check(response.status_code, response.content, response.headers.get("content-type", ""))
            if problem:
                problems.append((i, f"{problem}\n    body: {raw[:300]!r}"))
        # still serving: a valid request afterwards
        ok = await http.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        if ok.status_code != 200:
            problems.append((-1, f"a valid request afterwards got {ok.status_code}"))
    return problems


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture
def tracebacks():
    handler = Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def _to_bytes(body: Any) -> bytes:
    try:
        return json.dumps(body).encode()
    except ValueError:  # a float that JSON cannot hold
        return b"{}"


@pytest.mark.parametrize("path,valid", ENDPOINTS, ids=[p + (" stream" if v.get("stream") else "") for p, v in ENDPOINTS])
def test_fuzzed_bodies_get_no_5xx_and_no_traceback(path, valid, tracebacks):
    seed = zlib.crc32(f"{path} {valid.get('stream')}".encode())
    generated = [_to_bytes(b) for b in bodies(valid, PER_ENDPOINT, seed)]
    raw_bodies = generated + _edge_cases(valid)
    assert len(generated) >= 200
    problems = asyncio.run(_send_all(app_from(CONFIG), path, raw_bodies))
    logged = [f"{r.levelname} {r.getMessage()}" + ("".join(traceback.format_exception(*r.exc_info)[-3:])
                                                     if r.exc_info else "") for r in tracebacks.records]
    assert not problems and not logged, (
        f"seed {seed}: {len(problems)} bad answer(s), {len(logged)} logged traceback(s)\n"
        + "\n".join(f"  #{i}: {p}" for i, p in problems[:8]) + "\n" + "\n".join(logged[:5]))


# -- paths, query strings and headers: every route of the server

ODD_SEGMENTS = ["", "x", "%00", "..", "%2e%2e", "a" * 5000, "é😀", "a:b:c", "models", "gpt-4o:generateContent",
                "%ZZ", "-1", "0", "null", "{id}", "resp_" + "0" * 40, "msg_1", "..%2f..%2fetc"]
ODD_QUERIES = ["limit=-1", "limit=abc", "limit=99999999999999999999", "after=x", "before=-5", "order=sideways",
               "offset=1e9", "alt=xml", "alt=", "api-version=", "key=", "include[]=x", "stream=maybe",
               "a=%ff%fe", "limit=10&limit=20", "%00=%00", "rule=" + "r" * 3000, "api=nonsense.api"]
ODD_HEADERS = [{"x-fakellm-conversation": "c" * 5000}, {"x-fakellm-conversation": ""},
               {"anthropic-version": "1999-01-01"}, {"anthropic-beta": "x" * 1000}, {"content-type": "text/plain"},
               {"content-type": "application/json; charset=latin-1"}, {"x-goog-api-key": "é"},
               {"authorization": "Bearer " + "t" * 5000}, {"accept": "text/event-stream"}, {"openai-beta": "assistants=v2"}]


def _route_requests(app) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(method, path, body, headers) for every route, with odd path parameters, queries and headers."""
    valid = {path.split("?")[0]: body for path, body in ENDPOINTS}
    out = []
    routes = [(path, method) for path, methods in app.router._exact.items() for method in methods]
    routes += [(pattern.pattern, method) for pattern, methods in app.router._patterns for method in methods]
    for i, (route, method) in enumerate(routes):
        for j, segment in enumerate(ODD_SEGMENTS):
            path = _fill(route, segment) if route.startswith("^") else route
            query = ODD_QUERIES[(i + j) % len(ODD_QUERIES)]
            headers = ODD_HEADERS[(i * 7 + j) % len(ODD_HEADERS)]
            body = json.dumps(valid.get(path, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
            out.append((method, f"{path}?{query}", body.encode() if method in ("POST", "PUT") else b"", headers))
    return out


def _fill(pattern: str, segment: str) -> str:
    """A pattern route's path with every parameter set to `segment` (URL-quoted as a client would)."""
    import re
    from urllib.parse import quote

    path = re.sub(r"\(\?P<\w+>[^)]*\)", lambda m: quote(segment, safe=":%") or "x", pattern[1:-1])
    return path.replace("\\", "")


def test_odd_paths_queries_and_headers_on_every_route_get_no_5xx_and_no_traceback(tracebacks):
    app = app_from(CONFIG)
    cases = _route_requests(app)
    assert len(cases) > 500

    async def run() -> list[str]:
        problems = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30) as http:
            for method, path, body, headers in cases:
                raw_headers = {k: v.encode() for k, v in headers.items()}  # bytes: httpx sends non-ASCII as is
                response = await http.request(method, path, content=body, headers=raw_headers)
                problem = _check(response.status_code, response.content, response.headers.get("content-type", ""))
                if problem:
                    problems.append(f"{method} {path[:120]} {headers}: {problem}")
        return problems

    problems = asyncio.run(run())
    logged = [r.getMessage() for r in tracebacks.records]
    assert not problems and not logged, "\n".join(problems[:10] + logged[:5])
