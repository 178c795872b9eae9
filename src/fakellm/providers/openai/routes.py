"""Routes for the OpenAI endpoints beyond chat, Azure OpenAI's paths, the shared
model listings, and Anthropic's count_tokens.

Every OpenAI endpoint is served under `/v1` (the SDK's base URL), without a
prefix (a base URL with no `/v1`), under Azure's `/openai/deployments/{deployment}`
(the deployment is the model) and `/openai` (what `AzureOpenAI` uses for
Responses and models), and under Azure's newer `/openai/v1`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...server import model_listing
from ...server.endpoints import json_endpoint
from ..anthropic import messages as anthropic
from ..anthropic import count_tokens as anthropic_count_tokens
from . import chat as openai_chat
from . import responses as openai_responses
from .azure import AzureDeployment
from .completions import OpenAICompletions
from .embeddings import OpenAIEmbeddings
from ...server.router import Router

if TYPE_CHECKING:
    from ...server.app import FakeLLMApp

OPENAI_PREFIXES = ("/v1", "", "/openai", "/openai/v1")


def install(app: FakeLLMApp, router: Router, llm) -> None:
    """Register the routes; `llm(adapter)` makes a route that runs one LLM call."""
    responses = openai_responses.OpenAIResponses(lambda: app.engine.state.responses)
    embeddings = OpenAIEmbeddings(lambda: app.engine.catalog)
    completions = OpenAICompletions()
    openai_error = responses.render_error

    retrieve = json_endpoint(openai_responses.retrieve, openai_error)
    delete = json_endpoint(openai_responses.delete, openai_error)
    input_items = json_endpoint(openai_responses.input_items, openai_error)
    count_input = json_endpoint(openai_responses.input_tokens(responses), openai_error, with_body=True)
    list_models = json_endpoint(model_listing.list_models, openai_error,
                                request_id_headers=("x-request-id", "request-id"))
    get_model = json_endpoint(model_listing.get_model, openai_error,
                              request_id_headers=("x-request-id", "request-id"))

    for prefix in OPENAI_PREFIXES:
        router.add("POST", f"{prefix}/responses", llm(responses))
        router.add("POST", f"{prefix}/responses/input_tokens", count_input)
        router.add("GET", f"{prefix}/responses/{{response_id}}", retrieve)
        router.add("DELETE", f"{prefix}/responses/{{response_id}}", delete)
        router.add("GET", f"{prefix}/responses/{{response_id}}/input_items", input_items)
        router.add("POST", f"{prefix}/embeddings", llm(embeddings))
        router.add("POST", f"{prefix}/completions", llm(completions))
        router.add("GET", f"{prefix}/models", list_models)
        router.add("GET", f"{prefix}/models/{{model_id}}", get_model)
    # /v1/chat/completions and /chat/completions are the core routes.
    router.add("POST", "/openai/v1/chat/completions", llm(openai_chat.OpenAIChat()))

    deployment = "/openai/deployments/{deployment}"
    router.add("POST", f"{deployment}/chat/completions", llm(AzureDeployment(openai_chat.OpenAIChat())))
    router.add("POST", f"{deployment}/embeddings", llm(AzureDeployment(embeddings)))
    router.add("POST", f"{deployment}/completions", llm(AzureDeployment(completions)))
    router.add("POST", f"{deployment}/responses", llm(AzureDeployment(responses)))

    router.add("POST", "/v1/messages/count_tokens",
               json_endpoint(anthropic_count_tokens.count_tokens,
                             lambda status, error, request_id: anthropic.error_body(status, error, request_id),
                             with_body=True, request_id_headers=("request-id",)))
