"""`fakellm serve` processes on one Redis behave as one mock (issue: scale out through Redis).

Real processes: two `fakellm serve` on one Redis, and `--workers 2`; a real redis-server started by
the fixtures (tests/redis_fixture.py). Everything goes through the official openai SDK or HTTP.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import time

import httpx
import openai
import pytest
from helpers import Served

SEQUENCE = """
rules:
  - name: steps
    when: {messages_contain: step}
    respond: [{content: one}, {content: two}, {content: three}, {content: four}]
  - name: limited
    when: {messages_contain: limited}
    times: 3
    respond: {content: limited}
  - name: answer
    respond: {content: fallback}
defaults:
  rate_limit: {requests_per_minute: 4}
"""
LIMITED = """
rules:
  - name: limited
    times: 100
    respond: {content: hit}
  - name: rest
    respond: {content: over}
"""


_keys = itertools.count()


def chat(url: str, text: str, conversation: str = "fleet", **kw) -> str:
    # Each call its own API key (the rate limit counts per key) unless the test names one.
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=kw.pop("api_key", f"k-{next(_keys)}"), max_retries=0,
                           default_headers={"x-fakellm-conversation": conversation})
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content


@pytest.fixture
def state(redis_url, redis_prefix):
    return f"{redis_url}?prefix={redis_prefix}"


def test_two_serve_processes_on_one_redis_answer_as_one_mock(tmp_path, state):
    path = tmp_path / "fakellm.yaml"
    path.write_text(SEQUENCE)
    with Served("--config", str(path), "--state", state) as a, Served("--config", str(path), "--state", state) as b:
        # A sequence advances across them, in order.
        assert [chat(a.url, "step"), chat(b.url, "step"), chat(a.url, "step"), chat(b.url, "step")] == \
            ["one", "two", "three", "four"]
        # `times` counts across them.
        answers = [chat(s.url, "limited", "times") for s in (a, b, a, b)]
        assert answers == ["limited", "limited", "limited", "fallback"]
        # So does a rate limit (4 a minute, per API key): the fifth request, on either, is a 429.
        for s in (a, b, a, b):
            chat(s.url, "x", "rl", api_key="rl-key")
        with pytest.raises(openai.RateLimitError):
            chat(a.url, "x", "rl", api_key="rl-key")
        # The journal on either shows both, in id order, naming who answered.
        for s in (a, b):
            entries = httpx.get(f"{s.url}/_fakellm/requests", params={"limit": 1000}).json()["requests"]
            ids = [e["id"] for e in entries]
            assert ids == sorted(ids) and len(entries) == 13
            assert len({e["worker"] for e in entries}) == 2
        # A Responses chain started on one continues on the other.
        sdk_a = openai.OpenAI(base_url=f"{a.url}/v1", api_key="k", max_retries=0)
        sdk_b = openai.OpenAI(base_url=f"{b.url}/v1", api_key="k", max_retries=0)
        first = sdk_a.responses.create(model="m", input="step")
        second = sdk_b.responses.create(model="m", input="and then", previous_response_id=first.id)
        assert sdk_b.responses.retrieve(first.id).id == first.id
        assert sdk_a.responses.retrieve(second.id).previous_response_id == first.id
        sdk_b.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            sdk_a.responses.retrieve(first.id)
        # A config PUT on one is answered by the other.
        put = httpx.put(f"{a.url}/_fakellm/config", content=b"rules: [{respond: {content: new config}}]\n")
        assert put.status_code == 200
        deadline = time.monotonic() + 1.0
        while chat(b.url, "anything") != "new config":
            assert time.monotonic() < deadline, "b still serves the old config a second after the PUT"
        # Reset on one resets both.
        httpx.put(f"{b.url}/_fakellm/config", content=SEQUENCE.encode())
        time.sleep(0.2)
        assert chat(a.url, "step", "after") == "one"
        httpx.post(f"{b.url}/_fakellm/reset")
        assert chat(a.url, "step", "after") == "one"


def test_workers_share_times_exactly_and_both_serve(tmp_path, state):
    path = tmp_path / "fakellm.yaml"
    path.write_text(LIMITED)
    with Served("--config", str(path), "--workers", "2", "--state", state) as server:
        assert "2 workers; state in Redis at redis://127.0.0.1:" in "".join(server.output)

        def one(_: int) -> str:
            return chat(server.url, "x", "same")

        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            answers = collections.Counter(pool.map(one, range(150)))
        assert answers == {"hit": 100, "over": 50}
        entries = httpx.get(f"{server.url}/_fakellm/requests", params={"limit": 1000}).json()["requests"]
        assert len(entries) == 150
        assert len({e["worker"] for e in entries}) == 2, "one worker answered everything"
        code = server.stop()
    assert code == 0


def test_workers_without_state_say_how_to_start_redis(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fakellm", "serve", "--workers", "2", "--port", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "redis-server --port 6379" in done.stderr and "--state redis://127.0.0.1:6379/0" in done.stderr
    assert "--state memory" in done.stderr


def test_workers_with_memory_state_each_keep_their_own(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(LIMITED)
    with Served("--config", str(path), "--workers", "2", "--state", "memory") as server:
        assert "state in each worker's memory" in "".join(server.output)
        assert chat(server.url, "x") == "hit"


def test_an_unreachable_redis_stops_serve_with_the_url_but_not_its_password(tmp_path):
    import subprocess
    import sys

    from helpers import free_port

    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    done = subprocess.run([sys.executable, "-m", "fakellm", "serve", "--port", "0", "--state", url],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "redis://:***@127.0.0.1:" in done.stderr and "s3cret-pw" not in done.stderr + done.stdout
    bad = subprocess.run([sys.executable, "-m", "fakellm", "serve", "--port", "0", "--state", "mongodb://x"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "redis://" in bad.stderr


def test_redis_stopped_under_a_serve_process_gives_503_then_recovers(tmp_path, own_redis):
    path = tmp_path / "fakellm.yaml"
    path.write_text("rules: [{respond: {content: pong}}]\n")
    with Served("--config", str(path), "--state", own_redis.url) as server:
        assert chat(server.url, "ping") == "pong"
        own_redis.stop()
        started = time.monotonic()
        with pytest.raises(openai.InternalServerError) as caught:
            chat(server.url, "ping")
        assert time.monotonic() - started < 1.5
        assert caught.value.status_code == 503 and caught.value.code == "fakellm_state_unavailable"
        own_redis.start()
        assert chat(server.url, "ping") == "pong"
        # The process kept its config, and it is the fleet's again once it publishes or someone PUTs.
        assert httpx.get(f"{server.url}/_fakellm/requests").status_code == 200
    assert "state store is unavailable" in "".join(server.output)
