"""Gemini's HTTP surface: which `/{version}/models/...` call goes to which handler.

`POST /{v1,v1beta}/models/{model}:{method}` carries the method after the colon:
generateContent and streamGenerateContent run through the engine like every LLM
call; embedContent and batchEmbedContents too (so `respond.embedding` works);
countTokens only counts. `GET /v1beta/models[/{model}]` list the catalogue.
`GET /v1/models[/{id}]` is shared with OpenAI and Anthropic: their handler asks
`is_gemini(scope)` and hands Gemini's requests to `list_models` / `get_model`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from ...engine.catalog import Catalog, CatalogModel
from ...server.endpoints import Call, json_endpoint
from ...engine.engine import input_tokens
from ...server.http import JSON, BodyTooLarge, ClientGone, Receive, Send, query_params, read_body, send_response
from ...model import ErrorInfo, Request
from . import wire as gemini
from ..base import InvalidRequest
from ...server.router import Router

if TYPE_CHECKING:
    from ...server.app import FakeLLMApp

VERSIONS = ("v1", "v1beta")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

GENERATE = gemini.GeminiGenerate()
STREAM_SSE = gemini.GeminiGenerate(stream="sse")
STREAM_JSON_ARRAY = gemini.GeminiGenerate(stream="json-array")


def install(app: FakeLLMApp, router: Router) -> None:
    embed_one = gemini.GeminiEmbed(batch=False, catalog=lambda: app.engine.catalog)
    embed_batch = gemini.GeminiEmbed(batch=True, catalog=lambda: app.engine.catalog)
    count = json_endpoint(count_tokens, lambda status, err, request_id: gemini.error_body(status, err),
                          with_body=True)

    async def model_method(app: FakeLLMApp, scope, receive, send, params) -> None:
        target = params["target"]
        model, _, method = target.rpartition(":")
        if not model:
            await _drain_and_fail(receive, send, 404, f"Unknown method POST {scope['path']}: a model call is "
                                                      f"POST /{{version}}/models/{{model}}:generateContent "
                                                      f"(or :streamGenerateContent, :countTokens, :embedContent, "
                                                      f":batchEmbedContents).")
        elif method == "generateContent":
            await app.serve_llm(GENERATE, scope, receive, send, params)
        elif method == "streamGenerateContent":
            alt = query_params(scope).get("alt")
            await app.serve_llm(STREAM_SSE if alt == "sse" else STREAM_JSON_ARRAY, scope, receive, send, params)
        elif method == "countTokens":
            await count(app, scope, receive, send, params)
        elif method == "embedContent":
            await app.serve_llm(embed_one, scope, receive, send, params)
        elif method == "batchEmbedContents":
            await app.serve_llm(embed_batch, scope, receive, send, params)
        else:
            await _drain_and_fail(receive, send, 404, f"Method not found: models/{model}:{method} is not a "
                                                      f"method fakellm serves for Gemini.")

    async def v1beta_models(app: FakeLLMApp, scope, receive, send, params) -> None:
        status, body = list_models(app.engine.catalog, query_params(scope))
        await send_response(send, status, body, JSON)

    async def v1beta_model(app: FakeLLMApp, scope, receive, send, params) -> None:
        status, body = get_model(app.engine.catalog, params["target"], "v1beta")
        await send_response(send, status, body, JSON)

    for version in VERSIONS:
        router.add("POST", f"/{version}/models/{{target}}", model_method)
    # GET /v1/models[/{id}] belongs to the shared handler (see is_gemini).
    router.add("GET", "/v1beta/models", v1beta_models)
    router.add("GET", "/v1beta/models/{target}", v1beta_model)


def belongs_to_gemini(path: str) -> bool:
    """Paths whose 404/405 should be in Google's shape: all of /v1beta, and .../models/{model}:method calls."""
    return path.startswith(("/v1beta/", "/upload/v1beta/")) or path == "/v1beta" or (
        ":" in path and _MODEL_CALL.search(path) is not None)


# `.../models/{model}:{method}`, the shape of every Gemini model call.
_MODEL_CALL = re.compile(r"/models/[^/]+:\w+$")


def missing_version(path: str) -> str | None:
    """For a Gemini model call without its API version (e.g. LiteLLM's `gemini/` with a base URL that
    lacks `/v1beta`): a message that says which paths fakellm serves; None for any other path."""
    if path.startswith(tuple(f"/{v}/" for v in VERSIONS)) or _MODEL_CALL.search(path) is None:
        return None
    call = path[path.rindex("/models/"):]
    return (f"Unknown path {path}: a Gemini call needs the API version in its path. fakellm serves "
            f"POST /v1beta{call} and POST /v1{call} (generateContent, streamGenerateContent, countTokens, "
            f"embedContent, batchEmbedContents). Add the version to the client's base URL, e.g. "
            f"http://HOST:PORT/v1beta for LiteLLM's gemini/ provider.")


def is_gemini(scope: dict[str, Any]) -> bool:
    """A request from a Google GenAI SDK (they send x-goog-api-key or x-goog-api-client)."""
    return any(name in (b"x-goog-api-key", b"x-goog-api-client") for name, _ in scope["headers"])


def error(status: int, message: str) -> bytes:
    return gemini.error_body(status, ErrorInfo(message))


# --------------------------------------------------------------------------- countTokens

def count_tokens(call: Call) -> tuple[int, bytes]:
    """`{"totalTokens": n}`: the prompt counted as the usage of a generateContent with that body counts it."""
    body = call.body
    inner = gemini.get(body, "generateContentRequest")
    if inner is not None:
        if not isinstance(inner, dict):
            raise InvalidRequest("Invalid value at 'generate_content_request': expected an object")
        messages = gemini.parse_contents(inner, "generateContentRequest.")
        gemini.parse_tools(inner, "generateContentRequest.")
    elif body.get("contents") is not None:
        messages = gemini.parse_contents(body)
    else:
        raise InvalidRequest("* CountTokensRequest.contents: contents is not specified "
                             "(give contents or generateContentRequest).")
    model = gemini.model_from_path(call.params["target"])
    request = Request(api="gemini.count_tokens", model=model, messages=messages, headers={}, body=body)
    return 200, orjson.dumps({"totalTokens": input_tokens(request)})


# --------------------------------------------------------------------------- models

def model_object(model: CatalogModel) -> dict[str, Any]:
    embedding = "embed" in model.id.lower()
    return {
        "name": "models/" + model.id,
        "version": "001",
        "displayName": model.display_name,
        "description": f"{model.display_name}, served by fakellm",
        "inputTokenLimit": model.input_token_limit,
        "outputTokenLimit": model.output_token_limit,
        "supportedGenerationMethods": (
            ["embedContent", "batchEmbedContents"] if embedding
            else ["generateContent", "streamGenerateContent", "countTokens"]
        ),
    }


def list_models(catalog: Catalog, query: dict[str, str]) -> tuple[int, bytes]:
    """`GET /{v}/models`: one page of the catalogue; `pageToken` is the offset of the next page."""
    try:
        size = int(query.get("pageSize") or query.get("page_size") or DEFAULT_PAGE_SIZE)
        token = query.get("pageToken") or query.get("page_token") or "0"
        start = int(token)
    except ValueError:
        return 400, error(400, "Invalid pageSize or pageToken: both must be integers as fakellm gave them.")
    if size < 1 or start < 0:
        return 400, error(400, "pageSize must be positive and pageToken must come from a previous page.")
    size = min(size, MAX_PAGE_SIZE)
    page = catalog.models[start:start + size]
    out: dict[str, Any] = {"models": [model_object(m) for m in page]}
    if start + size < len(catalog.models):
        out["nextPageToken"] = str(start + size)
    return 200, orjson.dumps(out)


def get_model(catalog: Catalog, target: str, version: str) -> tuple[int, bytes]:
    """`GET /{v}/models/{model}`: one catalogue entry, or Google's 404."""
    if ":" in target:
        return 404, error(404, f"Method not found: models/{target} is called with POST, not GET.")
    model = catalog.get(target)
    if model is None:
        return 404, error(404, f"models/{target} is not found for API version {version}. fakellm lists the "
                               f"models of its config's `models:` list; any model name still works for calls.")
    return 200, orjson.dumps(model_object(model))


# --------------------------------------------------------------------------- plumbing

async def _drain_and_fail(receive: Receive, send: Send, status: int, message: str) -> None:
    try:
        await read_body(receive, 8 * 1024 * 1024)
    except (BodyTooLarge, ClientGone):
        pass
    await send_response(send, status, error(status, message), JSON)
