"""Gemini on Vertex AI: the Gemini API's generateContent wire format under a Vertex resource path.

google-genai (`vertexai=True`) sends the same camelCase bodies as to the Gemini API, plus `labels`
(billing labels: an object of strings) and no model in the body (the path names it). Answers and
errors are the Gemini API's (Google's `{"error": {code, message, status}}`).
"""

from __future__ import annotations

from typing import Any

from ...model import Request
from ..base import InvalidRequest
from ..gemini.wire import GeminiGenerate
from .paths import check_location

API = "vertex.gemini"


class VertexGemini(GeminiGenerate):
    """generateContent, or (`streaming`) streamGenerateContent, on Vertex AI."""

    api = API

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        check_location(params)
        check_labels(body)
        return super().parse(body, headers, path, params)


def check_labels(body: dict[str, Any]) -> None:
    labels = body.get("labels")
    if labels is None:
        return
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise InvalidRequest("Invalid value at 'labels': expected a map of string keys to string values",
                             param="labels")
