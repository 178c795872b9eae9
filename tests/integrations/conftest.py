"""Shared by the framework tests: nothing may leave 127.0.0.1.

Frameworks phone home in ways their users forget (tracing exporters, model price lists,
tokenizer files). Every test here runs with name look-ups and connections beyond the
loopback refused, and fails if anything tried one, even when the library swallowed the error.
"""

from __future__ import annotations

import socket
from typing import Any, Iterator

import pytest

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts: list[Any] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            attempts.append(host)
            raise socket.gaierror(f"test tried to look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            attempts.append(address)
            raise ConnectionRefusedError(f"test tried to reach {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert not attempts, f"something tried to reach beyond 127.0.0.1: {attempts}"
