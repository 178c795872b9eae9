"""OpenAI's structured-output and tool-choice fields, for chat completions and Responses.

Chat nests a function under its tool (`{"type": "function", "function": {"name": ...}}`) and a
schema under `response_format.json_schema`; Responses puts both flat (`{"type": "function",
"name": ...}`, `text.format`). Both become the neutral `OutputFormat` and `ToolChoice`.
"""

from __future__ import annotations

from typing import Any

from ...model import OutputFormat, ToolChoice
from ..base import InvalidRequest

EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_FORMAT_TYPES = "'json_object', 'json_schema', and 'text'"
_CHOICES = "'none', 'auto', and 'required'"


def chat_response_format(body: dict[str, Any]) -> OutputFormat | None:
    """`response_format`: {type: text | json_object | json_schema, json_schema: {name, schema, strict}}."""
    value = body.get("response_format")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("response_format: Input should be an object", param="response_format")
    kind = value.get("type")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if spec is None:
            raise _missing("response_format.json_schema")
        if not isinstance(spec, dict):
            raise InvalidRequest("response_format.json_schema: Input should be an object",
                                 param="response_format.json_schema")
        return _schema_format(spec, "response_format.json_schema")
    return _plain_format(kind, "response_format.type")


def responses_text_format(body: dict[str, Any]) -> OutputFormat | None:
    """`text.format`: {type: text | json_object | json_schema, name, schema, strict}."""
    text = body.get("text")
    value = text.get("format") if isinstance(text, dict) else None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("text.format: Input should be an object", param="text.format")
    if value.get("type") == "json_schema":
        return _schema_format(value, "text.format")
    return _plain_format(value.get("type"), "text.format.type")


def _schema_format(spec: dict[str, Any], where: str) -> OutputFormat:
    name = spec.get("name")
    if name is None:
        raise _missing(f"{where}.name")
    if not isinstance(name, str):
        raise InvalidRequest(f"{where}.name: Input should be a valid string", param=f"{where}.name")
    schema = spec.get("schema", {})
    if not isinstance(schema, (dict, bool)):
        raise InvalidRequest(f"{where}.schema: Input should be an object", param=f"{where}.schema")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest(f"{where}.strict: Input should be a valid boolean", param=f"{where}.strict")
    return OutputFormat(schema, name, bool(strict))


def _plain_format(kind: Any, where: str) -> OutputFormat | None:
    if kind == "json_object":
        return OutputFormat(None)
    if kind == "text":
        return None
    if kind is None:
        raise _missing(where)
    raise InvalidRequest(f"Invalid value: {kind!r}. Supported values are: {_FORMAT_TYPES}.", param=where,
                         code="invalid_value")


def tool_choice(body: dict[str, Any], schemas: dict[str, Any] | None, *, flat: bool) -> ToolChoice | None:
    """`tool_choice`: none | auto | required, or a function by name (chat: `{"type": "function",
    "function": {"name"}}`; Responses, `flat`: `{"type": "function", "name"}`), or `allowed_tools`."""
    value = body.get("tool_choice")
    if value is None or value == "auto":
        return None
    if not schemas and value != "none":
        raise InvalidRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                             "specified.", param="tool_choice")
    if isinstance(value, str):
        if value == "none":
            return ToolChoice("none")
        if value == "required":
            return ToolChoice("any")
        raise InvalidRequest(f"Invalid value: {value!r}. Supported values are: {_CHOICES}.", param="tool_choice",
                             code="invalid_value")
    if not isinstance(value, dict):
        raise InvalidRequest("tool_choice: Input should be a valid string or an object", param="tool_choice")
    kind = value.get("type")
    if kind == "function":
        fn = value if flat else value.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        where = "tool_choice.name" if flat else "tool_choice.function.name"
        if not isinstance(name, str):
            raise _missing(where)
        if schemas is not None and name not in schemas:
            raise InvalidRequest(f"Invalid value for 'tool_choice': no function named {name!r} is in 'tools'.",
                                 param=where, code="invalid_value")
        return ToolChoice("tool", name)
    if kind == "allowed_tools":
        allowed = value if flat else value.get("allowed_tools")
        mode = allowed.get("mode") if isinstance(allowed, dict) else None
        if mode not in ("auto", "required"):
            raise InvalidRequest(f"Invalid value: {mode!r}. Supported values are: 'auto' and 'required'.",
                                 param="tool_choice.mode", code="invalid_value")
        names = [t.get("name") or (t.get("function") or {}).get("name") for t in allowed.get("tools") or ()
                 if isinstance(t, dict)]
        names = [n for n in names if isinstance(n, str) and n in (schemas or {})]
        return ToolChoice("any", names[0] if names else "") if mode == "required" else None
    return None  # a hosted tool (file_search, web_search, ...): nothing fakellm makes calls of


def _missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
