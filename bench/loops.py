#!/usr/bin/env python3
"""`fakellm serve` on the asyncio event loop against uvloop, side by side (issue 12, "Under load").

Both servers (`--loop asyncio`, `--loop uvloop`) run from this checkout with the same config and
take turns on every workload, round after round (the first loop alternates between rounds), so
drift in the machine's load hits both alike. Workloads:

  W1       OpenAI chat, non-streaming, c=32
  W6       W1 with a distinct body every request, c=32
  W7       1,000 concurrent paced streams: the ~70-chunk reply of W2, 10 ms between chunks
           (chunk_delay_ms: 10), c=1000; each stream's completion time against the ideal
  C2k      W1's request over 2,000 connections (wrk -c2000)
  C2k-ref  C2k on a minimal ASGI app (bench/raw_asgi.py) on the same uvicorn and loop, to tell
           the loop's share from fakellm's (--no-reference skips it)

For each: req/s, p50, p99, max and errors from wrk. wrk sees only the requests answered within its run: a connection that is
never served has no latency to show. So during W7, C2k and C2k-ref a probe also opens a fresh
connection every half second, times it from connect to its answer (unanswered when the load ends
counts as such), and samples the server's accept queue (connections not yet accepted).

    python bench/loops.py --quick        # smoke check: 1 round, a few seconds per workload
    python bench/loops.py                # full run: 3 rounds, about 7 minutes
    python bench/loops.py --write-docs   # ... and write the figures into docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402  (bench/run.py, next to this file)
    BENCH, CONFIG, DOCS, LONG_TEXT, OPENAI_HEADERS, REPO, W1, W6, Server, Target, Workload, WrkRun, _check_openai,
    _check_openai_stream, _short_chat, check_workloads, git_rev, log, machine, paired_ratio, request, run_wrk,
)

LOOPS = ("asyncio", "uvloop")
CHUNK_DELAY_MS = 10
DOC_BEGIN = "<!-- bench/loops.py results: begin -->"
DOC_END = "<!-- bench/loops.py results: end -->"

W7 = Workload("W7", "1,000 paced streams (~70 chunks, 10 ms apart), c=1000", "/v1/chat/completions",
              OPENAI_HEADERS, {**_short_chat(stream=True),
                               "messages": [{"role": "user", "content": "bench-paced: tell me a story"}]},
              1000, _check_openai_stream)
C2K = Workload("C2k", "W1 over 2,000 connections", W1.path, W1.headers, W1.body, 2000, _check_openai)
# C2k on a minimal ASGI app under the same uvicorn: whatever it shares with fakellm is the loop's doing.
C2K_REF = Workload("C2k-ref", "C2k on a minimal ASGI app (`bench/raw_asgi.py`)", W1.path, W1.headers, W1.body,
                   2000, _check_openai)
WORKLOADS = [W1, W6, W7, C2K, C2K_REF]
# Where many connections open at once: probed with fresh connections and the accept queue sampled.
PROBED = (W7, C2K, C2K_REF)
# Generous wrk timeouts: a request slower than this would leave the latencies and count as an error.
WRK_TIMEOUT_S = {"W7": 30.0, "C2k": 60.0, "C2k-ref": 60.0}


def paced_config(path: Path) -> Path:
    """bench/config.yaml plus W7's rule: the same long reply, paced."""
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["rules"].insert(0, {"name": "bench_paced", "when": {"messages_contain": "bench-paced"},
                            "respond": {"content": LONG_TEXT, "chunk_delay_ms": CHUNK_DELAY_MS}})
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def targets(config: Path) -> dict[str, dict[str, Target]]:
    """loop -> "fakellm" and "reference" (the minimal ASGI app) on that loop."""
    env = dict(os.environ)
    env.pop("FAKELLM_ADMIN_TOKEN", None)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return {loop: {
        "fakellm": Target(loop, f"fakellm serve --loop {loop}",
                          [sys.executable, "-m", "fakellm", "serve", "--config", str(config), "--loop", loop], env),
        "reference": Target(f"reference-{loop}", f"bench/raw_asgi.py on uvicorn --loop {loop}",
                            [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "raw_asgi:app", "--loop", loop,
                             "--http", "httptools", "--lifespan", "off", "--no-access-log", "--log-level", "warning"],
                            env),
    } for loop in LOOPS}


def content_chunks(port: int) -> int:
    """How many content chunks W7's stream has (its ideal time is (n - 1) x the chunk delay)."""
    _, _, raw = request(port, "POST", W7.path, W7.body_bytes(), W7.headers, timeout=30)
    n = 0
    for line in raw.decode().splitlines():
        if line.startswith("data: {"):
            n += any(c.get("delta", {}).get("content") for c in json.loads(line[6:]).get("choices", []))
    return n


def raise_open_files_limit(wanted: int = 65536) -> int:
    """wrk -c2000 and a server holding 2,000 sockets need more descriptors than a default shell allows;
    children inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------- the new-connection probe


def accept_queue(port: int) -> int | None:
    """Connections the kernel has completed on 127.0.0.1:port that the server has not accepted yet
    (a listening socket's rx_queue in /proc/net/tcp); None where there is no such file."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    local = f"0100007F:{port:04X}"
    for line in lines:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[4].split(":")[1], 16)
    return None


@dataclass
class ProbeResult:
    opened: int
    waits_ms: list[float]  # connect to the first byte of the answer, for probes answered during the load
    queue: list[int]       # the server's accept queue, sampled every interval during the load


class Probe:
    """During a load: every `interval` seconds, opens a fresh connection that sends W1's request and
    times it from connect to the first byte of the answer, and samples the server's accept queue.
    A probe still waiting when the load ends is unanswered: the load's end, not the server, would
    be what frees it."""

    def __init__(self, port: int, interval: float = 0.5):
        self.port = port
        self.interval = interval
        self.request = (f"POST {W1.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in W1.headers.items())
                        + f"Content-Length: {len(W1.body_bytes())}\r\n\r\n").encode() + W1.body_bytes()
        self.waits: list[float] = []
        self.queue: list[int] = []
        self.opened = 0
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.threads.append(threading.Thread(target=self._every_interval, daemon=True))
        self.threads[0].start()

    def _every_interval(self) -> None:
        while not self.stopped.wait(self.interval):
            queued = accept_queue(self.port)
            if queued is not None:
                self.queue.append(queued)
            t = threading.Thread(target=self._one, daemon=True)
            self.threads.append(t)
            t.start()

    def _one(self) -> None:
        t0 = time.perf_counter()
        with self.lock:
            self.opened += 1
        try:
            # connect() returns once the kernel has queued the connection; the server may accept it much later.
            with socket.create_connection(("127.0.0.1", self.port), timeout=120) as sock:
                sock.sendall(self.request)
                sock.settimeout(0.05)  # wake up now and then to notice the end of the load
                while not self.stopped.is_set():
                    try:
                        answered = bool(sock.recv(1))
                    except TimeoutError:
                        continue
                    if answered:
                        with self.lock:
                            self.waits.append((time.perf_counter() - t0) * 1000)
                    return
        except OSError:
            pass  # refused or reset: unanswered

    def stop(self) -> ProbeResult:
        self.stopped.set()
        for t in list(self.threads):
            t.join(5)
        with self.lock:
            return ProbeResult(self.opened, list(self.waits), list(self.queue))


# --------------------------------------------------------------------------- the run


@dataclass
class Results:
    wrk: dict[str, dict[str, list[WrkRun]]] = field(default_factory=dict)  # workload -> loop -> runs
    probes: dict[str, dict[str, list[ProbeResult]]] = field(default_factory=dict)  # workload -> loop -> runs
    chunks: int = 0


def measure(server: Server, w: Workload, seconds: float, body_file: Path) -> tuple[WrkRun, ProbeResult | None]:
    timeout = WRK_TIMEOUT_S.get(w.key, 10.0)
    if w not in PROBED:
        return run_wrk(server.port, w, seconds, body_file, timeout=timeout), None
    probe = Probe(server.port)
    # The probe starts with the load: wrk opens its 2,000 connections in the first moments.
    starter = threading.Timer(0.5, probe.start)
    starter.start()
    try:
        result = run_wrk(server.port, w, seconds, body_file, timeout=timeout)
    finally:
        starter.cancel()
        probes = probe.stop()
    return result, probes


def run(args: argparse.Namespace, tmp: Path, cpus_server: set[int] | None) -> Results:
    config = paced_config(tmp / "loops.yaml")
    kinds = ("fakellm", "reference") if args.reference else ("fakellm",)
    servers = {(loop, kind): Server(t[kind], cpus_server, tmp) for loop, t in targets(config).items() for kind in kinds}
    workloads = [w for w in WORKLOADS if (args.reference or w is not C2K_REF) and (not args.only or w.key in args.only)]

    def server(loop: str, w: Workload) -> Server:
        return servers[loop, "reference" if w is C2K_REF else "fakellm"]

    def check_all() -> None:
        for w in workloads:
            check_workloads({loop: server(loop, w) for loop in LOOPS}, [w])

    body_files = {}
    for w in WORKLOADS:
        body_files[w.key] = tmp / f"{w.key}.json"
        body_files[w.key].write_bytes(w.body_bytes())
    res = Results()
    try:
        for s in servers.values():
            s.start()
        for (loop, kind), s in servers.items():
            s.wait_ready()
            if kind == "fakellm" and f"(event loop: {loop})" not in s.log():  # measure the loop we claim to
                raise SystemExit(f"{s.target.label} does not run on {loop}:\n{s.log()}")
        check_all()
        res.chunks = content_chunks(servers["asyncio", "fakellm"].port)
        log(f"all workloads answer correctly on both loops (W7: {res.chunks} content chunks); warming up ...")
        for w in workloads:
            for loop in LOOPS:
                run_wrk(server(loop, w).port, w, args.warmup, body_files[w.key], timeout=WRK_TIMEOUT_S.get(w.key, 10.0))
        for r in range(args.rounds):
            order = LOOPS if r % 2 == 0 else LOOPS[::-1]
            for w in workloads:
                for loop in order:
                    seconds = args.c2k_duration if w in (C2K, C2K_REF) else args.duration
                    result, probes = measure(server(loop, w), w, seconds, body_files[w.key])
                    res.wrk.setdefault(w.key, {}).setdefault(loop, []).append(result)
                    line = (f"round {r + 1}/{args.rounds} {w.key:4s} {loop:8s} {result.rps:8.0f} req/s  "
                            f"p50 {result.p50_ms:8.1f} ms  p99 {result.p99_ms:8.1f} ms  max {result.max_ms:8.1f} ms  "
                            f"errors {result.errors}")
                    if probes is not None:
                        res.probes.setdefault(w.key, {}).setdefault(loop, []).append(probes)
                        line += (f"  probes {len(probes.waits_ms)}/{probes.opened} answered, max wait "
                                 f"{max(probes.waits_ms, default=0):.0f} ms")
                    log(line)
        check_all()  # still answering correctly after the load
    finally:
        for s in servers.values():
            s.stop()
    return res


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(value: float) -> str:
    return f"{value / 1000:,.2f} s" if value >= 1000 else f"{value:,.1f} ms"


def report(meta: dict[str, Any], res: Results) -> str:
    out: list[str] = []
    add = out.append
    m = meta["machine"]
    kind = "quick run (smoke check, not for comparison)" if meta["quick"] else "full run"
    add(f"Run: {meta['when']}, {kind}; `fakellm serve --loop asyncio` and `--loop uvloop` from the checkout at "
        f"{meta['rev']}, the same config (`bench/config.yaml` plus W7's paced rule).")
    add("")
    add(f"Machine: {m['cpus']} CPUs, {m['cpu_model']}, {m['kernel']}, Python {m['python']}, {m['wrk']}. "
        f"Load average (1, 5, 15 min) at start {m['loadavg']}, at end {meta['loadavg_after']}.")
    add("")
    add(f"Method: {meta['rounds']} round(s); in each, every workload runs on both loops back to back (the first "
        f"loop alternating between rounds); {meta['duration']:g} s per wrk run ({meta['c2k_duration']:g} s for C2k) "
        f"after a {meta['warmup']:g} s warm-up. req/s, p50 and p99 are medians over the rounds, max the largest; "
        f"uvloop / asyncio is the median of the per-round ratios of req/s. "
        f"{meta['pinning']}")
    add("")
    add("| Workload | req/s asyncio | req/s uvloop | uvloop / asyncio | p50 asyncio / uvloop | p99 asyncio / uvloop "
        "| max asyncio / uvloop | errors asyncio / uvloop |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for w in WORKLOADS:
        runs = res.wrk.get(w.key, {})
        a, u = runs.get("asyncio", []), runs.get("uvloop", [])
        if not a or not u:
            continue
        add(f"| {w.key}: {w.title} | {med([r.rps for r in a]):,.0f} | {med([r.rps for r in u]):,.0f} "
            f"| {paired_ratio(u, a):.2f}x "
            f"| {ms(med([r.p50_ms for r in a]))} / {ms(med([r.p50_ms for r in u]))} "
            f"| {ms(med([r.p99_ms for r in a]))} / {ms(med([r.p99_ms for r in u]))} "
            f"| {ms(max(r.max_ms for r in a))} / {ms(max(r.max_ms for r in u))} "
            f"| {sum(r.errors for r in a)} / {sum(r.errors for r in u)} |")
    add("")
    add("Latencies are wrk's: from writing a request to the end of its answer (for W7 the whole stream), for the "
        "requests answered within the run; a max close to the run's length means that some connections were "
        "answered only at its end. Errors: non-2xx responses plus socket errors (connect, read, write, timeout) "
        "over all rounds.")
    w7 = res.wrk.get("W7", {})
    if w7.get("asyncio") and w7.get("uvloop") and res.chunks:
        ideal = (res.chunks - 1) * CHUNK_DELAY_MS
        cells = {loop: (med([r.p50_ms for r in w7[loop]]) / ideal, med([r.p99_ms for r in w7[loop]]) / ideal)
                 for loop in LOOPS}
        add(f"W7's stream has {res.chunks} content chunks {CHUNK_DELAY_MS} ms apart, so a stream ideally completes in "
            f"{ideal} ms: p50 / p99 are {cells['asyncio'][0]:.2f}x / {cells['asyncio'][1]:.2f}x of that on asyncio, "
            f"{cells['uvloop'][0]:.2f}x / {cells['uvloop'][1]:.2f}x on uvloop.")
    add("")
    if res.probes:
        add("| During the load | loop | fresh connections answered during the load | their wait p50 "
            "| p90 | max | not yet accepted: most / at the end |")
        add("|---|---|---:|---:|---:|---:|---:|")
        for w in PROBED:
            for loop in LOOPS:
                probes = res.probes.get(w.key, {}).get(loop, [])
                if not probes:
                    continue
                waits = sorted(x for p in probes for x in p.waits_ms)
                opened = sum(p.opened for p in probes)
                p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))] if waits else None
                queues = [p.queue for p in probes if p.queue]
                queued = (f"{med([max(q) for q in queues]):,.0f} / {med([q[-1] for q in queues]):,.0f}" if queues
                          else "-")
                add(f"| {w.key} | {loop} "
                    f"| {len(waits)} of {opened} | {ms(med(waits)) if waits else '-'} | {ms(p90) if waits else '-'} "
                    f"| {ms(max(waits)) if waits else '-'} | {queued} |")
        add("")
        add("Fresh connections: one every 0.5 s while wrk runs, timed from connect to the first byte of the answer, "
            "over all rounds; one not answered before wrk stopped is counted as unanswered (it had waited at least "
            "the rest of the run) and is not in the wait columns. Not yet accepted: connections the kernel had "
            "completed but the server had not accepted (the listening socket's queue in /proc/net/tcp, sampled with "
            "each fresh connection); the most and the last sample before the load ended, medians over the rounds. "
            "wrk's own figures cannot show these connections: a request that never gets an answer has no latency.")
    return "\n".join(out)


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    if DOC_BEGIN not in doc or DOC_END not in doc:
        raise SystemExit(f"{DOCS.relative_to(REPO)} has no {DOC_BEGIN} ... {DOC_END} section to fill")
    head, rest = doc.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    DOCS.write_text(f"{head}{DOC_BEGIN}\n{text}\n{DOC_END}{tail}")


def to_json(meta: dict[str, Any], res: Results) -> dict[str, Any]:
    return {"meta": meta, "chunks": res.chunks,
            "wrk": {w: {k: [r.__dict__ for r in runs] for k, runs in t.items()} for w, t in res.wrk.items()},
            "probes": {w: {k: [p.__dict__ for p in ps] for k, ps in t.items()} for w, t in res.probes.items()}}


def from_json(saved: dict[str, Any]) -> Results:
    return Results(wrk={w: {k: [WrkRun(**r) for r in runs] for k, runs in t.items()} for w, t in saved["wrk"].items()},
                   probes={w: {k: [ProbeResult(**p) for p in ps] for k, ps in t.items()}
                           for w, t in saved["probes"].items()},
                   chunks=saved["chunks"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 round, 3 s per workload (5 s for C2k)")
    p.add_argument("--rounds", type=int, help="alternation rounds (default 3)")
    p.add_argument("--duration", type=float, help="seconds per wrk run for W1, W6, W7 (default 10)")
    p.add_argument("--c2k-duration", type=float, help="seconds per C2k run (default 15; also C2k-ref)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per loop and workload (default 2)")
    p.add_argument("--only", type=lambda v: v.split(","), metavar="W1,W6,...",
                   help=f"run only these workloads (of {', '.join(w.key for w in WORKLOADS)})")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip C2k on the minimal ASGI app (bench/raw_asgi.py)")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin servers and load to CPUs")
    p.add_argument("--write-docs", action="store_true", help="write the figures into docs/benchmarks.md")
    p.add_argument("--json", dest="json_out", help="also write the raw figures to this JSON file")
    p.add_argument("--from-json", help="do not measure: render the report from a file written by --json")
    args = p.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        text = report(saved["meta"], from_json(saved))
        print(text)
        if args.write_docs:
            write_docs(text)
        return
    defaults = (dict(rounds=1, duration=3, c2k_duration=5, warmup=1) if args.quick
                else dict(rounds=3, duration=10, c2k_duration=15, warmup=2))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.only or ()) - {w.key for w in WORKLOADS}
    if unknown:
        p.error(f"unknown workload(s) {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        raise SystemExit("bench/loops.py needs wrk, the HTTP load generator: apt-get install -y wrk")
    try:
        import uvloop  # noqa: F401
    except ImportError:
        raise SystemExit("bench/loops.py compares asyncio with uvloop, which is not installed (pip install uvloop)") from None
    limit = raise_open_files_limit()
    if limit < 2 * C2K.connections + 100:
        raise SystemExit(f"the open files limit is {limit}; C2k needs more than {2 * C2K.connections}")

    cpus = sorted(os.sched_getaffinity(0))
    cpus_server: set[int] | None = None
    if args.pin and len(cpus) >= 2:
        cpus_server = {cpus[0]}
        os.sched_setaffinity(0, set(cpus[1:]))  # wrk and the probe inherit this
        pinning = (f"Servers pinned to CPU {cpus[0]}, wrk and the probe to CPU(s) "
                   f"{','.join(map(str, cpus[1:]))}.")
    else:
        pinning = "No CPU pinning."
    log(pinning)
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M %Z"), "rev": git_rev(), "machine": machine(), "pinning": pinning,
        **{k: getattr(args, k) for k in ("quick", "rounds", "duration", "c2k_duration", "warmup", "only")},
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fakellm-loops-") as tmp:
        res = run(args, Path(tmp), cpus_server)
    meta["loadavg_after"] = machine()["loadavg"]
    text = report(meta, res)
    log(f"done in {time.perf_counter() - t0:.0f} s\n")
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(to_json(meta, res), indent=2))
    if args.write_docs:
        write_docs(text)
        log(f"wrote {DOCS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
