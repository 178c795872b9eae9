"""The config's JSON Schema, for editors (`fakellm schema`, the `yaml-language-server` line `fakellm init` writes).

Generated from the pydantic models that validate a config (schema.py), then given what those models
say in validators rather than in types: the shorthand forms (`respond` as one mapping, `fault` as a
name, `models` as plain ids), the `header.<name>` keys of `when`, enums checked by hand, and the
pairs of keys that exclude each other. tests/test_json_schema.py holds it to `fakellm check`.

What JSON Schema cannot say, so only `fakellm check` reports (the test lists them too):
a `messages_match` that is not a valid regular expression, a `template` that is not valid Jinja2,
tool-call `arguments` given as a string that is not a JSON object, `turn_in` with low above high,
`max_output_tokens` above its model's `context_window`, a model id listed twice, embedding vectors
of different lengths, values that are not JSON (NaN, dates), and (without the server's API names)
an `api` that no provider serves. The YAML itself (duplicate keys, aliases, nesting) is checked
before any schema sees the data.
"""

from __future__ import annotations

from typing import Any, Iterable

from .schema import _API_NAME, _HEADER_NAME, FAULT_TYPES, FRAMING_HEADERS, MESSAGE_ROLES, ConfigSpec

# Draft 7: what most editors' YAML and JSON support understands; nothing below needs a later draft.
DRAFT = "http://json-schema.org/draft-07/schema#"
NULL = {"type": "null"}

# Shown by editors on hover: the keys a newcomer meets first.
DESCRIPTIONS = {
    ("ConfigSpec", "rules"): "Tried top to bottom; the first rule whose `when` all holds answers.",
    ("ConfigSpec", "defaults"): "Server-wide settings: the fallback, turn counting, limits, timing for every reply.",
    ("ConfigSpec", "models"): "What the model listings show: ids, or mappings with an `id`.",
    ("RuleSpec", "name"): "Shown in the journal, the stats and `fakellm check`'s warnings.",
    ("RuleSpec", "when"): "Conditions; all must hold. Without `when` the rule matches every request.",
    ("RuleSpec", "respond"): "The reply: one mapping, or a list answered in turn (a sequence).",
    ("RuleSpec", "times"): "Answer at most this many times per conversation, then let later rules try.",
    ("RuleSpec", "cycle"): "Start a sequence again after its last reply instead of repeating the last.",
    ("RuleSpec", "probability"): "The chance (0 to 1) that the rule fires on a matching request.",
    ("WhenSpec", "messages_contain"): "Case-insensitive text anywhere in the conversation.",
    ("WhenSpec", "messages_match"): "A regular expression searched in the conversation.",
    ("WhenSpec", "model_matches"): "A glob on the model name (`*` is the only wildcard): gpt-4*, claude-*.",
    ("WhenSpec", "tools_include"): "A tool of this name is offered.",
    ("WhenSpec", "turn"): "1 + the assistant messages in the request (or the request count: defaults.turns).",
    ("WhenSpec", "turn_in"): "[low, high]: turns in this range, both included.",
    ("WhenSpec", "api"): "A family (openai) or one endpoint (openai.chat).",
    ("RespondSpec", "content"): "The reply's text.",
    ("RespondSpec", "template"): "A Jinja2 template rendered with the request as data, instead of `content`.",
    ("RespondSpec", "json"): "A JSON value sent as the content; checked against the request's schema.",
    ("RespondSpec", "tool_calls"): "Tool calls to make, or `auto` (arguments generated from the tool's schema).",
    ("RespondSpec", "status"): "The HTTP status; 400 and above send `error` in the provider's shape.",
    ("RespondSpec", "fault"): "What goes wrong on the wire: a fault name, or a mapping with `type`.",
}


def config_json_schema(api_names: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of a config. `api_names`: what `when.api` may name (the providers know;
    the config layer does not), else any well-formed name."""
    schema = ConfigSpec.model_json_schema(by_alias=True, mode="validation")
    defs = schema.pop("$defs")
    defs["ConfigSpec"] = schema
    for model in defs.values():
        _drop_titles(model)
    for (model, key), text in DESCRIPTIONS.items():
        defs[model]["properties"][key]["description"] = text
    _shorthands(defs)
    _when(defs["WhenSpec"], api_names)
    _respond(defs["RespondSpec"])
    _exclusive_keys(defs)
    root = defs.pop("ConfigSpec")
    return {
        "$schema": DRAFT,
        "title": "fakellm config",
        "description": "Rules for fakellm, the mock LLM API server (validated by `fakellm check`).",
        **root,
        "$defs": defs,
    }


def _drop_titles(node: Any) -> None:
    """pydantic's titles ("Delay Ms") only repeat the key."""
    if isinstance(node, dict):
        node.pop("title", None)
        for value in node.values():
            _drop_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_titles(value)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _shorthands(defs: dict[str, Any]) -> None:
    """The forms the models' `mode="before"` validators turn into their full shape."""
    config = defs["ConfigSpec"]["properties"]
    config["defaults"] = {"anyOf": [_ref("DefaultsSpec"), NULL], **_described(config["defaults"])}
    config["rules"] = {"anyOf": [{"type": "array", "items": _ref("RuleSpec")}, NULL], **_described(config["rules"])}
    config["models"] = {"anyOf": [{"type": "array", "items": {"anyOf": [{"type": "string", "minLength": 1},
                                                                        _ref("ModelSpec")]}}, NULL],
                        **_described(config["models"])}
    rule = defs["RuleSpec"]["properties"]
    rule["respond"] = {"anyOf": [_ref("RespondSpec"), {"type": "array", "minItems": 1, "items": _ref("RespondSpec")},
                                 NULL], **_described(rule["respond"])}
    defs["FaultSpec"]["properties"]["type"] = {"enum": list(FAULT_TYPES)}


def _described(prop: dict[str, Any]) -> dict[str, Any]:
    return {"description": prop["description"]} if "description" in prop else {}


def _when(when: dict[str, Any], api_names: Iterable[str] | None) -> None:
    props = when["properties"]
    # `header.<name>: value` keys (any case) are collected into `headers`; that mapping is what
    # GET /_fakellm/config shows, so it is accepted as written too.
    props["headers"]["description"] = "Write `header.<name>: value` keys instead; this is how they are shown."
    when["patternProperties"] = {
        "^" + _any_case("header.") + ".+$": {"type": ["string", "number", "boolean"],
                                             "description": "The request header's exact value."},
    }
    props["turn_in"]["anyOf"][0].update(minItems=2, maxItems=2)
    props["previous_message_role"] = {"anyOf": [{"enum": list(MESSAGE_ROLES)}, NULL]}
    names = sorted(api_names) if api_names is not None else None
    api = {"enum": names} if names is not None else {"type": "string", "pattern": "^" + _API_NAME.pattern + "$"}
    props["api"] = {"anyOf": [api, NULL], **_described(props["api"])}


def _respond(respond: dict[str, Any]) -> None:
    props = respond["properties"]
    props["fault"] = {"anyOf": [{"enum": list(FAULT_TYPES)}, _ref("FaultSpec"), NULL], **_described(props["fault"])}
    framing = "|".join(_any_case(name) for name in sorted(FRAMING_HEADERS))
    props["headers"]["propertyNames"] = {"pattern": "^" + _HEADER_NAME.pattern + "$",
                                         "not": {"pattern": f"^({framing})$"}}
    props["headers"]["additionalProperties"] = {"anyOf": [
        {"type": "string", "pattern": r"^[\x20-\x7e\t]*$"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**64 - 1},
        {"type": "number"},
    ]}
    vector = {"type": "array", "minItems": 1, "items": {"type": "number"}}
    props["embedding"] = {"anyOf": [vector, {"type": "array", "minItems": 1, "items": vector}, NULL]}


def _exclusive_keys(defs: dict[str, Any]) -> None:
    """The models' `mode="after"` checks that JSON Schema can say: keys that exclude each other."""
    for model in ("RespondSpec", "DefaultsSpec"):  # TimingSpec's
        _not_both(defs[model], "chunk_delay_ms", "tokens_per_second")
    for pair in (("json", "content"), ("json", "template"), ("template", "content"), ("template", "embedding")):
        _not_both(defs["RespondSpec"], *pair)
    set_ = {"not": NULL}
    defs["FaultSpec"]["allOf"] = [
        {"if": {"not": {"properties": {"type": {"const": "error_event"}}}},
         "then": {"properties": {"status": NULL, "error": NULL}}},
        {"if": {"properties": {"type": {"const": "empty"}}}, "then": {"properties": {"after_chunks": NULL}}},
    ]
    defs["RateLimitSpec"]["anyOf"] = [
        {"required": [key], "properties": {key: set_}} for key in ("requests_per_minute", "tokens_per_minute")
    ]


def _not_both(model: dict[str, Any], a: str, b: str) -> None:
    # A key given as null counts as not given, as in the models.
    both = {"required": [a, b], "properties": {a: {"not": NULL}, b: {"not": NULL}}}
    model.setdefault("allOf", []).append({"not": both})


def _any_case(text: str) -> str:
    """A regex matching `text` in any case (JSON Schema's patterns have no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\." if c == "." else c) for c in text)
