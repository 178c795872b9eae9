"""The model catalogue: what the model listings of every provider show, and the token limits
the models declare.

Built once per config from the top-level `models:` list, or from a built-in
list when the config has none. Listings are informational: every LLM endpoint
still accepts any model name (only a model's declared `context_window` and
`max_output_tokens` refuse requests, see limits.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from ..config.schema import ModelSpec
from .limits import ModelLimits

DEFAULT_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "gemini-2.5-flash",
)

# A fixed date keeps listings deterministic (2024-01-01T00:00:00Z).
DEFAULT_CREATED = 1_704_067_200

DEFAULT_EMBEDDING_DIMENSIONS = 1536
LARGE_EMBEDDING_DIMENSIONS = 3072


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One model as the listings show it; every field has a value."""

    id: str
    owned_by: str
    created: int
    display_name: str
    dimensions: int
    input_token_limit: int
    output_token_limit: int

    @property
    def created_rfc3339(self) -> str:
        return datetime.fromtimestamp(self.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_of(model_id: str) -> str:
    """Who the real API says owns a model, guessed from its name."""
    name = model_id.lower()
    if name.startswith(("gpt", "o1", "o3", "o4", "text-", "davinci", "babbage", "whisper", "dall-e", "tts")):
        return "openai"
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith(("gemini", "gemma", "embedding-", "text-embedding-004")):
        return "google"
    return "fakellm"


def display_name_of(model_id: str) -> str:
    """`claude-sonnet-4-6` -> `Claude Sonnet 4.6`, `gpt-4o-mini` -> `GPT 4o Mini`."""
    words: list[str] = []
    for part in model_id.split("-"):
        if words and part.isdigit() and re.fullmatch(r"\d+(\.\d+)*", words[-1]):
            words[-1] += "." + part  # version numbers: 4-5 -> 4.5
        elif part.lower() == "gpt":
            words.append("GPT")
        elif part[:1].isalpha():
            words.append(part[0].upper() + part[1:])
        else:
            words.append(part)
    return " ".join(words) or model_id


def embedding_dimensions_of(model_id: str) -> int:
    """The vector length of an embedding model the catalogue does not size."""
    return LARGE_EMBEDDING_DIMENSIONS if "large" in model_id.lower() else DEFAULT_EMBEDDING_DIMENSIONS


def _complete(spec: ModelSpec) -> CatalogModel:
    return CatalogModel(
        id=spec.id,
        owned_by=spec.owned_by or owner_of(spec.id),
        created=spec.created if spec.created is not None else DEFAULT_CREATED,
        display_name=spec.display_name or display_name_of(spec.id),
        dimensions=spec.dimensions or embedding_dimensions_of(spec.id),
        # The listings show the limits a model enforces, unless the config says otherwise.
        input_token_limit=spec.input_token_limit or spec.context_window or 128_000,
        output_token_limit=spec.output_token_limit or spec.max_output_tokens or 16_384,
    )


class Catalog:
    """The configured models in config order, looked up by id."""

    def __init__(self, specs: Iterable[ModelSpec] | None):
        if specs is None:
            specs = [ModelSpec(id=model_id) for model_id in DEFAULT_MODELS]
        specs = list(specs)
        self.models: list[CatalogModel] = [_complete(s) for s in specs]
        self._by_id = {m.id: m for m in self.models}
        # Only the models that declare limits: empty (the usual case), the engine checks nothing.
        self.limits: dict[str, ModelLimits] = {
            s.id: ModelLimits(s.context_window, s.max_output_tokens)
            for s in specs if s.context_window is not None or s.max_output_tokens is not None}

    def get(self, model_id: str) -> CatalogModel | None:
        return self._by_id.get(model_id)

    def embedding_dimensions(self, model_id: str) -> int:
        """The model's vector length: its catalogue entry, else guessed from its name."""
        model = self._by_id.get(model_id)
        return model.dimensions if model is not None else embedding_dimensions_of(model_id)
