"""Bedrock Runtime's HTTP surface. The model id is URL-encoded in the path (an ARN or an inference
profile may hold `/` and `:`); the server decodes the path, so the id may span segments."""

from __future__ import annotations

from ..base import Routes, Served
from .converse import BedrockConverse
from .invoke import BedrockInvoke

MODEL = "/model/{model_id:path}"


def install(routes: Routes, served: Served) -> None:
    routes.llm("POST", f"{MODEL}/converse", BedrockConverse())
    routes.llm("POST", f"{MODEL}/converse-stream", BedrockConverse(streaming=True))
    routes.llm("POST", f"{MODEL}/invoke", BedrockInvoke())
    routes.llm("POST", f"{MODEL}/invoke-with-response-stream", BedrockInvoke(streaming=True))
