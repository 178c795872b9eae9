"""`fakellm serve --workers N`: N processes serving one listening socket.

The parent binds the socket, forks the workers (each builds its own app and runs uvicorn on
the inherited socket; the kernel hands each new connection to one of them), returns once they
all say they are ready (so the banner is printed once), forwards SIGTERM and SIGINT to them,
and replaces a worker that dies unexpectedly. A worker that keeps dying right after it starts
stops the whole server instead of looping.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import time
from typing import Callable

# A worker that exits within this many seconds of starting counts as a crash at start-up.
EARLY_EXIT_S = 2.0
MAX_EARLY_EXITS = 5


class Workers:
    """The parent's view of its workers. `serve_one(sock, ready)` runs in each child: it serves
    `sock` until told to stop, calls `ready()` once it accepts requests, and returns an exit code."""

    def __init__(self, count: int, sock: socket.socket, serve_one: Callable[[socket.socket, Callable[[], None]], int],
                 log: Callable[[str], None]):
        self.count = count
        self.sock = sock
        self.serve_one = serve_one
        self.log = log
        self.pids: dict[int, float] = {}  # pid -> when it started
        self.stopping = False
        self._early_exits = 0
        self._ready_r, self._ready_w = os.pipe()
        self._previous: dict[int, object] = {}

    def start(self, timeout: float = 60.0) -> None:
        """Fork every worker; return once all are ready. RuntimeError if they are not in time. From
        here until `wait` returns, SIGTERM and SIGINT stop the workers (never orphan them)."""
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        for _ in range(self.count):
            self._fork()
        ready = 0
        deadline = time.monotonic() + timeout
        while ready < self.count:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self._ready_r], [], [], max(0.0, min(remaining, 0.2)))
            if readable:
                ready += len(os.read(self._ready_r, self.count))
                continue
            self._reap(block=False)  # a worker that died starting is replaced, a few times
            if remaining <= 0 or self._early_exits >= MAX_EARLY_EXITS or self.stopping:
                self.stop()
                self.wait()
                raise RuntimeError(f"{self.count - ready} of {self.count} workers did not start")

    def wait(self) -> int:
        """Serve until told to stop (SIGTERM, SIGINT) and every worker has exited; the exit code."""
        code = 0
        try:
            while self.pids:
                if not self._reap(block=True):
                    continue
                if self._early_exits >= MAX_EARLY_EXITS and not self.stopping:
                    self.log("fakellm: workers keep exiting right after they start; stopping")
                    self.stop()
                    code = 1
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            os.close(self._ready_r)
            os.close(self._ready_w)
        return code

    def stop(self) -> None:
        self.stopping = True
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _on_signal(self, sig: int, frame: object) -> None:
        if self.stopping and sig == signal.SIGINT:  # a second Ctrl-C: no more grace
            for pid in list(self.pids):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        self.stop()

    def _reap(self, *, block: bool) -> bool:
        """Collect exited workers (replacing them unless stopping); whether any exited."""
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.pids.clear()
            return True
        if pid == 0 or pid not in self.pids:
            return False
        started = self.pids.pop(pid)
        if not self.stopping:
            code = os.waitstatus_to_exitcode(status)
            self._early_exits = self._early_exits + 1 if time.monotonic() - started < EARLY_EXIT_S else 0
            if self._early_exits < MAX_EARLY_EXITS:
                self.log(f"fakellm: worker {pid} exited ({code}); starting another")
                self._fork()
        return True

    def _fork(self) -> None:
        pid = os.fork()
        if pid:
            self.pids[pid] = time.monotonic()
            return
        # The child: default signal handling (uvicorn installs its own), then serve.
        code = 1
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            os.close(self._ready_r)
            ready_w = self._ready_w

            def ready() -> None:
                os.write(ready_w, b"r")

            code = self.serve_one(self.sock, ready)
        except BaseException as e:  # nothing may climb back into the parent's code
            print(f"fakellm: worker {os.getpid()} failed: {e!r}", file=sys.stderr, flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
