"""Ollama's HTTP surface under /api: chat, generate and embed run through the engine;
tags and version describe the server. Unknown /api paths get `{"error": ...}`."""

from __future__ import annotations

import orjson

from ...engine.catalog import Catalog
from ...model import ErrorInfo
from ..base import Call, Routes, Served
from . import wire as ollama

# What `GET /api/version` reports: a recent Ollama, so clients that check for features are content.
OLLAMA_VERSION = "0.12.0"


def install(routes: Routes, served: Served) -> None:
    catalog = lambda: served.catalog  # noqa: E731 (read at request time: reloads swap it)
    routes.llm("POST", "/api/chat", ollama.OllamaChat())
    routes.llm("POST", "/api/generate", ollama.OllamaGenerate())
    routes.llm("POST", "/api/embed", ollama.OllamaEmbed(catalog))
    routes.llm("POST", "/api/embeddings", ollama.OllamaEmbed(catalog, legacy=True))
    render_error = lambda status, err, request_id: ollama.error_body(status, err)  # noqa: E731
    routes.json("GET", "/api/tags", lambda call: (200, tags_body(call.catalog)), render_error)
    routes.json("GET", "/api/version", version, render_error)


def version(call: Call) -> tuple[int, bytes]:
    return 200, orjson.dumps({"version": OLLAMA_VERSION})


def tags_body(catalog: Catalog) -> bytes:
    """`GET /api/tags`: the catalogue's models, named with a tag as Ollama names them (`x:latest`)."""
    return orjson.dumps({"models": [ollama.model_entry(m.id, m.created_rfc3339) for m in catalog.models]})


def belongs_to_ollama(path: str) -> bool:
    return path.startswith("/api/")


def error(status: int, message: str) -> bytes:
    return ollama.error_body(status, ErrorInfo(message))
