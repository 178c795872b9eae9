"""`fakellm serve`'s HTTP protocol: each answer's head and body leave in one write, nothing else changes."""

from __future__ import annotations

import asyncio
import socket
import time

from fakellm.server.protocol import HeadWithBodyTransport

from helpers import Served

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorder:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default

    def get_write_buffer_size(self) -> int:
        return 0


def test_a_head_goes_out_with_the_body_that_follows_it():
    loop = asyncio.new_event_loop()
    try:
        inner = Recorder()
        t = HeadWithBodyTransport(inner, loop)
        t.write(HEAD)
        assert inner.writes == [] and t.get_write_buffer_size() == len(HEAD)
        t.write(b"ok")
        assert inner.writes == [HEAD + b"ok"]
        t.write(b"more")  # not a head: passed on at once
        assert inner.writes == [HEAD + b"ok", b"more"]
        loop.run_until_complete(asyncio.sleep(0))  # the scheduled flush finds nothing held
        assert inner.writes == [HEAD + b"ok", b"more"]
    finally:
        loop.close()


def test_a_head_without_a_body_right_after_it_leaves_within_the_same_turn_of_the_loop():
    loop = asyncio.new_event_loop()
    try:
        inner = Recorder()
        t = HeadWithBodyTransport(inner, loop)
        t.write(HEAD)
        loop.run_until_complete(asyncio.sleep(0))
        assert inner.writes == [HEAD]
        t.write(b"later")
        assert inner.writes == [HEAD, b"later"]
    finally:
        loop.close()


def test_closing_sends_a_held_head_first_and_a_closed_connection_gets_nothing():
    loop = asyncio.new_event_loop()
    try:
        inner = Recorder()
        t = HeadWithBodyTransport(inner, loop)
        t.write(HEAD)
        t.close()
        assert inner.writes == [HEAD] and inner.closed
        other = Recorder()
        t = HeadWithBodyTransport(other, loop)
        t.write(HEAD)
        other.closed = True  # the client went away before the flush
        loop.run_until_complete(asyncio.sleep(0))
        assert other.writes == []
        # Everything else is the real transport's.
        t.pause_reading()
        assert not other.reading
        t.resume_reading()
        assert other.reading
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)
    finally:
        loop.close()


def _exchange(port: int, request: bytes, want: int) -> tuple[bytes, list[float]]:
    """Send a raw request; read until `want` bytes came; the time each read returned."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data, times = b"", []
        while len(data) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            times.append(time.monotonic())
        return data, times


def test_over_a_socket_an_answer_is_one_segment_and_a_slow_stream_gets_its_headers_at_once(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text(
        "rules:\n"
        "  - when: {messages_contain: slow}\n"
        "    respond: {content: 'one two three', ttft_ms: 600}\n"
        "  - respond: {content: hello}\n"
    )
    with Served("--config", str(config)) as server:
        body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            for _ in range(3):  # keep-alive: every answer whole, head and body together
                s.sendall(request)
                data = s.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                assert head.startswith(b"HTTP/1.1 200 OK") and len(rest) == length, data
                assert b'"content":"hello"' in rest

        slow = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"slow"}]}'
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(slow)).encode() + b"\r\n\r\n" + slow)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(request)
            first = s.recv(65536)
            got_head = time.monotonic() - started
            assert first.startswith(b"HTTP/1.1 200 OK") and b"text/event-stream" in first
            assert got_head < 0.4, got_head  # the headers did not wait for the first event (600 ms)
            data = first
            while b"[DONE]" not in data:
                chunk = s.recv(65536)
                assert chunk
                data += chunk
            assert time.monotonic() - started >= 0.55
