"""Claude on Vertex AI: Anthropic Messages under `.../publishers/anthropic/models/{model}:rawPredict`
(and `:streamRawPredict`), as `anthropic.AnthropicVertex` sends them.

The body is a Messages body without `model` (the path names it) and with an `anthropic_version`
(any value: Vertex requires one, the SDK sends its own). Answers, stream events and errors are
Anthropic's, which is what the SDK parses from Vertex.
"""

from __future__ import annotations

from typing import Any

from ...model import Request
from ..anthropic.messages import AnthropicMessages
from ..base import require
from .paths import check_location

API = "vertex.anthropic"


def check_version(body: dict[str, Any]) -> None:
    require(body, "anthropic_version", str, "a valid string")


def with_model_from_path(body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The body as the Messages parser reads it: checked for `anthropic_version`, the path's model in it."""
    check_version(body)
    return {**body, "model": params["model"]}


class VertexClaude(AnthropicMessages):
    api = API

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        check_location(params)
        return super().parse(with_model_from_path(body, params), headers, path, params)
