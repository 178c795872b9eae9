#!/usr/bin/env python3
"""CPU cost of one request through the app in-process: no socket, no event loop, no uvicorn.

Drives `FakeLLMApp.__call__` with a `receive` that hands over the whole body and a
`send` that drops the answer, stepping the coroutine by hand (nothing in the
non-delayed path awaits anything that suspends). The figure is the CPU time
(`time.process_time`) per request, the best of several repeats, so it is
what this process's Python costs a request, not what the machine's load adds.

Bodies: W1 / W3 (the same bytes every time), W6 (a new `user` value in every
request, as wrk's script sends), and AGENT: a 30-message agent history with
tool calls and tool results, made distinct per request by its last message.

    PYTHONPATH=src python bench/inproc.py            # every body
    PYTHONPATH=src python bench/inproc.py W6 --n 50000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if "PYTHONPATH" not in os.environ:  # else the fakellm it names (to compare two trees)
    sys.path.insert(0, str(BENCH.parent / "src"))

from fakellm.config import load_config  # noqa: E402
from fakellm.app import build_app  # noqa: E402
from fakellm.server.app import FakeLLMApp  # noqa: E402

OPENAI_HEADERS = [(b"host", b"127.0.0.1:9999"), (b"content-type", b"application/json"),
                  (b"authorization", b"Bearer sk-bench")]
ANTHROPIC_HEADERS = [(b"host", b"127.0.0.1:9999"), (b"content-type", b"application/json"),
                     (b"x-api-key", b"sk-ant-bench"), (b"anthropic-version", b"2023-06-01")]


def _dumps(body) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


W1_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "bench-short: say hello"}]}
W3_BODY = {"model": "claude-sonnet-4-5", "max_tokens": 256,
           "messages": [{"role": "user", "content": "bench-short: say hello"}]}


def _agent_history(turns: int = 7) -> dict:
    messages = [{"role": "system", "content": "You are a coding agent. Use the tools to inspect and change files. "
                 "Answer briefly and cite the files you touched."},
                {"role": "user", "content": "bench-short: the tests in tests/test_parser.py fail; find out why "
                 "and fix the parser without changing the tests."}]
    for t in range(turns):
        args = json.dumps({"path": f"src/module_{t}.py", "start": t * 40, "end": t * 40 + 40})
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{t:04d}", "type": "function", "function": {"name": "read_file", "arguments": args}}]})
        messages.append({"role": "tool", "tool_call_id": f"call_{t:04d}",
                         "content": f"def handler_{t}(request):\n    " + "x = parse(request)\n    " * 12 + "return x\n"})
        messages.append({"role": "assistant", "content": f"Module {t} reads the request and parses it; "
                         "the bug is not there. Looking further."})
        messages.append({"role": "user", "content": f"Go on with step {t}."})
    tools = [{"type": "function", "function": {"name": name, "description": f"{name} a file",
                                               "parameters": {"type": "object", "properties": {
                                                   "path": {"type": "string"}}, "required": ["path"]}}}
             for name in ("read_file", "write_file", "list_dir", "run_tests")]
    return {"model": "gpt-4o", "messages": messages, "tools": tools}


class Case:
    def __init__(self, key: str, path: str, headers, template: dict, distinct: bool):
        self.key, self.path, self.headers, self.distinct = key, path, headers, distinct
        raw = _dumps(template)
        if distinct and b"{n}" not in raw:
            raise ValueError(key)
        self.raw = raw

    def body(self, i: int) -> bytes:
        return self.raw.replace(b"{n}", b"1-%d" % i, 1) if self.distinct else self.raw


def _agent_template() -> dict:
    body = _agent_history()
    body["messages"].append({"role": "user", "content": "And now step {n}, please."})
    return body


CASES = {
    "W1": Case("W1", "/v1/chat/completions", OPENAI_HEADERS, W1_BODY, False),
    "W3": Case("W3", "/v1/messages", ANTHROPIC_HEADERS, W3_BODY, False),
    "W6": Case("W6", "/v1/chat/completions", OPENAI_HEADERS, {**W1_BODY, "user": "bench-{n}"}, True),
    "W3D": Case("W3D", "/v1/messages", ANTHROPIC_HEADERS, {**W3_BODY, "metadata": {"user_id": "bench-{n}"}}, True),
    "AGENT": Case("AGENT", "/v1/chat/completions", OPENAI_HEADERS, _agent_template(), True),
}


GC_COUNTS = [0, 0, 0]  # collections of each generation during the last timed run


def make_app() -> FakeLLMApp:
    return build_app(load_config(BENCH / "config.yaml"))


def run(app: FakeLLMApp, case: Case, n: int, check: bool = False) -> float:
    """CPU seconds for n requests (bodies prepared beforehand, as the socket layer would hand them over)."""
    bodies = [case.body(i) for i in range(n)]
    path, hdrs = case.path, case.headers
    sent: list = []
    status = [0]

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif check:
            sent.append(message["body"])

    requests = []
    for raw in bodies:
        # uvicorn builds a new scope, header list and body message for every request (not timed here).
        headers = hdrs + [(b"content-length", b"%d" % len(raw))]
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
                 "server": ("127.0.0.1", 9999), "client": ("127.0.0.1", 50000), "scheme": "http",
                 "method": "POST", "root_path": "", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "headers": headers, "state": {}}
        message = {"type": "http.request", "body": raw, "more_body": False}

        async def receive(message=message):
            return message

        requests.append((scope, receive))
    call = app.__call__
    gc.collect()
    collections = [0, 0, 0]

    def count(phase, info):
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    t0 = time.process_time()
    for scope, receive in requests:
        coro = call(scope, receive, send)
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:
            raise RuntimeError("the request path suspended")
    elapsed = time.process_time() - t0
    gc.callbacks.remove(count)
    GC_COUNTS[:] = collections
    if status[0] != 200:
        raise SystemExit(f"{case.key}: status {status[0]}")
    if check:
        print(case.key, sent[-1][:300])
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", default=list(CASES))
    p.add_argument("--n", type=int, default=20000, help="requests per repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--check", action="store_true", help="print the last answer of each case")
    args = p.parse_args()
    for key in args.cases:
        case = CASES[key]
        app = make_app()
        run(app, case, 2000, args.check)  # warm-up: imports, memos of fixed texts, first conversation
        times = [run(app, case, args.n) for _ in range(args.repeats)]
        best = min(times) / args.n * 1e6
        med = sorted(times)[len(times) // 2] / args.n * 1e6
        print(f"{key:6s} {best:6.2f} us/request (best of {args.repeats}; median {med:.2f}); "
              f"gc collections per 1,000 requests by generation: "
              + "/".join(f"{c * 1000 / args.n:.1f}" for c in GC_COUNTS))


if __name__ == "__main__":
    main()
