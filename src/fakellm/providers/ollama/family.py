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
    # The ollama Python and JavaScript clients read it when built without a host.
    sdk_environ=lambda root: {"OLLAMA_HOST": root},
    base_url_label="Ollama host",
)
