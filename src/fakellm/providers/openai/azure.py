"""Azure OpenAI: OpenAI's wire format under /openai/deployments/{deployment}/...

The deployment in the path is the model (for `model_matches`, the echo and the
response's `model`), whatever the body says. `api-version` and the `api-key`
header are accepted and not checked.
"""

from __future__ import annotations

from typing import Any

from ...model import Request
from ..base import Adapter


class AzureDeployment:
    """Wraps an OpenAI adapter so the path's `{deployment}` names the model."""

    def __init__(self, inner: Adapter):
        self.inner = inner
        self.api = inner.api
        self.request_id_header = inner.request_id_header

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        deployment = params.get("deployment")
        if deployment:
            body = {**body, "model": deployment}
        return self.inner.parse(body, headers, path, params)

    def __getattr__(self, name: str) -> Any:
        # render, render_stream, render_error and any adapter extras.
        return getattr(self.inner, name)
