"""Request journal, miss explanations, strict mode, runtime config and `fakellm check` warnings."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest
from click.testing import CliRunner

from fakellm import FakeLLM
from fakellm.cli import main as cli
from helpers import app_from, openai_client

AGENT_RULES = [
    {"name": "kickoff_research", "when": {"turn": 1, "messages_contain": "research"},
     "respond": {"tool_calls": [{"name": "web_search", "arguments": {"query": "fakellm"}}]}},
    {"name": "summarize_results", "when": {"turn": 2, "tool_result_contains": "found"},
     "respond": {"content": "Based on the search, I found what you were looking for."}},
]

ENTRY_KEYS = {"id", "time", "api", "path", "model", "stream", "conversation_id", "turn", "rule", "request",
              "headers", "reply"}


@pytest.fixture(scope="module")
def llm():
    with FakeLLM(rules=AGENT_RULES) as server:
        yield server


@pytest.fixture
def fresh(llm):
    llm.set_config({"rules": AGENT_RULES})
    llm.reset()
    return llm


def journal(llm, **params) -> list[dict]:
    response = httpx.get(f"{llm.url}/_fakellm/requests", params=params)
    assert response.status_code == 200, response.text
    return response.json()["requests"]


def test_journal_entry_has_exactly_the_documented_keys(fresh):
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="sk-secret-openai", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "please research"}])
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    hit, miss = journal(fresh)
    assert set(hit) == ENTRY_KEYS
    assert set(miss) == ENTRY_KEYS | {"explanation"}
    assert set(hit["reply"]) == {"status", "content", "tool_calls", "error"}
    assert hit["id"] < miss["id"]
    assert hit["api"] == "openai.chat" and hit["path"] == "/v1/chat/completions"
    assert hit["model"] == "gpt-4o-mini" and hit["stream"] is False and hit["turn"] == 1
    assert hit["rule"] == "kickoff_research" and miss["rule"] is None
    assert hit["request"]["messages"] == [{"role": "user", "content": "please research"}]
    assert hit["reply"]["status"] == 200
    assert hit["reply"]["tool_calls"][0]["name"] == "web_search"
    assert json.loads(hit["reply"]["tool_calls"][0]["arguments"]) == {"query": "fakellm"}
    assert miss["reply"]["content"].startswith("[mock response for gpt-4o-mini")
    assert isinstance(hit["time"], float) and hit["conversation_id"].startswith("conv-")


def test_secrets_are_redacted_for_every_auth_header(fresh):
    openai.OpenAI(base_url=fresh.openai_base_url, api_key="sk-secret-openai", max_retries=0).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    anthropic.Anthropic(base_url=fresh.anthropic_base_url, api_key="sk-ant-secret", max_retries=0).messages.create(
        model="claude-test-model", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    httpx.post(f"{fresh.openai_base_url}/chat/completions",
               headers={"x-goog-api-key": "goog-secret", "api-key": "azure-secret", "x-api-key": "ant-key-secret",
                        "x-trace": "kept"},
               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    entries = journal(fresh)
    assert len(entries) == 3
    dumped = json.dumps(entries)
    for secret in ("sk-secret-openai", "sk-ant-secret", "goog-secret", "azure-secret", "ant-key-secret"):
        assert secret not in dumped
    assert entries[0]["headers"]["authorization"] == "[redacted]"
    # The Anthropic SDK sends its key as x-api-key or as a bearer token, depending on the version.
    assert "[redacted]" in (entries[1]["headers"].get("x-api-key"), entries[1]["headers"].get("authorization"))
    assert entries[2]["headers"]["x-api-key"] == "[redacted]"
    assert entries[2]["headers"]["x-goog-api-key"] == "[redacted]"
    assert entries[2]["headers"]["api-key"] == "[redacted]"
    assert entries[2]["headers"]["x-trace"] == "kept"


SECRET_HEADERS = {
    "cookie": "session=abc", "openai-organization": "org-secret", "openai-project": "proj-secret",
    "ocp-apim-subscription-key": "apim-secret", "x-amz-security-token": "amz-secret", "x-auth-token": "auth-secret",
    "helicone-auth": "Bearer helicone-secret", "x-portkey-api-key": "portkey-secret",
    "x-my-session-id": "sess-secret", "x-client-secret": "cs-value-1", "x-custom-token": "tok-secret",
}


def test_gateway_and_cloud_secrets_are_redacted_in_the_journal_and_the_python_api(fresh):
    httpx.post(f"{fresh.openai_base_url}/chat/completions", headers={**SECRET_HEADERS, "x-trace": "kept"},
               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    entry = journal(fresh)[-1]
    dumped = json.dumps(entry)
    assert [value for value in SECRET_HEADERS.values() if value in dumped] == []
    assert {name: entry["headers"][name] for name in SECRET_HEADERS} == {name: "[redacted]" for name in SECRET_HEADERS}
    assert entry["headers"]["x-trace"] == "kept"
    recorded = fresh.requests[-1]
    assert all(recorded.headers[name] == "[redacted]" for name in SECRET_HEADERS)
    assert recorded.headers["x-trace"] == "kept"


def test_filters_limit_and_delete(fresh):
    oa = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    an = anthropic.Anthropic(base_url=fresh.anthropic_base_url, api_key="x", max_retries=0)
    oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "research A"}])
    oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "nothing"}],
                               extra_headers={"X-Fakellm-Conversation-Id": "conv-fixed"})
    an.messages.create(model="claude-test-model", max_tokens=50, messages=[{"role": "user", "content": "research B"}])

    assert [e["rule"] for e in journal(fresh)] == ["kickoff_research", None, "kickoff_research"]
    assert [e["api"] for e in journal(fresh, rule="kickoff_research")] == ["openai.chat", "anthropic.messages"]
    assert [e["request"]["messages"][0]["content"] for e in journal(fresh, rule="none")] == ["nothing"]
    assert [e["rule"] for e in journal(fresh, conversation="conv-fixed")] == [None]
    assert [e["api"] for e in journal(fresh, api="anthropic")] == ["anthropic.messages"]
    assert [e["api"] for e in journal(fresh, api="openai.chat")] == ["openai.chat", "openai.chat"]
    assert [e["request"]["model"] for e in journal(fresh, limit=1)] == ["claude-test-model"]  # the newest one

    bad = httpx.get(f"{fresh.url}/_fakellm/requests", params={"limit": "many"})
    assert bad.status_code == 400 and "limit" in bad.json()["error"]["message"]

    cleared = httpx.delete(f"{fresh.url}/_fakellm/requests")
    assert cleared.status_code == 200 and cleared.json() == {"cleared_requests": 3}
    assert journal(fresh) == []
    # The server keeps serving and journaling after all that.
    oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "research C"}])
    assert len(journal(fresh)) == 1


def test_journal_is_a_bounded_ring_buffer(llm):
    llm.set_config({"defaults": {"journal_size": 3}, "rules": []})
    llm.reset()
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    for i in range(5):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"m{i}"}])
    assert [e["request"]["messages"][0]["content"] for e in journal(llm)] == ["m2", "m3", "m4"]


def test_journal_does_not_keep_bodies_over_journal_body_bytes(llm):
    llm.set_config({"defaults": {"journal_body_bytes": 2000}, "rules": [{"respond": {"content": "ok"}}]})
    llm.reset()
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    big = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x" * 5000}])
    small = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "small"}])
    assert big.choices[0].message.content == small.choices[0].message.content == "ok"
    first, second = journal(llm)
    assert "not kept in the journal" in first["request"]["_fakellm"]
    assert "journal_body_bytes: 2000" in first["request"]["_fakellm"]
    assert first["reply"]["content"] == "ok" and first["model"] == "gpt-4o"
    assert second["request"]["messages"][0]["content"] == "small"


def test_streamed_request_is_journaled_with_its_reply(fresh):
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "research streams"}]))
    assert chunks[0].choices[0].delta.tool_calls or chunks[1].choices[0].delta.tool_calls
    (entry,) = journal(fresh)
    assert entry["stream"] is True and entry["rule"] == "kickoff_research"
    assert entry["reply"]["tool_calls"][0]["name"] == "web_search"


# --------------------------------------------------------------------------- why didn't my rule fire?


def test_explanation_names_the_closest_rule_and_each_condition(fresh):
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    # Turn 2 (one assistant message), no tool results: summarize_results is closest (turn holds).
    client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "what now?"},
    ])
    # Turn 1, two messages, no "research": kickoff_research is closest.
    client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ])
    second, first = journal(fresh)[::-1]
    exp = first["explanation"]
    assert exp["closest_rule"] == "summarize_results"
    assert {c["condition"]: c["held"] for c in exp["conditions"]} == {
        "turn 2": True, 'tool_result_contains "found"': False}
    assert 'tool_result_contains "found": the request carries no tool results' in exp["summary"]

    exp = second["explanation"]
    assert exp["closest_rule"] == "kickoff_research"
    assert 'messages_contain "research": not found in the 2 messages' in exp["summary"]
    assert "turn 1: ok" not in exp["summary"]  # only the conditions that failed are listed


def test_explanation_shows_the_turn_the_request_is(fresh):
    fresh.set_rules([{"name": "second", "when": {"turn": 2, "messages_contain": "hello"},
                      "respond": {"content": "x"}}])
    openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    (entry,) = journal(fresh)
    assert entry["explanation"]["summary"] == 'closest rule "second": turn 2: request is turn 1'


def test_explanation_mentions_an_exhausted_times_limit(fresh):
    fresh.set_rules([{"name": "once", "times": 1, "respond": {"content": "only once"}},
                     {"name": "other", "when": {"model_matches": "claude-*"}, "respond": {"content": "claude"}}])
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    ask = lambda: client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "same"}])
    assert ask().choices[0].message.content == "only once"
    assert ask().choices[0].message.content.startswith("[mock response")
    exp = journal(fresh, rule="none")[0]["explanation"]
    assert exp["closest_rule"] == "once"
    assert "times: 1" in exp["summary"]


# --------------------------------------------------------------------------- strict mode


STRICT = {"defaults": {"fallback": "error"}, "rules": AGENT_RULES}


def test_strict_openai_raises_not_found_with_the_explanation_and_does_not_retry(llm):
    llm.set_config(STRICT)
    llm.reset()
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x")  # default retries (2)
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    err = raised.value
    assert err.status_code == 404
    assert err.code == "fakellm_no_match"
    assert 'messages_contain "research": not found in the 1 message' in err.message
    entries = journal(llm)
    assert len(entries) == 1  # not retried
    assert entries[0]["headers"]["x-stainless-retry-count"] == "0"
    assert entries[0]["reply"]["status"] == 404 and entries[0]["reply"]["error"]["code"] == "fakellm_no_match"
    # A matching request still works.
    ok = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "research"}])
    assert ok.choices[0].message.tool_calls[0].function.name == "web_search"


def test_strict_anthropic_raises_not_found_with_the_explanation_and_does_not_retry(llm):
    llm.set_config(STRICT)
    llm.reset()
    client = anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="x")  # default retries (2)
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="claude-test-model", max_tokens=100,
                               messages=[{"role": "user", "content": "hello"}])
    assert raised.value.status_code == 404
    assert "fakellm_no_match" in str(raised.value.body) or "no rule matched" in raised.value.message
    assert 'messages_contain "research": not found in the 1 message' in raised.value.message
    assert len(journal(llm)) == 1


def test_strict_streaming_request_raises_too(llm):
    llm.set_config(STRICT)
    llm.reset()
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x")
    with pytest.raises(openai.NotFoundError, match="no rule matched"):
        client.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hello"}])
    assert len(journal(llm)) == 1


# --------------------------------------------------------------------------- runtime config


def test_put_yaml_config_replaces_the_rules(fresh):
    yaml_text = "rules:\n  - name: greet\n    respond:\n      content: hi from yaml\n"
    response = httpx.put(f"{fresh.url}/_fakellm/config", content=yaml_text)
    assert response.status_code == 200 and response.json() == {"replaced": True, "rules": 1}
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "research"}])
    assert reply.choices[0].message.content == "hi from yaml"
    active = httpx.get(f"{fresh.url}/_fakellm/config").json()
    assert active["text"] == yaml_text
    assert active["config"]["rules"] == [{"name": "greet", "respond": [{"content": "hi from yaml"}]}]


def test_put_json_config(fresh):
    body = {"defaults": {"fallback": "error"}, "rules": [{"name": "j", "when": {"model_matches": "claude-*"},
                                                           "respond": {"content": "from json"}}]}
    response = httpx.put(f"{fresh.url}/_fakellm/config", content=json.dumps(body),
                         headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    client = anthropic.Anthropic(base_url=fresh.anthropic_base_url, api_key="x", max_retries=0)
    reply = client.messages.create(model="claude-test-model", max_tokens=50, messages=[{"role": "user", "content": "q"}])
    assert reply.content[0].text == "from json"
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "q"}])
    assert httpx.get(f"{fresh.url}/_fakellm/config").json()["config"]["defaults"] == {"fallback": "error"}


@pytest.mark.parametrize("body, expected", [
    ("rules:\n  - name: a\n    whne: {turn: 1}\n", "unknown key 'whne' in rule (did you mean 'when'?)"),
    ("rules:\n  - when:\n      turn: two\n", "expected an integer"),
    ('{"rules": [{"respond": {"status": "x"}}]', "expected ',' or '}'"),  # broken JSON
    ("- just\n- a list\n", "must be a mapping"),
    ("defaults: {fallback: explode}\n", "fallback"),
    ("", "the config is empty"),  # an empty body serves nothing: an error, not zero rules
    ("null\n", "the config is empty"),
])
def test_put_invalid_config_is_400_with_the_problems_and_keeps_the_old_one(fresh, body, expected):
    response = httpx.put(f"{fresh.url}/_fakellm/config", content=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "still serving the previous" in error["message"]
    assert any(expected in p["message"] for p in error["problems"]), error["problems"]
    assert all(p["source"] == "PUT /_fakellm/config" for p in error["problems"])
    # The old config keeps serving.
    client = openai.OpenAI(base_url=fresh.openai_base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "research"}])
    assert reply.choices[0].message.tool_calls[0].function.name == "web_search"
    assert [r["name"] for r in httpx.get(f"{fresh.url}/_fakellm/config").json()["config"]["rules"]] == [
        "kickoff_research", "summarize_results"]


def test_put_config_problems_carry_line_and_column(fresh):
    response = httpx.put(f"{fresh.url}/_fakellm/config", content="rules:\n  - name: a\n    whne: {turn: 1}\n")
    (problem,) = response.json()["error"]["problems"]
    assert (problem["line"], problem["column"]) == (3, 5)


def test_put_config_rejects_non_utf8(fresh):
    response = httpx.put(f"{fresh.url}/_fakellm/config", content=b"rules: []\n# caf\xe9\n")
    assert response.status_code == 400
    (problem,) = response.json()["error"]["problems"]
    assert "not UTF-8" in problem["message"] and (problem["line"], problem["column"]) == (2, 6)


# --------------------------------------------------------------------------- fakellm check


def check(tmp_path, text: str):
    path = tmp_path / "fakellm.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    # `file:line:col: warning: message`, as compilers write them
    return result.exit_code, [line for line in result.stderr.splitlines() if ": warning: " in line]


def test_check_warns_about_a_shadowed_rule(tmp_path):
    code, warnings = check(tmp_path, """
rules:
  - name: broad
    when: {messages_contain: "research"}
    respond: {content: a}
  - name: narrow
    when: {messages_contain: "research", turn: 1}
    respond: {content: b}
  - name: fine
    when: {messages_contain: "other"}
    respond: {content: c}
""")
    assert code == 0
    assert len(warnings) == 1, warnings
    assert warnings[0].endswith("rule 'narrow' can never fire: rule 'broad' comes first and matches everything it matches")


def test_check_does_not_call_a_times_limited_rule_a_shadow(tmp_path):
    code, warnings = check(tmp_path, """
rules:
  - name: first_time
    times: 1
    respond: {status: 429}
  - name: then
    respond: {content: ok}
""")
    assert (code, warnings) == (0, [])


def test_check_does_not_call_a_rule_with_a_probability_a_shadow(tmp_path):
    code, warnings = check(tmp_path, """
rules:
  - name: sometimes_503
    probability: 0.1
    respond: {status: 503}
  - name: otherwise
    respond: {content: ok}
""")
    assert (code, warnings) == (0, [])


@pytest.mark.parametrize("when, expected", [
    ("{turn: 3, turn_in: [1, 2]}", "can never fire: turn 3 is outside turn_in [1, 2]"),
    ("{turn: 1, previous_message_role: tool}", "can never fire: on turn 1 no tool message"),
    ("{turn_in: [1, 1], tool_result_contains: found}", "waits for a tool result on turn 1"),
    ("{api: openai.embeddings, tools_include: web_search}", "openai.embeddings requests offer no tools"),
    ("{api: openai.embeddings, turn: 2}", "always turn 1"),
])
def test_check_warns_about_contradicting_turn_and_tool_conditions(tmp_path, when, expected):
    code, warnings = check(tmp_path, f"rules:\n  - name: odd\n    when: {when}\n    respond: {{content: x}}\n")
    assert code == 0
    assert len(warnings) == 1 and expected in warnings[0] and "'odd'" in warnings[0], warnings


def test_check_reports_an_impossible_rule_once_and_it_shadows_nothing(tmp_path):
    code, warnings = check(tmp_path, """
rules:
  - name: impossible
    when: {api: openai.embeddings, tools_include: web_search}
    respond: {content: x}
  - name: narrower_but_also_impossible
    when: {api: openai.embeddings, tools_include: web_search, messages_contain: hi}
    respond: {content: y}
  - name: never_on_turn_one
    when: {turn: 1, previous_message_role: assistant}
    respond: {content: z}
  - name: fine
    when: {turn: 1}
    respond: {content: ok}
""")
    assert code == 0
    assert [w.split(": rule ", 1)[1].split(" can never fire")[0] for w in warnings] == [
        "'impossible'", "'narrower_but_also_impossible'", "'never_on_turn_one'"], warnings


def test_check_is_quiet_about_a_sound_agent_config(tmp_path):
    code, warnings = check(tmp_path, """
rules:
  - name: kickoff_research
    when: {turn: 1, messages_contain: research, tools_include: web_search}
    respond: {tool_calls: [{name: web_search, arguments: {query: fakellm}}]}
  - name: summarize_results
    when: {turn: 2, tool_result_contains: found, previous_message_role: tool}
    respond: {content: done}
""")
    assert (code, warnings) == (0, [])


def test_closest_rule_on_a_tie_is_the_one_that_failed_on_content_not_on_the_turn():
    app = app_from("""
defaults: {fallback: error}
rules:
  - {name: lookup, when: {turn: 1, tools_include: get_weather}, respond: {content: calling}}
  - {name: summary, when: {turn: 2, tool_result_contains: sunny}, respond: {content: done}}
""")
    with pytest.raises(openai.NotFoundError) as info:
        openai_client(app).chat.completions.create(model="gpt-4o-mini", tools=[
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}], messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "cloudy"}])
    assert 'closest rule "summary": tool_result_contains "sunny": not found in the 1 tool result' in str(info.value)


# -- bounds in bytes, and pages (issue: headers and full reads were unbounded)


def test_a_huge_header_is_cut_in_the_journal_but_seen_whole_by_the_rules(llm):
    llm.set_config({"rules": [{"when": {"header.x-big": "a" * 300_000}, "respond": {"content": "whole"}},
                              {"respond": {"content": "cut"}}]})
    llm.reset()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{llm.url}/v1/chat/completions", json=body, headers={"x-big": "a" * 300_000})
    assert response.json()["choices"][0]["message"]["content"] == "whole"
    (entry,) = journal(llm)
    kept = entry["headers"]["x-big"]
    assert len(kept) < 2200 and kept.endswith("[300000 characters, cut in the journal]")
    many = {f"x-h{i}": str(i) for i in range(100)}
    httpx.post(f"{llm.url}/v1/chat/completions", json=body, headers=many)
    headers = journal(llm)[-1]["headers"]
    assert len(headers) == 65 and "more header(s) not kept" in headers["x-fakellm-journal"]


def test_the_journal_is_bounded_in_bytes_oldest_first(llm):
    llm.set_config({"defaults": {"journal_bytes": 1024 * 1024}, "rules": [{"respond": {"content": "ok"}}]})
    llm.reset()
    httpx.delete(f"{llm.url}/_fakellm/requests")
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0)
    for i in range(8):  # about 300 KB each: the budget holds three
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"m{i} " + "x" * 300_000}])
    kept = [e["request"]["messages"][0]["content"][:2] for e in journal(llm)]
    assert kept == ["m5", "m6", "m7"]


def test_the_default_journal_budget_is_64_mib_and_too_small_a_budget_is_refused(llm):
    assert FakeLLM(rules=[]).app.store.bounds.journal_bytes == 64 * 1024 * 1024
    response = httpx.put(f"{llm.url}/_fakellm/config", content=b"defaults: {journal_bytes: 1000}\nrules: []\n")
    assert response.status_code == 400 and "journal_bytes" in response.text


def test_the_journal_is_read_in_pages(llm):
    llm.set_config({"defaults": {"journal_size": 500}, "rules": [{"respond": {"content": "ok"}}]})
    llm.reset()
    httpx.delete(f"{llm.url}/_fakellm/requests")
    for i in range(250):
        httpx.post(f"{llm.url}/api/chat", json={"model": "m", "stream": False,
                                                "messages": [{"role": "user", "content": f"m{i}"}]})
    url = f"{llm.url}/_fakellm/requests"
    newest = httpx.get(url).json()  # no cursor: the newest 100, oldest first
    ids = [e["id"] for e in newest["requests"]]
    assert len(ids) == 100 and ids == sorted(ids) and newest["has_more"] is True
    first_id = newest["oldest_id"]
    assert ids[-1] == first_id + 249
    forward = httpx.get(url, params={"after": first_id - 1}).json()  # a cursor: the next 100 after it
    assert [e["id"] for e in forward["requests"]] == list(range(first_id, first_id + 100))
    assert forward["has_more"] is True and forward["next_after"] == first_id + 99
    rest = httpx.get(url, params={"after": forward["next_after"], "limit": 1000}).json()
    assert len(rest["requests"]) == 150 and rest["has_more"] is False
    back = httpx.get(url, params={"before": ids[0], "limit": 60}).json()  # paging back from the newest page
    assert [e["id"] for e in back["requests"]] == list(range(ids[0] - 60, ids[0])) and back["has_more"] is True
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": "x"}, {"before": 0}):
        response = httpx.get(url, params=bad)
        assert response.status_code == 400 and "query parameter" in response.json()["error"]["message"]
    assert httpx.get(url).status_code == 200
