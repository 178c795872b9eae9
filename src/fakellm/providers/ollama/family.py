"""The Ollama family (its native /api endpoints) as the registry sees it."""

from __future__ import annotations

from ..base import Family
from . import routes

FAMILY = Family(
    name="ollama",
    apis=("ollama.chat", "ollama.generate", "ollama.embed"),
    install=routes.install,
    owns_path=routes.belongs_to_ollama,
    error=lambda status, message, request_id: routes.error(status, message),
    base_path="",
    base_url_label="Ollama host",
)
