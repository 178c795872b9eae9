"""The Anthropic family as the registry sees it."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

from ...model import ErrorInfo
from ..base import BucketReport, Family, ModelListing, bucket_headers
from . import models, routes
from .messages import error_body


def rate_limit_headers(report: BucketReport) -> dict[str, str]:
    """`anthropic-ratelimit-*`, resets as the UTC time the bucket is full again. One bucket serves
    input and output: the tokens-* headers report it, as the most restrictive of Anthropic's
    input and output limits."""
    return bucket_headers(report, ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
                                   "anthropic-ratelimit-requests-reset"),
                          ("anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
                           "anthropic-ratelimit-tokens-reset"), rfc3339_after)


def rfc3339_after(seconds: float) -> str:
    """Anthropic's reset format: the UTC time the bucket is full again, to the second (rounded up)."""
    at = math.ceil(time.time() + max(0.0, seconds))
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


FAMILY = Family(
    name="anthropic",
    apis=("anthropic.messages",),
    install=routes.install,
    owns_path=lambda path: path.startswith(("/v1/messages", "/v1/complete")),
    error=lambda status, message, request_id: error_body(status, ErrorInfo(message), request_id),
    auth_headers=("x-api-key",),
    # The Anthropic SDKs send `anthropic-version` (older clients only `x-api-key`).
    models=ModelListing(claims=lambda headers: "anthropic-version" in headers or "x-api-key" in headers,
                        list=models.list_models, get=models.get_model),
    rate_limit_headers=rate_limit_headers,
    base_path="",
    sdk_environ=lambda root: {"ANTHROPIC_BASE_URL": root, "ANTHROPIC_API_KEY": "sk-ant-fakellm"},
    base_url_label="Anthropic base URL",
)
