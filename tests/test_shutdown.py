"""SIGTERM while timed replies are in flight: a quiet, quick, clean stop.

Streams still being sent once outlived uvicorn's grace period and were cancelled, each logging a
traceback. Now they get their remaining chunks at once (the clients see whole streams), delays
and hangs end, and the server logs one line.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
from helpers import Served

CONFIG = """
rules:
  - name: slow_stream
    when: {messages_contain: stream}
    respond: {content: "one two three four five six seven eight nine ten eleven twelve", chunk_delay_ms: 500}
  - name: hang
    when: {messages_contain: hang}
    respond: {content: "never", fault: hang}
  - name: late
    respond: {content: "late", delay_ms: 20000}
"""


def body(text: str, stream: bool) -> dict:
    return {"model": "m", "stream": stream, "messages": [{"role": "user", "content": text}]}


async def _send(url: str, text: str, stream: bool) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            async with http.stream("POST", f"{url}/v1/chat/completions", json=body(text, stream)) as response:
                data = b"".join([chunk async for chunk in response.aiter_bytes()])
        except httpx.HTTPError as e:
            return f"error: {type(e).__name__}"
    return data.decode()


async def _until_in_flight(url: str, count: int) -> None:
    """Wait until the server is sending `count` timed replies (a loaded machine may take a while)."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            debug = (await http.get(f"{url}/_fakellm/debug")).json()
            if debug["deliveries_in_flight"] == count:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"only {debug['deliveries_in_flight']} of {count} requests in flight")


def test_sigterm_with_200_streams_in_flight_exits_0_quickly_with_one_line(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(CONFIG)
    with Served("--config", str(path)) as server:
        async def run() -> tuple[list[str], float]:
            tasks = [asyncio.create_task(_send(server.url, "stream", True)) for _ in range(200)]
            tasks += [asyncio.create_task(_send(server.url, "hang", True)),
                      asyncio.create_task(_send(server.url, "late", False))]
            await _until_in_flight(server.url, len(tasks))
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*tasks)
            return answers, time.monotonic() - started

        answers, took = asyncio.run(run())
        code = server.proc.wait(10)  # the first SIGTERM is the only one
        server.stop()
    output = "".join(server.output)
    assert code == 0, output
    assert took < 5, took
    assert "Traceback" not in output and "ERROR" not in output, output[-3000:]
    after_banner = output.split("fakellm ready on", 1)[1].splitlines()[1:]
    assert after_banner == ["fakellm: stopping; 202 timed replies still being sent get the rest at once"], after_banner
    streams, hang, late = answers[:200], answers[200], answers[201]
    assert all(s.rstrip().endswith("data: [DONE]") and "twelve" in s for s in streams), streams[0]
    assert hang.startswith("error:")  # a hang ends as it would at its limit: the connection drops
    assert '"late"' in late
