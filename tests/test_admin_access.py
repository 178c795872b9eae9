"""Who may call the admin API (issue 12, item 12).

Without a token: only requests addressed to a loopback host (or to the address the server was
reached at), and no state-changing call from a page of another site. With a token
(`--admin-token`, FAKELLM_ADMIN_TOKEN): `Authorization: Bearer <token>` from anywhere, 401 without.
The LLM endpoints stay open either way. In-process through the ASGI app, and over real HTTP
against `fakellm serve`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import openai
import pytest
import httpx2
from helpers import BASE, Served, SyncASGITransport2, anthropic_client, openai_client, raw_client

from fakellm.app import build_app
from fakellm.config import config_from_data

TOKEN = "s3cret-admin-token_42"
SECRET_PROMPT = "my very private prompt 7731"
RULES = {"rules": [
    {"name": "steps", "when": {"messages_contain": "step"}, "respond": [{"content": "first"}, {"content": "second"}]},
    {"name": "greet", "when": {"messages_contain": "hello"}, "respond": {"content": "Hi!"}},
]}
REPLACEMENT = "rules: [{name: replaced, respond: {content: pwned}}]\n"

# Every admin call that reads data, and every one that changes state.
READS = ["/_fakellm/requests", "/_fakellm/stats", "/_fakellm/conversations", "/_fakellm/rules",
         "/_fakellm/config", "/_fakellm/debug", "/metrics"]
WRITES = [("POST", "/_fakellm/reset"), ("POST", "/_fakellm/reload"), ("DELETE", "/_fakellm/requests"),
          ("PUT", "/_fakellm/config")]
PAGE = ["/_fakellm", "/_fakellm/", "/_fakellm/assets/app.js", "/_fakellm/assets/style.css"]


def app(token: str | None = None):
    return build_app(config_from_data(RULES, "test"), admin_token=token)


def openai_with_key(served, api_key: str, **headers: str) -> openai.OpenAI:
    """An OpenAI client with this API key (fakellm never checks it) and extra headers, into the app."""
    return openai.OpenAI(base_url=f"{BASE}/v1", api_key=api_key, max_retries=0, default_headers=headers,
                         http_client=httpx2.Client(transport=SyncASGITransport2(served), base_url=BASE))


def ask(client: openai.OpenAI, text: str) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}],
                                          extra_headers={"x-fakellm-conversation-id": "c1"}).choices[0].message.content


def send(http: httpx.Client, method: str, path: str, **headers: str) -> httpx.Response:
    body = REPLACEMENT.encode() if method == "PUT" else None
    return http.request(method, path, content=body, headers=headers)


def assert_refused(response: httpx.Response, status: int, code: str, *hints: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == ("authentication_error" if status == 401 else "permission_error")
    for hint in ("--admin-token", "Authorization: Bearer", *hints):
        assert hint in error["message"], error["message"]
    assert SECRET_PROMPT not in response.text
    return error


def state_of(http: httpx.Client, **headers: str) -> tuple[int, list[str]]:
    """What the writes would change: journal length and rule names (read as a trusted caller)."""
    journal = http.get("/_fakellm/requests", headers=headers).json()["requests"]
    rules = http.get("/_fakellm/rules", headers=headers).json()["rules"]
    return len(journal), [r["name"] for r in rules]


# --------------------------------------------------------------------------- no token: the Host check


@pytest.mark.parametrize("host", ["evil.example", "evil.example:9999", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "10.0.0.1:9999", "[::2]:9999", "[fe80::1]",
                                  "127.0.0.1@evil.example", "localhost:9999/x", "", "evil.example:abc"])
def test_a_host_that_is_not_loopback_gets_403_and_no_data(host):
    served = app()
    ask(openai_client(served), f"hello {SECRET_PROMPT}")
    http = raw_client(served)
    for path in READS + PAGE:
        refused = http.get(path, headers={"host": host})
        error = assert_refused(refused, 403, "host_not_allowed", "loopback")
        assert "DNS rebinding" in error["message"]
    # Nothing was refused for good: the same calls addressed to loopback get the data.
    assert SECRET_PROMPT in http.get("/_fakellm/requests", headers={"host": "localhost:9999"}).text
    assert ask(openai_client(served), "hello again") == "Hi!"


def test_a_refused_host_is_shown_clipped_and_a_head_gets_no_body():
    http = raw_client(app())
    long_host = "a" * 300 + ".example"
    error = assert_refused(http.get("/_fakellm/rules", headers={"host": long_host}), 403, "host_not_allowed")
    assert "a" * 300 not in error["message"] and "aaaa" in error["message"]
    head = http.head("/_fakellm/rules", headers={"host": "evil.example"})
    assert head.status_code == 403 and head.content == b""


@pytest.mark.parametrize("host", ["localhost", "localhost:9999", "LOCALHOST:1", "dashboard.localhost:8080",
                                  "127.0.0.1", "127.0.0.1:9999", "127.5.6.7:80", "[::1]", "[::1]:9999"])
def test_loopback_hosts_with_or_without_a_port_are_served(host):
    http = raw_client(app())
    for path in READS + PAGE:
        assert http.get(path, headers={"host": host}).status_code == 200, path
    for method, path in WRITES[:1] + WRITES[2:]:  # reload needs a config file
        assert send(http, method, path, host=host).status_code == 200, path


def test_the_address_the_server_was_reached_at_is_served():
    """A browser sends an IP literal as Host only for a page of that address, never for a rebound name.
    (Over a socket the ASGI scope's server is the address the connection reached; in-process, the name
    the client used.)"""
    served = app()

    async def status(host: str | None) -> int:
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://192.168.7.9:9999") as client:
            return (await client.get("/_fakellm/rules", headers={"host": host} if host else {})).status_code

    assert asyncio.run(status(None)) == 200  # Host: 192.168.7.9:9999, the scope's server
    assert asyncio.run(status("192.168.7.9")) == 200
    assert asyncio.run(status("192.168.7.10:9999")) == 403


def test_health_and_the_index_are_open_to_any_host():
    """Probes (Kubernetes, Docker, compose) call them with the container's address as Host."""
    http = raw_client(app())
    for path in ("/_fakellm/health", "/"):
        response = http.get(path, headers={"host": "fakellm.svc.cluster.local"})
        assert response.status_code == 200 and "version" in response.json()


def test_llm_endpoints_do_not_check_the_host_or_origin():
    served = app()
    client = openai_with_key(served, "any-key-at-all", host="evil.example", origin="https://evil.example")
    assert ask(client, "hello") == "Hi!"
    message = anthropic_client(served, default_headers={"host": "evil.example", "origin": "null"}).messages.create(
        model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hello"}])
    assert message.content[0].text == "Hi!"
    # The foreign headers did reach the server.
    journal = raw_client(served).get("/_fakellm/requests").json()["requests"]
    assert [(e["headers"]["host"], e["headers"]["origin"]) for e in journal] == [
        ("evil.example", "https://evil.example"), ("evil.example", "null")]


# --------------------------------------------------------------------------- no token: the Origin check


@pytest.mark.parametrize("origin", ["https://evil.example", "http://evil.example:9999", "null",
                                    "http://127.0.0.1.evil.example", "chrome-extension://abcdef", "garbage"])
def test_a_state_changing_call_from_another_site_gets_403_and_changes_nothing(origin):
    served = app()
    oai = openai_client(served)
    assert ask(oai, "step") == "first"
    http = raw_client(served)
    before = state_of(http)
    for method, path in WRITES:
        assert_refused(send(http, method, path, origin=origin), 403, "foreign_origin", method)
    assert state_of(http) == before == (1, ["steps", "greet"])
    # The sequence was not reset: the next match gets its second answer.
    assert ask(oai, "step") == "second"


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:9999", "http://[::1]:8080",
                                    "http://fakellm.test"])
def test_a_state_changing_call_from_a_loopback_page_or_this_server_is_served(origin):
    http = raw_client(app())
    assert send(http, "PUT", "/_fakellm/config", origin=origin).status_code == 200
    assert state_of(http)[1] == ["replaced"]
    assert send(http, "POST", "/_fakellm/reset", origin=origin).status_code == 200
    assert send(http, "DELETE", "/_fakellm/requests", origin=origin).status_code == 200


def test_reads_with_a_foreign_origin_are_answered_but_not_shareable():
    """A cross-site page can send a GET but not read the answer: fakellm sends no CORS headers."""
    served = app()
    ask(openai_client(served), f"hello {SECRET_PROMPT}")
    response = raw_client(served).get("/_fakellm/requests", headers={"origin": "https://evil.example"})
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)


# --------------------------------------------------------------------------- with a token


def test_with_a_token_admin_calls_need_the_bearer():
    served = app(TOKEN)
    ask(openai_client(served), f"hello {SECRET_PROMPT}")
    http = raw_client(served)
    for path in READS:
        missing = http.get(path)
        assert_refused(missing, 401, "admin_token_required")
        assert missing.headers["www-authenticate"] == 'Bearer realm="fakellm"'
        for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer", f"Basic {TOKEN}", TOKEN):
            refused = http.get(path, headers={"authorization": wrong})
            assert_refused(refused, 401, "invalid_admin_token")
            assert refused.headers["www-authenticate"] == 'Bearer realm="fakellm", error="invalid_token"'
            assert TOKEN not in refused.text and TOKEN not in str(refused.headers)
        assert http.get(path, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert http.get(path, headers={"authorization": f"bearer {TOKEN}"}).status_code == 200
    assert SECRET_PROMPT in http.get("/_fakellm/requests", headers={"authorization": f"Bearer {TOKEN}"}).text


def test_with_a_token_writes_without_it_change_nothing_and_with_it_work_from_any_host_and_origin():
    served = app(TOKEN)
    oai = openai_client(served)
    assert ask(oai, "step") == "first"
    http = raw_client(served)
    auth = {"authorization": f"Bearer {TOKEN}"}
    before = state_of(http, **auth)
    for method, path in WRITES:
        assert_refused(send(http, method, path), 401, "admin_token_required")
        assert_refused(send(http, method, path, authorization="Bearer nope"), 401, "invalid_admin_token")
    assert state_of(http, **auth) == before
    assert ask(oai, "step") == "second"
    # The token is the point of 0.0.0.0: with it, any Host and Origin are accepted.
    foreign = {**auth, "host": "fakellm.example.com", "origin": "https://dashboard.example.com"}
    assert send(http, "POST", "/_fakellm/reset", **foreign).json() == {"cleared_conversations": 1}
    assert ask(oai, "step") == "first"
    assert send(http, "PUT", "/_fakellm/config", **foreign).status_code == 200
    assert state_of(http, **foreign)[1] == ["replaced"]


def test_with_a_token_the_page_loads_anywhere_and_health_stays_open():
    """The page and its assets hold no data; a browser opening it cannot send a token (the page asks)."""
    http = raw_client(app(TOKEN))
    for path in PAGE + ["/_fakellm/health", "/"]:
        assert http.get(path, headers={"host": "fakellm.example.com"}).status_code == 200, path


def test_with_a_token_llm_endpoints_stay_open_with_any_api_key():
    served = app(TOKEN)
    assert ask(openai_with_key(served, "whatever"), "hello") == "Hi!"
    assert anthropic_client(served).messages.create(
        model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hello"}]).content[0].text == "Hi!"


@pytest.mark.parametrize("token", ["", "has space", "tab\there", "naïve", "line\nbreak"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(token):
    with pytest.raises(ValueError) as refused:
        app(token)
    assert "admin token" in str(refused.value)
    if token:
        assert token not in str(refused.value)


# --------------------------------------------------------------------------- over real HTTP: fakellm serve


def test_serve_without_a_token_refuses_rebinding_and_cross_site_writes():
    with Served() as server:
        oai = server.openai()
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": SECRET_PROMPT}])
        assert "Admin API:          no token" in "".join(server.output)
        with httpx.Client(base_url=server.url) as http:
            # DNS rebinding: the browser connects to 127.0.0.1 but names the attacker's host.
            for path in READS:
                assert_refused(http.get(path, headers={"host": f"evil.example:{server.port}"}), 403,
                               "host_not_allowed")
            # A cross-site form or fetch: the right host, the attacker's Origin.
            for method, path in WRITES:
                assert_refused(send(http, method, path, origin="https://evil.example"), 403, "foreign_origin")
            journal = http.get("/_fakellm/requests").json()["requests"]
            assert [e["request"]["messages"][0]["content"] for e in journal] == [SECRET_PROMPT]
            assert [r["name"] for r in http.get("/_fakellm/rules").json()["rules"]] != ["replaced"]
            # The tools a developer uses (curl, scripts: no Origin) still work.
            assert http.post("/_fakellm/reset").status_code == 200
            assert http.delete("/_fakellm/requests").json() == {"cleared_requests": 1}


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_with_a_token_needs_the_bearer_and_keeps_llm_endpoints_open(how):
    args, env = (["--admin-token", TOKEN], None) if how == "flag" else ([], {"FAKELLM_ADMIN_TOKEN": TOKEN})
    with Served(*args, env=env) as server:
        banner = "".join(server.output)
        assert "Admin API:          token required" in banner and TOKEN not in banner
        oai = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-anything", max_retries=0)
        assert oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": SECRET_PROMPT}])
        assert server.anthropic().messages.create(model="claude-x", max_tokens=10,
                                                  messages=[{"role": "user", "content": "hi"}]).content
        with httpx.Client(base_url=server.url) as http:
            for path in READS:
                assert_refused(http.get(path), 401, "admin_token_required")
                assert_refused(http.get(path, headers={"authorization": "Bearer wrong"}), 401, "invalid_admin_token")
            for method, path in WRITES:
                assert_refused(send(http, method, path), 401, "admin_token_required")
            auth = {"authorization": f"Bearer {TOKEN}"}
            journal = http.get("/_fakellm/requests", headers=auth).json()["requests"]
            assert len(journal) == 2 and journal[0]["request"]["messages"][0]["content"] == SECRET_PROMPT
            assert http.post("/_fakellm/reset", headers={**auth, "origin": "https://elsewhere.example"}).status_code == 200
            assert http.get("/_fakellm", headers={"host": "fakellm.example.com"}).status_code == 200
    assert TOKEN not in "".join(server.output)


def test_serve_refuses_a_token_that_cannot_travel_in_a_header(tmp_path):
    for args, env in ((["--admin-token", "two words"], {}), (["--admin-token", ""], {}),
                      ([], {"FAKELLM_ADMIN_TOKEN": "two words"})):
        result = subprocess.run([sys.executable, "-m", "fakellm", "serve", "--port", "0", *args], cwd=tmp_path,
                                capture_output=True, text=True, timeout=30,
                                env={**_environ_without_token(), **env})
        assert result.returncode == 2, result
        assert "admin token" in result.stderr and "two words" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def _environ_without_token() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "FAKELLM_ADMIN_TOKEN"}


def banner_of(*args: str, cwd, env: dict[str, str] | None = None) -> str:
    """Start `fakellm serve --host 0.0.0.0 --port 0 ...`, read its banner, stop it by PID. No traffic is sent."""
    proc = subprocess.Popen([sys.executable, "-m", "fakellm", "serve", "--host", "0.0.0.0", "--port", "0", *args],
                            cwd=cwd, env={**_environ_without_token(), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "fakellm ready on" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    return "".join(lines)


def test_serve_on_every_interface_without_a_token_warns_and_names_the_risk(tmp_path):
    out = banner_of(cwd=tmp_path)
    assert "fakellm ready on http://0.0.0.0:" in out
    warning = next(line for line in out.splitlines() if line.startswith("WARNING"))
    for risk in ("0.0.0.0", "without --admin-token", "read the journal", "prompts", "replace the config",
                 "FAKELLM_ADMIN_TOKEN"):
        assert risk in warning, warning


def test_serve_on_every_interface_with_a_token_does_not_warn(tmp_path):
    out = banner_of(cwd=tmp_path, env={"FAKELLM_ADMIN_TOKEN": TOKEN})
    assert "fakellm ready on http://0.0.0.0:" in out and "token required" in out
    assert "WARNING" not in out and TOKEN not in out
