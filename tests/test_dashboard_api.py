"""What the dashboard page reads: its static files, the journal cursor, and GET /_fakellm/rules."""

from __future__ import annotations

import re
import time

import httpx
from helpers import Served, app_from, openai_client, raw_client

from fakellm.app import create_app

RULES = """
rules:
  - name: greeting
    when: {last_message_contains: hello}
    respond: {content: "Hi there"}
  - name: agent
    when: {turn: 1, messages_contain: research}
    respond:
      - tool_calls: [{name: web_search, arguments: {q: x}}]
      - {status: 503, error: "try later"}
    times: 2
  - name: never
    when: {model_matches: "nothing-*"}
    respond: {content: x}
"""


def chat(client, text: str):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_page_and_assets_are_served_with_a_strict_content_security_policy():
    client = raw_client(app_from(RULES))
    page = client.get("/_fakellm")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/_fakellm/assets/app.js"' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP would block it anyway
    assert client.get("/_fakellm/").text == page.text
    script = client.get("/_fakellm/assets/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text and "eval(" not in script.text
    style = client.get("/_fakellm/assets/style.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    head = client.head("/_fakellm")
    assert head.status_code == 200 and head.content == b""
    # No external asset: everything the page loads is under /_fakellm (or inline data: URLs).
    icon, *loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert icon.startswith("data:image/svg+xml,")
    assert loaded == ["/_fakellm/assets/style.css", "/_fakellm/assets/app.js"]
    assert "url(" not in style.text and "@import" not in style.text
    assert "fetch(API" in script.text and "fetch(\"http" not in script.text


def test_unknown_assets_and_wrong_methods_get_json_errors():
    client = raw_client(app_from(RULES))
    missing = client.get("/_fakellm/assets/secrets.py")
    assert missing.status_code == 404 and "error" in missing.json()
    traversal = client.get("/_fakellm/assets/../__init__.py")
    assert traversal.status_code == 404
    wrong = client.post("/_fakellm/rules")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert client.delete("/_fakellm").status_code == 405


def test_requests_after_cursor_returns_only_newer_entries_with_latency():
    app = app_from(RULES)
    oa, admin = openai_client(app), raw_client(app)
    for text in ("hello 1", "hello 2", "hello 3"):
        chat(oa, text)
    everything = admin.get("/_fakellm/requests").json()
    ids = [e["id"] for e in everything["requests"]]
    assert everything["oldest_id"] == ids[0]
    newer = admin.get("/_fakellm/requests", params={"after": ids[0]}).json()
    assert [e["id"] for e in newer["requests"]] == ids[1:]
    assert set(newer["latency_ms"]) == {str(i) for i in ids[1:]}
    assert all(isinstance(ms, float) and ms > 0 for ms in newer["latency_ms"].values())
    assert admin.get("/_fakellm/requests", params={"after": ids[-1]}).json()["requests"] == []
    # The cursor combines with the other filters.
    chat(oa, "please research")
    mixed = admin.get("/_fakellm/requests", params={"after": ids[0], "rule": "agent"}).json()["requests"]
    assert [e["rule"] for e in mixed] == ["agent"]
    # After a clear the oldest id says so, and ids keep growing.
    admin.delete("/_fakellm/requests")
    cleared = admin.get("/_fakellm/requests", params={"after": ids[-1]}).json()
    assert cleared["requests"] == [] and cleared["oldest_id"] is None
    chat(oa, "hello again")
    after_clear = admin.get("/_fakellm/requests", params={"after": ids[-1]}).json()
    assert len(after_clear["requests"]) == 1 and after_clear["oldest_id"] > ids[-1]


def test_requests_after_rejects_bad_values():
    admin = raw_client(app_from(RULES))
    for bad in ("abc", "-1", "1.5", "9" * 30):
        response = admin.get("/_fakellm/requests", params={"after": bad})
        assert response.status_code == 400, bad
        assert "after" in response.json()["error"]["message"]
    assert admin.get("/_fakellm/requests", params={"after": "0"}).status_code == 200


def test_rules_lists_hits_last_hit_and_never_fired_rules():
    app = app_from(RULES)
    oa, admin = openai_client(app), raw_client(app)
    before = time.time()
    chat(oa, "hello")
    chat(oa, "hello")
    chat(oa, "please research")
    chat(oa, "no rule for this")
    info = admin.get("/_fakellm/rules").json()
    assert info["path"] is None and info["source"] == "test.yaml"
    assert info["started"] <= before  # when the server started: a new value means a restart
    rules = {r["name"]: r for r in info["rules"]}
    assert [r["name"] for r in info["rules"]] == ["greeting", "agent", "never"]
    assert rules["greeting"]["hits"] == 2 and rules["greeting"]["last_hit"] >= before
    assert rules["agent"]["hits"] == 1 and rules["agent"]["times"] == 2
    assert rules["never"]["hits"] == 0 and rules["never"]["last_hit"] is None
    [label] = rules["greeting"]["when"]  # the condition as the config wrote it
    assert label.startswith("last_message_contains ") and "hello" in label
    assert rules["greeting"]["respond"] == ['"Hi there"']
    assert rules["agent"]["respond"] == ["tool calls: web_search", "status 503: try later"]
    assert info["totals"]["requests"] == 4 and info["totals"]["unmatched"] == 1
    assert info["totals"]["journal"] == 4 and info["totals"]["journal_size"] == 1000


def test_rules_shows_the_config_path_and_the_last_reload_error(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(RULES)
    app = create_app(path)
    admin = raw_client(app)
    info = admin.get("/_fakellm/rules").json()
    assert info["path"] == str(path) and info["last_reload_error"] is None
    path.write_text("rules:\n  - name: x\n    respnd: {content: y}\n")
    assert admin.post("/_fakellm/reload").status_code == 400
    info = admin.get("/_fakellm/rules").json()
    assert info["reload_failures"] == 1 and len(info["rules"]) == 3  # still the previous config
    problem = info["last_reload_error"][0]
    assert problem["line"] == 3 and "respnd" in problem["message"]


def test_dashboard_over_a_socket():
    with Served() as server:
        page = httpx.get(f"{server.url}/_fakellm")
        assert page.status_code == 200 and "fakellm" in page.text
        assert httpx.get(f"{server.url}/_fakellm/assets/app.js").status_code == 200
        assert httpx.get(f"{server.url}/_fakellm/rules").json()["rules"]
