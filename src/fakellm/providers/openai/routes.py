"""OpenAI's HTTP surface: chat, Responses (and its stored responses), embeddings, legacy
completions and the model listing, under every prefix an OpenAI client may use; and the
Realtime API's WebSocket.

Every endpoint is served under `/v1` (the SDK's base URL), without a prefix (a base URL
with no `/v1`), under Azure's `/openai` (what `AzureOpenAI` uses for Responses and
models) and `/openai/v1`, and the LLM calls also under Azure's
`/openai/deployments/{deployment}` (the deployment is the model).
"""

from __future__ import annotations

from ..base import Routes, Served
from . import responses as responses_api
from .azure import AzureDeployment
from .chat import OpenAIChat
from .completions import OpenAICompletions
from .embeddings import OpenAIEmbeddings
from .realtime.socket import OpenAIRealtime

PREFIXES = ("/v1", "", "/openai", "/openai/v1")


def install(routes: Routes, served: Served) -> None:
    chat = OpenAIChat()
    responses = responses_api.OpenAIResponses()
    embeddings = OpenAIEmbeddings(lambda: served.catalog)
    completions = OpenAICompletions()
    realtime = OpenAIRealtime()
    error = responses.render_error

    for prefix in PREFIXES:
        routes.llm("POST", f"{prefix}/chat/completions", chat)
        routes.llm("POST", f"{prefix}/responses", responses)
        routes.json("POST", f"{prefix}/responses/input_tokens", responses_api.input_tokens(responses), error,
                    with_body=True)
        routes.json("GET", f"{prefix}/responses/{{response_id}}", responses_api.retrieve, error)
        routes.json("DELETE", f"{prefix}/responses/{{response_id}}", responses_api.delete, error)
        routes.json("GET", f"{prefix}/responses/{{response_id}}/input_items", responses_api.input_items, error)
        routes.llm("POST", f"{prefix}/embeddings", embeddings)
        routes.llm("POST", f"{prefix}/completions", completions)
        routes.model_listing(f"{prefix}/models", f"{prefix}/models/{{model_id}}")
        routes.socket(f"{prefix}/realtime", realtime)

    deployment = "/openai/deployments/{deployment}"
    for endpoint, adapter in (("chat/completions", chat), ("embeddings", embeddings), ("completions", completions),
                              ("responses", responses)):
        routes.llm("POST", f"{deployment}/{endpoint}", AzureDeployment(adapter))
