"""Garbage configs (issue 12, item 9): hundreds of mutations of the starter config and of generated
configs are each either served or refused with problems, never an exception that escapes (which
was a 500 from PUT and a traceback from `fakellm check`). Seeded: a failure reproduces."""

from __future__ import annotations

import json
import random

import httpx
import orjson
import pytest

from fakellm import FakeLLM
from fakellm.app import build_app
from fakellm.config import ConfigError, config_from_data, parse_config
from fakellm.config.lint import lint
from fakellm.config.starter import starter_text

TOKENS = [" ", "\n", ":", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!binary ", "!!set ", "!!float ", "!!int ",
          "!!str ", "!!python/object ", "<<: ", "? ", "|", ">", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "~",
          "1.0e+400", "-.inf", ".nan", "0x1F", "1_000", "2026-01-01", "2026-13-01", "9" * 30, "\t", "\\u0000", "é",
          "\U0001F600", "!", "@", "`", "%", "\x7f", "\u2028"]
KEYS = ["turn", "turn_in", "times", "status", "delay_ms", "journal_size", "seed", "probability", "arguments",
        "headers", "embedding", "fault", "rate_limit", "usage", "models", "api", "messages_match", "header.x",
        "respond", "when", "error", "code", "tool_calls", "id", "created", "dimensions"]
VALUES = TOKENS + ["[1, 2]", "{a: 1}", "5", "-1", "0", "'x'", "[]", "{}", "2147483648", "18446744073709551616"]


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(text))
        op = rng.random()
        if op < 0.4:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif op < 0.6:
            text = text[:pos] + text[pos + rng.randint(1, 20):]
        elif op < 0.8:
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            indent = len(lines[j]) - len(lines[j].lstrip())
            lines.insert(j + 1, " " * indent + f"{rng.choice(KEYS)}: {rng.choice(VALUES)}")
            text = "\n".join(lines)
        else:
            start = rng.randrange(len(text))
            text = text[:pos] + text[start:start + 30] + text[pos:]
    return text


def served_or_refused(config_or_error) -> None:
    """A config that loads must also compile, lint and show as JSON (GET /_fakellm/config)."""
    if isinstance(config_or_error, ConfigError):
        assert config_or_error.problems and all(p.source and p.message for p in config_or_error.problems)
        return
    lint(config_or_error)
    build_app(config_or_error)
    orjson.dumps(config_or_error.spec.model_dump(mode="json", exclude_defaults=True), option=orjson.OPT_NON_STR_KEYS)


def load(text: str):
    try:
        return parse_config(text, "fuzz.yaml")
    except ConfigError as e:
        return e


@pytest.mark.parametrize("seed", range(4))
def test_mutated_starter_configs_are_served_or_refused(seed):
    rng = random.Random(seed)
    base = starter_text()
    for _ in range(150):
        served_or_refused(load(mutate(base, rng)))


SCALARS = [0, 1, -1, 10**6, 2**31, 2**63 - 1, -2**63, 0.5, 1e308, float("inf"), float("nan"), "", "x", "openai",
           "openai.chat", "*", "(", "user", "tool", True, False, None, "a" * 100, "\x00", "\r\n", "truncate", "hang"]
SECTIONS = {
    "top": ["version", "defaults", "rules", "models"],
    "defaults": ["fallback", "turns", "max_conversations", "journal_size", "seed", "delay_ms", "jitter", "chunk_size",
                 "hang_limit_s", "rate_limit", "max_body_bytes"],
    "rule": ["name", "when", "respond", "times", "cycle", "probability", "rate_limit"],
    "when": ["messages_contain", "messages_match", "model_matches", "turn", "turn_in", "previous_message_role", "api",
             "header.x-a", "tool_result_contains"],
    "respond": ["content", "tool_calls", "status", "error", "headers", "finish_reason", "usage", "fault", "embedding",
                "tokens_per_second"],
}
NESTED = {"defaults": "defaults", "when": "when", "respond": "respond"}


def generated(rng: random.Random, kind: str = "top", depth: int = 0):
    def value(level: int):
        roll = rng.random()
        if level > 3 or roll < 0.5:
            return rng.choice(SCALARS)
        if roll < 0.75:
            return [value(level + 1) for _ in range(rng.randint(0, 3))]
        return {str(rng.choice(SCALARS)): value(level + 1) for _ in range(rng.randint(0, 3))}

    out = {}
    for key in rng.sample(SECTIONS[kind], rng.randint(0, 4)):
        if key in NESTED and rng.random() < 0.7:
            out[key] = generated(rng, NESTED[key], depth + 1)
        elif key == "rules" and rng.random() < 0.8:
            out[key] = [generated(rng, "rule", depth + 1) for _ in range(rng.randint(0, 4))]
        elif key == "tool_calls" and rng.random() < 0.6:
            out[key] = [{"name": "f", "arguments": value(0)} for _ in range(rng.randint(0, 2))]
        else:
            out[key] = value(0)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_generated_configs_from_python_and_json_are_served_or_refused(seed):
    rng = random.Random(seed)
    for _ in range(150):
        data = generated(rng)
        try:
            served_or_refused(config_from_data(data, "fuzz"))
        except ConfigError as e:
            served_or_refused(e)
        try:
            text = json.dumps(data, allow_nan=False)
        except ValueError:
            continue
        served_or_refused(load(text))


def test_put_of_garbage_configs_is_never_a_500():
    rng = random.Random(7)
    base = starter_text()
    with FakeLLM(rules=[{"name": "serving", "respond": {"content": "ok"}}]) as llm, httpx.Client() as http:
        for _ in range(60):
            response = http.put(f"{llm.url}/_fakellm/config", content=mutate(base, rng).encode("utf-8", "replace"))
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert response.json()["error"]["problems"]
        assert http.get(f"{llm.url}/_fakellm/health").json()["status"] == "ok"
