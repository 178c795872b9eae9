"""The pacer: one timer writing every paced stream's chunks straight to its connection.

Unit tests drive `PacedStream` and `Pacer` with bodies that record what they are given; the rest
go through `fakellm serve` and the official SDK, where `server/protocol.py` lets the pacer skip ASGI,
and compare with the in-process app, where every chunk is an ASGI send.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import sys
import time

import httpx
import openai
import pytest
from helpers import Served, app_from, raw_client

from fakellm.config import parse_config
from fakellm.server.protocol import body_writer
from fakellm.traffic.delivery import Plans
from fakellm.traffic.pacer import BURST_S, MAX_EARLY_S, TICK_S, PacedStream, Pacer

TEXT = "one two three four five six seven eight nine ten"


def plan_of(respond: str):
    config = parse_config(f"rules:\n  - respond: {respond}\n", "test.yaml")
    return Plans(config).get(config.rules[0].respond[0])


def stream_of(n: int, start: float, ends: bool = True, respond: str = "{content: x, chunk_delay_ms: 10}"):
    return PacedStream(plan_of(respond), [b"c%d;" % i for i in range(n)], b"END", ends, start)


# --------------------------------------------------------------------------- PacedStream.take


def test_take_on_time_gives_one_chunk_and_the_next_due_time():
    s = stream_of(3, start=100.0)
    assert s.due == 100.0
    assert s.take(100.0) == (b"c0;", False)
    assert s.due == pytest.approx(100.01) and s.clock == 100.0
    assert s.take(100.01) == (b"c1;", False)
    assert s.take(100.02) == (b"c2;END", True)  # the last chunk carries the end events
    assert s.done


def test_take_when_slightly_late_sends_only_what_is_due():
    s = stream_of(10, start=100.0)
    data, last = s.take(100.0 + 0.0015)  # under EARLY_AFTER_S late: nothing ahead of time
    assert data == b"c0;" and not last


def test_take_when_late_sends_what_is_due_and_as_long_again_in_one_write():
    s = stream_of(20, start=100.0)
    data, last = s.take(100.025)  # 25 ms late: due are c0..c2 (0, 10, 20 ms); within 25 ms more: c3, c4
    assert data == b"c0;c1;c2;c3;c4;" and not last
    assert s.due == pytest.approx(100.05)
    # The schedule is kept in time: the next chunk is still due at its own time.
    assert s.take(100.05) == (b"c5;", False)


def test_take_never_runs_ahead_more_than_max_early():
    s = stream_of(200, start=100.0)
    data, _ = s.take(101.0)  # a second late: 101 chunks due, and at most MAX_EARLY_S more
    sent = data.count(b";")
    assert 101 + round(MAX_EARLY_S / 0.01) - 1 <= sent <= 101 + round(MAX_EARLY_S / 0.01)
    assert s.due is not None and s.due > 101.0 + MAX_EARLY_S - 1e-9


def test_take_when_hurried_sends_everything_left():
    s = stream_of(5, start=100.0)
    s.take(100.0)
    assert s.take(100.0, hurry=True) == (b"c1;c2;c3;c4;END", True)


def test_a_stream_that_a_fault_follows_never_carries_the_end_events():
    s = stream_of(2, start=100.0, ends=False)
    s.take(100.0)
    assert s.take(100.01) == (b"c1;", False) and s.done
    assert s.clock == pytest.approx(100.01)  # the fault comes a chunk delay after this


def test_ttft_then_chunk_delay():
    s = stream_of(3, start=100.0, respond="{content: x, ttft_ms: 300, chunk_delay_ms: 10}")
    assert s.due == pytest.approx(100.3)


# --------------------------------------------------------------------------- Pacer


class Body:
    """What the pacer writes a stream to: records each write with the loop's time."""

    def __init__(self, loop, fail_after: int | None = None):
        self.loop = loop
        self.writes: list[tuple[float, bytes]] = []
        self.ended: list[tuple[float, bytes]] = []
        self.fail_after = fail_after

    def write(self, data: bytes) -> bool:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            return False
        self.writes.append((self.loop.time(), data))
        return True

    def end(self, data: bytes) -> bool:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            return False
        self.ended.append((self.loop.time(), data))
        return True


def run_paced(streams_and_bodies, pacer, timeout=10.0):
    """Add every stream to `pacer` and wait until each is released."""
    async def main():
        loop = asyncio.get_running_loop()
        waiting = []
        for stream, body in streams_and_bodies:
            done = loop.create_future()
            stream.body, stream.release = body, (lambda d=done: d.done() or d.set_result(None))
            pacer.add(stream)
            waiting.append(done)
        await asyncio.wait_for(asyncio.gather(*waiting), timeout)
    return main


def test_pacer_sends_every_stream_whole_in_order_and_never_early():
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        now = loop.time()
        runs = []
        for k in range(300):  # 300 streams of 20 chunks 5 ms apart, starting over 50 ms
            s = PacedStream(plan_of("{content: x, chunk_delay_ms: 5}"), [b"%d:%d;" % (k, i) for i in range(20)],
                            b"END", True, now + (k % 50) / 1000)
            runs.append((s, Body(loop)))
        await run_paced(runs, pacer)()
        for k, (s, body) in enumerate(runs):
            assert len(body.ended) == 1 and s.finished and not s.active
            data = b"".join(d for _, d in body.writes) + body.ended[0][1]
            assert data == b"".join(b"%d:%d;" % (k, i) for i in range(20)) + b"END"
            start = now + (k % 50) / 1000
            for at, chunk in [*body.writes, *body.ended]:
                first = int(chunk.split(b";")[0].split(b":")[1])
                assert at >= start + first * 0.005 - 1e-6, f"stream {k} chunk {first} went out early"
    asyncio.run(main())


def test_pacer_serves_the_earliest_due_first_when_late():
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        now = loop.time()
        order: list[str] = []

        class Named(Body):
            def __init__(self, name):
                super().__init__(loop)
                self.name = name

            def end(self, data):
                order.append(self.name)
                return super().end(data)

        plan = plan_of("{content: x, chunk_delay_ms: 10}")
        later = PacedStream(plan, [b"x"], b"", True, now + 4 * TICK_S)
        sooner = PacedStream(plan, [b"x"], b"", True, now + 2 * TICK_S)
        main_task = asyncio.ensure_future(run_paced([(later, Named("later")), (sooner, Named("sooner"))], pacer)())
        await asyncio.sleep(0)
        time.sleep(0.03)  # a busy loop: both are due when the pacer next runs
        await main_task
        assert order == ["sooner", "later"]
    asyncio.run(main())


def test_pacer_releases_a_stream_whose_client_is_gone_and_stops_writing_it():
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        s = stream_of(40, start=loop.time(), respond="{content: x, chunk_delay_ms: 2}")
        body = Body(loop, fail_after=3)
        await run_paced([(s, body)], pacer)()
        assert len(body.writes) == 3 and not body.ended and not s.active and not s.finished
        assert pacer._ticks == [] and pacer._slots == {}  # nothing left behind
    asyncio.run(main())


def test_a_stream_whose_client_left_is_not_kept_until_its_time():
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        staying = stream_of(3, start=loop.time() + 3600)  # a ttft of an hour
        leaving = stream_of(3, start=loop.time() + 3600)
        for s in (staying, leaving):
            s.body, s.release = Body(loop), lambda: None
            pacer.add(s)
        pacer.discard(leaving)
        pacer.discard(leaving)  # twice is harmless
        assert not leaving.active and [s for slot in pacer._slots.values() for s in slot] == [staying]
        pacer.discard(staying)
        assert pacer._slots == {}
    asyncio.run(main())


def test_a_long_turn_of_new_streams_serves_those_due_meanwhile():
    """A thousand clients connecting at once start their streams in one turn of the loop; the streams
    already due are served every BURST_S of it, not only when the turn ends."""
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        first = stream_of(100, start=loop.time())
        body = Body(loop)
        first.body, first.release = body, lambda: None
        pacer.add(first)
        await asyncio.sleep(0.02)  # a new turn; `first` has written its chunks due by now
        written = len(body.writes)
        newcomers = []
        # One turn: start streams, without yielding, until `first`'s next chunk is well past due.
        deadline = first.due + 4 * BURST_S
        while loop.time() < deadline:
            s = stream_of(3, start=loop.time() + 10)
            s.body, s.release = Body(loop), lambda: None
            pacer.add(s)
            newcomers.append(s)
            time.sleep(BURST_S / 2)
        assert len(body.writes) + len(body.ended) > written, "the due stream waited for the turn to end"
        for s in [first, *newcomers]:
            s.active = False
    asyncio.run(main())


def test_a_stream_served_while_being_added_is_released_at_once():
    async def main():
        loop = asyncio.get_running_loop()
        pacer = Pacer(loop, lambda: False)
        blocker = stream_of(2, start=loop.time() - 1)  # due long ago: the pacer is overdue
        blocker.body, blocker.release = Body(loop), lambda: None
        pacer.add(blocker)
        time.sleep(BURST_S * 1.5)
        s = stream_of(1, start=loop.time() - 1)
        released = []
        s.body, s.release = Body(loop), lambda: released.append(True)
        pacer.add(s)  # a turn past BURST_S: the pacer runs within add(), and `s` is due
        assert released == [True] and not s.active and s.body.ended
    asyncio.run(main())


def test_body_writer_is_only_for_uvicorns_chunked_responses():
    async def send(message):
        pass
    assert body_writer(send) is None
    assert body_writer(lambda m: None) is None


# --------------------------------------------------------------------------- through a real server

CONFIG = f"""
rules:
  - when: {{messages_contain: paced}}
    respond: {{content: "{TEXT}", chunk_delay_ms: 10}}
  - when: {{messages_contain: late_first}}
    respond: {{content: "{TEXT}", ttft_ms: 400, chunk_delay_ms: 1}}
  - when: {{messages_contain: cut}}
    respond: {{content: "{TEXT}", chunk_delay_ms: 10, fault: {{type: error_event, after_chunks: 4}}}}
  - when: {{messages_contain: slow}}
    respond: {{content: "{TEXT}", chunk_delay_ms: 200}}
  - respond: {{content: quick}}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("pacer") / "fakellm.yaml"
    path.write_text(CONFIG)
    with Served("--config", str(path)) as s:
        yield s


def body(text: str, stream: bool = True) -> bytes:
    return json.dumps({"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}).encode()


def sse_events(raw: bytes) -> list[dict]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: ") and block != "data: [DONE]":
            event = json.loads(block[6:])
            event.pop("id", None)
            event.pop("created", None)
            out.append(event)
    return out


def test_the_sdk_reads_a_paced_stream_whole_and_keeps_its_connection(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    texts = []
    for _ in range(3):  # the pacer ends each response; the connection then serves the next request
        conn.request("POST", "/v1/chat/completions", body("paced"), {"content-type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("transfer-encoding") == "chunked"
        raw = response.read()  # http.client checks the chunk framing and the terminating chunk
        assert raw.endswith(b"data: [DONE]\n\n")
        texts.append("".join(e["choices"][0]["delta"].get("content") or "" for e in sse_events(raw)
                             if e["choices"]))
        sock = conn.sock
    conn.request("POST", "/v1/chat/completions", body("hello", stream=False), {"content-type": "application/json"})
    assert json.loads(conn.getresponse().read())["choices"][0]["message"]["content"] == "quick"
    assert conn.sock is sock  # one connection throughout
    conn.close()
    assert texts == [TEXT] * 3

    client = served.openai()
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "paced"}],
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_the_pacer_and_the_asgi_path_send_the_same_events(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", body("paced"), {"content-type": "application/json"})
    over_socket = sse_events(conn.getresponse().read())
    conn.close()
    with raw_client(app_from(CONFIG)) as http_:  # in-process: no uvicorn, so every chunk is an ASGI send
        in_process = sse_events(http_.post("/v1/chat/completions", content=body("paced"),
                                           headers={"content-type": "application/json"}).content)
    assert over_socket == in_process and len(over_socket) > 10


def test_a_fault_after_paced_chunks_still_comes_through_the_sdk(served):
    client = served.openai()
    got = []
    with pytest.raises(openai.APIError, match="529|Overloaded|error_event"):
        for chunk in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "cut"}],
                                                    stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert "".join(got) == " ".join(TEXT.split(" ")[:4])


def test_http_1_0_gets_the_paced_stream_and_then_the_connection_closes(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        payload = body("paced")
        sock.sendall(b"POST /v1/chat/completions HTTP/1.0\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(payload), payload))
        raw = b""
        while chunk := sock.recv(65536):  # ends only when the server closes the connection
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert rest.endswith(b"0\r\n\r\n")
    assert b"data: [DONE]" in rest


def test_a_client_that_leaves_mid_stream_leaves_nothing_behind(served):
    with httpx.Client(timeout=10) as http_:
        with http_.stream("POST", f"{served.url}/v1/chat/completions", content=body("slow"),
                          headers={"content-type": "application/json"}) as response:
            for _ in response.iter_bytes():
                break  # the first chunk, then hang up
        deadline = time.monotonic() + 5
        while http_.get(f"{served.url}/_fakellm/debug").json()["deliveries_in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http_.get(f"{served.url}/_fakellm/debug").json()["deliveries_in_flight"] == 0
        quick = http_.post(f"{served.url}/v1/chat/completions", content=body("hi", stream=False),
                           headers={"content-type": "application/json"})
        assert quick.json()["choices"][0]["message"]["content"] == "quick"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the arrival time comes from Linux's TCP_INFO")
def test_the_schedule_counts_from_when_the_request_reached_the_socket(served):
    """A server busy for 300 ms (here: stopped) reads a request late; its ttft still counts from
    when the request arrived, never from when the server got to it, and is never early."""
    payload = body("late_first")
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(payload), payload))
    for _ in range(3):
        os.kill(served.proc.pid, signal.SIGSTOP)  # the kernel still accepts the connection and its bytes
        try:
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sent = time.perf_counter()
            sock.sendall(request)
            time.sleep(0.3)
        finally:
            os.kill(served.proc.pid, signal.SIGCONT)
        raw, first = b"", None
        with sock:
            while first is None and (chunk := sock.recv(65536)):
                raw += chunk
                if b'"content":"one"' in raw:
                    first = time.perf_counter() - sent
        assert first is not None, raw
        assert first >= 0.4 - 0.005, f"the first chunk came {first:.3f} s after the request, before ttft"
        if first < 0.4 + 0.25:  # counted from the server reading it, it would come at 0.7 s or later
            break
    else:
        raise AssertionError(f"the first chunk came {first:.3f} s after the request: the schedule counted "
                             "from when the server read it")
