"""A real Redis for the tests: Debian's `redis-server` on 127.0.0.1 and a free port, persistence off,
started as a subprocess and stopped by its PID. `scripts/test` installs it when it is missing."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import free_port

_prefixes = itertools.count(1)


class RedisServer:
    """One redis-server process; `stop` kills it, `start` brings it back on the same port."""

    def __init__(self, password: str | None = None):
        self.port = free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="fakellm-redis-")

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `bash scripts/test` (it installs Debian's "
                               "redis-server) or `apt-get install redis-server`")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self._dir, "--daemonize", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} on port {self.port}")
            if self._answers_ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port}")

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                command = b""
                if self.password:
                    command += f"AUTH {self.password}\r\n".encode()
                s.sendall(command + b"PING\r\n")
                reply = b""
                while b"PONG" not in reply:
                    chunk = s.recv(64)
                    if not chunk:
                        return False
                    reply += chunk
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self) -> None:
        """Stop the process without closing its sockets: Redis hangs, as a stuck server does."""
        assert self.proc is not None
        os.kill(self.proc.pid, 19)  # SIGSTOP

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, 18)  # SIGCONT

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """One Redis for the session's tests (each test keeps to its own key prefix)."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test (or xdist worker) uses."""
    return f"t{os.getpid()}-{next(_prefixes)}"


@pytest.fixture
def own_redis():
    """A Redis of the test's own, which it may stop and start."""
    server = RedisServer().start()
    yield server
    server.close()
