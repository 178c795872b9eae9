#!/usr/bin/env python3
"""What the Redis store costs a request, against the memory store: in-process, no HTTP socket.

Drives `FakeLLMApp.__call__` in one event loop with the bodies of bench/inproc.py, once over a
MemoryStore and once over a RedisStore (a redis-server it starts on 127.0.0.1 and a free port with
persistence off, or `--redis URL`). For each store: the wall time per request one at a time (c=1:
the latency the store adds) and with `--concurrency` requests in flight (throughput), and this
process's CPU time per request. Redis's own CPU is not counted: it runs in its own process.

    PYTHONPATH=src python bench/store_overhead.py              # W1 and W6, 2,000 requests each
    PYTHONPATH=src python bench/store_overhead.py AGENT --n 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(BENCH.parent / "src"))

from inproc import CASES, Case  # noqa: E402

from fakellm.app import build_app  # noqa: E402
from fakellm.config import load_config  # noqa: E402
from fakellm.engine.engine import bounds_of  # noqa: E402
from fakellm.providers import registry  # noqa: E402
from fakellm.store.memory import MemoryStore  # noqa: E402
from fakellm.store.redis import RedisStore  # noqa: E402


def start_redis() -> tuple[subprocess.Popen, str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="fakellm-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            RedisStore.connect(url, prefix="bench-probe")
            return proc, url, workdir
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


async def drive(app, case: Case, n: int, concurrency: int, offset: int) -> tuple[float, float]:
    """Wall and CPU seconds for n requests, `concurrency` at a time."""
    failures: list[int] = []

    async def one(i: int) -> None:
        raw = case.body(offset + i)
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "server": ("127.0.0.1", 9999),
                 "client": ("127.0.0.1", 50000), "scheme": "http", "method": "POST", "root_path": "",
                 "path": case.path, "raw_path": case.path.encode(), "query_string": b"",
                 "headers": case.headers + [(b"content-length", b"%d" % len(raw))], "state": {}}
        message = {"type": "http.request", "body": raw, "more_body": False}

        async def receive():
            return message

        async def send(m):
            if m["type"] == "http.response.start" and m["status"] != 200:
                failures.append(m["status"])

        await app(scope, receive, send)

    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, concurrency):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + concurrency))))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if failures:
        raise SystemExit(f"{case.key}: {len(failures)} non-200 answers, e.g. {failures[0]}")
    return wall, cpu


async def measure(app, case: Case, n: int, concurrency: int, repeats: int) -> list[tuple[float, float]]:
    """The best (wall, CPU) of `repeats` runs, one request at a time and then `concurrency` at a time."""
    await drive(app, case, 200, concurrency, 10**7)  # warm-up: first connections, script loading
    return [min([await drive(app, case, n, c, r * n) for r in range(repeats)]) for c in (1, concurrency)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", default=["W1", "W6"])
    p.add_argument("--n", type=int, default=2000, help="requests per measurement")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="the best of this many runs is shown")
    p.add_argument("--redis", help="a Redis URL to use instead of starting redis-server")
    args = p.parse_args()
    proc = workdir = None
    url = args.redis
    if url is None:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server), or pass --redis URL")
        proc, url, workdir = start_redis()
    try:
        config = load_config(BENCH / "config.yaml")
        print(f"{args.n} requests per run, best of {args.repeats}; Redis at {url}")
        print(f"{'case':6s} {'store':7s} {'c=1 us/req':>11s} {'c=1 cpu us':>11s} "
              f"{f'c={args.concurrency} us/req':>12s} {f'c={args.concurrency} cpu us':>13s}")
        for key in args.cases:
            case = CASES[key]
            for name in ("memory", "redis"):
                if name == "memory":
                    store = MemoryStore(bounds_of(config), registry.REDACTED_HEADERS)
                else:
                    store = RedisStore(url, prefix=f"bench-{key}-{os.getpid()}", bounds=bounds_of(config),
                                       redacted_headers=registry.REDACTED_HEADERS)
                app = build_app(config, store=store)
                (wall1, cpu1), (wall_c, cpu_c) = asyncio.run(measure(app, case, args.n, args.concurrency, args.repeats))
                us = 1e6 / args.n
                print(f"{key:6s} {name:7s} {wall1 * us:11.1f} {cpu1 * us:11.1f} {wall_c * us:12.1f} {cpu_c * us:13.1f}")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
