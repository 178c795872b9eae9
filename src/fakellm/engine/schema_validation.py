"""Validation of values against JSON Schemas (draft 2020-12 through the jsonschema library).

Schemas arrive in draft-07 spellings too (what SDKs and older pydantic send): `normalized`
rewrites those few into 2020-12 once, so the validator and the generator read one dialect.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .schema_formats import CHECKS


class SchemaUnsupported(ValueError):
    """A schema fakellm cannot produce an instance for (contradictory, or a keyword it cannot satisfy);
    the message says which keyword at which JSON pointer, e.g. "at /properties/age: minimum 10 > maximum 5"."""


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in CHECKS.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


FORMATS = _format_checker()

# Keywords whose value is a schema, a list of schemas, or a name -> schema map (where normalizing descends).
_ONE = frozenset({"additionalProperties", "propertyNames", "contains", "not", "if", "then", "else",
                  "unevaluatedItems", "unevaluatedProperties", "additionalItems", "items"})
_MANY = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_OLD_SPELLINGS = frozenset({"items", "additionalItems", "exclusiveMinimum", "exclusiveMaximum", "dependencies"})


def normalized(schema: Any, top: bool = True) -> Any:
    """`schema` in 2020-12 spellings: `items` as a list becomes `prefixItems` (and `additionalItems`
    the `items`), boolean exclusive bounds become numbers, `dependencies` splits in two, and the
    root's `$schema` is dropped (fakellm reads every schema as 2020-12). Unchanged parts are shared."""
    if not isinstance(schema, dict):
        return schema
    out: dict | None = None

    def put(key: str, value: Any) -> None:
        nonlocal out
        if out is None:
            out = dict(schema)
        out[key] = value

    for key, sub in schema.items():
        if key in _ONE:
            new = normalized(sub, False) if isinstance(sub, dict) else sub  # items as a list: below
        elif key in _MANY and isinstance(sub, list):
            new = [normalized(s, False) for s in sub]
            new = sub if all(a is b for a, b in zip(new, sub, strict=True)) else new
        elif key in _MAP and isinstance(sub, dict):
            new = {name: normalized(s, False) for name, s in sub.items()}
            new = sub if all(new[name] is sub[name] for name in sub) else new
        else:
            continue
        if new is not sub:
            put(key, new)
    if not _OLD_SPELLINGS.intersection(schema) and not (top and "$schema" in schema):
        return out if out is not None else schema
    current = out if out is not None else schema
    if isinstance(current.get("items"), list):
        put("prefixItems", [normalized(s, False) for s in current["items"]])
        out.pop("items")
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
    elif "additionalItems" in current:  # meaningless without a list of items
        put("additionalItems", None)
        out.pop("additionalItems")
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(current.get(exclusive), bool):
            flag = current[exclusive]
            put(exclusive, None)
            out.pop(exclusive)
            if flag and bound in out:
                out[exclusive] = out.pop(bound)
    if isinstance(current.get("dependencies"), dict):
        deps = current["dependencies"]
        put("dependentRequired", {k: v for k, v in deps.items() if isinstance(v, list)})
        out["dependentSchemas"] = {k: normalized(v, False) for k, v in deps.items() if not isinstance(v, list)}
        out.pop("dependencies")
    if top and "$schema" in current:
        put("$schema", None)
        out.pop("$schema")
    return out if out is not None else schema


class Checker:
    """Validates values against a root schema (already `normalized`) or against parts of it,
    whose `$ref`s resolve in the root."""

    def __init__(self, root: Any):
        self.validator = Draft202012Validator(root, format_checker=FORMATS)

    def is_valid(self, value: Any, schema: Any) -> bool:
        try:
            return self.validator.evolve(schema=schema).is_valid(value)
        except Exception as exc:  # a malformed part of the schema: say so, never crash
            raise malformed(schema, exc) from exc

    def errors(self, value: Any, limit: int = 5) -> list[str]:
        try:
            found = list(islice(self.validator.iter_errors(value), limit))
        except Exception as exc:
            raise malformed(self.validator.schema, exc) from exc
        return [_describe(error) for error in found]


def validation_errors(schema: dict | bool, value: Any, limit: int = 5) -> list[str]:
    """Why `value` is not valid against `schema` (empty when valid): short messages with the JSON
    pointer of the value, e.g. "/address/zip: 'abc' does not match '^[0-9]{5}$'". Formats checked:
    those of `schema_formats.CHECKS`. A schema too malformed to validate with raises SchemaUnsupported."""
    return Checker(normalized(schema)).errors(value, limit)


def pointer(parts: Any) -> str:
    """A JSON pointer ("" for the root) from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _describe(error: Any) -> str:
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return f"{pointer(error.absolute_path) or '(root)'}: {message}"


def malformed(schema: Any, exc: Exception) -> SchemaUnsupported:
    """The error for a schema that broke validation or generation: the meta-schema's word on it if it has one."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return SchemaUnsupported(f"at {pointer(error.absolute_path) or 'the root'}: the schema is malformed: {error.message}")
    except Exception:  # the meta-schema check itself failed on it (a cyclic structure and the like)
        pass
    return SchemaUnsupported(f"the schema cannot be used for validation: {type(exc).__name__}: {exc}")
