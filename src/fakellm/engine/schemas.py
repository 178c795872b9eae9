"""Instances of JSON Schemas: what fakellm answers a structured-output request or a tool call with
when no rule gives the value.

`instance_for` walks the schema once, choosing plausible values (every listed property, one
element per array, fixed dates, readable strings), and checks the result with `jsonschema`
before returning it: an instance is valid or the call raises `SchemaUnsupported`, never both.
The walk is pure and deterministic; only `seed` (the tool or schema name) varies numbers and
UUIDs. Hostile schemas are bounded: depth, values tried and string length are capped.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from fractions import Fraction
from typing import Any
from urllib.parse import unquote

from .schema_formats import CHECKS, sample
from .schema_regex import PatternUnsupported, string_for
from .schema_validation import Checker, SchemaUnsupported, malformed, normalized, validation_errors

__all__ = ["SchemaUnsupported", "instance_for", "validation_errors", "MAX_DEPTH", "MAX_VALUES", "MAX_STRING"]

MAX_DEPTH = 32
"""Values nested deeper than this are refused."""
MAX_VALUES = 10_000
"""Values (and alternatives tried) in one instance; minItems / minProperties above it are refused."""
MAX_STRING = 100_000
"""Characters in one generated string."""

_COMBINATORS = ("$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else")
_ANY_ORDER = ("string", "integer", "number", "boolean", "object", "array", "null")
_TYPES = frozenset(_ANY_ORDER)
_OBJECT_KEYS = ("properties", "required", "additionalProperties", "patternProperties", "minProperties",
                "maxProperties", "propertyNames", "dependentRequired")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")
_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_EXTRA_PATTERNS = "\0patterns"  # patterns of allOf parts after the first (kept out of jsonschema's sight)


def instance_for(schema: dict | bool, seed: str = "") -> Any:
    """A deterministic instance valid against `schema` (JSON Schema draft 2020-12, also the draft-07
    spellings SDKs send: `definitions`, `$ref: '#/definitions/X'`, items as a list). Same schema and seed,
    same value; a different seed (fakellm passes the tool or schema name) may vary strings/numbers."""
    root = normalized(schema)
    checker = Checker(root)
    # A quick walk trusts its own choices; if the final check finds it wrong, a careful walk checks
    # every alternative, enum value and default against the schema as it goes.
    for careful in (False, True):
        value = _walk(root, checker, seed, careful)
        errors = checker.errors(value, 1)
        if not errors:
            return value
    raise SchemaUnsupported(f"fakellm's instance is not valid against the schema: {errors[0]}")


def _walk(root: Any, checker: Checker, seed: str, careful: bool) -> Any:
    recursion: _Recursion | None = None
    for ref_visits in (1, 2, 3):  # prefer instances that leave a recursive $ref at once
        try:
            return _Walk(root, checker, seed, ref_visits, careful).value(root, "", "", 0, 0)
        except _Recursion as exc:
            recursion = exc
        except SchemaUnsupported:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
                ZeroDivisionError, re.error) as exc:  # a malformed schema: say where, never crash
            raise malformed(root, exc) from exc
    raise SchemaUnsupported(f"no finite instance: {recursion}")


class _Recursion(SchemaUnsupported):
    """A $ref met again inside itself: a branch that ends (null, an empty array, an absent optional
    property) is tried instead."""


class _Flat:
    """A schema with its `$ref`s followed and `allOf` merged into one keyword map (`kw`), and what
    cannot be merged kept aside: choices (anyOf, oneOf, if/then/else) and `not`s."""

    __slots__ = ("kw", "choices", "nots", "home")

    def __init__(self, home: str, kw: dict | None = None, choices: list | None = None, nots: list | None = None):
        self.home = home  # the pointer children are reported under: a followed $ref's target
        self.kw = kw if kw is not None else {}
        self.choices = choices if choices is not None else []
        self.nots = nots if nots is not None else []


class _Walk:
    """One generation: the root (for $ref), the seed, and the counters that bound the work."""

    def __init__(self, root: Any, checker: Checker, seed: str, ref_visits: int, careful: bool):
        self.root = root
        self.seed = seed
        self.ref_visits = ref_visits
        self.checker = checker
        self.careful = careful
        self.steps = 0
        self.open_refs: list[str] = []  # the $refs entered on the way to the current value
        self.anchors: dict[str, tuple[Any, str]] | None = None

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_VALUES:
            raise SchemaUnsupported(f"the schema needs more than {MAX_VALUES} values (or alternatives tried)")

    # --- following $ref and merging allOf ---

    def value(self, schema: Any, ptr: str, name: str, depth: int, variant: int) -> Any:
        """An instance of `schema` (found at JSON pointer `ptr`; `name` is the property it is for)."""
        self.step()
        if depth > MAX_DEPTH:
            raise SchemaUnsupported(f"at {_where(ptr)}: values nested deeper than {MAX_DEPTH} levels")
        mark = len(self.open_refs)
        try:
            flat = _Flat(ptr)
            self.flatten(schema, ptr, flat)
            return self.from_flat(flat, [schema], name, depth, variant)
        finally:
            del self.open_refs[mark:]

    def flatten(self, schema: Any, ptr: str, flat: _Flat) -> None:
        if schema is True:
            return
        if schema is False:
            raise SchemaUnsupported(f"at {_where(ptr)}: the schema false admits no value")
        if not isinstance(schema, dict):
            raise SchemaUnsupported(f"at {_where(ptr)}: a schema is an object or a boolean, not {schema!r}")
        if "$dynamicRef" in schema or "$recursiveRef" in schema:
            raise SchemaUnsupported(f"at {_where(ptr)}: $dynamicRef is not supported")
        ref = schema.get("$ref")
        if ref is not None:
            target, target_ptr = self.resolve(ref, ptr)
            if self.open_refs.count(ref) >= self.ref_visits:
                raise _Recursion(f"at {_where(ptr)}: $ref {ref!r} recurses and no branch ends it")
            self.open_refs.append(ref)
            flat.home = target_ptr
            self.flatten(target, target_ptr, flat)
        for i, part in enumerate(schema.get("allOf", ())):
            self.flatten(part, f"{ptr}/allOf/{i}", flat)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = schema[key]
                if not isinstance(branches, list) or not branches:
                    raise SchemaUnsupported(f"at {_where(ptr)}: {key} must be a non-empty list of schemas")
                flat.choices.append((key, branches, f"{ptr}/{key}"))
        if "if" in schema and ("then" in schema or "else" in schema):
            # First the value that meets `if` and `then`; failing that, one for `else`.
            branches = [{"allOf": [schema["if"], schema.get("then", True)]},
                        {"allOf": [{"not": schema["if"]}, schema.get("else", True)]}]
            flat.choices.append(("if", branches, f"{ptr}/if"))
        if "not" in schema:
            flat.nots.append(schema["not"])
        _merge(flat.kw, schema, ptr)

    def resolve(self, ref: Any, ptr: str) -> tuple[Any, str]:
        """The schema a local `$ref` names, and its pointer."""
        if not isinstance(ref, str):
            raise SchemaUnsupported(f"at {_where(ptr)}: $ref must be a string")
        base = self.root.get("$id") if isinstance(self.root, dict) else None
        if isinstance(base, str) and ref.startswith(base.split("#")[0]) and base:
            ref = ref[len(base.split("#")[0]):] or "#"
        if not ref.startswith("#"):
            raise SchemaUnsupported(f"at {_where(ptr)}: $ref {ref!r} points outside the schema, which fakellm does not fetch")
        fragment = ref[1:]
        if fragment and not fragment.startswith("/"):
            return self.anchor(fragment, ref, ptr)
        node = self.root
        for raw in fragment.split("/")[1:]:
            part = _unescape(raw)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaUnsupported(f"at {_where(ptr)}: $ref {ref!r} points to nothing")
        return node, fragment

    def anchor(self, name: str, ref: str, ptr: str) -> tuple[Any, str]:
        if self.anchors is None:
            self.anchors = {}
            todo = [(self.root, "")]
            while todo:
                node, at = todo.pop()
                if isinstance(node, dict):
                    if isinstance(node.get("$anchor"), str):
                        self.anchors.setdefault(node["$anchor"], (node, at))
                    todo.extend((v, f"{at}/{_escape(k)}") for k, v in node.items()
                                if k not in ("enum", "const", "default", "examples"))
                elif isinstance(node, list):
                    todo.extend((v, f"{at}/{i}") for i, v in enumerate(node))
        if name not in self.anchors:
            raise SchemaUnsupported(f"at {_where(ptr)}: $ref {ref!r} names no $anchor of the schema")
        return self.anchors[name]

    # --- choosing among alternatives ---

    def from_flat(self, flat: _Flat, musts: list, name: str, depth: int, variant: int) -> Any:
        """A value for a flattened schema; `musts` are the original schemas the value must meet here."""
        if flat.choices:
            return self.choose(flat, musts, name, depth, variant)
        if flat.nots:
            return self.avoiding(flat, musts, name, depth, variant)
        return self.plain(flat.kw, musts, flat.home, name, depth, variant, ())

    def choose(self, flat: _Flat, musts: list, name: str, depth: int, variant: int) -> Any:
        kind, branches, choice_ptr = flat.choices[0]
        # Null-only branches last: for `anyOf [X, null]` (an Optional field) the app wants an X.
        order = sorted(range(len(branches)), key=lambda i: _is_null_only(branches[i]))
        first_error: SchemaUnsupported | None = None
        for position, i in enumerate(order):
            self.step()
            branch = branches[i]
            mark = len(self.open_refs)
            try:
                rest = _Flat(flat.home, dict(flat.kw), flat.choices[1:], list(flat.nots))
                self.flatten(branch, f"{choice_ptr}/{i}", rest)
                value = self.from_flat(rest, [*musts, branch], name, depth, variant)
                if self.careful and kind == "oneOf" and any(self.checker.is_valid(value, other)
                                           for j, other in enumerate(branches) if j != i):
                    raise SchemaUnsupported(f"at {_where(choice_ptr)}: the value for branch {i} matches another branch too")
                last = position == len(order) - 1
                if self.careful and not last and not all(self.checker.is_valid(value, must) for must in [*musts, branch]):
                    raise SchemaUnsupported(f"at {choice_ptr}/{i}: fakellm's value does not meet the schema")
            except SchemaUnsupported as exc:
                # A branch that recursed wins the report: a walk that allows more recursion may succeed.
                if first_error is None or (isinstance(exc, _Recursion) and not isinstance(first_error, _Recursion)):
                    first_error = exc
                continue
            finally:
                del self.open_refs[mark:]
            return value
        assert first_error is not None
        raise first_error

    def avoiding(self, flat: _Flat, musts: list, name: str, depth: int, variant: int) -> Any:
        """A value for a schema with `not`: a `not` of bare types removes them, others are checked."""
        excluded: set[str] = set()
        checked = []
        for negated in flat.nots:
            if isinstance(negated, dict) and set(negated) <= {"type", "title", "description"} and "type" in negated:
                excluded.update(_type_list(negated["type"], flat.home))
            else:
                checked.append(negated)
        for attempt in range(variant, variant + 8):
            value = self.plain(flat.kw, musts, flat.home, name, depth, attempt, excluded)
            if not any(self.checker.is_valid(value, negated) for negated in checked):
                return value
        raise SchemaUnsupported(f"at {flat.home}/not: every value fakellm tried is excluded by not")

    def plain(self, kw: dict, musts: list, ptr: str, name: str, depth: int, variant: int, excluded) -> Any:
        """A value for keywords with no choices left."""
        if "const" in kw:
            return copy.deepcopy(kw["const"])
        if "enum" in kw:
            return self.enum_value(kw["enum"], kw, musts, ptr, variant)
        given = kw.get("examples") if isinstance(kw.get("examples"), list) else []
        given = given + [kw["default"]] if "default" in kw else given
        if variant < len(given) and self.fits(given[variant], kw, musts):
            return copy.deepcopy(given[variant])
        types = [t for t in _types_of(kw, ptr) if t not in excluded]
        first_error: SchemaUnsupported | None = None
        for kind in types:
            try:
                if kind == "object":
                    return self.object_value(kw, ptr, depth, variant)
                if kind == "array":
                    return self.array_value(kw, ptr, name, depth, variant)
                if kind == "string":
                    return self.string_value(kw, ptr, name, variant)
                if kind == "integer":
                    return self.integer_value(kw, ptr, name, variant)
                if kind == "number":
                    return self.number_value(kw, ptr, name, variant)
                if kind == "boolean":
                    return variant % 2 == 0
                if variant:
                    raise SchemaUnsupported(f"at {_where(ptr)}: null has no second value")
                return None
            except SchemaUnsupported as exc:
                first_error = first_error or exc
        raise first_error or SchemaUnsupported(f"at {_where(ptr)}: no type is left to generate a value of")

    def fits(self, value: Any, kw: dict, musts: list) -> bool:
        """Whether a given value (enum, default, example) can be used here: its type is enough for the
        quick walk (the final check judges the rest), the careful walk checks it fully."""
        if self.careful:
            return all(self.checker.is_valid(value, must) for must in musts)
        if "type" not in kw:
            return True
        kinds = [kw["type"]] if isinstance(kw["type"], str) else kw["type"]
        return _json_type(value) in kinds or (_json_type(value) == "integer" and "number" in kinds)

    def enum_value(self, values: Any, kw: dict, musts: list, ptr: str, variant: int) -> Any:
        """The `variant`-th enum value that meets every other keyword here."""
        if not isinstance(values, list) or not values:
            raise SchemaUnsupported(f"at {_where(ptr)}: enum must be a non-empty list")
        found = 0
        for tried, value in enumerate(values):
            if tried > 200 + variant:
                break
            if self.fits(value, kw, musts):
                if found == variant:
                    return copy.deepcopy(value)
                found += 1
        if variant:
            raise SchemaUnsupported(f"at {_where(ptr)}: enum has no {variant + 1} distinct values that fit")
        raise SchemaUnsupported(f"at {_where(ptr)}: no enum value meets the other keywords")

    # --- objects and arrays ---

    def object_value(self, kw: dict, ptr: str, depth: int, variant: int) -> dict:
        properties = kw.get("properties") or {}
        required = list(kw.get("required") or [])
        dependent = kw.get("dependentRequired") or {}
        for key in [*properties, *required]:
            required.extend(dependent.get(key, ()))
        required_names = dict.fromkeys(required)
        max_props = kw.get("maxProperties")
        min_props = kw.get("minProperties", 0)
        if max_props is not None and len(required_names) > max_props:
            raise SchemaUnsupported(f"at {_where(ptr)}: {len(required_names)} required properties > maxProperties {max_props}")
        if max_props is not None and min_props > max_props:
            raise SchemaUnsupported(f"at {_where(ptr)}: minProperties {min_props} > maxProperties {max_props}")
        if min_props > MAX_VALUES:
            raise SchemaUnsupported(f"at {_where(ptr)}: minProperties {min_props} is more than fakellm generates ({MAX_VALUES})")
        room = math.inf if max_props is None else max_props - len(required_names)
        out: dict[str, Any] = {}
        for key in dict.fromkeys([*properties, *required_names]):
            needed = key in required_names
            if not needed and room <= 0:
                continue
            schema, at = self.property_schema(kw, key, ptr)
            try:
                out[key] = self.value(schema, at, key, depth + 1, variant)
            except SchemaUnsupported:
                if needed:
                    raise
                continue  # an optional property fakellm cannot fill (recursive, say) is left out
            if not needed:
                room -= 1
        for extra in range(min_props + 32):
            if len(out) >= min_props:
                return out
            key = self.extra_name(kw, out, extra, ptr)
            if key is not None:
                schema, at = self.property_schema(kw, key, ptr)
                out[key] = self.value(schema, at, key, depth + 1, variant)
        raise SchemaUnsupported(f"at {_where(ptr)}: minProperties {min_props}: fakellm finds no more names the schema allows")

    def property_schema(self, kw: dict, key: str, ptr: str) -> tuple[Any, str]:
        """The schema a property named `key` must meet, and its pointer."""
        parts = []
        properties = kw.get("properties") or {}
        if key in properties:
            parts.append((properties[key], f"{ptr}/properties/{_escape(key)}"))
        for pattern, schema in (kw.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                parts.append((schema, f"{ptr}/patternProperties/{_escape(pattern)}"))
        if not parts:
            additional = kw.get("additionalProperties", True)
            if additional is False:
                raise SchemaUnsupported(f"at {_where(ptr)}: required {key!r} is not allowed by additionalProperties false")
            parts.append((additional, f"{ptr}/additionalProperties"))
        if len(parts) == 1:
            return parts[0]
        return {"allOf": [schema for schema, _ in parts]}, parts[0][1]

    def extra_name(self, kw: dict, taken: dict, attempt: int, ptr: str) -> str | None:
        """A new property name for minProperties: from patternProperties, else one that
        additionalProperties and propertyNames allow; None when this attempt finds none."""
        names = kw.get("propertyNames", True)
        candidates = []
        for pattern in kw.get("patternProperties") or {}:
            try:
                candidates.append(string_for(pattern, 1, attempt, MAX_STRING))
            except PatternUnsupported:
                continue
        if kw.get("additionalProperties", True) is not False:
            if names is True:
                candidates.append(f"extra_{attempt + 1}")
            else:
                try:
                    candidates.append(self.value(names, f"{ptr}/propertyNames", "", MAX_DEPTH, attempt))
                except SchemaUnsupported:
                    pass
        for key in candidates:
            if isinstance(key, str) and key not in taken and (names is True or self.checker.is_valid(key, names)):
                return key
        return None

    def array_value(self, kw: dict, ptr: str, name: str, depth: int, variant: int) -> list:
        prefix = kw.get("prefixItems") or []
        items = kw.get("items", True)
        min_items = kw.get("minItems", 0)
        max_items = kw.get("maxItems")
        contains = kw.get("contains")
        min_contains = kw.get("minContains", 1) if contains is not None else 0
        unique = kw.get("uniqueItems") is True
        if min_items > MAX_VALUES:
            raise SchemaUnsupported(f"at {_where(ptr)}: minItems {min_items} is more than fakellm generates ({MAX_VALUES})")
        if max_items is not None and min_items > max_items:
            raise SchemaUnsupported(f"at {_where(ptr)}: minItems {min_items} > maxItems {max_items}")
        if max_items is not None and min_contains > max_items:
            raise SchemaUnsupported(f"at {_where(ptr)}: minContains {min_contains} > maxItems {max_items}")
        # One element when nothing asks for more: an app reading the list sees what an element looks like.
        length = max(min_items, len(prefix), min_contains, 0 if prefix or items is False else 1)
        if items is False:
            if min_items > len(prefix) or min_contains > len(prefix):
                raise SchemaUnsupported(f"at {_where(ptr)}: minItems {min_items} but items false after {len(prefix)} prefixItems")
            length = min(length, len(prefix))
        if max_items is not None:
            length = min(length, max_items)
        out: list = []
        for i in range(length):
            schema, at = (prefix[i], f"{ptr}/prefixItems/{i}") if i < len(prefix) else (items, f"{ptr}/items")
            if i < min_contains:  # the first elements also meet `contains`
                schema = {"allOf": [schema, contains]}
            try:
                out.append(self.element(schema, at, name, depth, variant, i, out, unique))
            except SchemaUnsupported:
                if i < max(min_items, min_contains):
                    raise
                break  # an optional element fakellm cannot make (a recursive one, say): the list ends here
        return out

    def element(self, schema: Any, ptr: str, name: str, depth: int, variant: int, index: int, earlier: list,
                unique: bool) -> Any:
        if not unique:
            return self.value(schema, ptr, name, depth + 1, variant)
        for attempt in range(variant + index, variant + index + 16):
            value = self.value(schema, ptr, name, depth + 1, attempt)
            if not any(_same(value, other) for other in earlier):
                return value
        raise SchemaUnsupported(f"at {_where(ptr)}: uniqueItems: fakellm finds no {index + 1} distinct items")

    # --- strings and numbers ---

    def string_value(self, kw: dict, ptr: str, name: str, variant: int) -> str:
        min_length = kw.get("minLength", 0)
        max_length = kw.get("maxLength")
        if max_length is not None and min_length > max_length:
            raise SchemaUnsupported(f"at {_where(ptr)}: minLength {min_length} > maxLength {max_length}")
        if min_length > MAX_STRING:
            raise SchemaUnsupported(f"at {_where(ptr)}: minLength {min_length} is more than fakellm generates ({MAX_STRING})")
        patterns = ([kw["pattern"]] if "pattern" in kw else []) + kw.get(_EXTRA_PATTERNS, [])
        fmt = kw.get("format")
        check = CHECKS.get(fmt) if isinstance(fmt, str) else None

        def fits(text: str | None) -> bool:
            return (text is not None and min_length <= len(text) and (max_length is None or len(text) <= max_length)
                    and all(re.search(p, text) for p in patterns) and (check is None or check(text)))

        for attempt in range(variant, variant + 4):  # another variant may take another alternation branch
            if patterns:
                try:
                    text = string_for(patterns[0], min_length, attempt, MAX_STRING)
                except PatternUnsupported as exc:
                    raise SchemaUnsupported(f"at {ptr}/pattern: {exc}") from None
                else:
                    if fits(text):
                        return text
            if isinstance(fmt, str):
                text = sample(fmt, attempt, f"{self.seed}|{ptr}|{name}")
                if fits(text):
                    return text
            text = _fitted(_text(name, attempt), min_length, max_length, attempt)
            if fits(text):
                return text
            if not patterns and check is None:
                break  # plain text that did not fit will not fit with another number on it
        wanted = ", ".join(f"{k} {kw[k]!r}" for k in ("pattern", "format", "minLength", "maxLength") if k in kw)
        raise SchemaUnsupported(f"at {_where(ptr)}: fakellm finds no string with {wanted}")

    def offset(self, ptr: str, name: str) -> int:
        """0 without a seed; with one, a small number that varies by seed and place."""
        if not self.seed:
            return 0
        digest = hashlib.blake2b(f"{self.seed}|{ptr}|{name}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % 10

    def integer_value(self, kw: dict, ptr: str, name: str, variant: int) -> int:
        low, high = _bounds(kw, ptr)
        multiple = kw.get("multipleOf")
        step = _positive(multiple, ptr).numerator if multiple is not None else 1  # integers that are multiples of p/q
        first = None if low is None else -(-((math.floor(low[0]) + 1) if low[1] else math.ceil(low[0])) // step)
        last = None if high is None else ((math.ceil(high[0]) - 1) if high[1] else math.floor(high[0])) // step
        if first is not None and last is not None and first > last:
            of = f" multiple of {multiple}" if multiple is not None else ""
            raise SchemaUnsupported(f"at {_where(ptr)}: no integer{of} between {low[2]} and {high[2]}")
        preferred = max(1, -(-(1 + self.offset(ptr, name)) // step))
        for k in _steps(preferred, first, last, variant):
            if multiple is None or _passes_multiple(k * step, multiple):
                return k * step
        raise SchemaUnsupported(f"at {_where(ptr)}: no integer passes multipleOf {multiple} as jsonschema checks it")

    def number_value(self, kw: dict, ptr: str, name: str, variant: int) -> float:
        low, high = _bounds(kw, ptr)
        multiple = kw.get("multipleOf")
        target = Fraction(3, 2) + self.offset(ptr, name)
        if multiple is not None:
            m = _positive(multiple, ptr)
            first = None if low is None else math.floor(low[0] / m) + 1 if low[1] else math.ceil(low[0] / m)
            last = None if high is None else math.ceil(high[0] / m) - 1 if high[1] else math.floor(high[0] / m)
            if first is not None and last is not None and first > last:
                raise SchemaUnsupported(f"at {_where(ptr)}: no multiple of {multiple} between {low[2]} and {high[2]}")
            for k in _steps(max(1, math.ceil(target / m)), first, last, variant):
                value = float(k * m)
                if _within(value, kw) and _passes_multiple(value, multiple):
                    return value
            raise SchemaUnsupported(f"at {_where(ptr)}: no number passes multipleOf {multiple} as jsonschema checks it")
        target += variant
        lo, hi = (low[0] if low else None), (high[0] if high else None)
        above_low = lo is None or target > lo or (target == lo and not low[1])
        below_high = hi is None or target < hi or (target == hi and not high[1])
        if above_low and below_high:
            exact = target
        elif lo is not None and hi is not None:
            exact = lo if lo == hi else lo + (hi - lo) * (variant + 1) / (variant + 2)
        elif lo is not None:
            exact = lo + variant + (1 if low[1] else 0)
        else:
            exact = hi - variant - (1 if high[1] else 0)
        value = float(exact)
        for _ in range(4):  # rounding to a float may cross an exclusive bound: step back inside
            if _within(value, kw):
                return value
            too_low = (lo is not None and value <= float(lo))
            value = math.nextafter(value, math.inf if too_low else -math.inf)
        raise SchemaUnsupported(f"at {_where(ptr)}: no float between {low[2] if low else ''} and {high[2] if high else ''}")


# --- helpers ---


def _merge(kw: dict, schema: dict, ptr: str) -> None:
    """Adds a schema's own keywords to `kw` as allOf means: both must hold. Exact where cheap
    (types, bounds, required, enums, properties); elsewhere the first wins and the final
    validation judges."""
    for key, value in schema.items():
        if key in _COMBINATORS:
            continue
        if key not in kw:
            kw[key] = value
            continue
        old = kw[key]
        if key == "type":
            kw[key] = _common_types(_type_list(old, ptr), _type_list(value, ptr), ptr)
        elif key == "required":
            kw[key] = list(dict.fromkeys([*old, *value]))
        elif key in ("properties", "patternProperties"):
            merged = dict(old)
            for name, sub in value.items():
                merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
            kw[key] = merged
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"):
            kw[key] = max(old, value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"):
            kw[key] = min(old, value)
        elif key == "enum":
            kw[key] = [a for a in old if any(_same(a, b) for b in value)]
            if not kw[key]:
                raise SchemaUnsupported(f"at {_where(ptr)}: enum {old!r} and enum {value!r} share no value")
        elif key == "const":
            if not _same(old, value):
                raise SchemaUnsupported(f"at {_where(ptr)}: const {old!r} and const {value!r} differ")
        elif key in ("items", "additionalProperties", "contains", "propertyNames"):
            kw[key] = {"allOf": [old, value]}
        elif key == "prefixItems":
            longer, shorter = (old, value) if len(old) >= len(value) else (value, old)
            kw[key] = [{"allOf": [a, shorter[i]]} if i < len(shorter) else a for i, a in enumerate(longer)]
        elif key == "uniqueItems":
            kw[key] = old or value
        elif key == "multipleOf":
            a, b = _positive(old, ptr), _positive(value, ptr)
            kw[key] = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
        elif key == "pattern" and value != old:
            kw[_EXTRA_PATTERNS] = [*kw.get(_EXTRA_PATTERNS, []), value]
        elif key == "dependentRequired":
            kw[key] = {**old, **{k: list(dict.fromkeys([*old.get(k, []), *v])) for k, v in value.items()}}


def _type_list(value: Any, ptr: str) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise SchemaUnsupported(f"at {_where(ptr)}: type {value!r} is not a JSON Schema type or list of types")
    return names


def _common_types(a: list[str], b: list[str], ptr: str) -> list[str]:
    common = []
    for kind in a:
        if kind in b or (kind == "integer" and "number" in b):
            common.append(kind)
        elif kind == "number" and "integer" in b:
            common.append("integer")
    if not common:
        raise SchemaUnsupported(f"at {_where(ptr)}: type {a!r} and type {b!r} have no value in common")
    return list(dict.fromkeys(common))


def _types_of(kw: dict, ptr: str) -> list[str]:
    """The types to try, in order: as listed with null last, or guessed from the keywords present
    (a schema with `properties` and no `type` is meant for objects), or any type."""
    if "type" in kw:
        listed = _type_list(kw["type"], ptr)
        return [t for t in listed if t != "null"] + (["null"] if "null" in listed else [])
    guessed = []
    for kinds, keys in ((("object",), _OBJECT_KEYS), (("array",), _ARRAY_KEYS), (("string",), _STRING_KEYS),
                        (("integer", "number"), _NUMBER_KEYS)):
        if any(k in kw for k in keys):
            guessed.extend(kinds)
    return list(dict.fromkeys(guessed or _ANY_ORDER))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "unknown")


def _is_null_only(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("type") == ["null"]
                                         or ("const" in schema and schema["const"] is None))


def _same(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _number(value: Any, key: str, ptr: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise SchemaUnsupported(f"at {_where(ptr)}: {key} must be a finite number, not {value!r}")
    # A float's decimal spelling: multipleOf 0.1 means a tenth, not the binary float nearest it.
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _positive(value: Any, ptr: str) -> Fraction:
    number = _number(value, "multipleOf", ptr)
    if number <= 0:
        raise SchemaUnsupported(f"at {_where(ptr)}: multipleOf must be positive, not {value!r}")
    return number


def _bounds(kw: dict, ptr: str) -> tuple[tuple[Fraction, bool, str] | None, tuple[Fraction, bool, str] | None]:
    """(value, exclusive, how the schema says it) of the tightest lower and upper bounds."""
    low = high = None
    for key, exclusive in (("minimum", False), ("exclusiveMinimum", True)):
        if key in kw:
            v = _number(kw[key], key, ptr)
            if low is None or v > low[0] or (v == low[0] and exclusive):
                low = (v, exclusive, f"{key} {kw[key]}")
    for key, exclusive in (("maximum", False), ("exclusiveMaximum", True)):
        if key in kw:
            v = _number(kw[key], key, ptr)
            if high is None or v < high[0] or (v == high[0] and exclusive):
                high = (v, exclusive, f"{key} {kw[key]}")
    if low and high and (low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1]))):
        relation = ">" if low[0] > high[0] else "leaves no value below"
        raise SchemaUnsupported(f"at {_where(ptr)}: {low[2]} {relation} {high[2]}")
    return low, high


def _steps(preferred: int, first: int | None, last: int | None, variant: int):
    """Multipliers to try: the preferred one moved into [first, last] and on by `variant`, then its
    next few neighbours (for multipleOf values that floats cannot divide exactly)."""
    if first is not None and preferred < first:
        preferred = first
    if last is not None and preferred > last:
        preferred = last
    for extra in range(20):
        shift = variant + extra
        if first is not None and last is not None:
            k = first + (preferred - first + shift) % (last - first + 1)
        elif last is not None:
            k = preferred - shift
        else:
            k = preferred + shift
        yield k
        if first is not None and last is not None and extra >= last - first:
            return


def _passes_multiple(value: int | float, multiple: Any) -> bool:
    """multipleOf as jsonschema checks it (float division for a float multipleOf)."""
    if isinstance(multiple, Fraction):
        return (Fraction(value) / multiple).denominator == 1
    if isinstance(multiple, float):
        try:
            quotient = value / multiple
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(value) / Fraction(multiple)).denominator == 1
    return value % multiple == 0


def _within(value: float, kw: dict) -> bool:
    return (("minimum" not in kw or value >= kw["minimum"]) and ("maximum" not in kw or value <= kw["maximum"])
            and ("exclusiveMinimum" not in kw or value > kw["exclusiveMinimum"])
            and ("exclusiveMaximum" not in kw or value < kw["exclusiveMaximum"]))


def _text(name: str, variant: int) -> str:
    """Readable text for a property: an address for `email`, a URL for `url`, otherwise its words."""
    words = _CAMEL.sub(lambda m: f"{m[1]} {m[2]}", name).replace("_", " ").replace("-", " ").strip().lower()
    tag = f" {variant + 1}" if variant else ""
    if "email" in words:
        return f"user{variant or ''}@example.com"
    if words.split()[-1:] in (["url"], ["uri"], ["link"], ["website"], ["homepage"]):
        return f"https://example.com/{variant or ''}"
    if "phone" in words:
        return f"+1-555-01{variant % 100:02d}"
    return f"example {words}{tag}" if words else f"example{tag}"


def _fitted(text: str, min_length: int, max_length: int | None, variant: int) -> str | None:
    """`text` cut or repeated to fit the lengths, keeping variants apart; None when it cannot be."""
    if max_length is not None and len(text) > max_length:
        tag = str(variant + 1) if variant else ""
        if len(tag) > max_length:
            return None
        text = text[:max_length - len(tag)].rstrip() + tag
    if len(text) < min_length:
        text = (text + " ") * (min_length // (len(text) + 1) + 1) if text else "x" * min_length
        text = text[:min_length]
    return text


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return unquote(part).replace("~1", "/").replace("~0", "~")


def _where(ptr: str) -> str:
    return ptr or "the root"
