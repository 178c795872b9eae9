"""Ollama's HTTP surface under /api: chat, generate and embed run through the engine;
tags and version describe the server. Unknown /api paths get `{"error": ...}`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ...engine.catalog import Catalog
from ...server.http import JSON, send_response
from ...model import ErrorInfo
from . import wire as ollama
from ...server.router import Router

if TYPE_CHECKING:
    from ...server.app import FakeLLMApp

# What `GET /api/version` reports: a recent Ollama, so clients that check for features are content.
OLLAMA_VERSION = "0.12.0"


def install(app: FakeLLMApp, router: Router) -> None:
    def llm(adapter):
        async def route(app: FakeLLMApp, scope, receive, send, params) -> None:
            await app.serve_llm(adapter, scope, receive, send, params)
        return route

    catalog = lambda: app.engine.catalog  # noqa: E731 (read at request time: reloads swap it)
    router.add("POST", "/api/chat", llm(ollama.OllamaChat()))
    router.add("POST", "/api/generate", llm(ollama.OllamaGenerate()))
    router.add("POST", "/api/embed", llm(ollama.OllamaEmbed(catalog)))
    router.add("POST", "/api/embeddings", llm(ollama.OllamaEmbed(catalog, legacy=True)))

    async def tags(app: FakeLLMApp, scope, receive, send, params) -> None:
        await send_response(send, 200, tags_body(app.engine.catalog), JSON)

    async def version(app: FakeLLMApp, scope, receive, send, params) -> None:
        await send_response(send, 200, orjson.dumps({"version": OLLAMA_VERSION}), JSON)

    router.add("GET", "/api/tags", tags)
    router.add("GET", "/api/version", version)


def tags_body(catalog: Catalog) -> bytes:
    """`GET /api/tags`: the catalogue's models, named with a tag as Ollama names them (`x:latest`)."""
    return orjson.dumps({"models": [ollama.model_entry(m.id, m.created_rfc3339) for m in catalog.models]})


def belongs_to_ollama(path: str) -> bool:
    return path.startswith("/api/")


def error(status: int, message: str) -> bytes:
    return ollama.error_body(status, ErrorInfo(message))
