"""The Gemini family (the Gemini Developer API, as google-genai calls it) as the registry sees it."""

from __future__ import annotations

from ..base import Family, ModelListing
from . import routes


def _claims(headers: dict[str, str]) -> bool:
    """google-genai sends x-goog-api-key or x-goog-api-client; its default API version is v1, so its
    model listings arrive at the shared GET /v1/models."""
    return "x-goog-api-key" in headers or "x-goog-api-client" in headers


FAMILY = Family(
    name="gemini",
    apis=("gemini.generate", "gemini.embed"),
    install=routes.install,
    owns_path=routes.belongs_to_gemini,
    error=lambda status, message, request_id: routes.error(status, message),
    auth_headers=("x-goog-api-key",),
    models=ModelListing(claims=_claims, list=lambda call: routes.list_models(call.catalog, call.query),
                        get=lambda call: routes.get_model(call.catalog, call.params["model_id"], "v1")),
    base_path="",
    sdk_environ=lambda root: {"GOOGLE_GEMINI_BASE_URL": root, "GEMINI_API_KEY": "fakellm"},
    base_url_label="Gemini base URL",
    advice=lambda method, path: routes.missing_version(path) if method == "POST" else None,
)
