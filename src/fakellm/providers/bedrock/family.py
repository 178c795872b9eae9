"""The AWS Bedrock Runtime family as the registry sees it."""

from __future__ import annotations

from ...model import ErrorInfo
from ..base import Family
from . import routes
from .errors import error_body

FAMILY = Family(
    name="bedrock",
    apis=("bedrock.converse", "bedrock.invoke"),
    install=routes.install,
    owns_path=lambda path: path.startswith("/model/"),
    error=lambda status, message, request_id: error_body(status, ErrorInfo(message)),
    # SigV4 signs with `Authorization` (redacted but for its access key id) and, with temporary
    # credentials, `x-amz-security-token`.
    auth_headers=("x-amz-security-token",),
    base_path="",
    # botocore reads the endpoint of one service from AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AnthropicBedrock
    # from ANTHROPIC_BEDROCK_BASE_URL; dummy credentials keep both from looking for real ones.
    sdk_environ=lambda root: {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": root, "ANTHROPIC_BEDROCK_BASE_URL": root,
                              "AWS_ACCESS_KEY_ID": "AKIDFAKELLM", "AWS_SECRET_ACCESS_KEY": "fakellm",
                              "AWS_REGION": "us-east-1"},
    base_url_label="Bedrock endpoint",
)
