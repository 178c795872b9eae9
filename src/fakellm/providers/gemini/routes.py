"""Gemini's HTTP surface: `POST /{v1,v1beta}/models/{model}:{method}` and the model listings.

generateContent and streamGenerateContent run through the engine like every LLM call;
embedContent and batchEmbedContents too (so `respond.embedding` works); countTokens
only counts. `GET /v1beta/models[/{model}]` list the catalogue; `GET /v1/models[/{id}]`
is shared with OpenAI and Anthropic (the registry hands google-genai's requests here).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...engine.catalog import Catalog, CatalogModel
from ...engine.engine import input_tokens
from ...model import ErrorInfo, Request
from ..base import Call, InvalidRequest, Routes, Served
from . import wire as gemini

VERSIONS = ("v1", "v1beta")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def install(routes: Routes, served: Served) -> None:
    catalog = lambda: served.catalog  # noqa: E731 (read at request time: reloads swap it)
    render_error = lambda status, err, request_id: gemini.error_body(status, err)  # noqa: E731
    for version in VERSIONS:
        calls = f"/{version}/models/{{model}}"
        routes.llm("POST", f"{calls}:generateContent", gemini.GeminiGenerate())
        routes.llm("POST", f"{calls}:streamGenerateContent", gemini.GeminiGenerate(streaming=True), with_query=True)
        routes.json("POST", f"{calls}:countTokens", count_tokens, render_error, with_body=True)
        routes.llm("POST", f"{calls}:embedContent", gemini.GeminiEmbed(batch=False, catalog=catalog))
        routes.llm("POST", f"{calls}:batchEmbedContents", gemini.GeminiEmbed(batch=True, catalog=catalog))
        # Any other POST under models/: Google's 404, naming the methods there are.
        routes.json("POST", f"/{version}/models/{{target}}", unknown_method, render_error)
    # GET /v1/models[/{id}] is the shared listing (see family.py).
    routes.json("GET", "/v1beta/models", lambda call: list_models(call.catalog, call.query), render_error)
    routes.json("GET", "/v1beta/models/{model_id}",
                lambda call: get_model(call.catalog, call.params["model_id"], "v1beta"), render_error)


def unknown_method(call: Call) -> tuple[int, bytes]:
    model, _, method = call.params["target"].rpartition(":")
    if not model:
        return 404, error(404, f"Unknown method POST {call.path}: a model call is POST /{{version}}/models/{{model}}:"
                               f"generateContent (or :streamGenerateContent, :countTokens, :embedContent, "
                               f":batchEmbedContents).")
    return 404, error(404, f"Method not found: models/{model}:{method} is not a method fakellm serves for Gemini.")


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
    model = gemini.model_from_path(call.params)
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
