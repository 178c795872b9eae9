"""Record, edit, replay: `fakellm record` in front of an upstream (a second fakellm, the only upstream
reachable here), the rules it writes, `fakellm serve --config` replaying them without the upstream,
and hybrid serving (`serve --upstream --record-to`). Everything goes through the official SDKs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml
from google.genai import errors as genai_errors
from google.genai import types
from helpers import Served, free_port, gemini_client

OPENAI_KEY = "sk-proj-ClientSecretKey1234567890"
ANTHROPIC_KEY = "sk-ant-api03-ClientSecretKey123456"
GEMINI_KEY = "AIzaClientSecretKey1234567890abcdef"
TEMPERATURES = {"Paris": "18C", "Rome": "24C", "Oslo": "3C", "Lima": "21C", "Kyiv": "9C", "Cairo": "33C"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


def upstream_rules() -> list[dict[str, Any]]:
    """The upstream's answers: for each city a tool call, then (given the tool's result) a sentence,
    paced like a real model; and a 429."""
    rules: list[dict[str, Any]] = []
    for n, (city, temp) in enumerate(TEMPERATURES.items()):
        rules.append({"when": {"turn": 1, "messages_contain": f"weather in {city}"},
                      "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": city},
                                                  "id": f"call_{city.lower()}"}],
                                  "thinking": f"The user wants {city}.",
                                  "usage": {"input_tokens": 30 + n, "output_tokens": 12}}})
        rules.append({"when": {"turn": 2, "tool_result_contains": temp},
                      "respond": {"content": f"It is {temp} and sunny in {city}, enjoy.", "ttft_ms": 60,
                                  "chunk_delay_ms": 15, "usage": {"input_tokens": 50 + n, "output_tokens": 11}}})
    rules.append({"when": {"messages_contain": "rate me"},
                  "respond": {"status": 429, "error": {"message": "Rate limit reached for gpt-4o",
                                                       "type": "requests", "code": "rate_limit_exceeded"}}})
    return rules


class Recorder:
    """`fakellm record` in a subprocess on 127.0.0.1 and a free port; stopped by its PID."""

    def __init__(self, upstream: str, out: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = out
        env = {k: v for k, v in os.environ.items() if k != "FAKELLM_ADMIN_TOKEN"}
        self.proc = subprocess.Popen([sys.executable, "-m", "fakellm", "record", "--upstream", upstream,
                                      "--port", str(self.port), "--out", str(out)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            lines.append(line)
            if "fakellm recording on" in line:
                return
        raise RuntimeError("fakellm record did not start:\n" + "".join(lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    config = tmp_path_factory.mktemp("upstream") / "upstream.yaml"
    config.write_text(yaml.safe_dump({"rules": upstream_rules()}))
    with Served("--config", str(config)) as server:
        yield server


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fakellm", "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)


# -- the flow: what each SDK shows of a two-turn tool-using agent


def openai_agent(url: str, city: str, stream: bool) -> list[Any]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=OPENAI_KEY, max_retries=0)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"What is the weather in {city} today?"}]
    seen = []
    for _ in range(2):
        if stream:
            text, calls, finish, usage = "", {}, None, None
            for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools, stream=True,
                                                        stream_options={"include_usage": True}):
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    text += choice.delta.content or ""
                    for part in choice.delta.tool_calls or ():
                        call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] += part.id or ""
                        call["name"] += part.function.name or ""
                        call["arguments"] += part.function.arguments or ""
                    finish = choice.finish_reason or finish
            calls_seen = [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()]
            seen.append((text, calls_seen, finish, usage.prompt_tokens, usage.completion_tokens))
        else:
            reply = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
            message = reply.choices[0].message
            text, calls_seen = message.content, [(c.id, c.function.name, json.loads(c.function.arguments))
                                                 for c in message.tool_calls or ()]
            seen.append((text, calls_seen, reply.choices[0].finish_reason, reply.usage.prompt_tokens,
                         reply.usage.completion_tokens))
        if not calls_seen:
            break
        call_id, name, args = calls_seen[0]
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": f"{TEMPERATURES[city]}, sunny"})
    return seen


def anthropic_agent(url: str, city: str, stream: bool) -> list[Any]:
    client = anthropic.Anthropic(base_url=url, api_key=ANTHROPIC_KEY, max_retries=0)
    tools = [{"name": "get_weather", "description": "Weather of a city", "input_schema": WEATHER}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"What is the weather in {city} today?"}]
    seen = []
    for _ in range(2):
        kw = dict(model="claude-sonnet-4-5", max_tokens=1024, messages=messages, tools=tools,
                  thinking={"type": "enabled", "budget_tokens": 1024})
        if stream:
            with client.messages.stream(**kw) as events:
                reply = events.get_final_message()
        else:
            reply = client.messages.create(**kw)
        blocks = [b.model_dump(exclude={"signature", "citations"}) for b in reply.content]
        seen.append((blocks, reply.stop_reason, reply.usage.input_tokens, reply.usage.output_tokens))
        uses = [b for b in reply.content if b.type == "tool_use"]
        if not uses:
            break
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                                      "content": f"{TEMPERATURES[city]}, sunny"}]})
    return seen


def gemini_agent(url: str, city: str, stream: bool) -> list[Any]:
    client = gemini_client(url)
    client._api_client.api_key = GEMINI_KEY  # noqa: SLF001 (a key-like key, to see that it is not written)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", parameters_json_schema=WEATHER)])], automatic_function_calling=NO_AFC)
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text=f"What is the weather in {city} today?")])]
    seen = []
    for _ in range(2):
        if stream:
            chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=contents,
                                                                config=config))
            parts = [p for c in chunks for p in (c.candidates[0].content.parts or ())]
            finish, usage = chunks[-1].candidates[0].finish_reason, chunks[-1].usage_metadata
        else:
            reply = client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
            parts, finish, usage = reply.candidates[0].content.parts, reply.candidates[0].finish_reason, reply.usage_metadata
        text = "".join(p.text for p in parts if p.text)
        calls = [(p.function_call.name, p.function_call.args) for p in parts if p.function_call]
        seen.append((text, calls, finish, usage.prompt_token_count, usage.candidates_token_count))
        if not calls:
            break
        contents.append(types.Content(role="model", parts=[types.Part.from_function_call(name=calls[0][0],
                                                                                          args=calls[0][1])]))
        contents.append(types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"result": f"{TEMPERATURES[city]}, sunny"})]))
    return seen


def rate_limited(url: str) -> tuple[int, str, str | None]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "rate me please"}])
    return caught.value.status_code, caught.value.message, caught.value.code


def flow(url: str) -> dict[str, Any]:
    return {
        "openai": openai_agent(url, "Paris", stream=False),
        "openai stream": openai_agent(url, "Rome", stream=True),
        "anthropic": anthropic_agent(url, "Oslo", stream=False),
        "anthropic stream": anthropic_agent(url, "Lima", stream=True),
        "gemini": gemini_agent(url, "Kyiv", stream=False),
        "gemini stream": gemini_agent(url, "Cairo", stream=True),
        "429": rate_limited(url),
    }


@pytest.fixture(scope="module")
def recorded(upstream, tmp_path_factory):
    """The flow through `fakellm record` (what the SDKs saw), and the file it wrote."""
    out = tmp_path_factory.mktemp("recorded") / "recorded.yaml"
    recorder = Recorder(upstream.url, out)
    try:
        seen = flow(recorder.url)
    finally:
        recorder.stop()
    return seen, out


def test_the_recorder_passes_the_upstream_answers_through(upstream, recorded):
    seen, _ = recorded
    assert seen == flow(upstream.url)
    assert seen["openai"][0][1] == [("call_paris", "get_weather", {"city": "Paris"})]
    assert seen["openai stream"][1][0] == "It is 24C and sunny in Rome, enjoy."
    assert seen["429"] == (429, "Error code: 429 - Rate limit reached for gpt-4o", "rate_limit_exceeded")


def test_a_replay_without_the_upstream_shows_the_sdks_the_same(recorded):
    seen, out = recorded
    with Served("--config", str(out)) as replay:
        assert flow(replay.url) == seen


def test_the_recording_is_valid_and_says_each_exchange_once(recorded):
    _, out = recorded
    result = check(out)
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load(out.read_text())["rules"]
    # Six agents of two turns, and the 429: one rule each (the replay flow's requests were not recorded).
    assert len(rules) == 13
    by_needle = {r["when"].get("messages_contain") or r["when"].get("tool_result_contains"): r for r in rules}
    # The shortest run of words no other request of that turn and model has.
    first = by_needle["the weather in Paris"]
    assert first["when"] == {"turn": 1, "model_matches": "gpt-4o", "messages_contain": "the weather in Paris"}
    assert first["respond"][0]["tool_calls"] == [{"id": "call_paris", "name": "get_weather",
                                                  "arguments": {"city": "Paris"}}]
    second = by_needle["24C, sunny"]
    assert second["when"]["turn"] == 2 and second["respond"][0]["content"] == "It is 24C and sunny in Rome, enjoy."
    assert second["respond"][0]["usage"] == {"input_tokens": 51, "output_tokens": 11}
    limited = by_needle["rate me please"]["respond"][0]
    assert limited["status"] == 429 and limited["error"]["message"] == "Rate limit reached for gpt-4o"
    thought = by_needle["the weather in Oslo"]["respond"][0]
    assert thought["thinking"] == "The user wants Oslo."


def test_stream_timing_is_recorded(recorded):
    _, out = recorded
    rules = yaml.safe_load(out.read_text())["rules"]
    [streamed] = [r["respond"][0] for r in rules if r["when"].get("tool_result_contains") == "24C, sunny"]
    assert 55 <= streamed["ttft_ms"] < 2000
    assert 10 <= streamed["chunk_delay_ms"] < 1000
    [answered] = [r["respond"][0] for r in rules if r["when"].get("tool_result_contains") == "18C, sunny"]
    assert "delay_ms" in answered and "ttft_ms" not in answered  # a JSON body: its whole time


def test_identical_exchanges_are_written_once_and_retries_become_a_sequence(upstream, tmp_path):
    out = tmp_path / "out.yaml"
    recorder = Recorder(upstream.url, out)
    try:
        for _ in range(3):
            assert openai_agent(recorder.url, "Paris", stream=False)
        client = openai.OpenAI(base_url=f"{recorder.url}/v1", api_key=OPENAI_KEY, max_retries=0)
        for _ in range(2):
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "rate me"}])
    finally:
        recorder.stop()
    rules = yaml.safe_load(out.read_text())["rules"]
    assert [len(r["respond"]) for r in rules] == [1, 1, 1]


def test_no_secret_the_client_sent_is_written(upstream, tmp_path):
    out = tmp_path / "out.yaml"
    recorder = Recorder(upstream.url, out)
    prompt = ("What is the weather in Paris? My key is sk-ant-api03-LeakedKey987654321 and my token "
              "Bearer eyJhbGciOiJIUzI1NiJ9.payload, mail alice.smith@example.com")
    try:
        client = openai.OpenAI(base_url=f"{recorder.url}/v1", api_key=OPENAI_KEY, max_retries=0)
        first = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
        anthropic_agent(recorder.url, "Oslo", stream=False)
        gemini_agent(recorder.url, "Kyiv", stream=True)
    finally:
        recorder.stop()
    text = out.read_text()
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, "LeakedKey987654321", "eyJhbGciOiJIUzI1NiJ9",
                   "alice.smith@example.com", "example.com"):
        assert secret not in text
    assert check(out).returncode == 0
    with Served("--config", str(out)) as replay:  # the needle avoids the secrets: the request still matches
        again = replay.openai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
        assert again.choices[0].message.tool_calls[0].id == first.choices[0].message.tool_calls[0].id


def test_a_killed_recorder_leaves_a_valid_file(tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump({"rules": [
        {"when": {"messages_contain": "slow"}, "respond": {"content": "one two three four", "ttft_ms": 5000}},
        {"respond": {"content": "quick answer"}}]}))
    out = tmp_path / "out.yaml"
    with Served("--config", str(slow)) as upstream:
        recorder = Recorder(upstream.url, out)
        client = openai.OpenAI(base_url=f"{recorder.url}/v1", api_key=OPENAI_KEY, max_retries=0, timeout=20)
        for n in range(5):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"question {n}"}])
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "slow"}],
                                                stream=True)
        os.kill(recorder.proc.pid, signal.SIGKILL)  # mid-stream, mid-recording
        recorder.proc.wait(timeout=10)
        recorder.stop()
        with pytest.raises(openai.APIConnectionError):
            list(stream)
    assert check(out).returncode == 0
    assert len(yaml.safe_load(out.read_text())["rules"]) == 5
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- hybrid serving


def test_hybrid_answers_from_the_rules_and_learns_the_rest(upstream, tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text(yaml.safe_dump({"rules": [{"when": {"messages_contain": "hello"},
                                              "respond": {"content": "from my rules"}}]}))
    learned = tmp_path / "learned.yaml"
    question = [{"role": "user", "content": "What is the weather in Paris today?"}]
    with Served("--config", str(own), "--upstream", upstream.url, "--record-to", str(learned)) as hybrid:
        client = hybrid.openai()
        hello = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
        assert hello.choices[0].message.content == "from my rules"
        proxied = client.chat.completions.create(model="gpt-4o", messages=question)
        assert proxied.choices[0].message.tool_calls[0].id == "call_paris"
        # Learned and served from now on, without a restart: the journal says the rule answered.
        again = client.chat.completions.create(model="gpt-4o", messages=question)
        assert again.choices[0].message.tool_calls[0].id == "call_paris"
        journal = sorted(httpx.get(f"{hybrid.url}/_fakellm/requests").json()["requests"], key=lambda e: e["id"])
        assert journal[0]["rule"] is not None  # the config's own rule
        assert [(entry["rule"], entry["reply"]["status"]) for entry in journal[1:]] == [
            (None, 200), ("recorded 1: turn 1, What is the weather", 200)]
        assert journal[1]["notes"] == ["answered by the upstream (no rule matched)"]
    learned_rules = yaml.safe_load(learned.read_text())["rules"]
    assert [r["when"]["messages_contain"] for r in learned_rules] == ["What is the weather"]
    assert check(learned).returncode == 0
    # Restarted without the upstream: the rules recorded before are served.
    with Served("--config", str(own), "--upstream", "http://127.0.0.1:9", "--record-to", str(learned)) as hybrid:
        again = hybrid.openai().chat.completions.create(model="gpt-4o", messages=question)
        assert again.choices[0].message.tool_calls[0].id == "call_paris"
        with pytest.raises(openai.InternalServerError) as caught:  # a miss, the upstream unreachable: a 502
            hybrid.openai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "new"}])
        assert caught.value.status_code == 502 and "could not reach the upstream" in caught.value.message
        assert hybrid.openai().chat.completions.create(model="gpt-4o", messages=question).choices[0].message.tool_calls


# -- replay speed


@pytest.mark.parametrize("speed, low, high", [("0", 0.0, 0.5), ("2", 0.55, 1.15)])
def test_replay_speed_scales_the_recorded_timing(tmp_path, speed, low, high):
    config = tmp_path / "timed.yaml"
    config.write_text(yaml.safe_dump({"rules": [{"respond": {"content": "a b c d e", "ttft_ms": 1200}}]}))
    with Served("--config", str(config), "--replay-speed", speed) as server:
        client = server.openai()
        started = time.perf_counter()
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True) if c.choices)
        elapsed = time.perf_counter() - started
    assert text == "a b c d e"
    assert low <= elapsed < high


# -- bad input


def fakellm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fakellm", *args], capture_output=True, text=True, timeout=60)


def test_a_bad_upstream_is_a_usage_error(tmp_path):
    result = fakellm("record", "--upstream", "ftp://example.invalid", "--out", str(tmp_path / "x.yaml"))
    assert result.returncode == 2 and "must be openai, anthropic, gemini or an http(s) URL" in result.stderr
    result = fakellm("serve", "--upstream", "nonsense")
    assert result.returncode == 2 and "--upstream" in result.stderr


def test_record_to_without_upstream_and_a_negative_speed_are_refused(tmp_path):
    result = fakellm("serve", "--record-to", str(tmp_path / "x.yaml"))
    assert result.returncode == 2 and "--record-to needs --upstream" in result.stderr
    result = fakellm("serve", "--replay-speed", "-1")
    assert result.returncode == 2 and "--replay-speed" in result.stderr


def test_an_invalid_record_to_file_is_reported(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - when: {turn: zero}\n")
    result = fakellm("serve", "--upstream", "http://127.0.0.1:9", "--record-to", str(bad))
    assert result.returncode == 2 and "bad.yaml" in result.stderr and "turn" in result.stderr


def test_an_unreachable_upstream_is_a_502_and_the_recorder_keeps_serving(tmp_path):
    recorder = Recorder(f"http://127.0.0.1:{free_port()}", tmp_path / "out.yaml")
    try:
        for _ in range(2):
            with pytest.raises(anthropic.InternalServerError) as caught:
                anthropic.Anthropic(base_url=recorder.url, api_key=ANTHROPIC_KEY, max_retries=0).messages.create(
                    model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
            assert caught.value.status_code == 502 and "could not reach the upstream" in str(caught.value)
        gemini = gemini_client(recorder.url, retry_options=types.HttpRetryOptions(attempts=1))
        with pytest.raises(genai_errors.ServerError):
            gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    finally:
        recorder.stop()
    assert yaml.safe_load((tmp_path / "out.yaml").read_text())["rules"] == []


def test_a_request_fakellm_refuses_is_forwarded_unrecorded(upstream, tmp_path):
    out = tmp_path / "out.yaml"
    recorder = Recorder(upstream.url, out)
    try:
        client = openai.OpenAI(base_url=f"{recorder.url}/v1", api_key=OPENAI_KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError):  # the upstream's own 400, passed back
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "wizard", "content": "hi"}])
        assert client.models.list().data is not None  # not an LLM call: forwarded too
        assert openai_agent(recorder.url, "Paris", stream=False)
    finally:
        recorder.stop()
    assert len(yaml.safe_load(out.read_text())["rules"]) == 2
