"""Instances of JSON Schemas (engine/schemas.py): what structured outputs and generated tool
arguments are made of. Every value is checked with jsonschema here too, and pydantic models
(plain and in the strict form the OpenAI SDK sends) parse what fakellm makes for them."""

from __future__ import annotations

import datetime
import enum
import re
import subprocess
import sys
import time
import uuid
from typing import Annotated, Literal, Optional

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from fakellm.engine.schemas import MAX_VALUES, SchemaUnsupported, instance_for, validation_errors


def valid_instance(schema, seed=""):
    value = instance_for(schema, seed)
    assert validation_errors(schema, value) == []
    return value


def unsupported(schema) -> str:
    with pytest.raises(SchemaUnsupported) as caught:
        instance_for(schema)
    return str(caught.value)


# --- one keyword at a time ---

@pytest.mark.parametrize("schema, expected", [
    ({"type": "string"}, "example"),
    ({"type": "integer"}, 1),
    ({"type": "number"}, 1.5),
    ({"type": "boolean"}, True),
    ({"type": "null"}, None),
    ({"type": "array"}, ["example"]),
    ({"type": "object"}, {}),
    ({"type": ["null", "integer"]}, 1),  # null only when nothing else is allowed
    ({"const": {"a": [1, 2]}}, {"a": [1, 2]}),
    ({"enum": ["red", "green"]}, "red"),
    ({"type": "integer", "enum": ["a", 3, 4]}, 3),
    (True, "example"),
    ({}, "example"),
    ({"title": "T", "description": "d", "$schema": "https://json-schema.org/draft/2020-12/schema",
      "$id": "https://example.com/t", "strict": True, "x-unknown": 1, "type": "integer"}, 1),
])
def test_types_enum_const_and_ignored_annotations(schema, expected):
    value = valid_instance(schema)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("fmt, expected", [
    ("date-time", "2024-01-01T00:00:00Z"), ("date", "2024-01-01"), ("time", "12:00:00Z"),
    ("email", "user@example.com"), ("uri", "https://example.com/"), ("ipv4", "192.0.2.1"),
    ("ipv6", "2001:db8::1"), ("hostname", "example.com"),
])
def test_formats(fmt, expected):
    assert valid_instance({"type": "string", "format": fmt}) == expected


def test_uuid_format_is_a_version_4_uuid_stable_per_seed():
    value = valid_instance({"type": "string", "format": "uuid"})
    assert uuid.UUID(value).version == 4
    assert valid_instance({"type": "string", "format": "uuid"}) == value
    assert valid_instance({"type": "string", "format": "uuid"}, seed="get_weather") != value


def test_format_checks_reject_what_is_not_the_format():
    for fmt, bad in [("date-time", "2024-13-01T00:00:00Z"), ("date", "2024-02-30"), ("time", "12:00:00"),
                     ("email", "not-an-address"), ("uri", "no scheme"), ("uuid", "1234"), ("ipv4", "300.1.1.1"),
                     ("ipv6", "2001:db8::zz"), ("hostname", "-bad-.example")]:
        errors = validation_errors({"type": "string", "format": fmt}, bad)
        assert errors == [f"(root): {bad!r} is not a {fmt!r}"], (fmt, errors)


def test_strings_look_like_their_property():
    value = valid_instance({"type": "object", "properties": {
        "email": {"type": "string"}, "website_url": {"type": "string"}, "firstName": {"type": "string"},
        "phone": {"type": "string"}}})
    assert value == {"email": "user@example.com", "website_url": "https://example.com/",
                     "firstName": "example first name", "phone": "+1-555-0100"}


def test_string_lengths():
    assert valid_instance({"type": "string", "maxLength": 3}) == "exa"
    assert valid_instance({"type": "string", "minLength": 12}) == "example exam"
    assert valid_instance({"type": "string", "minLength": 2, "maxLength": 2}) == "ex"
    assert valid_instance({"type": "string", "maxLength": 0}) == ""


@pytest.mark.parametrize("pattern, expected", [
    (r"^[0-9]{5}$", "00000"),
    (r"^[A-Z]{2}-\d{3,4}$", "AA-000"),
    (r"^(foo|bar)+\.json$", "foo.json"),
    (r"^\w+@\w+\.(com|org)$", "a@a.com"),
    (r"^[^,]{2}\s?x*$", "aa"),
    (r"^(?:[a-f0-9]{2}:){2}[a-f0-9]{2}$", "aa:aa:aa"),
    (r"^(?P<area>\d{3})-(?P<rest>\d{4})$", "000-0000"),
    (r"\.pdf$", ".pdf"),
    (r"^a.c$", "aac"),
    (r"^\u00e9\x41$", "\u00e9A"),
])
def test_patterns(pattern, expected):
    assert valid_instance({"type": "string", "pattern": pattern}) == expected


def test_patterns_with_lengths():
    assert valid_instance({"type": "string", "pattern": r"^[a-z]+$", "minLength": 6}) == "aaaaaa"
    assert valid_instance({"type": "string", "pattern": "abc", "minLength": 6}) == "abcaaa"  # unanchored
    assert valid_instance({"type": "string", "pattern": "abc$", "minLength": 5}) == "aaabc"


@pytest.mark.parametrize("schema, expected", [
    ({"type": "integer", "minimum": 18}, 18),
    ({"type": "integer", "maximum": -3}, -3),
    ({"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7}, 6),
    ({"type": "integer", "minimum": 1.5, "maximum": 2.5}, 2),
    ({"type": "integer", "multipleOf": 5}, 5),
    ({"type": "integer", "multipleOf": 5, "minimum": 12, "maximum": 16}, 15),
    ({"type": "integer", "multipleOf": 0.5}, 1),
    ({"type": "number", "minimum": 10}, 10.0),
    ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5),
    ({"type": "number", "maximum": 0}, 0.0),
    ({"type": "number", "multipleOf": 0.25, "minimum": 2.1}, 2.25),
    ({"type": "number", "multipleOf": 0.1, "minimum": 0.25, "maximum": 0.45}, 0.4),  # 0.3 / 0.1 is not whole in floats
])
def test_numbers_within_bounds(schema, expected):
    value = valid_instance(schema)
    assert value == expected and type(value) is type(expected)


def test_arrays():
    assert valid_instance({"type": "array", "items": {"type": "integer"}}) == [1]
    assert valid_instance({"type": "array", "items": {"type": "integer"}, "maxItems": 0}) == []
    assert valid_instance({"type": "array", "items": {"type": "boolean"}, "minItems": 3}) == [True] * 3
    assert valid_instance({"type": "array", "items": {"type": "integer", "maximum": 2}, "minItems": 3,
                           "uniqueItems": True}) == [1, 0, -1]
    assert valid_instance({"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3,
                           "uniqueItems": True}) == ["a", "b", "c"]
    assert valid_instance({"type": "array", "items": {"type": "string"}, "minItems": 2,
                           "uniqueItems": True}) == ["example", "example 2"]
    assert valid_instance({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                           "items": False}) == ["example", 1]
    assert valid_instance({"type": "array", "items": {"type": "integer"},
                           "contains": {"type": "integer", "minimum": 7}}) == [7]
    assert valid_instance({"type": "array", "contains": {"const": "x"}, "minContains": 2,
                           "items": {"type": "string"}}) == ["x", "x"]


def test_draft_07_spellings():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#",
              "definitions": {"Pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}],
                                       "additionalItems": False}},
              "type": "object", "properties": {"pair": {"$ref": "#/definitions/Pair"},
                                              "n": {"type": "number", "minimum": 3, "exclusiveMinimum": True}},
              "required": ["pair"]}
    value = valid_instance(schema)
    assert value == {"pair": ["example pair", 1], "n": 4.0}
    assert validation_errors(schema, {"pair": ["a", 1, "extra"]}) == [
        "/pair: Expected at most 2 items but found 1 extra: 'extra'"]


def test_objects_get_every_listed_property():
    schema = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"}, "nick": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "meta": {"type": "object", "properties": {"source": {"type": "string"}}}}}
    assert valid_instance(schema) == {"id": 1, "nick": "example nick", "meta": {"source": "example source"}}


def test_properties_from_patterns_and_additional_properties():
    assert valid_instance({"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}}) \
        == {"extra_1": 1, "extra_2": 1}
    assert valid_instance({"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "boolean"}},
                           "additionalProperties": False, "minProperties": 2}) == {"x-a": True, "x-b": True}
    assert valid_instance({"type": "object", "required": ["size"], "additionalProperties": {"type": "integer"}}) \
        == {"size": 1}
    assert valid_instance({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                                                            "c": {"type": "integer"}},
                           "required": ["c"], "maxProperties": 2}) == {"a": 1, "c": 1}
    assert valid_instance({"type": "object", "properties": {"a": {"type": "integer"}},
                           "dependentRequired": {"a": ["b"]}}) == {"a": 1, "b": "example b"}


def test_refs_and_defs():
    schema = {"$defs": {"Money": {"type": "object", "properties": {"amount": {"type": "number", "minimum": 0},
                                                                   "currency": {"enum": ["EUR", "USD"]}},
                                  "required": ["amount", "currency"], "additionalProperties": False}},
              "type": "object", "properties": {"price": {"$ref": "#/$defs/Money"},
                                              "tax": {"$ref": "#/$defs/Money", "description": "sibling keyword"}}}
    assert valid_instance(schema) == {"price": {"amount": 1.5, "currency": "EUR"},
                                      "tax": {"amount": 1.5, "currency": "EUR"}}
    assert valid_instance({"$defs": {"a": {"$anchor": "name", "type": "string"}}, "$ref": "#name"}) == "example"


def test_recursive_schemas_end_where_they_can():
    tree = {"$defs": {"Node": {"type": "object", "properties": {
        "label": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
        "next": {"$ref": "#/$defs/Node"}},
        "required": ["label", "children", "parent"]}}, "$ref": "#/$defs/Node"}
    assert valid_instance(tree) == {"label": "example label", "children": [], "parent": None}
    # Only a value that goes through the $ref once more is valid: fakellm finds it.
    nested = {"$defs": {"T": {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#/$defs/T"},
                                                               "minItems": 1}]}},
              "allOf": [{"$ref": "#/$defs/T"}, {"type": "array"}]}
    assert valid_instance(nested) == [1]


def test_any_of_one_of_all_of():
    assert valid_instance({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]}) == 3
    assert valid_instance({"anyOf": [{"type": "string", "minLength": 5, "maxLength": 2}, {"type": "boolean"}]}) is True
    # The first branch's value matches the second too: the next branch is taken.
    assert valid_instance({"oneOf": [{"type": "integer"}, {"type": "number"}]}) == 1.5
    assert valid_instance({"type": "object", "oneOf": [
        {"properties": {"kind": {"const": "cat"}}, "required": ["kind"]},
        {"properties": {"kind": {"const": "dog"}}, "required": ["kind"]}]}) == {"kind": "cat"}
    assert valid_instance({"allOf": [{"type": "integer", "minimum": 3}, {"maximum": 9, "multipleOf": 4},
                                     {"type": ["integer", "string"]}]}) == 4
    assert valid_instance({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                                     {"properties": {"a": {"maxLength": 3}, "b": {"type": "integer"}}}]}) \
        == {"a": "exa", "b": 1}


def test_not_and_if_then_else():
    assert valid_instance({"not": {"type": "string"}}) == 1
    assert valid_instance({"type": "integer", "not": {"const": 1}}) == 2
    assert valid_instance({"type": "string", "not": {"enum": ["example", "example 2"]}}) == "example 3"
    schema = {"type": "object", "properties": {"country": {"enum": ["US", "NL"]}, "zip": {"type": "string"}},
              "required": ["country", "zip"],
              "if": {"properties": {"country": {"const": "US"}}},
              "then": {"properties": {"zip": {"pattern": "^[0-9]{5}$"}}},
              "else": {"properties": {"zip": {"pattern": "^[0-9]{4} ?[A-Z]{2}$"}}}}
    assert valid_instance(schema) == {"country": "US", "zip": "00000"}
    # `then` cannot hold, so the value must fail `if`: the next variant takes the other country.
    assert valid_instance({**schema, "then": False}) == {"country": "NL", "zip": "1111BB"}


def test_default_and_examples_are_used_when_valid():
    assert valid_instance({"type": "integer", "default": 42}) == 42
    assert valid_instance({"type": "string", "examples": ["Paris"], "default": "x"}) == "Paris"
    assert valid_instance({"type": "integer", "minimum": 5, "default": 2}) == 5  # an invalid default is ignored
    assert valid_instance({"type": "object", "properties": {"nick": {"anyOf": [{"type": "string"}, {"type": "null"}],
                                                                     "default": None}}}) == {"nick": "example nick"}


def test_boolean_schemas():
    assert valid_instance({"type": "object", "properties": {"a": True}, "required": ["a"]}) == {"a": "example a"}
    assert valid_instance({"type": "object", "properties": {"gone": False, "b": {"type": "integer"}}}) == {"b": 1}
    assert "false admits no value" in unsupported(False)


# --- what fakellm cannot or will not produce, said clearly ---

@pytest.mark.parametrize("schema, message", [
    ({"type": "object", "properties": {"age": {"type": "integer", "minimum": 10, "maximum": 5}}, "required": ["age"]},
     "at /properties/age: minimum 10 > maximum 5"),
    ({"type": "number", "exclusiveMinimum": 3, "maximum": 3},
     "at the root: exclusiveMinimum 3 leaves no value below maximum 3"),
    ({"type": "integer", "minimum": 1, "maximum": 4, "multipleOf": 5},
     "no integer multiple of 5 between minimum 1 and maximum 4"),
    ({"type": "string", "minLength": 5, "maxLength": 2}, "at the root: minLength 5 > maxLength 2"),
    ({"type": "array", "minItems": 3, "maxItems": 1}, "minItems 3 > maxItems 1"),
    ({"type": "object", "required": ["a"], "additionalProperties": False},
     "at the root: required 'a' is not allowed by additionalProperties false"),
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "type ['string'] and type ['integer'] have no value in common"),
    ({"allOf": [{"const": 1}, {"const": 2}]}, "const 1 and const 2 differ"),
    ({"type": "integer", "enum": ["a", "b"]}, "no enum value meets the other keywords"),
    ({"type": "array", "items": {"type": "boolean"}, "minItems": 3, "uniqueItems": True}, "uniqueItems"),
    ({"type": "string", "pattern": "(?=a)b"}, "at /pattern: pattern '(?=a)b' uses a look-around"),
    ({"type": "string", "pattern": r"^(a)\1$"}, r"the escape \1"),
    ({"type": "string", "pattern": "^[[:alpha:]]+$"}, "POSIX class"),
    ({"type": "string", "pattern": "^(unclosed"}, "at /pattern: pattern '^(unclosed' uses an unclosed '('"),
    ({"type": "number", "multipleOf": 0.1, "minimum": 0.25, "maximum": 0.35}, "no number passes multipleOf 0.1"),
    ({"type": "string", "pattern": "^a{3}$", "maxLength": 2}, "no string with pattern '^a{3}$', maxLength 2"),
    ({"type": "string", "format": "email", "maxLength": 4}, "no string with format 'email', maxLength 4"),
    ({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}, "required": ["next"]}},
      "$ref": "#/$defs/N"}, "no finite instance: at /$defs/N/properties/next: $ref '#/$defs/N' recurses"),
    ({"$ref": "#/$defs/missing"}, "$ref '#/$defs/missing' points to nothing"),
    ({"$ref": "https://example.com/other.json"}, "points outside the schema"),
    ({"type": "strng"}, "type 'strng' is not a JSON Schema type"),
    ({"type": "string", "minLength": "three"}, "at /minLength: the schema is malformed: 'three' is not of type 'integer'"),
    ({"type": "string", "not": {"type": "string", "minLength": 0}}, "excluded by not"),
])
def test_unsupported_schemas_say_which_keyword_where(schema, message):
    assert message in unsupported(schema)


def test_hostile_schemas_are_bounded():
    assert f"minItems 20000 is more than fakellm generates ({MAX_VALUES})" in unsupported(
        {"type": "array", "minItems": 20_000})
    assert "minProperties" in unsupported({"type": "object", "minProperties": 10**9})
    assert "minLength 1000000000 is more than" in unsupported({"type": "string", "minLength": 10**9})
    assert "repetition above" in unsupported({"type": "string", "pattern": "^a{100000000}$"})
    # 100 x 100 items of 100 x 100: a hundred million values, refused quickly.
    wide = {"type": "array", "minItems": 100, "items": {"type": "array", "minItems": 100,
                                                        "items": {"type": "array", "minItems": 100}}}
    started = time.perf_counter()
    assert f"more than {MAX_VALUES} values" in unsupported(wide)
    assert time.perf_counter() - started < 5
    deep: dict = {"type": "integer"}
    for _ in range(40):
        deep = {"type": "object", "properties": {"a": deep}, "required": ["a"]}
    assert "nested deeper than 32 levels" in unsupported(deep)
    # Choices inside choices, none of which works: the work is bounded too.
    impossible = {"anyOf": [{"type": "integer", "minimum": i, "maximum": i - 1} for i in range(100)]}
    assert "more than" in unsupported({"allOf": [impossible, impossible, impossible]})


def test_validation_errors_name_the_place_of_the_value():
    schema = {"type": "object", "properties": {"address": {"type": "object", "properties": {
        "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}, "tags": {"type": "array", "items": {"type": "string"}}}}
    assert validation_errors(schema, {"address": {"zip": "abc"}, "tags": ["a", 2]}) == [
        "/address/zip: 'abc' does not match '^[0-9]{5}$'", "/tags/1: 2 is not of type 'string'"]
    assert validation_errors(schema, []) == ["(root): [] is not of type 'object'"]
    assert len(validation_errors({"type": "array", "items": {"type": "string"}}, list(range(50)), limit=3)) == 3
    long = validation_errors({"type": "string"}, list(range(1000)))[0]
    assert len(long) < 320 and long.endswith("...")


# --- pydantic models, as apps define them ---

class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip: str = Field(pattern=r"^[0-9]{5}$")


class LineItem(BaseModel):
    sku: str = Field(min_length=3, max_length=8)
    quantity: int = Field(ge=1, le=99)
    price: float = Field(gt=0, le=1000)


class Category(BaseModel):
    name: str
    children: list[Category] = []
    parent: Optional[Category] = None


class Order(BaseModel):
    id: uuid.UUID
    email: Annotated[str, Field(json_schema_extra={"format": "email"})]
    color: Color
    channel: Literal["web", "store"]
    shipping: Address
    billing: Optional[Address] = None
    items: list[LineItem]
    note: Optional[str] = None
    rating: Optional[int] = Field(default=None, ge=1, le=5)
    placed_at: datetime.datetime
    due: datetime.date
    category: Category


@pytest.mark.parametrize("schema", [Order.model_json_schema(), to_strict_json_schema(Order)],
                         ids=["model_json_schema", "openai_strict"])
def test_pydantic_models_parse_the_instances(schema):
    value = valid_instance(schema)
    order = Order.model_validate(value)
    # Optional fields are filled (apps read them), enums and literals take their first value.
    assert order.billing == Address(street="example street", zip="00000")
    assert order.note == "example note" and order.rating == 1
    assert (order.color, order.channel) == (Color.RED, "web")
    assert order.items == [LineItem(sku="example", quantity=1, price=1.5)]
    assert order.placed_at == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    assert order.due == datetime.date(2024, 1, 1)
    assert order.email == "user@example.com"
    assert order.category == Category(name="example name", children=[], parent=None)


def test_the_strict_schema_is_what_the_openai_sdk_sends():
    strict = to_strict_json_schema(Order)
    assert strict["additionalProperties"] is False and set(strict["required"]) == set(strict["properties"])
    assert "$defs" in strict


def test_a_typical_model_takes_well_under_a_millisecond():
    schema = Order.model_json_schema()
    instance_for(schema)
    started = time.perf_counter()
    for _ in range(100):
        instance_for(schema)
    per_call = (time.perf_counter() - started) / 100
    assert per_call < 0.01, per_call  # generous for a loaded CI machine; about 1 ms on a quiet one


# --- determinism ---

def test_the_same_schema_and_seed_give_the_same_value_in_another_process():
    schema = Order.model_json_schema()
    here = [instance_for(schema), instance_for(schema, "create_order")]
    code = ("import json, sys; from fakellm.engine.schemas import instance_for; schema = json.load(sys.stdin); "
            "print(json.dumps([instance_for(schema), instance_for(schema, 'create_order')]))")
    import json
    there = subprocess.run([sys.executable, "-c", code], input=json.dumps(schema), capture_output=True,
                           text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": "", **_pythonpath()})
    assert json.loads(there.stdout) == here
    assert instance_for(schema) == here[0]


def test_a_seed_varies_numbers_and_uuids_only():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}, "label": {"type": "string"},
                                               "id": {"type": "string", "format": "uuid"}}}
    values = [valid_instance(schema, seed) for seed in ("", "alpha", "beta", "gamma")]
    assert {v["label"] for v in values} == {"example label"}
    assert len({v["id"] for v in values}) == 4
    assert len({v["n"] for v in values}) > 1


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


# --- property-based: schemas from hypothesis-jsonschema always get valid instances ---

NAMES = ["id", "name", "email", "url", "count", "tags", "createdAt", "note"]
PATTERNS = [r"^[a-z]{2,6}$", r"^[A-Z][a-z]+$", r"^\d{3}-\d{4}$", r"^(red|green|blue)$", r"^[a-z0-9_]+$",
            r"^x-[0-9a-f]{4}$", r"\.txt$"]
FORMATS = ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]


def _leaf_kind(kind: str, **keywords) -> dict:
    return {"type": "object", "properties": {"type": {"const": kind}, **keywords}, "required": ["type"],
            "additionalProperties": False}


def _integer(low: int, high: int) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high}


SCALAR = {"anyOf": [{"type": "string", "maxLength": 8}, _integer(-100, 100), {"type": "boolean"}, {"type": "null"}]}
# A meta-schema of the vocabulary fakellm supports, bounded so that every schema it describes is
# satisfiable (every numeric range holds 0, every length range meets), so none may raise.
META = {
    "definitions": {
        "string": _leaf_kind("string", minLength=_integer(0, 4), maxLength=_integer(8, 40)),
        "pattern": {**_leaf_kind("string", pattern={"enum": PATTERNS}), "required": ["type", "pattern"]},
        "format": {**_leaf_kind("string", format={"enum": FORMATS}), "required": ["type", "format"]},
        "integer": _leaf_kind("integer", minimum=_integer(-50, 0), maximum=_integer(0, 50),
                              exclusiveMinimum=_integer(-60, -1), exclusiveMaximum=_integer(1, 60),
                              multipleOf={"enum": [1, 2, 3, 5, 7]}),
        "number": _leaf_kind("number", minimum={"type": "number", "minimum": -50, "maximum": 0},
                             maximum={"type": "number", "minimum": 0, "maximum": 50},
                             exclusiveMinimum={"type": "number", "minimum": -60, "maximum": -0.5},
                             exclusiveMaximum={"type": "number", "minimum": 0.5, "maximum": 60},
                             multipleOf={"enum": [0.5, 0.25, 0.1, 1.5, 2]}),
        "boolean": _leaf_kind("boolean"),
        "null": _leaf_kind("null"),
        "nullable": {"type": "object", "properties": {
            "type": {"enum": [["string", "null"], ["null", "integer"], ["boolean", "string"]]},
            "maxLength": _integer(3, 10)}, "required": ["type"], "additionalProperties": False},
        "enum": {"type": "object", "properties": {"enum": {"type": "array", "items": SCALAR, "minItems": 1,
                                                          "maxItems": 4, "uniqueItems": True}},
                 "required": ["enum"], "additionalProperties": False},
        "const": {"type": "object", "properties": {"const": SCALAR}, "required": ["const"],
                  "additionalProperties": False},
        "leaf": {"anyOf": [{"$ref": f"#/definitions/{kind}"} for kind in (
            "string", "pattern", "format", "integer", "number", "boolean", "null", "nullable", "enum", "const")]},
        # Values of these have many distinct variants (for uniqueItems).
        "wide": {"anyOf": [{"$ref": "#/definitions/string"}, {"$ref": "#/definitions/format"},
                           _leaf_kind("integer", minimum=_integer(-50, 0)), _leaf_kind("number")]},
        "any_of": {"type": "object", "properties": {"anyOf": {"type": "array", "items": {"$ref": "#/definitions/leaf"},
                                                              "minItems": 1, "maxItems": 3}},
                   "required": ["anyOf"], "additionalProperties": False},
        # oneOf over branches of different types: exactly one branch can match.
        "one_of": {"type": "object", "properties": {"oneOf": {
            "type": "array", "items": [{"$ref": "#/definitions/string"}, {"$ref": "#/definitions/integer"},
                                       {"$ref": "#/definitions/boolean"}], "minItems": 2, "additionalItems": False}},
            "required": ["oneOf"], "additionalProperties": False},
        "all_of": {"type": "object", "properties": {"allOf": {
            "anyOf": [{"type": "array", "items": {"$ref": "#/definitions/integer"}, "minItems": 1, "maxItems": 3},
                      {"type": "array", "items": {"$ref": "#/definitions/string"}, "minItems": 1, "maxItems": 3}]}},
            "required": ["allOf"], "additionalProperties": False},
        "part": {"anyOf": [{"$ref": "#/definitions/leaf"}, {"$ref": "#/definitions/any_of"},
                           {"$ref": "#/definitions/one_of"}, {"$ref": "#/definitions/all_of"}]},
    },
}
PART = from_schema({**META, "$ref": "#/definitions/part"})
WIDE = from_schema({**META, "$ref": "#/definitions/wide"})
LEAF = from_schema({**META, "$ref": "#/definitions/leaf"})


def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    """Arrays and objects around `inner` schemas. Built with plain hypothesis strategies: hypothesis-jsonschema
    takes seconds per example to generate objects whose values are schemas this size."""
    names = st.lists(st.sampled_from(NAMES), unique=True, max_size=3)
    properties = st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)
    return st.one_of(
        st.builds(lambda items, low, extra: {"type": "array", "items": items, "minItems": low, "maxItems": low + extra},
                  inner, st.integers(0, 2), st.integers(0, 3)),
        st.builds(lambda items, low: {"type": "array", "items": items, "uniqueItems": True, "minItems": low},
                  WIDE, st.integers(0, 3)),
        st.builds(lambda prefix, closed: {"type": "array", "prefixItems": prefix,
                                          **({"items": False} if closed else {})},
                  st.lists(inner, min_size=1, max_size=3), st.booleans()),
        # Open objects: a required name that `properties` lacks gets the additionalProperties schema.
        st.builds(lambda props, required, extra, low: {"type": "object", "properties": props, "required": required,
                                                       "additionalProperties": extra, "minProperties": low},
                  properties, names, st.one_of(st.just(True), LEAF), st.integers(0, 3)),
        st.builds(lambda props: {"type": "object", "properties": props, "additionalProperties": False,
                                 "required": list(props)}, properties),
    )


WITH_DEFS = st.builds(lambda a, many: {"$defs": {"A": a}, "type": "object", "required": ["a"], "properties": {
    "a": {"$ref": "#/$defs/A"}, **({"b": {"type": "array", "items": {"$ref": "#/$defs/A"}}} if many else {})}},
    PART, st.booleans())
# Schemas of the vocabulary fakellm supports, two container levels deep.
SCHEMAS = st.one_of(PART, containers(PART), containers(st.one_of(PART, containers(PART))), WITH_DEFS)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(SCHEMAS)
def test_generated_schemas_always_get_valid_instances(schema):
    value = instance_for(schema)
    assert validation_errors(schema, value) == []
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
    assert instance_for(schema) == value


def test_the_meta_schema_describes_valid_schemas_with_every_keyword():
    """The property test covers the vocabulary: a sample of the generated schemas uses every keyword."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(SCHEMAS)
    def collect(schema):
        jsonschema.Draft202012Validator.check_schema(schema)
        seen.update(re.findall(r"'([A-Za-z$]+)':", repr(schema)))

    collect()
    assert seen >= {"type", "properties", "required", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
                    "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format", "items",
                    "prefixItems", "minItems", "maxItems", "uniqueItems", "anyOf", "oneOf", "allOf",
                    "additionalProperties", "minProperties", "$defs", "$ref"}, seen
