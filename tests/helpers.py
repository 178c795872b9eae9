"""Test helpers: the app in-process (no socket) and `fakellm serve` as a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai

from fakellm.config import config_from_data, parse_config
from fakellm.app import build_app
from fakellm.server.app import FakeLLMApp

BASE = "http://fakellm.test"


class SyncASGITransport(httpx.BaseTransport):
    """Run each request through the ASGI app on a private event loop (sync clients, no socket)."""

    def __init__(self, app: Any):
        self._async = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> httpx.Response:
            response = await self._async.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body,
                                  extensions=response.extensions)

        return asyncio.run(run())


class SyncASGITransport2(httpx2.BaseTransport):
    """The same for `httpx2`, which the current openai and anthropic SDKs are built on
    (anthropic refuses an `httpx.Client`)."""

    def __init__(self, app: Any):
        self._async = httpx2.ASGITransport(app=app)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        async def run() -> httpx2.Response:
            response = await self._async.handle_async_request(request)
            body = await response.aread()
            return httpx2.Response(response.status_code, headers=response.headers, content=body,
                                   extensions=response.extensions)

        return asyncio.run(run())


def app_from(config: str | dict[str, Any] | None = None) -> FakeLLMApp:
    """An app serving YAML text, a config dict, or (None) no rules at all."""
    if config is None:
        config = {}
    cfg = parse_config(config, "test.yaml") if isinstance(config, str) else config_from_data(config, "test")
    return build_app(cfg)


def openai_client(app: FakeLLMApp, **kw: Any) -> openai.OpenAI:
    """An OpenAI client whose requests go straight into the ASGI app."""
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=f"{BASE}/v1", api_key="sk-test",
                         http_client=httpx2.Client(transport=SyncASGITransport2(app), base_url=BASE), **kw)


def anthropic_client(app: FakeLLMApp, **kw: Any) -> anthropic.Anthropic:
    kw.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=BASE, api_key="sk-ant-test",
                               http_client=httpx2.Client(transport=SyncASGITransport2(app), base_url=BASE), **kw)


def async_openai_client(app: FakeLLMApp, **kw: Any) -> openai.AsyncOpenAI:
    kw.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key="sk-test",
                              http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE),
                              **kw)


def raw_client(app: FakeLLMApp) -> httpx.Client:
    """Plain HTTP into the app, for bodies no SDK would send."""
    return httpx.Client(transport=SyncASGITransport(app), base_url=BASE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`fakellm serve` in a subprocess on 127.0.0.1 and a free port; stopped by its PID."""

    def __init__(self, *args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 15.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "fakellm", "serve", "--port", str(self.port), *args]
        self.cwd = cwd
        # An admin token in the shell running the tests would lock the admin API of every server here.
        inherited = {k: v for k, v in os.environ.items() if k != "FAKELLM_ADMIN_TOKEN"}
        self.env = {**inherited, **(env or {})}
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def __enter__(self) -> Served:
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + self.timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "fakellm ready on" in line:
                return self
        self.stop()
        raise RuntimeError("fakellm serve did not start:\n" + "".join(self.output))

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.output.append(self.proc.stdout.read())
            self.proc.stdout.close()
        return self.proc.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def openai(self, **kw: Any) -> openai.OpenAI:
        kw.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="sk-test", **kw)

    def anthropic(self, **kw: Any) -> anthropic.Anthropic:
        kw.setdefault("max_retries", 0)
        return anthropic.Anthropic(base_url=self.url, api_key="sk-ant-test", **kw)


def sse_events(raw: bytes | str) -> list[tuple[str | None, str]]:
    """Split a raw SSE body into (event name or None, data) pairs, as a strict client reads them."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    assert text.endswith("\n\n"), "the last SSE event must be terminated by a blank line"
    events = []
    for block in text.split("\n\n")[:-1]:
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        events.append((event, "\n".join(data)))
    return events


def gemini_client(target: FakeLLMApp | str, api_version: str = "v1beta", **http_options: Any):
    """A google-genai Client for an app (in-process) or a server URL. Keep a reference to it:
    a garbage-collected Client closes its connection mid-call."""
    from google import genai
    from google.genai import types

    if isinstance(target, str):
        options = types.HttpOptions(base_url=target, api_version=api_version, **http_options)
    else:
        options = types.HttpOptions(base_url=BASE, api_version=api_version, **http_options,
                                    httpx_client=httpx.Client(transport=SyncASGITransport(target), base_url=BASE))
    return genai.Client(api_key="gemini-test", http_options=options)


def ollama_client(target: FakeLLMApp | str):
    """The official `ollama` Client for an app (in-process) or a server URL."""
    import ollama

    if isinstance(target, str):
        return ollama.Client(host=target)
    return ollama.Client(host=BASE, transport=SyncASGITransport(target))
