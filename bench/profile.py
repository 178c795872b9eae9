#!/usr/bin/env python3
"""Profile this checkout's `fakellm serve` under one of run.py's wrk workloads.

Starts the server (pinned like run.py does), drives it with wrk, samples it
with py-spy (`pip install py-spy`) and prints where the time goes: inclusive
and self shares per function. `--out FILE` keeps the collapsed stacks
(flamegraph.pl or speedscope read them; `--svg FILE` asks py-spy for an SVG).

    python bench/profile.py W1 --seconds 10
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py)


def frame_name(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file.py)'."""
    if " (" not in frame:
        return frame
    func, where = frame.split(" (", 1)
    return f"{func} ({where.split(':')[0].rsplit('/', 1)[-1]})"


def summarize(collapsed: str, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        n = int(count)
        total += n
        frames = [frame_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    out = [f"{total} samples", "", "inclusive (function and what it calls):"]
    out += [f"  {c / total:6.1%}  {name}" for name, c in inclusive.most_common(top)]
    out += ["", "self (time in the function's own code, C calls included):"]
    out += [f"  {c / total:6.1%}  {name}" for name, c in own.most_common(top)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=[w.key for w in bench.WRK_WORKLOADS])
    p.add_argument("--seconds", type=float, default=10, help="sampling time (wrk runs 3 s longer)")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--out", help="write the collapsed stacks here")
    p.add_argument("--svg", help="also write a py-spy flamegraph SVG here (a second sampling run)")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="the py-spy executable")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    if shutil.which(args.py_spy) is None and not Path(args.py_spy).exists():
        raise SystemExit("needs py-spy: pip install py-spy")

    workload = next(w for w in bench.WRK_WORKLOADS if w.key == args.workload)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {cpus[0]} if len(cpus) >= 2 else None
    if server_cpus:
        os.sched_setaffinity(0, set(cpus[1:]))
    target = bench.make_targets(Path("unused"))["ours"]
    with tempfile.TemporaryDirectory(prefix="fakellm-profile-") as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(workload.body_bytes())
        server = bench.Server(target, server_cpus, Path(tmp))
        server.start()
        try:
            server.wait_ready()
            bench.run_wrk(server.port, workload, 2, body_file)  # warm-up
            result: list[bench.WrkRun] = []
            load = threading.Thread(target=lambda: result.append(
                bench.run_wrk(server.port, workload, args.seconds + 3, body_file)))
            load.start()
            time.sleep(1)
            raw = Path(tmp) / "stacks.txt"
            subprocess.run([args.py_spy, "record", "-p", str(server.pid), "-d", f"{args.seconds:g}",
                            "-r", str(args.rate), "-f", "raw", "-o", str(raw)],
                           check=True, capture_output=True)
            load.join()
            if args.svg:
                load = threading.Thread(target=lambda: bench.run_wrk(server.port, workload, args.seconds + 3,
                                                                     body_file))
                load.start()
                time.sleep(1)
                subprocess.run([args.py_spy, "record", "-p", str(server.pid), "-d", f"{args.seconds:g}",
                                "-r", str(args.rate), "-o", args.svg], check=True, capture_output=True)
                load.join()
        finally:
            server.stop()
        collapsed = raw.read_text()
    if args.out:
        Path(args.out).write_text(collapsed)
    r = result[0]
    print(f"{workload.key} ({workload.title}) under py-spy: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, "
          f"errors {r.errors} (sampling slows the server a little)\n")
    print(summarize(collapsed, args.top))


if __name__ == "__main__":
    main()
