"""The command line (section 1): init, check, serve (as a subprocess on 127.0.0.1 and a free port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from helpers import Served, free_port

from fakellm.config.starter import starter_text
from fakellm.providers import registry


def fakellm(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakellm", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def ask(client: openai.OpenAI, text: str) -> str:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}]) \
        .choices[0].message.content


# --------------------------------------------------------------------------- help


def test_python_dash_m_help_and_version(tmp_path):
    r = fakellm("--help", cwd=tmp_path)
    assert r.returncode == 0
    for command in ("init", "serve", "check", "schema"):
        assert command in r.stdout
    # Every API family the server speaks is named, in the help and in the package's description.
    description = (Path(__file__).parent.parent / "pyproject.toml").read_text().split("description = ", 1)[1]
    description = description.split("\n", 1)[0]
    for family in registry.FAMILIES:
        assert family.name in " ".join(r.stdout.split()).lower(), family.name
        assert family.name in description.lower(), family.name
    assert "Azure OpenAI" in " ".join(r.stdout.split()) and "Azure OpenAI" in description
    r = fakellm("serve", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "--config" in r.stdout and "--reload" in r.stdout and "127.0.0.1" in r.stdout
    r = fakellm("--version", cwd=tmp_path)
    assert r.returncode == 0 and "fakellm" in r.stdout


# --------------------------------------------------------------------------- init


def test_init_writes_the_starter_and_refuses_to_overwrite(tmp_path):
    r = fakellm("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "fakellm.yaml").read_text()
    # The starter, under the line that names its schema for editors (tests/test_json_schema.py).
    assert written == "# yaml-language-server: $schema=fakellm.schema.json\n" + starter_text()
    assert "fakellm.yaml" in r.stdout and "fakellm.schema.json" in r.stdout
    # The starter shows every feature, with comments.
    for key in ("defaults:", "fallback:", "turns:", "messages_contain", "messages_match", "model_matches",
                "tools_include", "turn:", "turn_in", "previous_message_role", "previous_message_contains",
                "tool_result_contains", "header.", "system_contains", "last_message_contains", "api:",
                "tool_calls", "status:", "error:", "headers:", "finish_reason", "usage:", "thinking:", "times:",
                "#"):
        assert key in written, key

    (tmp_path / "fakellm.yaml").write_text("# my own rules\n")
    r = fakellm("init", cwd=tmp_path)
    assert r.returncode == 1
    assert "already exists" in r.stderr and "not overwriting" in r.stderr
    assert (tmp_path / "fakellm.yaml").read_text() == "# my own rules\n"

    r = fakellm("init", "sub-config.yaml", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "sub-config.yaml").read_text().endswith(starter_text())
    r = fakellm("check", "--config", "sub-config.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    r = fakellm("init", "no/such/dir/x.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "cannot write" in r.stderr


# --------------------------------------------------------------------------- check


def test_check_valid_config(tmp_path):
    (tmp_path / "fakellm.yaml").write_text("rules:\n  - name: a\n    respond: {content: hi}\n")
    r = fakellm("check", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and "1 rule" in r.stdout


def test_check_reports_every_problem_with_file_line_col(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "rules:\n"
        "  - name: kickoff\n"
        "    whne: {turn: 1}\n"
        "    respond: {content: x}\n"
        "  - name: summary\n"
        "    when:\n"
        "      turn: two\n"
        "    respond:\n"
        "      tool_calls:\n"
        "        - arguments: {}\n"
    )
    r = fakellm("check", "--config", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2
    lines = [line.strip() for line in r.stderr.splitlines()]
    assert "bad.yaml:3:5: rules[0] (kickoff): unknown key 'whne' in rule (did you mean 'when'?)" in lines
    assert "bad.yaml:7:13: rules[1] (summary).when.turn: expected an integer, got a string ('two')" in lines
    assert any(line.startswith("bad.yaml:10:") and "required key 'name' is missing" in line for line in lines)
    assert "3 problem" in r.stderr


def test_check_warns_about_rules_that_never_fire(tmp_path):
    (tmp_path / "fakellm.yaml").write_text(
        "rules:\n"
        "  - name: catch_all\n"
        "    respond: {content: everything}\n"
        "  - name: shadowed\n"
        "    when: {messages_contain: hello}\n"
        "    respond: {content: never}\n"
        "  - name: impossible\n"
        "    when: {turn: 5, turn_in: [1, 2]}\n"
        "    respond: {content: never}\n"
    )
    r = fakellm("check", cwd=tmp_path)
    assert r.returncode == 0  # warnings do not fail the check
    assert "warning" in r.stderr
    assert "'shadowed' can never fire" in r.stderr and "'catch_all'" in r.stderr
    assert "'impossible' can never fire" in r.stderr
    assert "2 warning" in r.stdout


def test_check_missing_file_and_bad_yaml(tmp_path):
    r = fakellm("check", cwd=tmp_path)
    assert r.returncode == 2 and "fakellm.yaml" in r.stderr and "not found" in r.stderr
    assert "`fakellm init fakellm.yaml` writes a commented starter config there" in r.stderr
    (tmp_path / "broken.yaml").write_text("rules:\n  - name: [unclosed\n")
    r = fakellm("check", "--config", "broken.yaml", cwd=tmp_path)
    # At the bracket left open, not at the end of the file where the parser noticed, with its context.
    assert r.returncode == 2 and "broken.yaml:2:11: invalid YAML: while parsing a flow sequence (line 2, column 11): " \
        "did not find expected ',' or ']' (line 3, column 1) (is a [ or { left open?)" in r.stderr


@pytest.mark.parametrize("text,expected", [
    ("rules:\n  - name: a\n    when: {turn: 1,\n      messages_contain: x\n  - name: b\n",
     "bad.yaml:3:11: invalid YAML: while parsing a flow mapping (line 3, column 11): "
     "did not find expected ',' or '}' (line 5, column 9) (is a [ or { left open?)"),
    ('rules:\n  - respond: {content: "never closed}\n  - name: b\n',
     "bad.yaml:2:24: invalid YAML: while scanning a quoted scalar (line 2, column 24): "
     "found unexpected end of stream (line 4, column 1) (is a quote left open?)"),
    ("rules:\n  - name: a\n    respond:\n      content: x\n    when\n",
     "bad.yaml:5:5: invalid YAML: while scanning a simple key (line 5, column 5): could not find expected ':'"),
    # A block's mistake is where the parser stopped; the context names where the block began.
    ("rules:\n  - name: a\n   when: {}\n",
     "bad.yaml:3:4: invalid YAML: while parsing a block collection (line 2, column 3): did not find expected '-' "
     "indicator"),
])
def test_yaml_syntax_errors_keep_the_parsers_context_at_the_real_line(tmp_path, text, expected):
    (tmp_path / "bad.yaml").write_text(text)
    r = fakellm("check", "--config", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2 and expected in r.stderr, r.stderr


def test_check_warnings_carry_file_line_col_and_duplicate_names_are_reported(tmp_path):
    (tmp_path / "fakellm.yaml").write_text(
        "rules:\n"
        "  - name: greet\n"
        "    when: {messages_contain: hello}\n"
        "    respond: {content: hi}\n"
        "  - name: odd\n"
        "    when: {turn: 5, turn_in: [1, 2]}\n"
        "    respond: {content: never}\n"
        "  - name: greet\n"
        "    when: {messages_contain: bye}\n"
        "    respond:\n"
        "      - content: a\n"
        "      - {content: b, error: ignored}\n"
    )
    r = fakellm("check", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # Each at the key it is about, in the order of the file.
    assert r.stderr.splitlines() == [
        "fakellm.yaml:6:5: warning: rule 'odd' can never fire: turn 5 is outside turn_in [1, 2]",
        "fakellm.yaml:8:5: warning: rule name 'greet' is used twice (rules[0], line 2 and rules[2]): the journal, "
        "the stats and assert_called(rule=...) cannot tell them apart",
        "fakellm.yaml:12:22: warning: rule 'greet' respond[1]: `error` is only sent with a status >= 400",
    ]
    assert "3 warning" in r.stdout


# --------------------------------------------------------------------------- serve


def test_serve_without_a_config_serves_the_starter_and_says_so(tmp_path):
    with Served(cwd=tmp_path) as server:
        out = "".join(server.output)
        assert "built-in starter config" in out
        assert "fakellm init" in out  # says how to get an editable copy
        assert f"OpenAI base URL:    http://127.0.0.1:{server.port}/v1" in out
        assert f"Anthropic base URL: http://127.0.0.1:{server.port}" in out
        assert f"Dashboard:          http://127.0.0.1:{server.port}/_fakellm" in out
        client = server.openai()
        assert ask(client, "hello") == "Hi there! This is a mock response from fakellm."
        m = server.anthropic().messages.create(model="claude-x", max_tokens=50,
                                               messages=[{"role": "user", "content": "hello"}])
        assert m.content[0].text == "Hi there! This is a mock response from fakellm."
        assert httpx.get(f"{server.url}/_fakellm").status_code == 200
    assert server.proc.returncode == 0


def test_serve_uses_fakellm_yaml_in_the_current_directory(tmp_path):
    (tmp_path / "fakellm.yaml").write_text("rules: [{respond: {content: from the local file}}]\n")
    with Served(cwd=tmp_path) as server:
        assert "built-in starter" not in "".join(server.output)
        assert ask(server.openai(), "x") == "from the local file"


def test_serve_binds_127_0_0_1_by_default(tmp_path):
    with Served(cwd=tmp_path) as server:
        out = "".join(server.output)
        assert f"fakellm ready on http://127.0.0.1:{server.port}" in out
        # Listening on the loopback address only: the socket's local address is 127.0.0.1.
        listening = Path("/proc/net/tcp").read_text() if Path("/proc/net/tcp").exists() else None
        if listening is not None:
            port_hex = f"{server.port:04X}"
            local = [line.split()[1] for line in listening.splitlines()[1:]
                     if line.split()[1].endswith(":" + port_hex) and line.split()[3] == "0A"]
            assert local == ["0100007F:" + port_hex], local


def test_serve_missing_config_file_is_a_clear_error(tmp_path):
    r = fakellm("serve", "--port", str(free_port()), "--config", "nope.yaml", cwd=tmp_path, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == ("fakellm: config file nope.yaml not found. `fakellm init nope.yaml` writes a "
                                "commented starter config there (or leave out --config to serve the built-in one).")
    assert not (tmp_path / "nope.yaml").exists()


def test_serve_on_a_busy_port_says_how_to_pick_another(tmp_path):
    with Served(cwd=tmp_path) as server:
        for extra in ([], ["--workers", "2", "--state", "memory"]):
            r = fakellm("serve", "--port", str(server.port), *extra, cwd=tmp_path, timeout=30)
            assert r.returncode == 1, extra
            assert r.stderr.strip().splitlines()[-1] == \
                f"fakellm: port {server.port} is in use; pass --port N (or 0 for a free one)", r.stderr
            assert "Traceback" not in r.stderr
        assert ask(server.openai(), "hello")  # the server already there keeps serving


def test_serve_says_how_to_stop_and_prints_a_curl_that_works(tmp_path):
    with Served(cwd=tmp_path) as server:
        out = "".join(server.output)
        lines = out.splitlines()
        assert lines[-2:] == ["Press Ctrl+C to stop.", f"fakellm ready on {server.url}"]
        [curl] = [line.strip() for line in lines if line.strip().startswith("curl ")]
        # Run what it says (as curl would send it) against the starter config it is printed for.
        url = curl.split()[2]
        body = curl.split(" -d ", 1)[1].strip("'")
        assert url == f"{server.url}/v1/chat/completions"
        reply = httpx.post(url, content=body, headers={"content-type": "application/json"}).json()
        assert reply["choices"][0]["message"]["content"] == "Hi there! This is a mock response from fakellm."


def test_serve_invalid_config_lists_the_problems(tmp_path):
    (tmp_path / "bad.yaml").write_text("rules:\n  - whne: {}\n    respond: {contnet: x}\n")
    r = fakellm("serve", "--port", str(free_port()), "--config", "bad.yaml", cwd=tmp_path, timeout=30)
    assert r.returncode == 2
    assert "bad.yaml:2:5: rules[0]: unknown key 'whne' in rule (did you mean 'when'?)" in r.stderr
    assert "bad.yaml:3:15: rules[0].respond: unknown key 'contnet' in respond (did you mean 'content'?)" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signals(tmp_path, sig):
    server = Served(cwd=tmp_path)
    with server:
        assert ask(server.openai(), "hello")
        server.proc.send_signal(sig)
        assert server.proc.wait(timeout=10) == 0
    out = "".join(server.output)
    assert "Traceback" not in out and "Error" not in out


def test_serve_port_zero_picks_a_free_port(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "fakellm", "serve", "--port", "0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        url = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "fakellm ready on " in line:
                url = line.split("fakellm ready on ", 1)[1].strip()
                break
        assert url and url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert httpx.get(url + "/_fakellm/health").json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_serve_reload_picks_up_changes_and_keeps_the_old_config_when_invalid(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text("rules: [{respond: {content: version one}}]\n")
    with Served("--config", str(config), "--reload", cwd=tmp_path) as server:
        assert "reloading on change" in "".join(server.output)
        client = server.openai()
        assert ask(client, "x") == "version one"
        time.sleep(0.3)  # let the watcher settle
        config.write_text("rules: [{respond: {content: version two}}]\n")
        assert wait_for(lambda: ask(client, "x") == "version two")
        config.write_text("rules: [{whne: {}, respond: {content: broken}}]\n")
        # The invalid file is reported and the previous config keeps serving.
        assert wait_for(lambda: reload_failures(server) >= 1)
        problems = httpx.get(f"{server.url}/_fakellm/rules").json()["last_reload_error"]
        assert any("unknown key 'whne'" in p["message"] for p in problems)
        assert ask(client, "x") == "version two"
        config.write_text("rules: [{respond: {content: version three}}]\n")
        assert wait_for(lambda: ask(client, "x") == "version three")
    out = "".join(server.output)
    assert "unknown key 'whne'" in out and "previous config" in out


def reload_failures(server: Served) -> int:
    return httpx.get(f"{server.url}/_fakellm/rules").json()["reload_failures"]


def test_serve_reload_without_a_file_is_refused(tmp_path):
    r = fakellm("serve", "--port", str(free_port()), "--reload", cwd=tmp_path, timeout=30)
    assert r.returncode == 2 and "--reload needs a config file" in r.stderr


def test_serve_env_does_not_leak_between_instances(tmp_path):
    """Two servers side by side keep separate state (tests run them in parallel)."""
    (tmp_path / "a.yaml").write_text("rules: [{respond: {content: from a}}]\n")
    (tmp_path / "b.yaml").write_text("rules: [{respond: {content: from b}}]\n")
    with Served("--config", "a.yaml", cwd=tmp_path) as a, Served("--config", "b.yaml", cwd=tmp_path) as b:
        assert ask(a.openai(), "x") == "from a" and ask(b.openai(), "x") == "from b"
        assert httpx.get(f"{a.url}/_fakellm/stats").json()["total_requests"] == 1
    assert os.environ.get("FAKELLM_CONFIG") is None
