"""Anthropic's model objects for `GET /v1/models[/{model_id}]` (wire.md §6), paged by
`limit`, `after_id` and `before_id`."""

from __future__ import annotations

from ...engine.catalog import CatalogModel
from ...model import ErrorInfo
from ..base import Call, dumps
from .messages import error_body


def model_object(m: CatalogModel) -> dict:
    return {
        "type": "model",
        "id": m.id,
        "display_name": m.display_name,
        "created_at": m.created_rfc3339,
        "lifecycle": "active",
        "max_input_tokens": m.input_token_limit,
        "max_tokens": m.output_token_limit,
    }


def _error(call: Call, status: int, message: str) -> tuple[int, bytes]:
    return status, error_body(status, ErrorInfo(message), call.request_id)


def list_models(call: Call) -> tuple[int, bytes]:
    """One page: `limit` (1-1000, default 20) models after `after_id` or before `before_id`."""
    models = call.catalog.models
    ids = [m.id for m in models]
    raw_limit = call.query.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        return _error(call, 400, f"limit: Input should be a valid integer, got {raw_limit!r}")
    if not 1 <= limit <= 1000:
        return _error(call, 400, "limit: Input should be between 1 and 1000")
    after, before = call.query.get("after_id"), call.query.get("before_id")
    if after is not None and before is not None:
        return _error(call, 400, "Only one of after_id and before_id may be given")
    for name, cursor in (("after_id", after), ("before_id", before)):
        if cursor is not None and cursor not in ids:
            return _error(call, 400, f"{name}: no model with id {cursor!r}")
    if before is not None:
        end = ids.index(before)
        start = max(0, end - limit)
        page, has_more = models[start:end], start > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        page, has_more = models[start:start + limit], start + limit < len(models)
    return 200, dumps({
        "data": [model_object(m) for m in page],
        "has_more": has_more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    })


def get_model(call: Call) -> tuple[int, bytes]:
    model_id = call.params["model_id"]
    model = call.catalog.get(model_id)
    if model is None:
        return _error(call, 404, f"model: {model_id}")
    return 200, dumps(model_object(model))
