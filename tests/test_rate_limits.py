"""Rate limits (`rate_limit` under `defaults` or on a rule) through the official SDKs over a real socket."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import anthropic
import httpx
import openai
import pytest
from helpers import Served, app_from, openai_client

from fakellm.config import ConfigError, parse_config
from fakellm.traffic.ratelimit import go_duration
from fakellm.store.memory import BucketStore


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def serve(tmp_path, yaml: str) -> Served:
    path = tmp_path / "fakellm.yaml"
    path.write_text(yaml)
    return Served("--config", str(path))


def journal(server: Served) -> list[dict]:
    return httpx.get(server.url + "/_fakellm/requests").json()["requests"]


ONE_PER_SECOND = """
defaults:
  rate_limit: {requests_per_minute: 60, burst_s: 1}
rules:
  - respond: {content: "hello there"}
"""


def test_openai_429_with_retry_after_and_headers(tmp_path):
    with serve(tmp_path, ONE_PER_SECOND) as server:
        client = server.openai()
        raw = client.chat.completions.with_raw_response.create(model="m", messages=ask("x"))
        assert raw.parse().choices[0].message.content == "hello there"
        assert raw.headers["x-ratelimit-limit-requests"] == "60"
        assert raw.headers["x-ratelimit-remaining-requests"] == "0"
        # The bucket refills from the moment the request was admitted: under load a few ms pass before the
        # headers are written, so the reset is a little under a second.
        reset = raw.headers["x-ratelimit-reset-requests"]
        assert reset == "1s" or (reset.endswith("ms") and 900 <= int(reset[:-2]) <= 999), reset
        assert "x-ratelimit-limit-tokens" not in raw.headers  # no token limit configured

        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="m", messages=ask("x"))
        e = info.value
        assert e.status_code == 429 and e.code == "rate_limit_exceeded"
        assert "Rate limit reached" in e.message
        wait_ms = int(e.response.headers["retry-after-ms"])
        assert 800 <= wait_ms <= 1000
        assert e.response.headers["retry-after"] == "1"
        assert e.response.headers["x-ratelimit-remaining-requests"] == "0"

        # Streaming requests are limited the same way, before any event.
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=ask("x"), stream=True)


def test_openai_client_with_default_retries_waits_the_advertised_time(tmp_path):
    with serve(tmp_path, ONE_PER_SECOND) as server:
        before = time.perf_counter()
        server.openai().chat.completions.create(model="m", messages=ask("x"))  # takes the one request there is
        emptied = time.perf_counter()  # the bucket emptied between `before` and now
        httpx.delete(server.url + "/_fakellm/requests")
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-test")  # default: 2 retries
        started = time.perf_counter()
        r = client.chat.completions.create(model="m", messages=ask("x"))
        took = time.perf_counter() - started
        advertised = 1.0 - (started - emptied)  # the bucket refills one request a second
        assert r.choices[0].message.content == "hello there"
        attempts = journal(server)
        assert [a["reply"]["status"] for a in attempts] == [429, 200]  # one wait, exactly long enough
        assert [a["headers"]["x-stainless-retry-count"] for a in attempts] == ["0", "1"]
        earliest = 1.0 - (started - before)  # if the bucket emptied as soon as the first request left
        # What it was told, not its own backoff.
        assert earliest - 0.01 <= took < advertised + 0.5, (took, earliest, advertised)


def test_anthropic_429_headers_and_retry(tmp_path):
    with serve(tmp_path, ONE_PER_SECOND) as server:
        client = server.anthropic()
        raw = client.messages.with_raw_response.create(model="c", max_tokens=50, messages=ask("x"))
        assert raw.parse().content[0].text == "hello there"
        assert raw.headers["anthropic-ratelimit-requests-limit"] == "60"
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == "0"
        reset = datetime.strptime(raw.headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
        ahead = reset.replace(tzinfo=timezone.utc).timestamp() - time.time()
        assert 0 < ahead <= 2.5  # RFC 3339, when the bucket is full again

        with pytest.raises(anthropic.RateLimitError) as info:
            client.messages.create(model="c", max_tokens=50, messages=ask("x"))
        assert info.value.type == "rate_limit_error"
        assert int(info.value.response.headers["retry-after-ms"]) <= 1000

        httpx.delete(server.url + "/_fakellm/requests")
        started = time.perf_counter()
        r = server.anthropic(max_retries=2).messages.create(model="c", max_tokens=50, messages=ask("x"))
        assert r.content[0].text == "hello there"
        assert [a["reply"]["status"] for a in journal(server)] == [429, 200]
        assert time.perf_counter() - started < 2.0


def test_tokens_per_minute(tmp_path):
    # 600 tokens a minute, 6 s worth in the bucket: 60 tokens, 10 more each second.
    yaml = """
defaults:
  rate_limit: {tokens_per_minute: 600, burst_s: 6}
rules:
  - respond: {content: "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx"}
"""
    with serve(tmp_path, yaml) as server:
        client = server.openai()
        raw = client.chat.completions.with_raw_response.create(model="m", messages=ask("hi"))
        usage = raw.parse().usage  # counted however this install counts (approximate, or tiktoken)
        assert raw.headers["x-ratelimit-limit-tokens"] == "600"
        remaining = int(raw.headers["x-ratelimit-remaining-tokens"])
        assert 60 - usage.total_tokens <= remaining <= 60 - usage.total_tokens + 1  # input and output both count
        assert "x-ratelimit-limit-requests" not in raw.headers
        limited = None
        for _ in range(10):  # each call takes ~20 of the 60 tokens; the bucket runs dry within a few
            try:
                client.chat.completions.create(model="m", messages=ask("hi"))
            except openai.RateLimitError as e:
                limited = e
                break
        assert limited is not None and "on tokens per min" in limited.message
        # Just enough to refill the prompt's tokens at 10 a second (less than a second for a short prompt).
        assert 0 < int(limited.response.headers["retry-after-ms"]) <= usage.prompt_tokens * 100 + 2000

        # A prompt larger than the whole bucket can never pass: a 429 the SDKs do not retry.
        httpx.delete(server.url + "/_fakellm/requests")
        with pytest.raises(openai.RateLimitError) as info:
            server.openai(max_retries=2).chat.completions.create(model="m", messages=ask("word " * 300))
        assert "Request too large" in info.value.message
        assert info.value.response.headers["x-should-retry"] == "false"
        assert len(journal(server)) == 1


def test_limits_are_per_api_key_or_global(tmp_path):
    yaml = """
rules:
  - name: per_key
    when: {messages_contain: per_key}
    rate_limit: {requests_per_minute: 1}
    respond: {content: ok}
  - name: shared
    when: {messages_contain: shared}
    rate_limit: {requests_per_minute: 1, per: global}
    respond: {content: ok}
  - name: unlimited
    respond: {content: free}
"""
    with serve(tmp_path, yaml) as server:
        alice = openai.OpenAI(base_url=f"{server.url}/v1", api_key="alice", max_retries=0)
        bob = openai.OpenAI(base_url=f"{server.url}/v1", api_key="bob", max_retries=0)
        carol = anthropic.Anthropic(base_url=server.url, api_key="carol", max_retries=0)

        alice.chat.completions.create(model="m", messages=ask("per_key"))
        bob.chat.completions.create(model="m", messages=ask("per_key"))  # another key, another bucket
        carol.messages.create(model="c", max_tokens=50, messages=ask("per_key"))
        with pytest.raises(openai.RateLimitError) as info:
            alice.chat.completions.create(model="m", messages=ask("per_key"))
        assert 55 <= int(info.value.response.headers["retry-after"]) <= 60  # one a minute
        with pytest.raises(anthropic.RateLimitError):
            carol.messages.create(model="c", max_tokens=50, messages=ask("per_key"))

        alice.chat.completions.create(model="m", messages=ask("shared"))
        with pytest.raises(openai.RateLimitError):
            bob.chat.completions.create(model="m", messages=ask("shared"))  # one bucket for everyone

        # Other rules are not limited, and carry no rate-limit headers.
        raw = alice.chat.completions.with_raw_response.create(model="m", messages=ask("anything else"))
        assert raw.parse().choices[0].message.content == "free"
        assert not any(k.startswith("x-ratelimit") for k in raw.headers)

        # The 429s are journaled under the rule that would have answered.
        rules = [(a["rule"], a["reply"]["status"]) for a in journal(server)]
        assert ("per_key", 429) in rules and ("shared", 429) in rules


def test_a_limited_request_does_not_advance_a_sequence(tmp_path):
    yaml = """
rules:
  - rate_limit: {requests_per_minute: 60, burst_s: 1}
    respond:
      - {content: first}
      - {content: second}
"""
    with serve(tmp_path, yaml) as server:
        client = server.openai()
        conversation = {"X-Fakellm-Conversation-Id": "seq"}
        assert client.chat.completions.create(model="m", messages=ask("x"), extra_headers=conversation) \
            .choices[0].message.content == "first"
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=ask("x"), extra_headers=conversation)
        retrying = server.openai(max_retries=2)
        assert retrying.chat.completions.create(model="m", messages=ask("x"), extra_headers=conversation) \
            .choices[0].message.content == "second"


def test_reset_and_reload_refill_the_buckets(tmp_path):
    with serve(tmp_path, ONE_PER_SECOND.replace("60, burst_s: 1", "1")) as server:
        client = server.openai()
        client.chat.completions.create(model="m", messages=ask("x"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=ask("x"))
        httpx.post(server.url + "/_fakellm/reset")
        client.chat.completions.create(model="m", messages=ask("x"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=ask("x"))
        assert httpx.post(server.url + "/_fakellm/reload").status_code == 200
        client.chat.completions.create(model="m", messages=ask("x"))


def test_in_process_limits_and_no_headers_without_limits():
    client = openai_client(app_from(ONE_PER_SECOND))
    client.chat.completions.create(model="m", messages=ask("x"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=ask("x"))
    plain = openai_client(app_from("rules:\n  - respond: {content: hi}\n"))
    raw = plain.chat.completions.with_raw_response.create(model="m", messages=ask("x"))
    assert not any(k.startswith(("x-ratelimit", "retry-after")) for k in raw.headers)


def test_buckets_are_bounded():
    store = BucketStore(max_keys=3)
    for key in "abcd":
        store.put(("defaults", key), [1.0, 0.0, 0.0])
    assert len(store) == 3 and store.get(("defaults", "a")) is None and store.get(("defaults", "d")) is not None


def test_reset_durations_use_openai_format():
    assert [go_duration(s) for s in (0, 0.017, 0.9999, 1.5, 60, 360, 3723.5)] == \
        ["0s", "17ms", "1s", "1.5s", "1m0s", "6m0s", "1h2m3.5s"]


@pytest.mark.parametrize("yaml, message", [
    ("defaults:\n  rate_limit: {}", "rate_limit needs requests_per_minute, tokens_per_minute, or both"),
    ("defaults:\n  rate_limit: {requests_per_minut: 5}", "unknown key 'requests_per_minut' in rate_limit "
                                                        "(did you mean 'requests_per_minute'?)"),
    ("defaults:\n  rate_limit: {requests_per_minute: 0}", "requests_per_minute: Input should be greater than or equal to 1"),
    ("defaults:\n  rate_limit: {requests_per_minute: 5, per: user}", "per: must be 'api_key' or 'global'"),
    ("defaults:\n  rate_limit: {tokens_per_minute: 5, burst_s: 0}", "burst_s: Input should be greater than 0"),
    ("rules:\n  - rate_limit: 5", "rules[0].rate_limit: expected a mapping, got an integer (5)"),
])
def test_bad_rate_limit_config(yaml, message):
    with pytest.raises(ConfigError) as info:
        parse_config(yaml + "\n", "r.yaml")
    assert message in str(info.value), str(info.value)


def test_gemini_and_ollama_get_their_own_429(tmp_path):
    from google.genai import errors
    from helpers import gemini_client, ollama_client
    from ollama import ResponseError

    with serve(tmp_path, ONE_PER_SECOND.replace("60, burst_s: 1", "1, per: global")) as server:
        gemini = gemini_client(server.url)
        assert gemini.models.generate_content(model="gemini-2.5-flash", contents="x").text == "hello there"
        with pytest.raises(errors.ClientError) as info:
            gemini.models.generate_content(model="gemini-2.5-flash", contents="x")
        assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
        with pytest.raises(ResponseError) as oinfo:
            ollama_client(server.url).chat(model="llama3", messages=ask("x"), stream=False)
        assert oinfo.value.status_code == 429
