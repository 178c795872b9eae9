"""Vertex AI's HTTP surface: Gemini's generateContent, streamGenerateContent and countTokens;
Claude's rawPredict and streamRawPredict, and its count-tokens (a rawPredict on the model
`count-tokens`, the real model in the body).

Unknown paths under the Vertex prefixes get Google's 404, naming the calls served (paths.py).
"""

from __future__ import annotations

from ...engine.engine import input_tokens
from ...model import Request
from ..anthropic.count_tokens import count_tokens as count_claude_tokens
from ..anthropic.messages import error_body as anthropic_error
from ..base import Call, Routes, Served, dumps
from ..gemini import wire as gemini
from . import claude, paths
from .claude import VertexClaude
from .gemini import API as GEMINI_API
from .gemini import VertexGemini, check_labels


def install(routes: Routes, served: Served) -> None:
    google_error = lambda status, err, request_id: gemini.error_body(status, err)  # noqa: E731
    for version in paths.GEMINI_VERSIONS:
        model = f"/{version}{paths.resource('google')}"
        routes.llm("POST", f"{model}:generateContent", VertexGemini())
        routes.llm("POST", f"{model}:streamGenerateContent", VertexGemini(streaming=True), with_query=True)
        routes.json("POST", f"{model}:countTokens", count_gemini_tokens, google_error, with_body=True)
    messages = VertexClaude()
    for prefix in paths.CLAUDE_PREFIXES:
        model = f"{prefix}{paths.resource('anthropic')}"
        # Before {model}:rawPredict: the router tries patterns in the order they were added.
        routes.json("POST", model.replace("{model}", "count-tokens") + ":rawPredict", count_tokens_of_claude,
                    anthropic_error, with_body=True, request_id_headers=("request-id",))
        routes.llm("POST", f"{model}:rawPredict", messages)
        routes.llm("POST", f"{model}:streamRawPredict", messages)


def count_gemini_tokens(call: Call) -> tuple[int, bytes]:
    """`{"totalTokens", "totalBillableCharacters"}`: the prompt as a generateContent with that body counts it.
    Vertex takes systemInstruction, tools and generationConfig beside the contents (not a nested request)."""
    paths.check_location(call.params)
    check_labels(call.body)
    messages = gemini.parse_contents(call.body)
    tools = gemini.parse_tools(call.body)
    gemini.parse_generation_config(call.body)
    request = Request(api=GEMINI_API, model=call.params["model"], messages=messages, headers={},
                      body=call.body, tools=tools)
    # Vertex bills Gemini 1.x by the characters of the prompt, whitespace not counted.
    characters = sum(len("".join(m.text.split())) for m in messages)
    return 200, dumps({"totalTokens": input_tokens(request), "totalBillableCharacters": characters})


def count_tokens_of_claude(call: Call) -> tuple[int, bytes]:
    """Anthropic's `{"input_tokens": n}`; the body names the model (AnthropicVertex sends it there)."""
    paths.check_location(call.params)
    claude.check_version(call.body)
    return count_claude_tokens(call)
