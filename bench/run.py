#!/usr/bin/env python3
"""Benchmark this checkout's `fakellm serve` against fakellm 0.3.5 from PyPI.

One run measures both servers in alternation (ours, theirs, ours, theirs, ...)
over several rounds and reports medians, so that drift in the machine's load
hits both alike. Workloads (issue 2, section 10):

  W1  OpenAI chat, non-streaming, small request with a fixed answer, c=32
  W2  OpenAI chat, streaming, a ~70-word reply, c=32
  W3  Anthropic messages, non-streaming, c=32
  W5  W1 at c=1
  W6  W1 with a distinct body every request (a varying `user` field): nothing repeats
  W4  server RSS after N and 2N distinct conversations (default N=20,000)
  startup: launch of `fakellm serve` to its first answered request

Load comes from wrk (`apt-get install -y wrk`); W4 and the startup probe use a
small Python client. Every workload is checked first on both servers: the
answer must parse and carry the configured text, and every wrk run's non-2xx
responses and socket errors are counted, so a broken server cannot win.

    python bench/run.py --quick          # a few seconds per workload
    python bench/run.py                  # the full run (under ~10 minutes)
    python bench/run.py --write-docs     # ... and write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONFIG = BENCH / "config.yaml"
POST_LUA = BENCH / "wrk" / "post.lua"
DOCS = REPO / "docs" / "benchmarks.md"
THEIRS_VERSION = "0.3.5"

DOC_BEGIN = "<!-- bench/run.py results: begin -->"
DOC_END = "<!-- bench/run.py results: end -->"

# Targets from issue 2, section 10.
W1_W3_MIN_RATIO = 4.0
W2_MIN_SHARE_OF_W1 = 0.40
STARTUP_MAX_S = 0.5  # "well under a second"
# "Flat": RSS growth from N to 2N conversations within max(4 MiB, 5% of the N figure).
W4_FLAT_MIB = 4.0
W4_FLAT_SHARE = 0.05
# fakellm's default defaults.max_conversations: below it W4 measures growth, not the cap.
CONVERSATION_CAP = 10_000


def _expected_texts() -> dict[str, str]:
    rules = yaml.safe_load(CONFIG.read_text())["rules"]
    return {r["name"]: r["respond"]["content"] for r in rules}


EXPECTED = _expected_texts()
SHORT_TEXT = EXPECTED["bench_short"]
LONG_TEXT = EXPECTED["bench_long"]

OPENAI_HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
ANTHROPIC_HEADERS = {
    "Content-Type": "application/json",
    "x-api-key": "sk-ant-bench",
    "anthropic-version": "2023-06-01",
}


# --------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    connections: int
    check: Callable[[int, dict[str, str], bytes], str | None]  # -> problem or None
    # wrk replaces "{n}" in the body with a number unique to each request (post.lua)
    distinct: bool = False

    @property
    def threads(self) -> int:
        return min(2, self.connections)

    def body_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def _check_openai(status: int, headers: dict[str, str], raw: bytes) -> str | None:
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    content = json.loads(raw)["choices"][0]["message"]["content"]
    return None if content == SHORT_TEXT else f"content {content!r}, expected {SHORT_TEXT!r}"


def _check_openai_stream(status: int, headers: dict[str, str], raw: bytes) -> str | None:
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    text, done = [], False
    for line in raw.decode().splitlines():
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        if data == "[DONE]":
            done = True
            continue
        for choice in json.loads(data).get("choices", []):
            text.append(choice.get("delta", {}).get("content") or "")
    if not done:
        return "no data: [DONE]"
    got = "".join(text)
    return None if got == LONG_TEXT else f"streamed text {got[:80]!r}..., expected the configured reply"


def _check_anthropic(status: int, headers: dict[str, str], raw: bytes) -> str | None:
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    blocks = json.loads(raw)["content"]
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    return None if text == SHORT_TEXT else f"text {text!r}, expected {SHORT_TEXT!r}"


def _short_chat(stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": ("bench-long: tell me a story" if stream
                                                  else "bench-short: say hello")}],
    }
    if stream:
        body["stream"] = True
    return body


W1 = Workload("W1", "OpenAI chat, non-streaming, c=32", "/v1/chat/completions", OPENAI_HEADERS,
              _short_chat(), 32, _check_openai)
W2 = Workload("W2", "OpenAI chat, streaming ~70 words, c=32", "/v1/chat/completions", OPENAI_HEADERS,
              _short_chat(stream=True), 32, _check_openai_stream)
W3 = Workload("W3", "Anthropic messages, non-streaming, c=32", "/v1/messages", ANTHROPIC_HEADERS,
              {"model": "claude-sonnet-4-5", "max_tokens": 256,
               "messages": [{"role": "user", "content": "bench-short: say hello"}]}, 32, _check_anthropic)
W5 = Workload("W5", "OpenAI chat, non-streaming, c=1", "/v1/chat/completions", OPENAI_HEADERS,
              _short_chat(), 1, _check_openai)
W6 = Workload("W6", "W1 with a distinct body every request, c=32", "/v1/chat/completions", OPENAI_HEADERS,
              {**_short_chat(), "user": "bench-{n}"}, 32, _check_openai, distinct=True)
WRK_WORKLOADS = [W1, W2, W3, W5, W6]


def conversation_request(i: int) -> bytes:
    """The i-th W4 request: a distinct first user message, so a new conversation."""
    body = json.dumps({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"bench-conversation {i:07d}: a distinct opening message"}],
    }, separators=(",", ":")).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# --------------------------------------------------------------------------- servers


@dataclass
class Target:
    key: str          # "ours", "theirs", "reference"
    label: str
    argv: list[str]   # without --port
    env: dict[str, str]
    port_flag: str = "--port"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (unlike wall time, barely moved by other load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One server process we started (and so may stop), pinned to the server CPUs."""

    def __init__(self, target: Target, cpus: set[int] | None, logdir: Path):
        self.target = target
        self.cpus = cpus
        self.port = _free_port()
        self.log_path = logdir / f"{target.key}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> None:
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        log = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.target.argv + [self.target.port_flag, str(self.port)],
            env=self.target.env, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=pin, start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Poll W1's request in a tight loop; seconds from launch to the first 200."""
        body = W1.body_bytes()
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.target.label} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, _, _ = request(self.port, "POST", W1.path, body, W1.headers, timeout=5)
            except OSError:
                time.sleep(0.001)
                continue
            if status == 200:
                return time.perf_counter() - self.started_at
            raise RuntimeError(f"{self.target.label} answered its first request with {status}")
        raise RuntimeError(f"{self.target.label} did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --------------------------------------------------------------------------- measurements


@dataclass
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx responses + socket errors (connect, read, write, timeout)
    max_ms: float = 0.0
    mean_ms: float = 0.0


def run_wrk(port: int, w: Workload, seconds: float, body_file: Path, timeout: float = 10.0) -> WrkRun:
    """One wrk run; a request slower than `timeout` counts as a timeout error, not in the latencies."""
    cmd = ["wrk", f"-t{w.threads}", f"-c{w.connections}", f"-d{seconds:g}s", "--timeout", f"{timeout:g}s",
           "-s", str(POST_LUA)]
    for name, value in w.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(f"http://127.0.0.1:{port}{w.path}")
    env = dict(os.environ, FAKELLM_BENCH_BODY=str(body_file))
    if w.distinct:
        env["FAKELLM_BENCH_DISTINCT"] = "1"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + timeout + 60)
    m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    s = json.loads(m.group(1))
    errors = (s["status_errors"] + s["connect_errors"] + s["read_errors"] + s["write_errors"]
              + s["timeouts"])
    return WrkRun(
        rps=s["requests"] / (s["duration_us"] / 1e6),
        p50_ms=s["p50_us"] / 1000,
        p99_ms=s["p99_us"] / 1000,
        requests=s["requests"],
        errors=errors,
        max_ms=s["max_us"] / 1000,
        mean_ms=s["mean_us"] / 1000,
    )


async def _send_conversations(port: int, first: int, last: int, connections: int) -> int:
    """Send requests first..last-1 over `connections` keep-alive sockets; count non-200s."""
    ids = iter(range(first, last))
    bad = 0

    async def worker() -> None:
        nonlocal bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in ids:
                writer.write(conversation_request(i))
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                if "content-length" in fields:
                    await reader.readexactly(int(fields["content-length"]))
                else:  # chunked
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                if status != 200:
                    bad += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return bad


def send_conversations(port: int, first: int, last: int, connections: int = 8) -> int:
    return asyncio.run(_send_conversations(port, first, last, connections))


# --------------------------------------------------------------------------- the run


@dataclass
class Results:
    wrk: dict[str, dict[str, list[WrkRun]]] = field(default_factory=dict)  # workload -> target -> runs
    startup: dict[str, list[float]] = field(default_factory=dict)
    idle_rss_kib: dict[str, list[int]] = field(default_factory=dict)
    startup_cpu: dict[str, list[float]] = field(default_factory=dict)  # CPU seconds used until ready
    w4: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)  # (start, N, 2N, bad)


def results_from_json(saved: dict[str, Any]) -> Results:
    return Results(
        wrk={w: {k: [WrkRun(**r) for r in runs] for k, runs in t.items()} for w, t in saved["wrk"].items()},
        startup=saved["startup_s"], idle_rss_kib=saved["idle_rss_kib"],
        startup_cpu=saved.get("startup_cpu_s", {}),
        w4={k: [tuple(row) for row in rows] for k, rows in saved["w4_rss_kib"].items()},
    )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_targets(theirs_venv: Path, loop: str) -> dict[str, Target]:
    env = dict(os.environ)
    env.pop("FAKELLM_CONFIG", None)
    ours_env = dict(env, PYTHONPATH=str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", ""))
    theirs_env = dict(env, FAKELLM_CONFIG=str(CONFIG))
    theirs_env.pop("PYTHONPATH", None)
    return {
        "ours": Target("ours", "fakellm (this checkout)",
                       [sys.executable, "-m", "fakellm", "serve", "--config", str(CONFIG), "--loop", loop], ours_env),
        "theirs": Target("theirs", f"fakellm {THEIRS_VERSION}",
                         [str(theirs_venv / "bin" / "fakellm"), "serve", "--config", str(CONFIG)], theirs_env),
        "reference": Target("reference", "minimal ASGI app on uvicorn",
                            [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "raw_asgi:app",
                             "--loop", loop, "--http", "httptools", "--lifespan", "off",
                             "--no-access-log", "--log-level", "warning"], dict(env)),
    }


def make_venv(tmp: Path) -> Path:
    venv = tmp / "venv-fakellm-035"
    log(f"creating a throwaway venv with fakellm=={THEIRS_VERSION} ...")
    for cmd in ([sys.executable, "-m", "venv", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 f"fakellm=={THEIRS_VERSION}"]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{done.stdout}{done.stderr}")
    return venv


def check_workloads(servers: dict[str, Server], workloads: list[Workload]) -> None:
    for w in workloads:
        for key, server in servers.items():
            if key == "reference" and w is not W1:
                continue
            status, headers, raw = request(server.port, "POST", w.path, w.body_bytes(), w.headers)
            problem = w.check(status, headers, raw)
            if problem:
                raise SystemExit(f"{server.target.label} fails the {w.key} check: {problem}")


def run(args: argparse.Namespace, tmp: Path, cpus_server: set[int] | None) -> Results:
    venv = Path(args.theirs_venv) if args.theirs_venv else make_venv(tmp)
    targets = make_targets(venv, args.loop)
    order = ["ours", "theirs"]
    res = Results()

    # Startup: fresh processes, nothing else running; also gives the idle RSS.
    for i in range(args.startup_runs):
        for key in order:
            server = Server(targets[key], cpus_server, tmp)
            server.start()
            try:
                res.startup.setdefault(key, []).append(server.wait_ready())
                res.startup_cpu.setdefault(key, []).append(cpu_seconds(server.pid))
                res.idle_rss_kib.setdefault(key, []).append(rss_kib(server.pid))
            finally:
                server.stop()
        log(f"startup {i + 1}/{args.startup_runs}: "
            + ", ".join(f"{k} {res.startup[k][-1] * 1000:.0f} ms" for k in order))

    # Throughput: both servers (and the reference app) up at once; an idle one costs nothing.
    keys = order + (["reference"] if args.reference else [])
    servers = {k: Server(targets[k], cpus_server, tmp) for k in keys}
    body_files = {}
    for w in WRK_WORKLOADS:
        body_files[w.key] = tmp / f"{w.key}.json"
        body_files[w.key].write_bytes(w.body_bytes())
    try:
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait_ready()
        check_workloads(servers, WRK_WORKLOADS)
        log("all workloads answer correctly on both servers; warming up ...")
        for w in WRK_WORKLOADS:
            for k in keys:
                if k == "reference" and w is not W1:
                    continue
                run_wrk(servers[k].port, w, args.warmup, body_files[w.key])
        for r in range(args.rounds):
            for w in WRK_WORKLOADS:
                for k in keys:
                    if k == "reference" and w is not W1:
                        continue
                    result = run_wrk(servers[k].port, w, args.duration, body_files[w.key])
                    res.wrk.setdefault(w.key, {}).setdefault(k, []).append(result)
                    log(f"round {r + 1}/{args.rounds} {w.key} {k:9s} {result.rps:9.0f} req/s  "
                        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}")
        check_workloads(servers, WRK_WORKLOADS)  # still answering correctly after the load
    finally:
        for s in servers.values():
            s.stop()

    # W4: fresh servers, the same distinct conversations for both.
    n = args.conversations
    for r in range(args.w4_rounds):
        for key in order:
            server = Server(targets[key], cpus_server, tmp)
            server.start()
            try:
                server.wait_ready()
                start = rss_kib(server.pid)
                bad = send_conversations(server.port, 0, n)
                at_n = rss_kib(server.pid)
                bad += send_conversations(server.port, n, 2 * n)
                at_2n = rss_kib(server.pid)
            finally:
                server.stop()
            res.w4.setdefault(key, []).append((start, at_n, at_2n, bad))
            log(f"W4 round {r + 1}/{args.w4_rounds} {key:6s} RSS start {start / 1024:.1f} MiB, "
                f"{n} conv {at_n / 1024:.1f} MiB, {2 * n} conv {at_2n / 1024:.1f} MiB, non-200 {bad}")
    return res


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    wrk_version = (wrk.stdout + wrk.stderr).splitlines()[0].split(" [")[0] if (wrk.stdout + wrk.stderr) else "?"
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version,
        "loadavg": load,
    }


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
        return rev + (" + uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mark(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def paired_ratio(a: list[WrkRun], b: list[WrkRun]) -> float:
    """Median over rounds of a/b, each round's two runs taken back to back (drift cancels)."""
    return med([x.rps / y.rps if y.rps else float("inf") for x, y in zip(a, b, strict=True)])


def _loop_flag(meta: dict[str, Any]) -> str:
    """How ours was started: runs from before --loop existed used uvicorn's auto choice (uvloop here)."""
    return f" --loop {meta['loop']}" if meta.get("loop") else ""


def report(meta: dict[str, Any], res: Results) -> str:
    """The markdown tables; `meta` describes the run (see main)."""
    out: list[str] = []
    add = out.append
    n = meta["conversations"]
    before = meta["machine"]
    kind = "quick run (smoke check, not for comparison)" if meta["quick"] else "full run"
    add(f"Run: {meta['when']}, {kind}; ours = `fakellm serve{_loop_flag(meta)}` from the checkout at "
        f"{meta['rev']}, theirs = fakellm {THEIRS_VERSION} from PyPI in a throwaway venv, same config "
        f"(`bench/config.yaml`).")
    add("")
    add(f"Machine: {before['cpus']} CPUs, {before['cpu_model']}, {before['kernel']}, Python {before['python']}, "
        f"{before['wrk']}. Load average (1, 5, 15 min) at start {before['loadavg']}, at end "
        f"{meta['loadavg_after']}.")
    add("")
    add(f"Method: {meta['rounds']} round(s); in each, every workload runs on ours, then on 0.3.5, back to back; "
        f"{meta['duration']:g} s per wrk run after a {meta['warmup']:g} s warm-up. req/s and latencies are "
        f"medians over the rounds; ours / 0.3.5 is the median of the per-round ratios. {meta['pinning']}")
    add("")
    add("| Workload | ours req/s | 0.3.5 req/s | ours / 0.3.5 | ours p50 / p99 ms | 0.3.5 p50 / p99 ms "
        "| errors ours / 0.3.5 |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    med_rps: dict[tuple[str, str], float] = {}
    errors: dict[tuple[str, str], int] = {}
    for w in WRK_WORKLOADS:
        runs = res.wrk.get(w.key, {})
        cells = {}
        for k in ("ours", "theirs"):
            rs = runs.get(k, [])
            med_rps[w.key, k] = med([r.rps for r in rs])
            errors[w.key, k] = sum(r.errors for r in rs)
            cells[k] = (med_rps[w.key, k], med([r.p50_ms for r in rs]), med([r.p99_ms for r in rs]))
        ratio = paired_ratio(runs.get("ours", []), runs.get("theirs", []))
        add(f"| {w.key}: {w.title} | {cells['ours'][0]:,.0f} | {cells['theirs'][0]:,.0f} | {ratio:.2f}x "
            f"| {cells['ours'][1]:.2f} / {cells['ours'][2]:.2f} | {cells['theirs'][1]:.2f} / {cells['theirs'][2]:.2f} "
            f"| {errors[w.key, 'ours']} / {errors[w.key, 'theirs']} |")
    add("")
    add("Errors: non-2xx responses plus socket errors (connect, read, write, timeout) over all rounds, from wrk.")
    ref = res.wrk.get("W1", {}).get("reference")
    if ref:
        ref_rps = med([r.rps for r in ref])
        share_of_ref = paired_ratio(res.wrk["W1"]["ours"], ref)
        add(f"For scale: a minimal ASGI app on the same uvicorn (`bench/raw_asgi.py`, run right after each W1 "
            f"pair) does {ref_rps:,.0f} req/s on W1 here; ours reaches {share_of_ref:.0%} of that ceiling "
            f"(median of the per-round ratios).")
    add("")

    add(f"| W4: RSS (MiB), median of {len(res.w4.get('ours', []))} round(s) | at start | after {n:,} conversations "
        f"| after {2 * n:,} conversations | growth {n:,} -> {2 * n:,} | non-200 |")
    add("|---|---:|---:|---:|---:|---:|")
    growth: dict[str, float] = {}
    at_n: dict[str, float] = {}
    for k, label in (("ours", "ours"), ("theirs", "0.3.5")):
        rows = res.w4.get(k, [])
        s, a, b = (med([row[i] / 1024 for row in rows]) for i in range(3))
        growth[k], at_n[k] = med([(row[2] - row[1]) / 1024 for row in rows]), a
        add(f"| {label} | {s:.1f} | {a:.1f} | {b:.1f} | {growth[k]:+.1f} | {sum(row[3] for row in rows)} |")
    add("")

    cpu = res.startup_cpu
    add(f"| Startup, launch to first answered request ({len(res.startup['ours'])} runs each) | median | min | max "
        + ("| CPU time used, median " if cpu else "") + "| idle RSS MiB |")
    add("|---|---:|---:|---:|" + ("---:|" if cpu else "") + "---:|")
    for k, label in (("ours", "ours: `python -m fakellm serve`"), ("theirs", "0.3.5: `fakellm serve`")):
        t = res.startup[k]
        add(f"| {label} | {med(t) * 1000:.0f} ms | {min(t) * 1000:.0f} ms | {max(t) * 1000:.0f} ms "
            + (f"| {med(cpu[k]) * 1000:.0f} ms " if cpu else "")
            + f"| {med([v / 1024 for v in res.idle_rss_kib[k]]):.1f} |")
    add("")
    if cpu:
        add("Startup is mostly imports, so it is CPU-bound: on a loaded machine its wall time grows with the load; "
            "the CPU time (user + system of the server process until it was ready) hardly does.")
        add("")

    r1 = paired_ratio(res.wrk["W1"]["ours"], res.wrk["W1"]["theirs"])
    r3 = paired_ratio(res.wrk["W3"]["ours"], res.wrk["W3"]["theirs"])
    r6 = paired_ratio(res.wrk["W6"]["ours"], res.wrk["W6"]["theirs"])
    share = paired_ratio(res.wrk["W2"]["ours"], res.wrk["W1"]["ours"])
    flat_limit = max(W4_FLAT_MIB, W4_FLAT_SHARE * at_n["ours"])
    startup = med(res.startup["ours"])
    clean = lambda *keys: all(errors[key, "ours"] == 0 for key in keys)  # noqa: E731
    w4_clean = sum(row[3] for row in res.w4.get("ours", [])) == 0
    add("| Target (issue 2, section 10; W6: issue 11) | Measured | Status |")
    add("|---|---|---|")
    add(f"| W1 >= {W1_W3_MIN_RATIO:g}x fakellm 0.3.5 | {r1:.2f}x | {mark(r1 >= W1_W3_MIN_RATIO and clean('W1'))} |")
    add(f"| W3 >= {W1_W3_MIN_RATIO:g}x fakellm 0.3.5 | {r3:.2f}x | {mark(r3 >= W1_W3_MIN_RATIO and clean('W3'))} |")
    add(f"| W6 (a distinct body every request) >= {W1_W3_MIN_RATIO:g}x fakellm 0.3.5 | {r6:.2f}x "
        f"| {mark(r6 >= W1_W3_MIN_RATIO and clean('W6'))} |")
    add(f"| W2 >= {W2_MIN_SHARE_OF_W1:.0%} of our own W1 (median of per-round W2/W1) | {share:.0%} "
        f"| {mark(share >= W2_MIN_SHARE_OF_W1 and clean('W1', 'W2'))} |")
    w4_status = (mark(growth["ours"] <= flat_limit and w4_clean) if n >= CONVERSATION_CAP
                 else f"n/a: N below the {CONVERSATION_CAP:,}-conversation cap (quick run)")
    add(f"| W4 flat from {n:,} to {2 * n:,} conversations (growth <= {flat_limit:.1f} MiB) "
        f"| {growth['ours']:+.1f} MiB | {w4_status} |")
    add(f"| Startup well under a second (median < {STARTUP_MAX_S * 1000:.0f} ms) | {startup * 1000:.0f} ms "
        f"| {mark(startup < STARTUP_MAX_S)} |")
    return "\n".join(out)


DOC_TEMPLATE = """# Benchmarks

`bench/run.py` measures this checkout's `fakellm serve` against fakellm 0.3.5 from PyPI, in one run and in
alternation (ours, theirs, ours, theirs, ... for several rounds; the tables give medians).

## How to run

```sh
apt-get install -y wrk                 # the load generator (Debian / Ubuntu package)
pip install -e .                       # this checkout (run.py also puts src/ first on the path)
python bench/run.py --quick            # smoke check: a few seconds per workload
python bench/run.py                    # full run, under ~10 minutes
python bench/run.py --write-docs       # full run, then rewrite the results section below
python bench/run.py --json r.json      # keep the raw figures; --from-json r.json re-renders the tables
pip install py-spy && python bench/profile.py W1   # where this server spends its time under W1
python bench/inproc.py                 # CPU time per request through the app in-process (W1, W3, W6, an agent history)
python bench/loops.py                  # asyncio against uvloop, about 7 minutes (--quick, --write-docs, --json as above)
```

The script creates a throwaway venv with `pip install fakellm==0.3.5` in a temporary directory
(`--theirs-venv DIR` reuses an existing one). Both servers load `bench/config.yaml`, which uses only 0.3.5
syntax. Before measuring, every workload is sent once to both servers and the answer is checked (status 200
and the configured text, for the stream the text reassembled from the SSE events), and again after the load;
wrk's non-2xx responses and socket errors are counted for every run, so a broken server cannot win.

Workloads:

- **W1**: OpenAI `POST /v1/chat/completions`, non-streaming, a small request matched by a rule with a
  fixed short answer; `wrk -t2 -c32`.
- **W2**: the same endpoint with `stream: true` and a 71-word reply; c=32. fakellm 0.3.5 sleeps 10 ms per
  word while streaming, so its figure here is bound by those sleeps, not by its CPU.
- **W3**: Anthropic `POST /v1/messages`, non-streaming; c=32.
- **W5**: W1 at c=1 (`wrk -t1 -c1`): the latency of a single client.
- **W6**: W1 with a distinct body on every request (wrk's script puts a new number in the `user` field), so no
  request repeats an earlier one byte for byte and fakellm's reuse of repeated bodies never applies; c=32.
- **W4**: server RSS (`VmRSS` from `/proc/PID/status`) at start, after N and after 2N distinct conversations
  (distinct first user messages; N = 20,000 in the full run), sent by a Python client over 8 keep-alive
  connections. Both servers get the same requests, each on a fresh process.
- **Startup**: time from launching `fakellm serve` to the first answered request (the W1 request polled in a
  tight loop), on a fresh process each time.

On a machine with 2 or more CPUs the servers are pinned to CPU 0 and wrk and the Python client to CPU 1
(`sched_setaffinity`, like `taskset -c`); `--no-pin` turns that off.

{begin}
{end}
"""


def write_docs(body: str, note: str | None) -> None:
    text = DOCS.read_text() if DOCS.exists() else DOC_TEMPLATE.format(begin=DOC_BEGIN, end=DOC_END)
    if DOC_BEGIN not in text or DOC_END not in text:
        text = text.rstrip() + f"\n\n{DOC_BEGIN}\n{DOC_END}\n"
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    section = "## Results\n\n" + (f"{note}\n\n" if note else "") + body
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(f"{head}{DOC_BEGIN}\n{section}\n{DOC_END}{tail}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short smoke run: 1 round, 2 s per workload, N=2,000")
    p.add_argument("--rounds", type=int, help="alternation rounds for W1/W2/W3/W5/W6 (default 5)")
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 6)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per server and workload (default 2)")
    p.add_argument("--conversations", type=int, help="W4's N: RSS is read after N and 2N (default 20000)")
    p.add_argument("--w4-rounds", type=int, help="W4 rounds (default 2)")
    p.add_argument("--startup-runs", type=int, help="startup measurements per server (default 7)")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="event loop of ours and of the reference app (default uvloop: the loop fakellm 0.3.5 runs on, "
                        "so both servers are measured alike; bench/loops.py compares the loops)")
    p.add_argument("--theirs-venv", help="reuse this venv holding fakellm 0.3.5 instead of making one")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the minimal-ASGI-app reference on W1")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin servers and load to CPUs")
    p.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    p.add_argument("--note", help="a line to put above the results in docs/benchmarks.md")
    p.add_argument("--json", dest="json_out", help="also write the raw figures to this JSON file")
    p.add_argument("--from-json", help="do not measure: render the report from a file written by --json")
    args = p.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        text = report(saved["meta"], results_from_json(saved))
        print(text)
        if args.write_docs:
            write_docs(text, args.note)
            log(f"wrote {DOCS.relative_to(REPO)}")
        return
    quick = dict(rounds=1, duration=2, warmup=1, conversations=2000, w4_rounds=1, startup_runs=3)
    full = dict(rounds=5, duration=6, warmup=2, conversations=20000, w4_rounds=2, startup_runs=7)
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    if shutil.which("wrk") is None:
        raise SystemExit("bench/run.py needs wrk, the HTTP load generator. Install it with:\n"
                         "    apt-get install -y wrk      (Debian / Ubuntu; use sudo if not root)")

    cpus = sorted(os.sched_getaffinity(0))
    cpus_server: set[int] | None = None
    if args.pin and len(cpus) >= 2:
        cpus_server = {cpus[0]}
        load_cpus = set(cpus[1:])
        os.sched_setaffinity(0, load_cpus)  # wrk and the Python client inherit this
        pinning = (f"Servers pinned to CPU {cpus[0]}, wrk and the Python client to CPU(s) "
                   f"{','.join(map(str, sorted(load_cpus)))} (sched_setaffinity, like `taskset -c`).")
    else:
        pinning = "No CPU pinning" + (" (--no-pin)." if not args.pin else " (fewer than 2 CPUs available).")
    log(pinning)

    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M %Z"), "rev": git_rev(), "machine": machine(), "pinning": pinning,
        **{k: getattr(args, k) for k in ("quick", "rounds", "duration", "warmup", "conversations", "loop")},
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fakellm-bench-") as tmp:
        res = run(args, Path(tmp), cpus_server)
    meta["loadavg_after"] = machine()["loadavg"]
    text = report(meta, res)
    log(f"done in {time.perf_counter() - t0:.0f} s\n")
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "meta": meta,
            "wrk": {w: {k: [r.__dict__ for r in runs] for k, runs in t.items()} for w, t in res.wrk.items()},
            "startup_s": res.startup, "startup_cpu_s": res.startup_cpu, "idle_rss_kib": res.idle_rss_kib,
            "w4_rss_kib": res.w4,
        }, indent=2))
    if args.write_docs:
        write_docs(text, args.note)
        log(f"wrote {DOCS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
