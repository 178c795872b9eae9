"""How `when.api` names the APIs: a request's api is "family.endpoint" (e.g. "openai.chat");
`when.api` may name the family ("openai") or one endpoint. Which names exist, the provider
registry says (`providers.registry.KNOWN_APIS`)."""

from __future__ import annotations


def api_matches(wanted: str, actual: str) -> bool:
    """True when the request's api `actual` is `wanted` or belongs to family `wanted`."""
    return actual == wanted or actual.startswith(wanted + ".")
