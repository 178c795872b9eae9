"""Running the app under uvicorn for `fakellm serve`: one process, or a worker of several."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
from typing import Callable

import click
import uvicorn

from .server.app import FakeLLMApp

GRACE_S = 2  # how long a stopping server lets requests finish (timed replies are hurried first)
BACKLOG = 4096  # connections the kernel queues for accept(): a burst of thousands is not refused
GC_GEN0 = 20_000  # see FakeLLMServer.startup


class FakeLLMServer(uvicorn.Server):
    """uvicorn, stopping the way fakellm should: on a signal it shuts down gracefully and exits 0
    (a second Ctrl-C forces it), timed replies still being sent get the rest at once, and
    `on_ready(server)` runs once it accepts connections."""

    def __init__(self, config: uvicorn.Config, app: FakeLLMApp,
                 on_ready: Callable[[FakeLLMServer], None] | None = None):
        super().__init__(config)
        self.app = app
        self.on_ready = on_ready

    def handle_exit(self, sig: int, frame: object) -> None:
        # uvicorn's own handler also re-raises the signal after shutting down, so the process would
        # end "killed by SIGTERM" (or with KeyboardInterrupt). A signal is how fakellm is meant to stop.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True

    async def shutdown(self, sockets=None) -> None:
        # Timed replies still being sent would outlive the grace period and be cancelled, each with a
        # traceback: instead they send the rest at once, and this says so in one line.
        hurried = self.app.deliveries.stop()
        if hurried:
            click.echo(f"fakellm: stopping; {hurried} timed repl{'y' if hurried == 1 else 'ies'} still being "
                       f"sent get the rest at once", err=True)
        await super().shutdown(sockets)

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        # What start-up built (modules, the config, the catalogue) lives as long as the process: frozen, the
        # garbage collector no longer scans it. Its first generation collects every GC_GEN0 net allocations
        # instead of 700: with a thousand streams in flight, frequent collections promoted their objects and
        # the full collections that followed stopped the loop for 100 ms at a time (the streams' tail).
        gc.freeze()
        gc.set_threshold(GC_GEN0, 10, 10)
        if not self.should_exit and self.servers and self.on_ready is not None:
            self.on_ready(self)

    def address(self) -> tuple[str, int]:
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        return host, port


def running_loop_name() -> str:
    """"uvloop" or "asyncio": the loop this code runs on."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


# uvicorn's WebSocket protocol on the `websockets` package (a dependency): the Realtime API's sockets.
WEBSOCKETS = "websockets-sansio"


def uvicorn_config(app: FakeLLMApp, host: str, port: int, loop: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http=http_protocol(),
        ws=WEBSOCKETS,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # a per-request middleware we do not need in a local mock
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACE_S,
        backlog=BACKLOG,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port, for workers to share (OSError when it cannot be)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def http_protocol() -> object:
    """fakellm's HTTP protocol (uvicorn's httptools one, writing head and body together and noting each
    request's arrival: server/protocol.py); without httptools, uvicorn's choice."""
    try:
        from .server.protocol import HttpToolsHeadWithBody
    except ImportError:  # no httptools: uvicorn falls back to h11
        return "auto"
    return HttpToolsHeadWithBody
