"""The admin API (section 7): the page, stats, paginated conversations, reset and reload."""

from __future__ import annotations

import httpx
import openai
import pytest
from helpers import Served, anthropic_client, app_from, openai_client, raw_client

from fakellm.app import create_app

MODEL = "gpt-4o-mini"
CONFIG = """
rules:
  - name: greet
    when: {messages_contain: hello}
    respond: {content: "Hi!"}
  - name: sequence
    when: {messages_contain: sequence}
    respond: [{content: first}, {content: second}]
  - name: by_turn
    when: {messages_contain: counted, turn: 1}
    respond: {content: "turn one"}
"""


def ask(client, text: str, **kw) -> str:
    return client.chat.completions.create(model=kw.pop("model", MODEL), messages=[{"role": "user", "content": text}],
                                          **kw).choices[0].message.content


@pytest.fixture
def app():
    return app_from(CONFIG)


def test_page_is_html_and_never_contains_request_values(app):
    marker = '<script>alert("xss-marker")</script>'
    oai = openai_client(app)
    oai.chat.completions.create(model=marker, messages=[{"role": "user", "content": f"hello {marker}"}],
                                extra_headers={"x-fakellm-conversation-id": f"<img src=x onerror=1>{marker}"})
    anthropic_client(app).messages.create(model=marker, max_tokens=20, messages=[{"role": "user", "content": marker}])
    http = raw_client(app)
    for path in ("/_fakellm", "/_fakellm/"):
        page = http.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "fakellm" in page.text
        assert "xss-marker" not in page.text and "<img src=x" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    # The values reach the page only as JSON data, which the page renders as text.
    stats = http.get("/_fakellm/stats")
    assert stats.headers["content-type"].startswith("application/json")
    recent = stats.json()["recent"]
    assert recent[0]["model"] == marker and recent[1]["conversation_id"].startswith("<img src=x")


def test_stats(app):
    oai, ant = openai_client(app), anthropic_client(app)
    ask(oai, "hello")
    ask(oai, "hello again")
    ask(oai, "unmatched")
    ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "hello"}])
    s = raw_client(app).get("/_fakellm/stats").json()
    assert s["total_requests"] == 4
    assert s["unmatched_requests"] == 1
    assert s["by_rule"] == {"greet": 3}
    assert s["by_api"] == {"openai.chat": 3, "anthropic.messages": 1}
    assert [r["matched_rule"] for r in s["recent"]] == ["greet", None, "greet", "greet"]  # newest first
    assert s["recent"][0]["api"] == "anthropic.messages" and s["recent"][0]["status"] == 200
    assert s["conversation_count"] == 3
    assert set(s["conversations"]) == {r["conversation_id"] for r in s["recent"]}


def test_conversations_pagination(app):
    oai = openai_client(app)
    for i in range(7):
        ask(oai, f"conversation {i}", extra_headers={"x-fakellm-conversation-id": f"c{i}"})
    ask(oai, "again", extra_headers={"x-fakellm-conversation-id": "c2"})  # c2 becomes the most recent
    http = raw_client(app)
    page = http.get("/_fakellm/conversations").json()
    assert (page["total"], page["limit"], page["offset"]) == (7, 100, 0)
    assert [c["id"] for c in page["conversations"]] == ["c2", "c6", "c5", "c4", "c3", "c1", "c0"]
    c2 = page["conversations"][0]
    assert c2["requests"] == 2 and c2["turn"] == 1 and c2["tool_results_seen"] == 0
    page = http.get("/_fakellm/conversations", params={"limit": 3, "offset": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (7, 3, 2)
    assert [c["id"] for c in page["conversations"]] == ["c5", "c4", "c3"]
    page = http.get("/_fakellm/conversations", params={"limit": 3, "offset": 6}).json()
    assert [c["id"] for c in page["conversations"]] == ["c0"]
    page = http.get("/_fakellm/conversations", params={"offset": 50}).json()
    assert page["conversations"] == [] and page["total"] == 7


@pytest.mark.parametrize("query,needle", [
    ("limit=abc", "'limit' must be an integer"),
    ("limit=0", "'limit' must be between 1"),
    ("limit=-5", "'limit' must be between 1"),
    ("limit=100000", "'limit' must be between 1 and 10000"),
    ("offset=-1", "'offset' must be between 0"),
    ("offset=x", "'offset' must be an integer"),
    ("limit=1.5", "'limit' must be an integer"),
])
def test_conversations_bad_params(app, query, needle):
    r = raw_client(app).get(f"/_fakellm/conversations?{query}")
    assert r.status_code == 400
    assert needle in r.json()["error"]["message"]
    assert raw_client(app).get("/_fakellm/conversations").status_code == 200


def test_reset_clears_conversation_state_but_keeps_stats_and_journal():
    app = app_from("defaults: {turns: requests}\n" + CONFIG)
    oai, http = openai_client(app), raw_client(app)
    assert [ask(oai, "sequence") for _ in range(3)] == ["first", "second", "second"]
    assert ask(oai, "counted") == "turn one"
    assert ask(oai, "counted") != "turn one"  # 0.3.5 counting: the second request is turn 2
    before = http.get("/_fakellm/stats").json()

    r = http.post("/_fakellm/reset")
    assert r.status_code == 200 and r.json() == {"cleared_conversations": 2}
    assert http.get("/_fakellm/conversations").json()["total"] == 0
    # Sequence counters and request-counted turns start over ...
    assert ask(oai, "sequence") == "first"
    assert ask(oai, "counted") == "turn one"
    # ... while stats and the journal are kept.
    after = http.get("/_fakellm/stats").json()
    assert after["total_requests"] == before["total_requests"] + 2
    assert len(http.get("/_fakellm/requests").json()["requests"]) == after["total_requests"]


def test_reload_rereads_the_file_and_keeps_the_old_config_when_invalid(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text("rules: [{respond: {content: one}}]\n")
    app = create_app(path)
    oai, http = openai_client(app), raw_client(app)
    assert ask(oai, "x") == "one"

    path.write_text("rules: [{respond: {content: two}}]\n")
    assert ask(oai, "x") == "one"  # nothing changes until asked
    r = http.post("/_fakellm/reload")
    assert r.status_code == 200 and r.json()["reloaded"] is True and r.json()["rules"] == 1
    assert ask(oai, "x") == "two"

    path.write_text("rules:\n  - whne: {}\n    respond: {content: three, status: '200'}\n")
    r = http.post("/_fakellm/reload")
    assert r.status_code == 400
    error = r.json()["error"]
    assert "still serving the previous config" in error["message"]
    problems = error["problems"]
    assert {(p["line"], p["column"]) for p in problems} == {(2, 5), (3, 39)}
    assert any("unknown key 'whne' in rule (did you mean 'when'?)" in p["message"] for p in problems)
    assert any("expected an integer" in p["message"] for p in problems)
    assert all(p["source"] == str(path) for p in problems)
    assert ask(oai, "x") == "two"

    path.unlink()
    r = http.post("/_fakellm/reload")
    assert r.status_code == 400 and "not found" in r.json()["error"]["problems"][0]["message"]
    assert ask(oai, "x") == "two"


def test_reload_without_a_file_is_a_400(app):
    r = raw_client(app).post("/_fakellm/reload")
    assert r.status_code == 400 and "not read from a file" in r.json()["error"]["message"]


def test_admin_methods_and_unknown_admin_paths(app):
    http = raw_client(app)
    r = http.get("/_fakellm/reset")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = http.post("/_fakellm/stats")
    assert r.status_code == 405
    assert http.get("/_fakellm/nope").status_code == 404
    assert http.get("/_fakellm/health").json()["status"] == "ok"


def test_admin_over_a_real_socket(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(CONFIG)
    with Served("--config", str(path)) as server:
        client: openai.OpenAI = server.openai()
        assert ask(client, "hello") == "Hi!"
        assert ask(client, "sequence") == "first"
        stats = httpx.get(f"{server.url}/_fakellm/stats").json()
        assert stats["total_requests"] == 2 and stats["by_rule"] == {"greet": 1, "sequence": 1}
        assert httpx.post(f"{server.url}/_fakellm/reset").json()["cleared_conversations"] == 2
        assert ask(client, "sequence") == "first"
        path.write_text("rules: [{respond: {content: reloaded}}]\n")
        assert httpx.post(f"{server.url}/_fakellm/reload").status_code == 200
        assert ask(client, "hello") == "reloaded"
        path.write_text("rules: [{respond: {contnet: broken}}]\n")
        r = httpx.post(f"{server.url}/_fakellm/reload")
        assert r.status_code == 400 and r.json()["error"]["problems"][0]["line"] == 1
        assert ask(client, "hello") == "reloaded"
        page = httpx.get(f"{server.url}/_fakellm")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
