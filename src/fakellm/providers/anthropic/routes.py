"""Anthropic's HTTP surface: Messages, count_tokens, and (shared) the model listing."""

from __future__ import annotations

from ..base import Routes, Served
from . import count_tokens
from .messages import AnthropicMessages, error_body


def install(routes: Routes, served: Served) -> None:
    routes.llm("POST", "/v1/messages", AnthropicMessages())
    routes.json("POST", "/v1/messages/count_tokens", count_tokens.count_tokens, error_body, with_body=True,
                request_id_headers=("request-id",))
    routes.model_listing("/v1/models", "/v1/models/{model_id}")
