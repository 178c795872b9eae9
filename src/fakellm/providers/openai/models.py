"""OpenAI's model objects for `GET /v1/models[/{model_id}]` (wire.md §4)."""

from __future__ import annotations

from typing import Any

from ...engine.catalog import CatalogModel
from ...model import ErrorInfo
from ..base import Call, dumps
from .chat import error_body


def model_object(m: CatalogModel) -> dict[str, Any]:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}


def list_models(call: Call) -> tuple[int, bytes]:
    return 200, dumps({"object": "list", "data": [model_object(m) for m in call.catalog.models]})


def get_model(call: Call) -> tuple[int, bytes]:
    model_id = call.params["model_id"]
    model = call.catalog.get(model_id)
    if model is None:
        message = f"The model '{model_id}' does not exist or you do not have access to it."
        return 404, error_body(404, ErrorInfo(message, code="model_not_found"))
    return 200, dumps(model_object(model))
