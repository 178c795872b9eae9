"""Request bodies: JSON objects, nested at most MAX_DEPTH levels.

One limit for every provider's endpoints, checked at parse time: a deeper body would break
what fakellm does with it later (orjson encodes at most 254 levels, so the journal could not
be read back; recursive code would exceed Python's stack), and the real APIs reject deep
bodies with a 400 too.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..providers.base import InvalidRequest

MAX_DEPTH = 128  # arrays and objects inside one another; real requests stay far below it

# orjson refuses to encode 255 levels: wrapped in this many lists, a body deeper than MAX_DEPTH
# fails to encode, so the check runs in C at the speed of an encode.
_ORJSON_LEVELS = 255
_WRAP = _ORJSON_LEVELS - MAX_DEPTH - 1


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a dict; InvalidRequest (400) for bad JSON, a non-object or too deep a body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"We could not parse the JSON body of your request: {e}") from None
    if type(body) is not dict:
        raise InvalidRequest(f"The request body must be a JSON object, not {_json_kind(body)}")
    # A body with fewer brackets than the limit cannot be deeper than it: most requests stop here.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _too_deep(body):
        raise InvalidRequest(f"The request body is nested deeper than {MAX_DEPTH} levels of arrays and "
                             f"objects; fakellm rejects it, as the real APIs reject deeply nested bodies")
    return body


def _too_deep(body: dict[str, Any]) -> bool:
    wrapped: Any = body
    for _ in range(_WRAP):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:  # the only way a parsed body fails to encode: its depth
        return True
    return False


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return type(value).__name__
