"""Timing (delay_ms, ttft_ms, chunk_delay_ms / tokens_per_second, jitter, chunk_size) over a real socket.

Delays are never early, so every measurement must meet its lower bound (a missing
delay fails at once). Lateness is the machine's: on a busy two-core box a process
can be descheduled for a moment, so a measurement that comes out late is taken
again (up to three times) before the upper bound fails the test.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from helpers import Served, anthropic_client, app_from, openai_client

from fakellm.config import parse_config
from fakellm.traffic.delivery import Plans

TEXT = "one two three four five six seven eight nine ten"  # ten token-sized pieces
PIECES = TEXT.split(" ")
EARLY = 0.005  # how early a measurement may look (the headers travel before the clock starts)
SLACK = 0.1  # how late a measurement may be before it is taken again

CONFIG = f"""
rules:
  - {{when: {{messages_contain: ttft_only}}, respond: {{content: "{TEXT}", ttft_ms: 300}}}}
  - {{when: {{messages_contain: paced}}, respond: {{content: "{TEXT}", ttft_ms: 200, chunk_delay_ms: 40}}}}
  - {{when: {{messages_contain: tps}}, respond: {{content: "{TEXT}", tokens_per_second: 50}}}}
  - {{when: {{messages_contain: delayed}}, respond: {{content: "{TEXT}", delay_ms: 250}}}}
  - {{when: {{messages_contain: delay_and_ttft}}, respond: {{content: "{TEXT}", delay_ms: 100, ttft_ms: 150}}}}
  - {{when: {{messages_contain: jittery}}, respond: {{content: "{TEXT}", chunk_delay_ms: 40, jitter: 0.5}}}}
  - {{when: {{messages_contain: sized}}, respond: {{content: "abcdefghijklmnopqrstuvw", chunk_size: 5}}}}
  - {{when: {{messages_contain: chunky}}, respond: {{content: "abcdefghijkl", chunk_size: 4, chunk_delay_ms: 30}}}}
  - {{when: {{messages_contain: crowd}}, respond: {{content: "a b c d e", ttft_ms: 500, chunk_delay_ms: 10}}}}
  - {{when: {{messages_contain: quick}}, respond: {{content: "{TEXT}"}}}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("timing") / "fakellm.yaml"
    path.write_text(CONFIG)
    with Served("--config", str(path)) as served:
        client = served.openai()
        client.chat.completions.create(model="m", messages=ask("quick"))  # warm up the connection
        yield served


@pytest.fixture
def oai(server):
    client = server.openai()
    client.chat.completions.create(model="m", messages=ask("quick"))  # connect before measuring
    return client


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def timed_openai_stream(client: openai.OpenAI, text: str) -> tuple[float, list[tuple[float, str]]]:
    """(seconds until the headers, [(seconds, content delta)]) from the moment the request goes out."""
    started = time.perf_counter()
    stream = client.chat.completions.create(model="m", messages=ask(text), stream=True)
    headers_at = time.perf_counter() - started
    got = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got.append((time.perf_counter() - started, chunk.choices[0].delta.content))
    return headers_at, got


def not_early(value: float, expected: float, what: str, data: object = None) -> None:
    assert value >= expected - EARLY, f"{what} after {value:.3f} s, before the {expected:.3f} s configured: {data}"


def late(value: float, expected: float, what: str, slack: float = SLACK) -> str | None:
    return f"{what} after {value:.3f} s, expected {expected:.3f} s" if value > expected + slack else None


def on_time(measure, attempts: int = 3) -> None:
    """Run `measure` (it asserts lower bounds, returns lateness messages) until nothing is late."""
    for _ in range(attempts):
        problems = [p for p in measure() if p]
        if not problems:
            return
    pytest.fail("late on every attempt: " + "; ".join(problems))


def test_ttft_is_time_to_the_first_token(oai):
    def measure():
        headers_at, got = timed_openai_stream(oai, "ttft_only")
        assert [text.strip() for _, text in got] == PIECES
        not_early(got[0][0], 0.300, "first token", got)
        return [late(headers_at, 0.0, "headers"),  # the headers come at once; the wait is for the first token
                late(got[0][0], 0.300, "first token"),
                late(got[-1][0], 0.300, "last token")]  # no chunk delay: the rest follows at once
    on_time(measure)


def test_chunk_delay_spaces_every_content_chunk(oai):
    def measure():
        _, got = timed_openai_stream(oai, "paced")
        assert [text.strip() for _, text in got] == PIECES
        # Chunk k is due at ttft + k gaps, never earlier; 10 chunks take ttft + 9 gaps in all.
        for k, (at, _) in enumerate(got):
            not_early(at, 0.200 + k * 0.040, f"chunk {k}", got)
        return [late(got[0][0], 0.200, "first chunk"), late(got[-1][0], 0.200 + 9 * 0.040, "last chunk")]
    on_time(measure)


def test_server_timing_is_within_ten_percent_or_5_ms(server):
    """TTFT and total stream time as the wire shows them (raw socket, no SDK overhead)."""

    async def stream(port: int) -> tuple[float, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"model": "m", "messages": ask("paced"), "stream": True}).encode()
        started = time.perf_counter()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        data, first = b"", None
        while chunk := await reader.read(65536):
            data += chunk
            if first is None and b'"content":"one"' in data:
                first = time.perf_counter() - started
        writer.close()
        assert b"data: [DONE]" in data
        return first, time.perf_counter() - started

    def measure():
        ttft, total = asyncio.run(stream(server.port))
        not_early(ttft, 0.200, "first token")
        not_early(total, 0.560, "end of stream")
        return [late(ttft, 0.200, "first token", 0.020 + 0.003), late(total, 0.560, "end of stream", 0.056 + 0.003)]
    on_time(measure, attempts=5)


def test_anthropic_stream_timing_counts_text_deltas(server):
    client = server.anthropic()
    client.messages.create(model="c", max_tokens=100, messages=ask("quick"))

    def measure():
        started = time.perf_counter()
        stamps = []
        with client.messages.stream(model="c", max_tokens=100, messages=ask("paced")) as stream:
            for text in stream.text_stream:
                stamps.append((time.perf_counter() - started, text))
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn"  # the end events still come, with the last chunk
        assert "".join(t for _, t in stamps) == TEXT
        for k, (at, _) in enumerate(stamps):  # message_start and friends ride with the first token
            not_early(at, 0.200 + k * 0.040, f"text delta {k}", stamps)
        return [late(stamps[0][0], 0.200, "first text"), late(stamps[-1][0], 0.200 + 9 * 0.040, "last text")]
    on_time(measure)


def test_tokens_per_second(oai):
    def measure():
        _, got = timed_openai_stream(oai, "tps")  # 50 tokens/s: 20 ms per token-sized chunk
        for k, (at, _) in enumerate(got):
            not_early(at, k * 0.020, f"chunk {k}", got)
        return [late(got[-1][0], 9 * 0.020, "last chunk")]
    on_time(measure)


def test_delay_ms_before_any_response(oai, server):
    def measure():
        started = time.perf_counter()
        r = oai.chat.completions.create(model="m", messages=ask("delayed"))
        took = time.perf_counter() - started
        assert r.choices[0].message.content == TEXT
        not_early(took, 0.250, "response")

        headers_at, got = timed_openai_stream(oai, "delayed")
        not_early(headers_at, 0.250, "stream headers")  # a delay comes before the headers

        started = time.perf_counter()
        server.anthropic().messages.create(model="c", max_tokens=100, messages=ask("delayed"))
        anthropic_took = time.perf_counter() - started
        not_early(anthropic_took, 0.250, "anthropic response")
        return [late(took, 0.250, "response"), late(headers_at, 0.250, "stream headers"),
                late(got[-1][0], 0.250, "last chunk"), late(anthropic_took, 0.250, "anthropic response", 0.3)]
    on_time(measure)


def test_delay_and_ttft_add_up(oai):
    def measure():
        headers_at, got = timed_openai_stream(oai, "delay_and_ttft")
        not_early(headers_at, 0.100, "headers")
        not_early(got[0][0], 0.250, "first token", got)
        return [late(headers_at, 0.100, "headers"), late(got[0][0], 0.250, "first token")]
    on_time(measure)


def test_jitter_varies_delays_within_its_bounds(oai):
    def measure():
        _, got = timed_openai_stream(oai, "jittery")
        gaps = [b - a for (a, _), (b, _) in zip(got, got[1:], strict=False)]
        # 40 ms +- 50%: gaps of 20 to 60 ms, and not all alike.
        for k, (at, _) in enumerate(got):
            not_early(at, k * 0.020, f"chunk {k}", got)
        assert max(gaps) - min(gaps) > 0.004, gaps
        return [late(g, 0.060, f"gap {k}") for k, g in enumerate(gaps)]
    on_time(measure)


def test_jitter_is_reproducible_with_a_seed():
    yaml = "defaults: {seed: 42, jitter: 0.3}\nrules:\n  - respond: {chunk_delay_ms: 100}\n"

    def delays(text: str) -> list[float]:
        config = parse_config(text)
        plans = Plans(config)
        plan = plans.get(config.rules[0].respond[0])
        return [plan.jittered(plan.chunk_delay_s) for _ in range(20)]

    first = delays(yaml)
    assert first == delays(yaml)
    assert first != delays(yaml.replace("seed: 42", "seed: 43"))
    assert all(0.07 <= d <= 0.13 for d in first) and len(set(first)) > 1


def test_chunk_size_sets_characters_per_chunk(oai, server):
    chunks = [c.choices[0].delta.content for c in oai.chat.completions.create(
        model="m", messages=ask("sized"), stream=True) if c.choices and c.choices[0].delta.content]
    assert chunks == ["abcde", "fghij", "klmno", "pqrst", "uvw"]
    client = server.anthropic()
    with client.messages.stream(model="c", max_tokens=100, messages=ask("sized")) as stream:
        assert list(stream.text_stream) == ["abcde", "fghij", "klmno", "pqrst", "uvw"]
    # Non-streaming replies are whole, whatever the chunk size.
    assert oai.chat.completions.create(model="m", messages=ask("sized")).choices[0].message.content \
        == "abcdefghijklmnopqrstuvw"


def test_chunk_size_with_pacing(oai):
    def measure():
        _, got = timed_openai_stream(oai, "chunky")
        assert [t for _, t in got] == ["abcd", "efgh", "ijkl"]
        not_early(got[-1][0], 2 * 0.030, "last chunk", got)
        return [late(got[-1][0], 2 * 0.030, "last chunk")]
    on_time(measure)


def test_no_timing_means_no_waiting(oai):
    def measure():
        started = time.perf_counter()
        for _ in range(20):
            _, got = timed_openai_stream(oai, "quick")
            assert len(got) == 10
        return [late(time.perf_counter() - started, 0.0, "20 streams", 1.5)]
    on_time(measure)


def test_delays_do_not_block_other_requests(server):
    """200 streams with ttft_ms 500 at once finish in about 0.5 s plus their chunks, not 100 s.

    Plain asyncio sockets, so the figure is the server's: 200 concurrent SDK clients
    spend seconds of their own CPU on a two-core machine (the SDK test below uses 20).
    """

    async def one(port: int) -> tuple[float, float, bytes]:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"model": "m", "messages": ask("crowd"), "stream": True}).encode()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        data, first = b"", None
        while chunk := await reader.read(65536):
            data += chunk
            if first is None and b'"content":"a"' in data:
                first = time.perf_counter() - started
        writer.close()
        return first, time.perf_counter() - started, data

    async def crowd() -> tuple[float, list]:
        started = time.perf_counter()
        results = await asyncio.gather(*(one(server.port) for _ in range(200)))
        return time.perf_counter() - started, results

    def measure():
        elapsed, results = asyncio.run(crowd())
        assert all(b"data: [DONE]" in data and b" 200 OK" in data.split(b"\r\n", 1)[0] for _, _, data in results)
        for first, _, _ in results:
            not_early(first, 0.5, "first token")
        assert httpx.get(server.url + "/_fakellm/debug").json()["deliveries_in_flight"] == 0
        return [late(elapsed, 0.54, "200 streams", 1.0)]  # 0.5 s + 4 chunks x 10 ms, all at once
    on_time(measure)


def test_concurrent_sdk_streams_wait_together(server):
    async def one(client: openai.AsyncOpenAI) -> tuple[float, str]:
        started = time.perf_counter()
        stream = await client.chat.completions.create(model="m", messages=ask("crowd"), stream=True)
        first, text = None, ""
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter() - started
                text += chunk.choices[0].delta.content
        return first, text

    async def crowd() -> tuple[float, list]:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=0, timeout=30)
        started = time.perf_counter()
        results = await asyncio.gather(*(one(client) for _ in range(20)))
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed, results

    def measure():
        elapsed, results = asyncio.run(crowd())
        assert [text for _, text in results] == ["a b c d e"] * 20
        for first, _ in results:
            not_early(first, 0.5, "first token")
        return [late(elapsed, 0.54, "20 SDK streams", 1.0)]
    on_time(measure)


def test_timing_in_process_too():
    """The delivery layer works on any ASGI server, e.g. the SDKs' in-process test transport."""
    app = app_from({"rules": [{"respond": {"content": TEXT, "ttft_ms": 120, "chunk_delay_ms": 10}}]})
    client = openai_client(app)

    def measure():
        started = time.perf_counter()
        chunks = [c for c in client.chat.completions.create(model="m", messages=ask("x"), stream=True)]
        not_early(time.perf_counter() - started, 0.120 + 9 * 0.010, "stream")
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
        started = time.perf_counter()
        r = anthropic_client(app).messages.create(model="c", max_tokens=100, messages=ask("x"))
        assert r.content[0].text == TEXT
        return [late(time.perf_counter() - started, 0.0, "non-streaming reply")]  # ttft is for streams only
    on_time(measure)


def test_defaults_apply_to_every_rule_and_respond_overrides(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(f"""
defaults: {{ttft_ms: 150, chunk_delay_ms: 30}}
rules:
  - {{when: {{messages_contain: own}}, respond: {{content: "{TEXT}", tokens_per_second: 1000, ttft_ms: 0}}}}
  - {{respond: {{content: "{TEXT}"}}}}
""")
    with Served("--config", str(path)) as served:
        client = served.openai()
        client.chat.completions.create(model="m", messages=ask("warm"))

        def measure():
            _, got = timed_openai_stream(client, "inherits")
            not_early(got[0][0], 0.150, "first token", got)
            not_early(got[-1][0], 0.150 + 9 * 0.030, "last token", got)
            _, own = timed_openai_stream(client, "own")  # tokens_per_second replaces the default chunk delay
            not_early(own[-1][0], 9 * 0.001, "last token", own)
            return [late(got[0][0], 0.150, "first token"), late(got[-1][0], 0.150 + 9 * 0.030, "last token"),
                    late(own[-1][0], 0.0, "last token of the own-timing rule")]
        on_time(measure)
