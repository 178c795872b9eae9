"""`fakellm serve --loop auto|asyncio|uvloop` (issue 12, "Under load"): a real server per choice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import Served

CONFIG = "rules:\n  - name: hello\n    respond: {content: hello from the loop test}\n"


def banner(served: Served) -> str:
    return next(line for line in served.output if "serving" in line)


def ask(served: Served) -> str:
    reply = served.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content


def without_uvloop(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import uvloop` fails, as on a machine without it (e.g. Windows)."""
    hidden = tmp_path / "no-uvloop"
    hidden.mkdir()
    (hidden / "uvloop.py").write_text("raise ImportError('uvloop is hidden by this test')\n")
    return {"PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("choice, running", [("asyncio", "asyncio"), ("uvloop", "uvloop"), ("auto", "uvloop")])
def test_each_loop_serves_and_the_banner_names_it(tmp_path, choice, running):
    (tmp_path / "fakellm.yaml").write_text(CONFIG)
    with Served("--loop", choice, cwd=tmp_path) as served:
        assert ask(served) == "hello from the loop test"
        assert f"(event loop: {running})" in banner(served)
        # Streams too: the paced delivery path runs on the chosen loop.
        with httpx.stream("POST", f"{served.url}/v1/chat/completions", json={
                "model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
            assert r.status_code == 200 and "data: [DONE]" in r.read().decode()
    assert served.proc is not None and served.proc.returncode == 0


def test_the_default_loop_is_asyncio(tmp_path):
    # The default follows the measurements in docs/benchmarks.md ("Event loop"): uvloop is faster on
    # few connections but leaves new connections unaccepted for seconds under thousands of them.
    (tmp_path / "fakellm.yaml").write_text(CONFIG)
    with Served(cwd=tmp_path) as served:
        assert ask(served) == "hello from the loop test"
        assert "(event loop: asyncio)" in banner(served)


def test_auto_without_uvloop_serves_on_asyncio(tmp_path):
    (tmp_path / "fakellm.yaml").write_text(CONFIG)
    with Served("--loop", "auto", cwd=tmp_path, env=without_uvloop(tmp_path)) as served:
        assert ask(served) == "hello from the loop test"
        assert "(event loop: asyncio)" in banner(served)


def serve_fails(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fakellm.yaml").write_text(CONFIG)
    return subprocess.run([sys.executable, "-m", "fakellm", "serve", "--port", "0", *args], cwd=tmp_path,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=30)


def test_uvloop_when_it_is_not_installed_is_a_clear_error(tmp_path):
    r = serve_fails(tmp_path, "--loop", "uvloop", env=without_uvloop(tmp_path))
    assert r.returncode == 2, r.stderr
    assert "uvloop is not installed" in r.stderr and "--loop asyncio" in r.stderr
    assert "Traceback" not in r.stderr and "ready on" not in r.stdout


def test_an_unknown_loop_is_a_usage_error(tmp_path):
    r = serve_fails(tmp_path, "--loop", "trio")
    assert r.returncode == 2
    assert "Usage:" in r.stderr and "'--loop'" in r.stderr
    for choice in ("auto", "asyncio", "uvloop"):
        assert choice in r.stderr
    assert "Traceback" not in r.stderr and "ready on" not in r.stdout


def test_help_lists_the_choices():
    r = subprocess.run([sys.executable, "-m", "fakellm", "serve", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "--loop [auto|asyncio|uvloop]" in r.stdout
