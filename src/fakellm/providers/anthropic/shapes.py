"""Anthropic's structured-output and tool-choice fields: `output_config.format` (and the beta's
`output_format`), each client tool's `input_schema`, and `tool_choice` {auto | any | tool | none}."""

from __future__ import annotations

import re
from typing import Any

from ...model import OutputFormat, ToolChoice
from ..base import InvalidRequest

_CHOICE_TYPES = ("auto", "any", "tool", "none")


def tool_schemas(body: dict[str, Any]) -> dict[str, Any]:
    """Each client tool's `input_schema` by name (server tools, such as web search, have none)."""
    return {tool["name"]: tool["input_schema"] for tool in body.get("tools") or ()
            if isinstance(tool, dict) and isinstance(tool.get("input_schema"), dict)}


def tool_choice(body: dict[str, Any], schemas: dict[str, Any], thinking: bool) -> ToolChoice | None:
    value = body.get("tool_choice")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("tool_choice: Input should be a valid dictionary or object to extract fields from",
                             param="tool_choice")
    kind = value.get("type")
    if kind not in _CHOICE_TYPES:
        raise InvalidRequest(f"tool_choice: Input tag {kind!r} found using 'type' does not match any of the "
                             f"expected tags: {', '.join(repr(t) for t in _CHOICE_TYPES)}", param="tool_choice.type")
    if kind == "auto":
        return None
    if kind == "none":
        return ToolChoice("none")
    if thinking:
        raise InvalidRequest("Thinking may not be enabled when tool_choice forces tool use.", param="tool_choice")
    if kind == "any":
        return ToolChoice("any")
    name = value.get("name")
    if not isinstance(name, str):
        raise InvalidRequest("tool_choice.tool.name: Field required", param="tool_choice.name")
    if name not in schemas:
        raise InvalidRequest(f"tool_choice.name: tool {name!r} is not among the request's tools",
                             param="tool_choice.name")
    return ToolChoice("tool", name)


def output_format(body: dict[str, Any]) -> OutputFormat | None:
    """`output_config.format` (or the beta's `output_format`): {type: json_schema, schema}. Anthropic
    guarantees the schema, so it counts as strict."""
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("output_config: Input should be a valid dictionary", param="output_config")
    where = "output_config.format"
    value = config.get("format") if config else None
    if value is None:
        where, value = "output_format", body.get("output_format")
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise InvalidRequest(f"{where}.type: Input should be 'json_schema'", param=f"{where}.type")
    schema = value.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{where}.schema: Field required", param=f"{where}.schema")
    return OutputFormat(with_hinted_keywords(schema), "", True)


# The Anthropic SDK's `messages.parse` sends a schema without the keywords structured outputs do not
# take (bounds, lengths, patterns), written into the description instead ("...\n\n{minimum: 0, maximum: 150}")
# for the model to follow. fakellm follows them too: otherwise a pydantic model with a constrained field
# could never be parsed from its reply.
_HINTED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
           "pattern", "minItems", "maxItems", "uniqueItems", "format")
_HINT_KEY = re.compile(r"(?:^|, )(" + "|".join(_HINTED) + r"): ")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def with_hinted_keywords(schema: Any, depth: int = 0) -> Any:
    """`schema` with the keywords its descriptions hint at put back (a copy; the request is not changed)."""
    if depth > 64:
        return schema
    if isinstance(schema, list):
        return [with_hinted_keywords(item, depth + 1) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: with_hinted_keywords(value, depth + 1) if isinstance(value, (dict, list)) else value
           for key, value in schema.items()}
    description = schema.get("description")
    if isinstance(description, str) and description.endswith("}"):
        start = description.rfind("\n\n{")
        start = start + 2 if start >= 0 else (0 if description.startswith("{") else -1)
        if start >= 0:
            for key, value in _hints(description[start + 1:-1]):
                out.setdefault(key, value)
    return out


def _hints(text: str) -> list[tuple[str, Any]]:
    found = list(_HINT_KEY.finditer(text))
    if not found or found[0].start() != 0:
        return []
    hints = []
    for i, match in enumerate(found):
        raw = text[match.end():found[i + 1].start() if i + 1 < len(found) else len(text)]
        key = match.group(1)
        if key in ("pattern", "format"):
            hints.append((key, raw))
        elif key == "uniqueItems":
            if raw in ("True", "False"):
                hints.append((key, raw == "True"))
        elif _NUMBER.fullmatch(raw):
            number = float(raw)
            hints.append((key, int(number) if number.is_integer() and key not in ("multipleOf",) else number))
    return hints
