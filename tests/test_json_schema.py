"""The config's JSON Schema (`fakellm schema`, the line `fakellm init` writes) agrees with `fakellm check`:
every example config in the repository validates, and every bad config the config tests use is
rejected, except for the checks JSON Schema cannot make (listed in BEYOND_JSON_SCHEMA)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_config import UNKNOWN_KEYS, WRONG_VALUES

from fakellm.config import schema as models
from fakellm.config.json_schema import config_json_schema
from fakellm.config.schema import ConfigError, check_apis, config_from_data
from fakellm.config.starter import starter_text
from fakellm.config.yaml_loader import load_yaml
from fakellm.providers import registry

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = config_json_schema(registry.KNOWN_APIS)
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)

# What `fakellm check` finds and JSON Schema cannot say (a fragment of check's message, and why).
# config/json_schema.py's docstring lists the same.
BEYOND_JSON_SCHEMA = {
    "not a valid regular expression": "a pattern's validity is not a JSON Schema check",
    "template": "Jinja2 syntax and its limits",
    "must be JSON text": "a string's content parsed as JSON",
    "must be a JSON object": "a string's content parsed as JSON",
    "is greater than high": "turn_in: one item compared with another",
    "must not exceed context_window": "one key compared with another",
    "is listed twice": "unique model ids (uniqueItems compares whole items)",
    "the same length": "embedding vectors compared with each other",
    "must be JSON (": "NaN, infinity, dates and sets are YAML values, not JSON ones",
}


def fakellm_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakellm", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def schema_errors(data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in VALIDATOR.iter_errors(data)]


def check_problems(data: Any) -> list[str]:
    """What `fakellm check` reports for already-loaded data (no problems: [])."""
    try:
        check_apis(config_from_data(data, "test"), registry.KNOWN_APIS)
    except ConfigError as e:
        return [p.message for p in e.problems]
    return []


def beyond_json_schema(problems: list[str]) -> bool:
    return any(fragment in p for p in problems for fragment in BEYOND_JSON_SCHEMA)


def lists(value: Any) -> Any:
    """Tuples (a Python config's `turn_in: (1, 2)`) as the lists the models make of them."""
    if isinstance(value, (list, tuple)):
        return [lists(v) for v in value]
    if isinstance(value, dict):
        return {k: lists(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- the command


def test_fakellm_schema_prints_a_draft_7_schema(tmp_path):
    r = fakellm_cli("schema", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    jsonschema.Draft7Validator.check_schema(printed)
    assert printed == SCHEMA
    assert printed["$schema"] == "http://json-schema.org/draft-07/schema#"
    # `when.api` names what this server serves (the providers' registry), not any word.
    api = printed["$defs"]["WhenSpec"]["properties"]["api"]["anyOf"][0]
    assert set(api["enum"]) == set(registry.KNOWN_APIS) and {"openai", "openai.chat", "ollama"} <= set(api["enum"])

    r = fakellm_cli("schema", "--output", "out/s.json", cwd=tmp_path)
    assert r.returncode == 1 and "cannot write out/s.json" in r.stderr and "Traceback" not in r.stderr
    r = fakellm_cli("schema", "-o", "s.json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads((tmp_path / "s.json").read_text()) == SCHEMA


def test_init_writes_the_schema_line_and_the_schema_next_to_the_config(tmp_path):
    (tmp_path / "sub").mkdir()
    r = fakellm_cli("init", "sub/mock.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "sub" / "mock.yaml").read_text()
    first, rest = text.split("\n", 1)
    # A path relative to the config: the YAML language server resolves it from the file, offline.
    assert first == "# yaml-language-server: $schema=fakellm.schema.json"
    assert rest == starter_text()
    assert json.loads((tmp_path / "sub" / "fakellm.schema.json").read_text()) == SCHEMA
    data, _ = load_yaml(text, "mock.yaml")
    assert schema_errors(data) == []
    assert fakellm_cli("check", "--config", "sub/mock.yaml", cwd=tmp_path).returncode == 0


def test_the_schema_names_every_key_the_models_accept():
    """A key added to a model shows up in the schema (no hand-kept list to forget)."""
    for name, model in vars(models).items():
        if isinstance(model, type) and issubclass(model, models._Strict) and model is not models._Strict \
                and name in SCHEMA["$defs"] | {"ConfigSpec": SCHEMA}:
            schema = SCHEMA if name == "ConfigSpec" else SCHEMA["$defs"][name]
            keys = {info.alias or field for field, info in model.model_fields.items()}
            if name == "WhenSpec":  # and `header.<name>` keys
                assert list(schema["patternProperties"]) == ["^[hH][eE][aA][dD][eE][rR]\\..+$"]
            assert keys == set(schema["properties"]), name
            assert schema["additionalProperties"] is False, name


# --------------------------------------------------------------------------- what validates


def doc_configs() -> list[tuple[str, Any]]:
    """The YAML blocks of README.md and docs/ that are fakellm configs (others: workflows, mkdocs...)."""
    out = []
    config_keys = set(SCHEMA["properties"])
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for i, block in enumerate(re.findall(r"^```ya?ml\n(.*?)^```", path.read_text(), re.S | re.M)):
            data, _ = load_yaml(block, path.name)
            if isinstance(data, dict) and config_keys & set(data) and not is_outline(data):
                out.append((f"{path.relative_to(ROOT)} block {i}", data))
    return out


def is_outline(value: Any) -> bool:
    """A block that sketches a config's shape with `{ ... }` placeholders, not a config."""
    if isinstance(value, dict):
        return "..." in value or any(is_outline(v) for v in value.values())
    if isinstance(value, list):
        return "..." in value or any(is_outline(v) for v in value)
    return False


def test_every_config_in_the_docs_and_the_starter_validates():
    configs = [("starter", load_yaml(starter_text(), "starter")[0]), *doc_configs()]
    assert len(configs) > 10
    for where, data in configs:
        assert check_problems(data) == [], where
        assert schema_errors(data) == [], where


def configs_in_tests():
    """Every config written in the tests (YAML text and dict literals), as loaded, with the file it is in."""
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            data = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(
                    r"^\s*(rules|defaults|models):", node.value, re.M):
                try:
                    data, _ = load_yaml(textwrap.dedent(node.value), path.name)
                except ConfigError:
                    continue  # refused as YAML (duplicate keys, aliases, control characters): no data to check
            elif isinstance(node, ast.Dict):
                try:
                    data = ast.literal_eval(node)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
            if isinstance(data, dict) and data.keys() & {"rules", "defaults", "models"}:
                found.append((f"{path.name}:{node.lineno}", lists(data)))
    return found


def test_the_tests_configs_agree_with_check():
    """Valid for `fakellm check` means valid for the schema; invalid means invalid, unless only a check
    beyond JSON Schema finds the problem."""
    configs = configs_in_tests()
    accepted = rejected = 0
    for where, data in configs:
        problems, errors = check_problems(data), schema_errors(data)
        if not problems:
            accepted += 1
            assert errors == [], (where, errors)
        elif not errors:
            assert beyond_json_schema(problems), (where, problems)
        else:
            rejected += 1
    assert accepted > 100 and rejected > 20, (accepted, rejected)


# --------------------------------------------------------------------------- what does not


@pytest.mark.parametrize("text,expected", UNKNOWN_KEYS + WRONG_VALUES)
def test_the_schema_rejects_what_check_rejects(text, expected):
    try:
        data, _ = load_yaml(text, "fakellm.yaml")
    except ConfigError as e:
        # Refused while reading the YAML (syntax, duplicate keys): before any schema sees data.
        assert any(expected in str(p) for p in e.problems)
        return
    problems = check_problems(data)
    assert problems, text
    if beyond_json_schema(problems):
        return
    assert schema_errors(data), (text, problems)


@pytest.mark.parametrize("text", [
    "rules: [{respond: {content: a, json: {b: 1}}}]",
    "rules: [{respond: {template: '{{ model }}', content: a}}]",
    "rules: [{respond: {template: '{{ model }}', embedding: [1]}}]",
    "defaults: {chunk_delay_ms: 5, tokens_per_second: 5}",
    "rules: [{respond: {fault: {type: hang, status: 500}}}]",
    "rules: [{respond: {fault: {type: empty, after_chunks: 1}}}]",
    "rules: [{respond: {fault: hangs}}]",
    "rules: [{respond: {fault: 5}}]",
    "rules: [{respond: []}]",
    "rules: [{respond: {tool_calls: always}}]",
    "rules: [{rate_limit: {per: global}}]",
    "rules: [{when: {headers: {x-a: 1}}}]",
    "rules: [{when: {api: openai.chatt}}]",
    "rules: [{respond: {headers: {Transfer-Encoding: chunked}}}]",
    "rules: [{respond: {embedding: []}}]",
    "models: ['']",
    "models: [{owned_by: me}]",
])
def test_keys_that_exclude_each_other_and_shorthands_gone_wrong(text):
    data, _ = load_yaml(text, "fakellm.yaml")
    assert check_problems(data), text
    assert schema_errors(data), text


@pytest.mark.parametrize("text", [
    "rules: [{respond: {fault: hang}}]",
    "rules: [{respond: {fault: {type: error_event, status: 500, error: down}}}]",
    "rules: [{respond: [{content: a}, {status: 503}]}]",
    "rules: [{respond: null}, {name: bare}]",
    "rules: [{respond: {tool_calls: auto}}]",
    "rules: [{respond: {json: {a: 1}, content: null}}]",
    "rules: [{when: {Header.X-Scenario: 5, header.x-b: on}}]",
    "rules: [{rate_limit: {tokens_per_minute: 100}}]",
    "defaults: null\nrules: null\nmodels: [gpt-4o, {id: e, dimensions: 3}]",
    "rules: [{respond: {embedding: [[1, 0], [0, 1]]}}]",
])
def test_shorthands_validate(text):
    data, _ = load_yaml(text, "fakellm.yaml")
    assert check_problems(data) == [], text
    assert schema_errors(data) == [], text


def test_without_the_servers_api_names_any_well_formed_name_passes():
    """The config layer does not know the providers: its schema checks an api name's form only."""
    plain = jsonschema.Draft7Validator(config_json_schema())
    assert plain.is_valid({"rules": [{"when": {"api": "opnai"}}]})
    assert not plain.is_valid({"rules": [{"when": {"api": "OpenAI Chat"}}]})
    assert not VALIDATOR.is_valid({"rules": [{"when": {"api": "opnai"}}]})


def test_what_only_check_finds_is_listed():
    """Each exception in BEYOND_JSON_SCHEMA is real: check rejects, the schema accepts."""
    examples = {
        "not a valid regular expression": "rules: [{when: {messages_match: '(a'}}]",
        "template": "rules: [{respond: {template: '{{ x'}}]",
        "must be JSON text": "rules: [{respond: {tool_calls: [{name: f, arguments: 'x'}]}}]",
        "must be a JSON object": "rules: [{respond: {tool_calls: [{name: f, arguments: '[1]'}]}}]",
        "is greater than high": "rules: [{when: {turn_in: [3, 1]}}]",
        "must not exceed context_window": "models: [{id: m, context_window: 10, max_output_tokens: 20}]",
        "is listed twice": "models: [a, a]",
        "the same length": "rules: [{respond: {embedding: [[1], [1, 2]]}}]",
        "must be JSON (": "rules: [{respond: {json: .nan}}]",
    }
    assert examples.keys() == BEYOND_JSON_SCHEMA.keys()
    for fragment, text in examples.items():
        data, _ = load_yaml(text, "fakellm.yaml")
        problems = check_problems(data)
        assert any(fragment in p for p in problems), (text, problems)
        assert schema_errors(data) == [], text
