"""Faults (`respond.fault`) over a real socket: each raises what the SDKs raise in production.

Every fault is followed by a normal request on the same server, which must succeed,
and the server must log nothing: a fault is fakellm doing its job, not an error.
"""

from __future__ import annotations

import asyncio

import json
import time

import anthropic
import httpx
import openai
import pytest
from helpers import Served, app_from, openai_client

from fakellm.config import ConfigError, parse_config

TEXT = "one two three four five six"
PIECES = ["one", " two", " three", " four", " five", " six"]

CONFIG = f"""
defaults:
  hang_limit_s: 30
rules:
  - {{when: {{messages_contain: f_drop}}, respond: {{content: "{TEXT}", fault: disconnect}}}}
  - {{when: {{messages_contain: f_cut2}}, respond: {{content: "{TEXT}", fault: {{type: disconnect, after_chunks: 2}}}}}}
  - {{when: {{messages_contain: f_truncate_all}}, respond: {{content: "{TEXT}", fault: truncate}}}}
  - {{when: {{messages_contain: f_truncate3}}, respond: {{content: "{TEXT}", fault: {{type: truncate, after_chunks: 3}}}}}}
  - {{when: {{messages_contain: f_malformed}}, respond: {{content: "{TEXT}", fault: {{type: malformed, after_chunks: 2}}}}}}
  - {{when: {{messages_contain: f_error_default}}, respond: {{content: "{TEXT}", fault: {{type: error_event, after_chunks: 2}}}}}}
  - when: {{messages_contain: f_error_custom}}
    respond:
      content: "{TEXT}"
      fault:
        type: error_event
        after_chunks: 1
        status: 500
        error: {{message: "The model crashed", type: api_error, code: model_crash}}
  - {{when: {{messages_contain: f_hang_mid}}, respond: {{content: "{TEXT}", fault: {{type: hang, after_chunks: 2}}}}}}
  - {{when: {{messages_contain: f_hang}}, respond: {{content: "{TEXT}", fault: hang}}}}
  - {{when: {{messages_contain: f_empty}}, respond: {{content: "{TEXT}", fault: empty}}}}
  - {{when: {{messages_contain: f_paced_cut}}, respond: {{content: "{TEXT}", ttft_ms: 50, chunk_delay_ms: 20,
                                                     fault: {{type: disconnect, after_chunks: 3}}}}}}
  - {{when: {{messages_contain: f_paced_error}}, respond: {{content: "{TEXT}", ttft_ms: 50, chunk_delay_ms: 20,
                                                       fault: {{type: error_event, after_chunks: 3}}}}}}
  - {{when: {{messages_contain: f_err_status}}, respond: {{status: 503, error: down, fault: truncate}}}}
  - {{when: {{messages_contain: slow_forever}}, respond: {{content: "{TEXT} {TEXT} {TEXT}", chunk_delay_ms: 300}}}}
  - when: {{messages_contain: no_retry}}
    respond: {{status: 503, error: "down for good", headers: {{x-should-retry: "false", retry-after-ms: "5"}}}}
  - when: {{messages_contain: do_retry}}
    respond: {{status: 400, error: "flaky", headers: {{x-should-retry: "true", retry-after-ms: "5"}}}}
  - {{when: {{messages_contain: healthy}}, respond: {{content: "all good"}}}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "fakellm.yaml"
    path.write_text(CONFIG)
    served = Served("--config", str(path))
    with served:
        yield served
    log = "".join(served.output)
    assert "Traceback" not in log and "Exception in ASGI" not in log and "ASGI callable" not in log, log


@pytest.fixture
def oai(server):
    return server.openai()


@pytest.fixture
def ant(server):
    return server.anthropic()


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def still_healthy(server: Served) -> None:
    assert server.openai().chat.completions.create(model="m", messages=ask("healthy")).choices[0].message.content \
        == "all good"
    r = server.anthropic().messages.create(model="c", max_tokens=50, messages=ask("healthy"))
    assert r.content[0].text == "all good"


def openai_stream(client: openai.OpenAI, text: str, got: list) -> None:
    """Collect content deltas into `got` (so a test can see what arrived before an error)."""
    for chunk in client.chat.completions.create(model="m", messages=ask(text), stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            got.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            got.append(("finish", chunk.choices[0].finish_reason))


def anthropic_events(client: anthropic.Anthropic, text: str, got: list) -> None:
    for event in client.messages.create(model="c", max_tokens=50, messages=ask(text), stream=True):
        got.append(event.type if event.type != "content_block_delta" else event.delta.text)


# --------------------------------------------------------------------------- disconnect


def test_disconnect_before_any_byte_is_a_connection_error(server, oai, ant):
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=ask("f_drop"))
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=ask("f_drop"), stream=True)
    with pytest.raises(anthropic.APIConnectionError):
        ant.messages.create(model="c", max_tokens=50, messages=ask("f_drop"))
    still_healthy(server)


def test_disconnect_mid_stream_after_n_chunks(server, oai, ant):
    got: list = []
    with pytest.raises(openai.APIConnectionError):
        openai_stream(oai, "f_cut2", got)
    assert got == PIECES[:2]

    got = []
    # The Anthropic SDK lets the transport's error through while it reads a stream.
    with pytest.raises((anthropic.APIConnectionError, httpx.RemoteProtocolError, _httpx2_protocol_error())):
        anthropic_events(ant, "f_cut2", got)
    assert [g for g in got if g in PIECES] == PIECES[:2]
    assert "message_stop" not in got
    still_healthy(server)


def test_disconnect_non_streaming_after_chunks_cuts_the_body(server, oai):
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=ask("f_cut2"))
    still_healthy(server)


def test_disconnect_retried_by_default(server):
    """A dropped connection is retried by the SDKs: the journal sees every attempt."""
    httpx.delete(server.url + "/_fakellm/requests")
    client = server.openai(max_retries=1)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=ask("f_drop"))
    assert len(httpx.get(server.url + "/_fakellm/requests").json()["requests"]) == 2


def _httpx2_protocol_error() -> type:
    try:
        import httpx2

        return httpx2.RemoteProtocolError
    except ImportError:  # SDK versions built on httpx
        return httpx.RemoteProtocolError


# --------------------------------------------------------------------------- truncate


def test_truncate_ends_the_stream_without_its_end(server, oai, ant):
    got: list = []
    openai_stream(oai, "f_truncate_all", got)
    assert got == PIECES  # every content chunk, but no finish_reason chunk (and no [DONE])

    got = []
    openai_stream(oai, "f_truncate3", got)
    assert got == PIECES[:3]

    got = []
    anthropic_events(ant, "f_truncate3", got)
    assert [g for g in got if g in PIECES] == PIECES[:3]
    assert "message_delta" not in got and "message_stop" not in got
    with ant.messages.stream(model="c", max_tokens=50, messages=ask("f_truncate_all")) as stream:
        assert "".join(stream.text_stream) == TEXT
        assert stream.get_final_message().stop_reason is None  # never got its message_delta
    still_healthy(server)


def test_truncate_non_streaming_is_a_json_body_that_stops_early(server, oai, ant):
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="m", messages=ask("f_truncate3"))
    with pytest.raises(json.JSONDecodeError):
        ant.messages.create(model="c", max_tokens=50, messages=ask("f_truncate3"))
    still_healthy(server)


def test_fault_on_an_error_reply_applies_to_its_body(server, oai):
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as info:
            oai.chat.completions.create(model="m", messages=ask("f_err_status"), stream=stream)
        assert info.value.status_code == 503
        assert isinstance(info.value.body, str) and info.value.body.startswith('{"error":')  # cut short


# --------------------------------------------------------------------------- malformed


def test_malformed_stream_raises_a_json_decode_error_after_n_chunks(server, oai, ant):
    got: list = []
    with pytest.raises(json.JSONDecodeError):
        openai_stream(oai, "f_malformed", got)
    assert got == PIECES[:2]
    got = []
    with pytest.raises(json.JSONDecodeError):
        anthropic_events(ant, "f_malformed", got)
    assert [g for g in got if g in PIECES] == PIECES[:2]
    still_healthy(server)


def test_malformed_non_streaming_body(server, oai, ant):
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="m", messages=ask("f_malformed"))
    with pytest.raises(json.JSONDecodeError):
        ant.messages.create(model="c", max_tokens=50, messages=ask("f_malformed"))
    still_healthy(server)


def test_malformed_stream_keeps_the_provider_framing(server):
    """The corrupted event keeps its `event:` line, so SDKs that route on it still parse it."""
    body = httpx.post(server.url + "/v1/messages", json={
        "model": "c", "max_tokens": 50, "stream": True, "messages": ask("f_malformed")}).text
    events = body.split("\n\n")
    bad = [e for e in events if e.startswith("event: ") and not _json_ok(e.split("data: ", 1)[1])]
    assert len(bad) == 1 and bad[0].startswith("event: content_block_delta")
    assert events[-2].startswith("event: message_stop")  # the rest of the stream still follows


def _json_ok(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- error_event


def test_error_event_mid_stream_openai(server, oai):
    got: list = []
    with pytest.raises(openai.APIError) as info:
        openai_stream(oai, "f_error_default", got)
    assert type(info.value) is openai.APIError  # the base class: there is no status to map
    assert info.value.message == "Overloaded"
    assert got == PIECES[:2]

    got = []
    with pytest.raises(openai.APIError) as info:
        openai_stream(oai, "f_error_custom", got)
    assert info.value.message == "The model crashed"
    assert info.value.code == "model_crash" and info.value.type == "api_error"
    assert got == PIECES[:1]
    still_healthy(server)


def test_error_event_mid_stream_anthropic(server, ant):
    got: list = []
    with pytest.raises(anthropic.APIStatusError) as info:
        anthropic_events(ant, "f_error_default", got)
    assert info.value.status_code == 200  # the stream had already started
    assert info.value.type == "overloaded_error"
    assert info.value.body["error"]["message"] == "Overloaded"
    assert [g for g in got if g in PIECES] == PIECES[:2]

    with pytest.raises(anthropic.APIStatusError) as info:
        with ant.messages.stream(model="c", max_tokens=50, messages=ask("f_error_custom")) as stream:
            for _ in stream.text_stream:
                pass
    assert info.value.type == "api_error"
    assert info.value.body["error"]["message"] == "The model crashed"
    still_healthy(server)


def test_error_event_non_streaming_is_an_error_response(server, oai, ant):
    with pytest.raises(anthropic.OverloadedError) as info:
        ant.messages.create(model="c", max_tokens=50, messages=ask("f_error_default"))
    assert info.value.status_code == 529
    with pytest.raises(openai.InternalServerError) as oinfo:
        oai.chat.completions.create(model="m", messages=ask("f_error_custom"))
    assert oinfo.value.status_code == 500 and oinfo.value.code == "model_crash"
    still_healthy(server)


# --------------------------------------------------------------------------- hang


def test_hang_until_the_client_times_out(server, oai, ant):
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.4).chat.completions.create(model="m", messages=ask("f_hang"))
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.4).chat.completions.create(model="m", messages=ask("f_hang"), stream=True)
    with pytest.raises(anthropic.APITimeoutError):
        ant.with_options(timeout=0.4).messages.create(model="c", max_tokens=50, messages=ask("f_hang"))
    assert time.perf_counter() - started < 5
    still_healthy(server)


def test_hang_mid_stream_times_out_while_reading(server, oai):
    got: list = []
    with pytest.raises(openai.APITimeoutError):
        openai_stream(oai.with_options(timeout=0.4), "f_hang_mid", got)
    assert got == PIECES[:2]
    still_healthy(server)


def test_hang_is_bounded_by_hang_limit(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text("defaults: {hang_limit_s: 0.3}\nrules:\n  - respond: {fault: hang}\n")
    with Served("--config", str(path)) as served:
        started = time.perf_counter()
        with pytest.raises(openai.APIConnectionError):  # the server gave up first and hung up
            served.openai(timeout=10).chat.completions.create(model="m", messages=ask("x"))
        assert 0.29 < time.perf_counter() - started < 3


# --------------------------------------------------------------------------- empty


def test_empty_body(server, oai, ant):
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="m", messages=ask("f_empty"))
    with pytest.raises(json.JSONDecodeError):
        ant.messages.create(model="c", max_tokens=50, messages=ask("f_empty"))
    got: list = []
    openai_stream(oai, "f_empty", got)
    assert got == []  # a 200 stream with no events at all
    raw = httpx.post(server.url + "/v1/chat/completions", json={"model": "m", "messages": ask("f_empty"), "stream": True})
    assert raw.status_code == 200 and raw.content == b""
    assert raw.headers["content-type"].startswith("text/event-stream")
    still_healthy(server)


# --------------------------------------------------------------------------- with timing


def test_paced_faults_come_on_the_chunk_schedule(server, oai):
    got: list = []
    started = time.perf_counter()
    with pytest.raises(openai.APIConnectionError):
        openai_stream(oai, "f_paced_cut", got)
    # ttft 50 ms, then chunks 2 and 3 at +20 ms each; the drop takes chunk 4's place (+20 ms).
    assert got == PIECES[:3]
    assert time.perf_counter() - started >= 0.110 - 0.005

    got = []
    with pytest.raises(openai.APIError):
        openai_stream(oai, "f_paced_error", got)
    assert got == PIECES[:3]
    still_healthy(server)


# --------------------------------------------------------------------------- retries and x-should-retry


def test_x_should_retry_is_honoured(server):
    httpx.delete(server.url + "/_fakellm/requests")
    with pytest.raises(openai.InternalServerError):
        server.openai(max_retries=2).chat.completions.create(model="m", messages=ask("no_retry"))
    with pytest.raises(anthropic.InternalServerError):
        server.anthropic(max_retries=2).messages.create(model="c", max_tokens=50, messages=ask("no_retry"))
    journal = httpx.get(server.url + "/_fakellm/requests").json()["requests"]
    assert len(journal) == 2  # a 503 is normally retried; x-should-retry: false stops it

    httpx.delete(server.url + "/_fakellm/requests")
    with pytest.raises(openai.BadRequestError):
        server.openai(max_retries=2).chat.completions.create(model="m", messages=ask("do_retry"))
    with pytest.raises(anthropic.BadRequestError):
        server.anthropic(max_retries=2).messages.create(model="c", max_tokens=50, messages=ask("do_retry"))
    journal = httpx.get(server.url + "/_fakellm/requests").json()["requests"]
    assert len(journal) == 6  # a 400 is never retried; x-should-retry: true makes it 3 attempts each
    assert [e["headers"].get("x-stainless-retry-count") for e in journal[:3]] == ["0", "1", "2"]


# --------------------------------------------------------------------------- no leaks


def _debug(server: Served) -> dict:
    return httpx.get(server.url + "/_fakellm/debug").json()


def _settles(server: Served, baseline_tasks: int, within: float = 3.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        state = _debug(server)
        if state["deliveries_in_flight"] == 0 and state["asyncio_tasks"] <= baseline_tasks:
            return state
        if time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_client_that_gives_up_leaves_no_task_behind(server, oai):
    baseline = _debug(server)["asyncio_tasks"]
    for _ in range(5):
        with pytest.raises(openai.APITimeoutError):
            oai.with_options(timeout=0.2).chat.completions.create(model="m", messages=ask("f_hang"))
    with pytest.raises(openai.APITimeoutError):
        openai_stream(oai.with_options(timeout=0.2), "f_hang_mid", [])
    state = _settles(server, baseline)
    assert state["deliveries_in_flight"] == 0 and state["asyncio_tasks"] <= baseline, state


def test_client_closing_a_slow_stream_stops_it(server, oai):
    """A stream with 18 chunks 300 ms apart is abandoned after one chunk: the server stops at once."""
    baseline = _debug(server)["asyncio_tasks"]
    stream = oai.chat.completions.create(model="m", messages=ask("slow_forever"), stream=True)
    next(iter(stream))
    assert _debug(server)["deliveries_in_flight"] == 1
    stream.close()
    started = time.monotonic()
    state = _settles(server, baseline)
    assert state["deliveries_in_flight"] == 0 and state["asyncio_tasks"] <= baseline, state
    assert time.monotonic() - started < 1.0  # not the 5 s the stream would have taken
    still_healthy(server)


def test_many_clients_hanging_up_at_once_leave_nothing_behind(server):
    """100 clients read the start of a slow stream (or nothing of a hang) and hang up together."""
    import asyncio

    baseline = _debug(server)["asyncio_tasks"]

    async def hang_up(text: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        body = json.dumps({"model": "m", "messages": ask(text), "stream": True}).encode()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        try:
            first = await asyncio.wait_for(reader.read(4096), 0.5)
        except asyncio.TimeoutError:
            first = b""
        writer.close()
        return first

    async def crowd() -> list[bytes]:
        return await asyncio.gather(*(hang_up("slow_forever" if i % 2 else "f_hang") for i in range(100)))

    firsts = asyncio.run(crowd())
    assert all(f.startswith(b"HTTP/1.1 200") for f in firsts[1::2])  # the slow streams had begun
    assert all(f == b"" for f in firsts[0::2])  # the hangs had sent nothing
    state = _settles(server, baseline)
    assert state["deliveries_in_flight"] == 0 and state["asyncio_tasks"] <= baseline, state
    still_healthy(server)


# --------------------------------------------------------------------------- probability


PROBABILITY = """
defaults: {seed: 7}
rules:
  - name: flaky
    probability: 0.3
    respond: {status: 503, error: "flaky upstream"}
  - name: fine
    respond: {content: ok}
"""


def _outcomes(client: openai.OpenAI, n: int) -> list[str]:
    out = []
    for i in range(n):
        try:
            client.chat.completions.create(model="m", messages=ask(f"request {i}"))
            out.append("ok")
        except openai.InternalServerError:
            out.append("503")
    return out


def test_probability_fires_that_often_and_the_seed_repeats_it():
    first = _outcomes(openai_client(app_from(PROBABILITY)), 200)
    assert 35 <= first.count("503") <= 85  # 30% of 200, with room for chance
    # A new app with the same seed makes the same choices, request by request.
    assert _outcomes(openai_client(app_from(PROBABILITY)), 200) == first
    other = _outcomes(openai_client(app_from(PROBABILITY.replace("seed: 7", "seed: 8"))), 200)
    assert other != first


def test_probability_zero_and_one():
    never = _outcomes(openai_client(app_from(PROBABILITY.replace("probability: 0.3", "probability: 0"))), 30)
    assert never == ["ok"] * 30
    always = _outcomes(openai_client(app_from(PROBABILITY.replace("probability: 0.3", "probability: 1"))), 30)
    assert always == ["503"] * 30


def test_probability_miss_does_not_use_up_times():
    app = app_from(PROBABILITY.replace("probability: 0.3", "probability: 0.5\n    times: 1"))
    outcomes = _outcomes_same_conversation(openai_client(app), 40)
    assert outcomes.count("503") == 1  # `times: 1` counts only requests the rule answered


def _outcomes_same_conversation(client: openai.OpenAI, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            client.chat.completions.create(model="m", messages=ask("same conversation"))
            out.append("ok")
        except openai.InternalServerError:
            out.append("503")
    return out


# --------------------------------------------------------------------------- config validation


@pytest.mark.parametrize("respond, message", [
    ("{fault: disconect}", "unknown fault 'disconect' (did you mean 'disconnect'?)"),
    ("{fault: {type: hang, aftr_chunks: 1}}", "unknown key 'aftr_chunks' in fault (did you mean 'after_chunks'?)"),
    ("{fault: {type: truncate, after_chunks: -1}}", "after_chunks: Input should be greater than or equal to 0"),
    ("{fault: {type: truncate, error: boom}}", "status and error apply only to the error_event fault"),
    ("{fault: {type: empty, after_chunks: 2}}", "after_chunks does not apply to the empty fault"),
    ("{fault: 3}", "fault must be a fault name"),
    ("{fault: {after_chunks: 2}}", "required key 'type' is missing"),
    ("{fault: {type: error_event, status: 200}}", "status: Input should be greater than or equal to 400"),
    ("{ttft_ms: -5}", "ttft_ms: Input should be greater than or equal to 0"),
    ("{delay_ms: true}", "delay_ms: expected a number, got a boolean (True)"),
    ("{chunk_delay_ms: '10'}", "chunk_delay_ms: expected a number, got a string ('10')"),
    ("{jitter: 1.5}", "jitter: Input should be less than or equal to 1"),
    ("{tokens_per_second: 0}", "tokens_per_second: Input should be greater than 0"),
    ("{chunk_size: 0}", "chunk_size: Input should be greater than or equal to 1"),
    ("{chunk_delay_ms: 10, tokens_per_second: 20}", "give chunk_delay_ms or tokens_per_second, not both"),
    ("{ttft: 10}", "unknown key 'ttft' in respond (did you mean 'ttft_ms'?)"),
])
def test_bad_timing_and_fault_config_is_reported_where_it_is(respond, message):
    with pytest.raises(ConfigError) as info:
        parse_config(f"rules:\n  - respond: {respond}\n", "f.yaml")
    text = str(info.value)
    assert message in text, text
    assert text.startswith("f.yaml:2:"), text


@pytest.mark.parametrize("yaml, message", [
    ("defaults: {jiter: 0.1}", "unknown key 'jiter' in defaults (did you mean 'jitter'?)"),
    ("defaults: {hang_limit_s: -1}", "hang_limit_s: Input should be greater than or equal to 0"),
    ("defaults: {seed: abc}", "seed: expected an integer"),
    ("rules:\n  - {probability: 1.5}", "probability: Input should be less than or equal to 1"),
    ("rules:\n  - {probability: yes}", "probability: expected a number, got a boolean (True)"),
    ("defaults: {fault: hang}", "unknown key 'fault' in defaults"),
])
def test_bad_defaults_and_probability(yaml, message):
    with pytest.raises(ConfigError) as info:
        parse_config(yaml + "\n", "f.yaml")
    assert message in str(info.value), str(info.value)


def test_timing_and_faults_are_all_accepted():
    config = parse_config("""
defaults: {delay_ms: 1, ttft_ms: 2, tokens_per_second: 50, jitter: 0.1, chunk_size: 4, seed: 1, hang_limit_s: 5}
rules:
  - probability: 0.5
    respond:
      - {fault: {type: error_event, after_chunks: 0, status: 529, error: {message: busy, type: overloaded_error}}}
      - {chunk_delay_ms: 3.5, fault: {type: hang, after_chunks: 2}}
""")
    assert config.rules[0].respond[1].fault.type == "hang"


def test_faults_work_under_the_python_api():
    """FakeLLM runs the same app on a real socket in a thread: connection faults work there too."""
    from fakellm import FakeLLM

    rules = [
        {"when": {"messages_contain": "drop"}, "respond": {"content": TEXT, "fault": {"type": "disconnect", "after_chunks": 1}}},
        {"respond": {"content": "fine"}},
    ]
    with FakeLLM(rules=rules) as llm:
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)
        got: list = []
        with pytest.raises(openai.APIConnectionError):
            openai_stream(client, "drop", got)
        assert got == PIECES[:1]
        assert client.chat.completions.create(model="m", messages=ask("hi")).choices[0].message.content == "fine"


def test_the_starter_config_shows_timing_faults_and_limits():
    from fakellm.config.starter import starter_config

    app = app_from(None)
    asyncio.run(app.use_config(starter_config()))
    client = openai_client(app)

    def scenario(name: str):
        return {"X-Test-Scenario": name}

    got = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="m", messages=ask("hi"), stream=True,
                                                    extra_headers=scenario("broken_stream")):
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert "".join(got) == "This stream"
    assert client.chat.completions.create(model="m", messages=ask("hi"), extra_headers=scenario("limited")) \
        .choices[0].message.content == "Within the limit."
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=ask("hi"), extra_headers=scenario("limited"))
