"""The API surfaces fakellm speaks, as named in `when.api`.

A request's api is "family.endpoint" (e.g. "openai.chat"); `when.api` may name
the family ("openai") or one endpoint ("openai.chat").
"""

from __future__ import annotations

ENDPOINTS = frozenset({
    "openai.chat",
    "openai.responses",
    "openai.completions",
    "openai.embeddings",
    "anthropic.messages",
    "gemini.generate",
    "gemini.embed",
    "ollama.chat",
    "ollama.generate",
    "ollama.embed",
})

FAMILIES = frozenset(name.split(".", 1)[0] for name in ENDPOINTS)

KNOWN_APIS = ENDPOINTS | FAMILIES


def api_matches(wanted: str, actual: str) -> bool:
    """True when the request's api `actual` is `wanted` or belongs to family `wanted`."""
    return actual == wanted or actual.startswith(wanted + ".")
