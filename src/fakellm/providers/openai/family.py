"""The OpenAI family as the registry sees it (Azure OpenAI included: same wire format)."""

from __future__ import annotations

from ...model import ErrorInfo
from ...traffic.ratelimit import go_duration
from ..base import BucketReport, Family, ModelListing, bucket_headers
from . import models, routes
from .chat import error_body


def rate_limit_headers(report: BucketReport) -> dict[str, str]:
    """`x-ratelimit-*`, resets as Go durations."""
    return bucket_headers(report, ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                                   "x-ratelimit-reset-requests"),
                          ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
                          go_duration)


FAMILY = Family(
    name="openai",
    apis=("openai.chat", "openai.responses", "openai.completions", "openai.embeddings", "openai.realtime"),
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
