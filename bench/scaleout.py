#!/usr/bin/env python3
"""Scaling out: fakellm on its memory store, on Redis with one worker, and on Redis with two workers.

One run measures the three setups in alternation over several rounds (medians), each a
`fakellm serve` from this checkout on the same config:

  memory-1w   fakellm serve                                  (the default: state in the process)
  redis-1w    fakellm serve --state redis://...              (state in Redis)
  redis-2w    fakellm serve --workers 2 --state redis://...  (two workers sharing it)

Workloads (from bench/run.py and bench/loops.py): W1 (non-streaming chat, c=32), W6 (a distinct body
every request, c=32) and W7 (1,000 concurrent paced streams of ~70 chunks 10 ms apart, c=1000; p50 and
p99 completion against the ideal). The script starts its own `redis-server` (Debian's package) on a
free port of 127.0.0.1 with persistence off, and stops it and every server by PID. Load comes from wrk.

    python bench/scaleout.py --quick
    python bench/scaleout.py --write-docs     # the full run (about 5 minutes), into docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loops import CHUNK_DELAY_MS, W7, WRK_TIMEOUT_S, content_chunks, paced_config, raise_open_files_limit  # noqa: E402
from run import DOCS, REPO, W1, W6, Server, Target, WrkRun, check_workloads, log, run_wrk  # noqa: E402

SETUPS = ("memory-1w", "redis-1w", "redis-2w")
WORKLOADS = [W1, W6, W7]
DOC_BEGIN = "<!-- bench/scaleout.py results: begin -->"
DOC_END = "<!-- bench/scaleout.py results: end -->"


class Redis:
    """A redis-server of our own on a free port, persistence off; stopped by its PID."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise SystemExit("redis-server did not start")

    def url(self, prefix: str) -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def targets(config: Path, redis: Redis) -> dict[str, Target]:
    env = dict(os.environ)
    env.pop("FAKELLM_ADMIN_TOKEN", None)
    env.pop("FAKELLM_STATE", None)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    serve = [sys.executable, "-m", "fakellm", "serve", "--config", str(config)]
    return {
        "memory-1w": Target("memory-1w", "fakellm serve", serve, env),
        "redis-1w": Target("redis-1w", "fakellm serve --state redis://...", serve + ["--state", redis.url("bench1")],
                           env),
        "redis-2w": Target("redis-2w", "fakellm serve --workers 2 --state redis://...",
                           serve + ["--workers", "2", "--state", redis.url("bench2")], env),
    }


def run(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, dict[str, list[WrkRun]]], int]:
    redis = Redis()
    servers: dict[str, Server] = {}
    results: dict[str, dict[str, list[WrkRun]]] = {}
    try:
        config = paced_config(tmp / "scaleout.yaml")
        servers = {key: Server(t, None, tmp) for key, t in targets(config, redis).items()}
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait_ready()
        body_files = {}
        for w in WORKLOADS:
            body_files[w.key] = tmp / f"{w.key}.json"
            body_files[w.key].write_bytes(w.body_bytes())
            check_workloads(servers, [w])
        chunks = content_chunks(servers["memory-1w"].port)
        log(f"all setups answer correctly (W7: {chunks} content chunks); warming up ...")
        for w in WORKLOADS:
            for s in servers.values():
                run_wrk(s.port, w, args.warmup, body_files[w.key], timeout=WRK_TIMEOUT_S.get(w.key, 10.0))
        for r in range(args.rounds):
            order = SETUPS if r % 2 == 0 else SETUPS[::-1]
            for w in WORKLOADS:
                for key in order:
                    result = run_wrk(servers[key].port, w, args.duration, body_files[w.key],
                                     timeout=WRK_TIMEOUT_S.get(w.key, 10.0))
                    results.setdefault(w.key, {}).setdefault(key, []).append(result)
                    log(f"round {r + 1}/{args.rounds} {w.key:3s} {key:10s} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:8.1f} ms  p99 {result.p99_ms:8.1f} ms  errors {result.errors}")
        check_workloads(servers, WORKLOADS)
    finally:
        for s in servers.values():
            s.stop()
        redis.stop()
    return results, chunks


def report(results: dict[str, dict[str, list[WrkRun]]], chunks: int, args: argparse.Namespace) -> str:
    def med(runs: list[WrkRun], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs)

    ideal_ms = (chunks - 1) * CHUNK_DELAY_MS  # the paced rule: the first chunk at once, then one every 10 ms
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} rounds of {args.duration:g} s per "
        f"workload and setup (medians); {os.cpu_count()} CPUs shared by wrk, the servers and Redis.",
        "",
        "| workload | setup | req/s | p50 | p99 | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for w in WORKLOADS:
        for key in SETUPS:
            runs = results[w.key][key]
            p50, p99 = med(runs, "p50_ms"), med(runs, "p99_ms")
            extra = f" ({p50 / ideal_ms:.2f}x / {p99 / ideal_ms:.2f}x ideal)" if w is W7 else ""
            lines.append(f"| {w.key} | {key} | {med(runs, 'rps'):,.0f} | {p50:,.1f} ms | {p99:,.1f} ms{extra} | "
                         f"{sum(r.errors for r in runs)} |")
    w1 = results["W1"]
    per_request = {key: 1e6 / med(w1[key], "rps") for key in SETUPS}
    lines += ["", f"W7's ideal completion: {ideal_ms} ms ({chunks} content chunks 10 ms apart). On W1 one worker "
                  f"spends {per_request['memory-1w']:,.0f} µs of wall time per request on the memory store and "
                  f"{per_request['redis-1w']:,.0f} µs on Redis: the Redis store adds about "
                  f"{per_request['redis-1w'] - per_request['memory-1w']:,.0f} µs per request at c=32."]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    block = f"{DOC_BEGIN}\n{text}\n{DOC_END}"
    if DOC_BEGIN in doc:
        head, rest = doc.split(DOC_BEGIN, 1)
        doc = head + block + rest.split(DOC_END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n## Scaling out\n\n" + block + "\n"
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 4.0, 1.0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="fakellm-scaleout-") as tmp:
        results, chunks = run(args, Path(tmp))
    text = report(results, chunks, args)
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
