"""The Vertex AI family (Gemini and Claude on Google Cloud) as the registry sees it."""

from __future__ import annotations

from ...model import ErrorInfo
from ..base import Family
from ..gemini.wire import error_body
from . import paths, routes

FAMILY = Family(
    name="vertex",
    apis=("vertex.gemini", "vertex.anthropic"),
    install=routes.install,
    owns_path=paths.owns_path,
    # Vertex AI's own errors (an unknown path or location) are Google's, for Claude's calls too.
    error=lambda status, message, request_id: error_body(status, ErrorInfo(message)),
    # Bearer tokens (OAuth access tokens) in `authorization`, which the journal always redacts.
    auth_headers=("authorization",),
    base_path="",
    base_url_label="Vertex AI base URL",
    # Read only by Vertex clients: google-genai with vertexai=True, AnthropicVertex (which wants /v1).
    sdk_environ=lambda root: {"GOOGLE_VERTEX_BASE_URL": root, "ANTHROPIC_VERTEX_BASE_URL": root + "/v1"},
    advice=paths.unknown_path,
)
