"""The OpenAI family as the registry sees it (Azure OpenAI included: same wire format)."""

from __future__ import annotations

from ...model import ErrorInfo
from ...traffic.ratelimit import go_duration
from ..base import BucketReport, Family, ModelListing
from . import models, routes
from .chat import error_body


def rate_limit_headers(report: BucketReport) -> dict[str, str]:
    """`x-ratelimit-*`, resets as Go durations."""
    out: dict[str, str] = {}
    if report.requests_limit is not None:
        out["x-ratelimit-limit-requests"] = str(report.requests_limit)
        out["x-ratelimit-remaining-requests"] = str(report.requests_left)
        out["x-ratelimit-reset-requests"] = go_duration(report.requests_reset_s)
    if report.tokens_limit is not None:
        out["x-ratelimit-limit-tokens"] = str(report.tokens_limit)
        out["x-ratelimit-remaining-tokens"] = str(report.tokens_left)
        out["x-ratelimit-reset-tokens"] = go_duration(report.tokens_reset_s)
    return out


FAMILY = Family(
    name="openai",
    apis=("openai.chat", "openai.responses", "openai.completions", "openai.embeddings"),
    install=routes.install,
    owns_path=lambda path: True,  # the default shape for paths no family owns
    error=lambda status, message, request_id: error_body(status, ErrorInfo(message)),
    auth_headers=("authorization", "api-key"),
    models=ModelListing(claims=lambda headers: True, list=models.list_models, get=models.get_model),
    rate_limit_headers=rate_limit_headers,
    base_path="/v1",
    sdk_environ=lambda root: {"OPENAI_BASE_URL": root + "/v1", "OPENAI_API_KEY": "sk-fakellm"},
    base_url_label="OpenAI base URL",
)
