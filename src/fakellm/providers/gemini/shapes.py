"""Gemini's structured-output and function-calling fields as the neutral `OutputFormat` and `ToolChoice`.

Gemini states schemas in its OpenAPI subset (`responseSchema`, a declaration's `parameters`:
upper-case types, `nullable`) or as JSON Schema (`responseJsonSchema`, `parametersJsonSchema`);
the engine reads JSON Schema only, so the OpenAPI form is translated here.
"""

from __future__ import annotations

from typing import Any

from ...model import OutputFormat, ToolChoice
from ..base import InvalidRequest

JSON_MIME = "application/json"
_MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
# OpenAPI keywords that mean the same in JSON Schema (camelCase on the wire; snake_case is accepted too).
_SAME = {"enum": "enum", "format": "format", "pattern": "pattern", "minimum": "minimum", "maximum": "maximum",
         "required": "required", "minItems": "minItems", "maxItems": "maxItems", "minLength": "minLength",
         "maxLength": "maxLength", "minProperties": "minProperties", "maxProperties": "maxProperties",
         "min_items": "minItems", "max_items": "maxItems", "min_length": "minLength", "max_length": "maxLength",
         "min_properties": "minProperties", "max_properties": "maxProperties"}
_COUNTS = {"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"}
_DEPTH = 64  # deeper than any real schema; the request body's own nesting limit is higher


def json_schema(schema: Any, where: str, depth: int = 0) -> Any:
    """An OpenAPI-subset Schema as JSON Schema."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"Invalid value at '{where}': expected a Schema object", param=where)
    if depth > _DEPTH:
        raise InvalidRequest(f"Invalid value at '{where}': the schema nests deeper than {_DEPTH} levels", param=where)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SAME:
            name = _SAME[key]
            out[name] = _count(value, f"{where}.{key}") if name in _COUNTS else value
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: json_schema(v, f"{where}.properties.{k}", depth + 1) for k, v in value.items()}
        elif key == "items":
            out["items"] = json_schema(value, f"{where}.items", depth + 1)
        elif key in ("anyOf", "any_of") and isinstance(value, list):
            out["anyOf"] = [json_schema(v, f"{where}.anyOf[{i}]", depth + 1) for i, v in enumerate(value)]
        elif key in ("defs", "$defs") and isinstance(value, dict):
            out["$defs"] = {k: json_schema(v, f"{where}.defs.{k}", depth + 1) for k, v in value.items()}
        elif key in ("ref", "$ref"):
            out["$ref"] = value
        elif key in ("additionalProperties", "additional_properties"):
            out["additionalProperties"] = value if isinstance(value, bool) else json_schema(
                value, f"{where}.additionalProperties", depth + 1)
    kind = schema.get("type")
    if isinstance(kind, str) and kind.upper() != "TYPE_UNSPECIFIED":
        out["type"] = kind.lower()
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if out.get("format") == "enum":  # Gemini's marker for a string enum, not a JSON Schema format
        del out["format"]
    return out


def _count(value: Any, where: str) -> int:
    # int64 fields may come as JSON strings (proto3 JSON).
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidRequest(f"Invalid value at '{where}': expected a non-negative integer", param=where)


def declaration_schema(decl: dict[str, Any], where: str) -> dict[str, Any]:
    """A function declaration's parameters as JSON Schema (an object without properties when it has none)."""
    raw = decl.get("parametersJsonSchema", decl.get("parameters_json_schema"))
    if raw is not None:
        return raw if isinstance(raw, dict) else {}
    raw = decl.get("parameters")
    if raw is None:
        return {"type": "object", "properties": {}}
    return json_schema(raw, f"{where}.parameters")


def output_format(config: dict[str, Any], where: str) -> OutputFormat | None:
    """generationConfig's JSON mode: `responseMimeType: application/json`, with `responseJsonSchema` or
    `responseSchema` (any JSON when neither). Gemini keeps to the schema, so it counts as strict."""
    mime = config.get("responseMimeType", config.get("response_mime_type"))
    if mime != JSON_MIME:
        return None
    raw = config.get("responseJsonSchema", config.get("response_json_schema"))
    if raw is None:
        raw = config.get("_responseJsonSchema")
    if raw is not None:
        return OutputFormat(raw if isinstance(raw, (dict, bool)) else None, "", True)
    raw = config.get("responseSchema", config.get("response_schema"))
    if raw is None:
        return OutputFormat(None)
    return OutputFormat(json_schema(raw, f"{where}.responseSchema"), "", True)


def tool_choice(body: dict[str, Any], schemas: dict[str, Any]) -> ToolChoice | None:
    """toolConfig.functionCallingConfig: mode ANY (a call, of one of `allowedFunctionNames` when given) or NONE."""
    tool_config = body.get("toolConfig", body.get("tool_config"))
    if not isinstance(tool_config, dict):
        return None
    config = tool_config.get("functionCallingConfig", tool_config.get("function_calling_config"))
    if not isinstance(config, dict):
        return None
    mode = config.get("mode", "AUTO")
    if mode not in _MODES:
        raise InvalidRequest(f"Invalid value at 'tool_config.function_calling_config.mode' ({mode!r}): expected one "
                             f"of {', '.join(_MODES)}", param="toolConfig.functionCallingConfig.mode")
    if mode == "NONE":
        return ToolChoice("none")
    if mode != "ANY":
        return None
    allowed = config.get("allowedFunctionNames", config.get("allowed_function_names")) or []
    allowed = [name for name in allowed if isinstance(name, str) and name in schemas]
    if len(allowed) == 1:
        return ToolChoice("tool", allowed[0])
    return ToolChoice("any", allowed[0] if allowed else "")
