"""Configs a careless or hostile user can write (issue 12, items 8 and 9): YAML bombs, deep nesting,
control characters, bytes that are not UTF-8, numbers too large for what they reach, thousands of
problems. Each is a reported problem with its line and column, over PUT /_fakellm/config, POST
/_fakellm/reload and `fakellm check` (exit 2, no traceback), quickly; the server keeps serving the
config it had, unchanged."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import openai
import pytest

from fakellm import FakeLLM
from fakellm.config import ConfigError, load_config, parse_config

SERVING = "rules:\n  - name: serving\n    respond: {content: still the old config}\n"


def laughs(levels: int) -> str:
    """The "billion laughs": each level an anchored list of nine aliases of the one before."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# (name, file content, where the problem is, what it says)
HOSTILE: list[tuple[str, bytes, tuple[int, int], str]] = [
    ("billion laughs, six levels", laughs(6).encode(), (6, 10), "aliases expand to more than 100,000 values"),
    ("a recursive alias", b"rules: &r [{name: x, respond: {content: *r}}]\n", (1, 41), "cannot be recursive"),
    ("a recursive merge key", b"defaults: &d {<<: *d}\nrules: []\n", (1, 19), "cannot be recursive"),
    ("600 nested flow lists", b"rules: [{name: deep, respond: {tool_calls: [{name: f, arguments: {x: "
     + b"[" * 600 + b"]" * 600 + b"}}]}}]\n", (1, 163), "nests more than 100 levels deep"),
    ("600 nested block mappings", b"".join(b"  " * i + b"k%d:\n" % i for i in range(600)) + b"  " * 600 + b"x: 1\n",
     (100, 199), "nests more than 100 levels deep"),
    ("a NUL character", b"rules: []\n# a comment\x00 with a NUL\n", (2, 12), "U+0000 is not allowed"),
    ("a control character", b"rules:\n  - name: \"bell\x07\"\n", (2, 16), "U+0007 is not allowed"),
    ("an escape character", b"rules: [{name: \x1b[31mred}]\n", (1, 16), "U+001B is not allowed"),
    ("bytes that are not UTF-8", b"rules:\n  - name: caf\xe9\n", (2, 14), "not UTF-8"),
    ("journal_size above 2^63", b"defaults:\n  journal_size: 9223372036854775809\nrules: []\n", (2, 17),
     "journal_size: Input should be less than or equal to 1000000"),
    ("a 5,000-digit seed", b"defaults: {seed: " + b"9" * 5000 + b"}\nrules: []\n", (1, 18), "cannot read this value"),
    ("a 13th month", b"rules: [{name: 2026-13-01}]\n", (1, 16), "cannot read this value (ValueError: month must be in 1..12)"),
    ("a date in tool-call arguments", b"rules:\n  - respond:\n      tool_calls: [{name: f, arguments: {day: 2026-12-01}}]\n",
     (3, 41), "arguments: must be JSON (Object of type date is not JSON serializable)"),
    ("a regular expression's repeat too large", b'rules: [{when: {messages_match: "a{4294967296}"}}]\n', (1, 33),
     "not a valid regular expression: the repetition number is too large"),
    ("an integer beyond 64 bits", b"rules:\n  - respond:\n      tool_calls: [{name: f, arguments: {n: 1" + b"0" * 20
     + b"}}]\n", (3, 45), "the integer 100000000000000000000 does not fit in 64 bits"),
]
IDS = [case[0] for case in HOSTILE]


@pytest.mark.parametrize("name, content, where, message", HOSTILE, ids=IDS)
def test_a_hostile_config_is_a_problem_with_its_position(tmp_path, name, content, where, message):
    path = tmp_path / "x.yaml"
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.monotonic() - started < 2
    (problem,) = info.value.problems
    assert message in problem.message, problem
    assert (problem.source, problem.line, problem.col) == (str(path), *where), problem


def test_the_billion_laughs_is_refused_at_once():
    text = laughs(9)  # 432 bytes that stand for 9**9 (387 million) strings
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases expand to more than 100,000 values"):
        parse_config(text, "x.yaml")
    assert time.monotonic() - started < 1


def test_anchors_that_share_a_block_between_rules_still_work():
    text = "shared: &answer {content: the same answer}\nrules:\n" + "".join(
        f"  - {{name: r{i}, when: {{messages_contain: w{i}}}, respond: *answer}}\n" for i in range(500))
    with pytest.raises(ConfigError, match="unknown key 'shared'"):  # anchors must sit in a known key...
        parse_config(text, "x.yaml")
    text = "rules:\n  - {name: r0, when: {messages_contain: w0}, respond: &answer {content: the same answer}}\n" + \
        "".join(f"  - {{name: r{i}, when: {{messages_contain: w{i}}}, respond: *answer}}\n" for i in range(1, 500))
    config = parse_config(text, "x.yaml")  # ...and may be used hundreds of times
    assert len(config.rules) == 500 and config.rules[499].respond[0].content == "the same answer"


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "fakellm.yaml"
    path.write_text(SERVING)
    with FakeLLM(path) as server:
        yield server


def still_serving(llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "still the old config"
    rules = httpx.get(f"{llm.url}/_fakellm/rules").json()
    assert [r["name"] for r in rules["rules"]] == ["serving"]


@pytest.mark.parametrize("name, content, where, message", HOSTILE, ids=IDS)
def test_put_of_a_hostile_config_is_a_400_with_the_problem(llm, name, content, where, message):
    started = time.monotonic()
    response = httpx.put(f"{llm.url}/_fakellm/config", content=content, timeout=30)
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["message"] == "invalid config; still serving the previous one"
    (problem,) = error["problems"]
    assert message in problem["message"]
    assert (problem["source"], problem["line"], problem["column"]) == ("PUT /_fakellm/config", *where)
    still_serving(llm)


@pytest.mark.parametrize("name, content, where, message", HOSTILE, ids=IDS)
def test_reload_of_a_hostile_file_is_a_400_with_the_problem(llm, name, content, where, message):
    path = llm.app.config_path
    path.write_bytes(content)
    try:
        response = httpx.post(f"{llm.url}/_fakellm/reload", timeout=30)
    finally:
        path.write_text(SERVING)
    assert response.status_code == 400, response.text
    (problem,) = response.json()["error"]["problems"]
    assert message in problem["message"]
    assert (problem["source"], problem["line"], problem["column"]) == (str(path), *where)
    assert httpx.get(f"{llm.url}/_fakellm/rules").json()["last_reload_error"] == [problem]
    still_serving(llm)


@pytest.mark.parametrize("name, content, where, message", HOSTILE, ids=IDS)
def test_check_of_a_hostile_file_exits_2_without_a_traceback(tmp_path, name, content, where, message):
    (tmp_path / "bad.yaml").write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "fakellm", "check", "--config", "bad.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "bad.yaml: 1 problem(s)"
    assert lines[1].startswith(f"bad.yaml:{where[0]}:{where[1]}: ") and message in lines[1], lines


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("setting, value", [
    ("defaults: {max_conversations: %s}", 10**7 + 1),
    ("defaults: {max_tool_results: %s}", 10**6 + 1),
    ("defaults: {journal_size: %s}", 10**6 + 1),
    ("defaults: {journal_body_bytes: %s}", 2**30 + 1),
    ("defaults: {max_body_bytes: %s}", 2**30 + 1),
    ("defaults: {max_responses: %s}", 10**7 + 1),
    ("defaults: {seed: %s}", 2**63),
    ("defaults: {hang_limit_s: %s}", 86_401),
    ("defaults: {delay_ms: %s}", ".inf"),
    ("defaults: {ttft_ms: %s}", 3_600_001),
    ("defaults: {chunk_delay_ms: %s}", ".nan"),
    ("defaults: {tokens_per_second: %s}", "1.0e+10"),
    ("defaults: {chunk_size: %s}", 10**6 + 1),
    ("defaults: {rate_limit: {requests_per_minute: %s}}", 2**31),
    ("defaults: {rate_limit: {tokens_per_minute: %s}}", 2**31),
    ("rules: [{times: %s}]", 2**31),
    ("rules: [{when: {turn: %s}}]", 2**31),
    ("rules: [{when: {turn_in: [1, %s]}}]", 2**31),
    ("rules: [{respond: {usage: {input_tokens: %s}}}]", 2**31),
    ("rules: [{respond: {fault: {type: truncate, after_chunks: %s}}}]", 2**31),
    ("rules: [{respond: {status: 500, error: {message: x, code: %s}}}]", 2**63),
    ("models: [{id: m, created: %s}]", 2**53),
    ("models: [{id: m, input_token_limit: %s}]", 2**31),
    ("version: %s", 2**63),
])
def test_numbers_have_upper_bounds(setting, value):
    text = setting % value + ("\nrules: []\n" if not setting.startswith("rules") else "\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.yaml")
    (problem,) = info.value.problems
    assert "less than or equal to" in problem.message, problem
    assert problem.line == 1 and problem.col is not None


def test_a_rejected_config_changes_nothing_not_even_the_store_bounds(llm):
    """0.3.x applied what it could of `journal_size: 2**64` (the rules, fewer conversations kept)
    before failing with a 500."""
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    for k in range(3):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-fakellm-conversation-id": f"kept-{k}"})
    before = httpx.get(f"{llm.url}/_fakellm/conversations").json()["total"]
    assert before >= 3
    response = httpx.put(f"{llm.url}/_fakellm/config",
                         content=f"defaults: {{max_conversations: 1, journal_size: {2**64}}}\n"
                                 f"rules: [{{name: new, respond: {{content: new}}}}]\n")
    assert response.status_code == 400
    assert httpx.get(f"{llm.url}/_fakellm/conversations").json()["total"] == before
    assert httpx.get(f"{llm.url}/_fakellm/rules").json()["totals"]["journal_size"] == 1_000
    still_serving(llm)


def test_the_memory_store_applies_bounds_that_cannot_fail():
    """The memory store keeps no structure whose size a bound could overflow (the journal is trimmed by
    count and bytes, not a deque's maxlen), so resizing is never half-applied."""
    import asyncio

    from fakellm.store.base import Bounds
    from fakellm.store.memory import MemoryStore

    store = MemoryStore(Bounds(max_conversations=10, journal_size=5))
    asyncio.run(store.open_turn("a", 0.0, None, ()))
    asyncio.run(store.open_turn("b", 0.0, None, ()))
    asyncio.run(store.resize(Bounds(max_conversations=1, journal_size=2**64)))
    assert asyncio.run(store.conversation_count()) == 1
    assert asyncio.run(store.journal_info())[2] == 2**64


# --------------------------------------------------------------------------- many problems


def test_thousands_of_problems_are_found_in_linear_time():
    """Each problem used to be compared with every one found before it: 8,000 unknown keys took 4 s."""
    text = "rules:\n" + "".join(f"  - {{name: r{i}, whne{i}: 1}}\n" for i in range(16_000))
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.yaml")
    assert time.monotonic() - started < 10
    assert len(info.value.problems) == 16_000
    assert str(info.value.problems[-1]) == "x.yaml:16001:20: rules[15999] (r15999): unknown key 'whne15999' in rule"


def test_check_of_thousands_of_rules_is_quick(tmp_path):
    """The shadowed-rule warning compared every rule with every earlier one: minutes for 5,000 rules."""
    rules = "".join(f"  - name: r{i}\n    when: {{messages_contain: w{i}, turn: 1}}\n    respond: {{content: a{i}}}\n"
                    for i in range(5_000))
    (tmp_path / "big.yaml").write_text("rules:\n" + rules + "  - name: shadowed\n"
                                       "    when: {messages_contain: w7, turn: 1, api: openai}\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fakellm", "check", "--config", "big.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 0, result.stderr
    assert "rule 'shadowed' can never fire: rule 'r7' comes first" in result.stderr
    assert "big.yaml: ok (5001 rule(s), 1 warning(s))" in result.stdout


def test_values_that_cannot_be_sent_as_json_are_problems_from_python_too():
    """Found when the config was compiled, as a TypeError (a 500 from PUT, a traceback from serve)."""
    import datetime

    from fakellm.config import config_from_data

    for arguments in ({"day": datetime.date(2026, 12, 1)}, {"raw": b"bytes"}, {"n": 10**30}, {"x": float("nan")}):
        with pytest.raises(ConfigError, match=r"rules\[0\]\.respond\.tool_calls\[0\]\.arguments: must be JSON"):
            config_from_data({"rules": [{"respond": {"tool_calls": [{"name": "f", "arguments": arguments}]}}]})
    with pytest.raises(ConfigError, match="embedding must be a non-empty list of \\(finite\\) numbers"):
        config_from_data({"rules": [{"respond": {"embedding": [0.5, float("inf")]}}]})
    with pytest.raises(ConfigError, match="the number 1000000000000000000000 is too large"):
        config_from_data({"rules": [{"respond": {"headers": {"x-n": 10**21}}}]})
