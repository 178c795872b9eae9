"""GET /v1/models and GET /v1/models/{model_id}, in the shape of the provider asking.

OpenAI and Anthropic (and google-genai, whose default API version is v1) share
these paths. The request headers say who is asking: the Anthropic SDKs send
`anthropic-version` (older clients `x-api-key`), google-genai sends
`x-goog-api-key`; everything else gets OpenAI's shape.
"""

from __future__ import annotations

from typing import Callable

from ..engine.catalog import Catalog, CatalogModel
from .endpoints import Call
from ..model import ErrorInfo
from ..providers.anthropic import messages as anthropic
from ..providers.openai import chat as openai_chat
from ..providers.base import dumps

ListingFn = Callable[[Call], tuple[int, bytes]]

# provider -> (list models, get one model).
LISTINGS: dict[str, tuple[ListingFn, ListingFn]] = {}


def provider_of(headers: dict[str, str]) -> str:
    """Which provider's SDK sent a request, from its headers."""
    if "x-goog-api-key" in headers or "x-goog-api-client" in headers:
        return "gemini"
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    return "openai"


def _listing(call: Call) -> tuple[ListingFn, ListingFn]:
    return LISTINGS.get(provider_of(call.headers)) or LISTINGS["openai"]


def list_models(call: Call) -> tuple[int, bytes]:
    return _listing(call)[0](call)


def get_model(call: Call) -> tuple[int, bytes]:
    return _listing(call)[1](call)


def _catalog(call: Call) -> Catalog:
    return call.app.engine.catalog


# -- OpenAI (wire.md §4)


def _openai_model(m: CatalogModel) -> dict:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}


def openai_list(call: Call) -> tuple[int, bytes]:
    return 200, dumps({"object": "list", "data": [_openai_model(m) for m in _catalog(call).models]})


def openai_get(call: Call) -> tuple[int, bytes]:
    model_id = call.params["model_id"]
    model = _catalog(call).get(model_id)
    if model is None:
        message = f"The model '{model_id}' does not exist or you do not have access to it."
        return 404, openai_chat.error_body(404, ErrorInfo(message, code="model_not_found"))
    return 200, dumps(_openai_model(model))


# -- Anthropic (wire.md §6)


def _anthropic_model(m: CatalogModel) -> dict:
    return {
        "type": "model",
        "id": m.id,
        "display_name": m.display_name,
        "created_at": m.created_rfc3339,
        "lifecycle": "active",
        "max_input_tokens": m.input_token_limit,
        "max_tokens": m.output_token_limit,
    }


def _anthropic_error(call: Call, status: int, message: str) -> tuple[int, bytes]:
    return status, anthropic.error_body(status, ErrorInfo(message), call.request_id)


def anthropic_list(call: Call) -> tuple[int, bytes]:
    """One page: `limit` (1-1000, default 20) models after `after_id` or before `before_id`."""
    models = _catalog(call).models
    ids = [m.id for m in models]
    raw_limit = call.query.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        return _anthropic_error(call, 400, f"limit: Input should be a valid integer, got {raw_limit!r}")
    if not 1 <= limit <= 1000:
        return _anthropic_error(call, 400, "limit: Input should be between 1 and 1000")
    after, before = call.query.get("after_id"), call.query.get("before_id")
    if after is not None and before is not None:
        return _anthropic_error(call, 400, "Only one of after_id and before_id may be given")
    for name, cursor in (("after_id", after), ("before_id", before)):
        if cursor is not None and cursor not in ids:
            return _anthropic_error(call, 400, f"{name}: no model with id {cursor!r}")
    if before is not None:
        end = ids.index(before)
        start = max(0, end - limit)
        page, has_more = models[start:end], start > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        page, has_more = models[start:start + limit], start + limit < len(models)
    return 200, dumps({
        "data": [_anthropic_model(m) for m in page],
        "has_more": has_more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    })


def anthropic_get(call: Call) -> tuple[int, bytes]:
    model_id = call.params["model_id"]
    model = _catalog(call).get(model_id)
    if model is None:
        return _anthropic_error(call, 404, f"model: {model_id}")
    return 200, dumps(_anthropic_model(model))


LISTINGS["openai"] = (openai_list, openai_get)
LISTINGS["anthropic"] = (anthropic_list, anthropic_get)


# google-genai's default API version is v1, so its listings arrive here too;
# gemini_routes renders them (imported late: it imports the engine and providers).
def _gemini_list(call: Call) -> tuple[int, bytes]:
    from ..providers.gemini import routes as gemini_routes

    return gemini_routes.list_models(_catalog(call), call.query)


def _gemini_get(call: Call) -> tuple[int, bytes]:
    from ..providers.gemini import routes as gemini_routes

    return gemini_routes.get_model(_catalog(call), call.params["model_id"], "v1")


LISTINGS["gemini"] = (_gemini_list, _gemini_get)
