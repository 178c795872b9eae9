"""The OpenAI Realtime API over a WebSocket, driven by the openai SDK's realtime clients (GA and beta)
against a real server on 127.0.0.1: the event flow, function calls, cancel, the beta names, error
events for bad client events (the socket stays open), timing per delta, faults, rate limits, the journal."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
import websockets.sync.client as ws_client
from helpers import Served
from openai.types import realtime as ga
from openai.types.beta import realtime as beta
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fakellm import FakeLLM

TEXT = "one two three four five six seven eight"
RULES = [
    {"name": "greet", "when": {"messages_contain": "hello"}, "respond": {"content": "Hi there, friend"}},
    {"name": "ask_weather", "when": {"turn": 1, "messages_contain": "weather"},
     "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
    {"name": "report_weather", "when": {"turn": 2, "tool_result_contains": "sunny"},
     "respond": {"content": "It is sunny in Paris."}},
    {"name": "slow", "when": {"messages_contain": "slowly"}, "respond": {"content": TEXT, "chunk_delay_ms": 150}},
    {"name": "paced", "when": {"messages_contain": "paced"},
     "respond": {"content": TEXT, "ttft_ms": 300, "chunk_delay_ms": 60}},
    {"name": "drop", "when": {"messages_contain": "drop"},
     "respond": {"content": TEXT, "fault": {"type": "disconnect", "after_chunks": 2}}},
    {"name": "drop_at_once", "when": {"messages_contain": "vanish"},
     "respond": {"content": TEXT, "fault": {"type": "disconnect"}}},
    {"name": "broken", "when": {"messages_contain": "broken"},
     "respond": {"content": TEXT, "fault": {"type": "error_event", "after_chunks": 3, "status": 500,
                                            "error": "upstream exploded"}}},
    {"name": "cut", "when": {"messages_contain": "cut short"},
     "respond": {"content": TEXT, "fault": {"type": "truncate", "after_chunks": 2}}},
    {"name": "limited", "when": {"messages_contain": "limited"}, "respond": {"content": "ok"},
     "rate_limit": {"requests_per_minute": 1}},
    {"name": "refused", "when": {"messages_contain": "refuse"}, "respond": {"status": 400, "error": "nope"}},
    {"name": "counted", "when": {"messages_contain": "count"}, "respond": [{"content": "first"}, {"content": "second"}]},
    {"name": "realtime_only", "when": {"api": "openai.realtime", "messages_contain": "which api"},
     "respond": {"content": "the realtime one"}},
]


@pytest.fixture(scope="module")
def llm():
    with FakeLLM(rules=RULES) as server:
        yield server


@pytest.fixture
def client(llm):
    return openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def until(conn, kind: str) -> list:
    """Events up to and including the first of type `kind`."""
    events = []
    while True:
        event = conn.recv()
        events.append(event)
        if event.type == kind:
            return events


def ask(conn, text: str) -> list:
    """A user item, then a response: the response's events (after the item's)."""
    conn.conversation.item.create(item=user(text))
    until(conn, "conversation.item.done")
    conn.response.create()
    return until(conn, "response.done")


def text_of(events: list) -> str:
    return "".join(e.delta for e in events if e.type in ("response.output_text.delta", "response.text.delta"))


def test_a_text_response_is_the_ga_event_flow(client, llm):
    with client.realtime.connect(model="gpt-realtime") as conn:
        created = conn.recv()
        assert isinstance(created, ga.SessionCreatedEvent)
        assert created.session.model == "gpt-realtime" and created.session.output_modalities == ["text"]
        conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
        updated = conn.recv()
        assert isinstance(updated, ga.SessionUpdatedEvent) and updated.session.instructions == "Be brief."
        conn.conversation.item.create(item=user("hello"))
        added, done = conn.recv(), conn.recv()
        assert isinstance(added, ga.ConversationItemAdded) and isinstance(done, ga.ConversationItemDone)
        assert added.item.content[0].text == "hello" and added.item.id == done.item.id
        conn.response.create()
        events = until(conn, "response.done")

    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas == 3  # one per token-sized piece of "Hi there, friend"
    assert kinds == ["response.created", "rate_limits.updated", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * deltas,
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.done"]
    assert isinstance(events[0], ga.ResponseCreatedEvent) and events[0].response.status == "in_progress"
    assert all(isinstance(e, ga.ResponseTextDeltaEvent) for e in events if e.type == "response.output_text.delta")
    assert text_of(events) == "Hi there, friend"
    text_done = next(e for e in events if isinstance(e, ga.ResponseTextDoneEvent))
    assert text_done.text == "Hi there, friend"
    final = events[-1]
    assert isinstance(final, ga.ResponseDoneEvent)
    assert final.response.status == "completed" and final.response.id == events[0].response.id
    message = final.response.output[0]
    assert message.role == "assistant" and message.content[0].type == "output_text"
    assert message.content[0].text == "Hi there, friend"
    usage = final.response.usage
    assert usage.output_tokens > 0 and usage.total_tokens == usage.input_tokens + usage.output_tokens
    ids = [e.event_id for e in [created, updated, added, done, *events]]
    assert len(set(ids)) == len(ids)  # every server event has its own event_id

    entry = llm.requests[-1]
    assert (entry.api, entry.path, entry.model, entry.rule, entry.turn) == (
        "openai.realtime", "/v1/realtime", "gpt-realtime", "greet", 1)
    assert entry.content == "Hi there, friend" and entry.stream
    assert entry.request["instructions"] == "Be brief."
    assert entry.request["input"][0]["content"][0]["text"] == "hello"


def test_the_async_client(llm):
    async def run() -> list:
        client = openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            assert (await conn.recv()).type == "session.created"
            await conn.conversation.item.create(item=user("hello"))
            await conn.response.create()
            events = []
            async for event in conn:
                events.append(event)
                if event.type == "response.done":
                    return events
        return events

    events = asyncio.run(run())
    assert [e.type for e in events[:2]] == ["conversation.item.added", "conversation.item.done"]
    assert text_of(events) == "Hi there, friend"
    assert events[-1].response.status == "completed"


def test_a_function_call_round_trip(client, llm):
    tools = [{"type": "function", "name": "get_weather", "description": "Weather by city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.session.update(session={"type": "realtime", "tools": tools, "tool_choice": "auto"})
        assert conn.recv().session.tools[0].name == "get_weather"
        first = ask(conn, "What is the weather in Paris?")
        kinds = [e.type for e in first]
        assert "response.function_call_arguments.delta" in kinds
        done = next(e for e in first if isinstance(e, ga.ResponseFunctionCallArgumentsDoneEvent))
        assert done.name == "get_weather" and json.loads(done.arguments) == {"city": "Paris"}
        assert "".join(e.delta for e in first if e.type == "response.function_call_arguments.delta") == done.arguments
        call = first[-1].response.output[0]
        assert isinstance(call, ga.RealtimeConversationItemFunctionCall)
        assert (call.name, call.call_id, call.arguments) == ("get_weather", done.call_id, done.arguments)

        conn.conversation.item.create(item={"type": "function_call_output", "call_id": done.call_id,
                                            "output": json.dumps({"forecast": "sunny"})})
        until(conn, "conversation.item.done")
        conn.response.create()
        second = until(conn, "response.done")
    assert text_of(second) == "It is sunny in Paris."

    ask_entry, report_entry = llm.requests[-2:]
    assert (ask_entry.rule, ask_entry.turn) == ("ask_weather", 1)
    assert ask_entry.tool_calls[0].id == done.call_id and ask_entry.tool_calls[0].arguments == {"city": "Paris"}
    assert (report_entry.rule, report_entry.turn) == ("report_weather", 2)
    assert report_entry.conversation_id == ask_entry.conversation_id


def test_cancel_ends_the_response_as_cancelled_and_the_socket_goes_on(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=user("tell it slowly"))
        until(conn, "conversation.item.done")
        conn.response.create()
        before = until(conn, "response.output_text.delta")
        conn.response.cancel()
        after = until(conn, "response.done")
        final = after[-1]
        assert final.response.status == "cancelled"
        assert final.response.status_details.reason == "client_cancelled"
        sent = text_of(before + after)
        assert sent and TEXT.startswith(sent) and sent != TEXT
        assert final.response.output[0].content[0].text == sent  # the output as far as it went
        assert final.response.output[0].status == "incomplete"

        conn.response.cancel()  # nothing to cancel now: an error event, the socket stays open
        error = conn.recv()
        assert isinstance(error, ga.RealtimeErrorEvent) and error.error.code == "response_cancel_not_active"
        assert text_of(ask(conn, "hello")) == "Hi there, friend"


def test_beta_client_gets_the_beta_event_names(llm):
    # The beta client always dials wss:// unless told the socket's base URL.
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0,
                           websocket_base_url=llm.openai_base_url.replace("http://", "ws://"))
    with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        created = conn.recv()
        assert isinstance(created, beta.SessionCreatedEvent) and created.session.modalities == ["text"]
        conn.session.update(session={"instructions": "Be brief.", "modalities": ["text"]})
        assert conn.recv().type == "session.updated"
        conn.conversation.item.create(item=user("hello"))
        item = conn.recv()
        assert isinstance(item, beta.ConversationItemCreatedEvent) and item.item.content[0].text == "hello"
        conn.response.create()
        events = until(conn, "response.done")
    kinds = [e.type for e in events]
    assert "response.text.delta" in kinds and "response.text.done" in kinds
    assert not any(k.startswith("response.output_text") for k in kinds)
    assert all(isinstance(e, beta.ResponseTextDeltaEvent) for e in events if e.type == "response.text.delta")
    assert text_of(events) == "Hi there, friend"
    final = events[-1]
    assert isinstance(final, beta.ResponseDoneEvent)
    assert final.response.modalities == ["text"] and final.response.output[0].content[0].type == "text"


def test_beta_names_by_subprotocol(llm):
    url = llm.openai_base_url.replace("http://", "ws://") + "/realtime?model=gpt-4o-realtime-preview"
    with ws_client.connect(url, subprotocols=["realtime", "openai-beta.realtime-v1"]) as sock:
        assert sock.subprotocol == "realtime"
        assert json.loads(sock.recv())["type"] == "session.created"
        sock.send(json.dumps({"type": "conversation.item.create", "item": user("hello")}))
        assert json.loads(sock.recv())["type"] == "conversation.item.created"
        sock.send(json.dumps({"type": "response.create"}))
        kinds = []
        while not kinds or kinds[-1] != "response.done":
            kinds.append(json.loads(sock.recv())["type"])
    assert "response.text.delta" in kinds


BAD_EVENTS = [
    ("not json", "invalid_json", None),
    ('["an", "array"]', "invalid_json", None),
    ('{"event_id": "evt_1"}', "missing_required_parameter", "type"),
    ('{"type": "conversation.item.explode", "event_id": "evt_2"}', "invalid_value", "type"),
    ('{"type": "conversation.item.create"}', "missing_required_parameter", "item"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}}',
     "invalid_value", "item.role"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}',
     "missing_required_parameter", "item.content"),
    ('{"type": "conversation.item.create", "item": {"type": "function_call_output", "output": "x"}}',
     "missing_required_parameter", "item.call_id"),
    ('{"type": "conversation.item.create", "item": user("x"), "previous_item_id": "item_nope"}'
     .replace('user("x")', json.dumps(user("x"))), "item_not_found", "previous_item_id"),
    ('{"type": "conversation.item.delete", "item_id": "item_nope"}', "item_not_found", "item_id"),
    ('{"type": "session.update"}', "missing_required_parameter", "session"),
    ('{"type": "session.update", "session": {"instructions": "x"}}', "missing_required_parameter", "session.type"),
    ('{"type": "session.update", "session": {"type": "realtime", "tools": "all of them"}}', "invalid_type",
     "session.tools"),
    ('{"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 0}}', "invalid_value",
     "session.max_output_tokens"),
    ('{"type": "response.create", "response": {"conversation": "elsewhere"}}', "invalid_value",
     "response.conversation"),
    ('{"type": "input_audio_buffer.append", "audio": "AAAA"}', "fakellm_audio_not_simulated", None),
]


@pytest.mark.parametrize("raw, code, param", BAD_EVENTS, ids=[b[1] + ":" + b[0][:40] for b in BAD_EVENTS])
def test_a_bad_client_event_gets_an_error_event_and_the_socket_stays_open(client, raw, code, param):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.send_raw(raw)
        error = conn.recv()
        assert isinstance(error, ga.RealtimeErrorEvent)
        assert (error.error.code, error.error.param) == (code, param)
        assert error.error.type == "invalid_request_error" and error.error.message
        if "evt_" in raw:
            assert error.error.event_id == json.loads(raw)["event_id"]
        assert text_of(ask(conn, "hello")) == "Hi there, friend"


def test_one_response_at_a_time(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=user("tell it slowly"))
        until(conn, "conversation.item.done")
        conn.response.create()
        until(conn, "response.created")
        conn.response.create(event_id="evt_again")
        events = until(conn, "response.done")
        errors = [e for e in events if e.type == "error"]
        assert [e.error.code for e in errors] == ["conversation_already_has_active_response"]
        assert errors[0].error.event_id == "evt_again"
        assert text_of(events) == TEXT and events[-1].response.status == "completed"


def test_audio_output_gets_text_and_one_error_event(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.session.update(session={"type": "realtime", "output_modalities": ["audio"]})
        assert conn.recv().type == "session.updated"
        error = conn.recv()
        assert error.type == "error" and error.error.code == "fakellm_audio_not_simulated"
        assert "audio" in error.error.message
        events = ask(conn, "hello")
        assert text_of(events) == "Hi there, friend" and not any(e.type == "error" for e in events)
        assert events[-1].response.output_modalities == ["text"]


def test_timing_applies_per_delta(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=user("paced please"))
        until(conn, "conversation.item.done")
        conn.response.create()
        assert conn.recv().type == "response.created"
        start = time.monotonic()
        arrivals = []
        while True:
            event = conn.recv()
            if event.type == "response.output_text.delta":
                arrivals.append(time.monotonic() - start)
            if event.type == "response.done":
                break
    assert len(arrivals) == len(TEXT.split())
    assert arrivals[0] >= 0.29  # ttft_ms: 300
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert sum(gaps) >= 0.06 * len(gaps) - 0.01  # chunk_delay_ms: 60 between deltas, on schedule
    assert arrivals[-1] < 0.3 + 0.06 * len(gaps) + 1.5


def test_disconnect_fault_closes_the_socket_with_1011(client, llm):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.conversation.item.create(item=user("drop it"))
        until(conn, "conversation.item.done")
        conn.response.create()
        events = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                events.append(conn.recv())
    assert closed.value.rcvd.code == 1011
    assert [e.type for e in events].count("response.output_text.delta") == 2
    assert llm.requests[-1].rule == "drop"

    with client.realtime.connect(model="gpt-realtime") as conn:  # the server goes on serving
        conn.recv()
        conn.conversation.item.create(item=user("vanish"))
        until(conn, "conversation.item.done")
        conn.response.create()
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv()  # before response.created
    assert closed.value.rcvd.code == 1011


def test_error_event_fault(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        events = ask(conn, "broken")
        kinds = [e.type for e in events]
        assert kinds.count("response.output_text.delta") == 3
        error = next(e for e in events if e.type == "error")
        assert (error.error.type, error.error.message) == ("server_error", "upstream exploded")
        assert events[-1].response.status == "failed"
        assert events[-1].response.status_details.error.message == "upstream exploded"
        assert text_of(ask(conn, "hello")) == "Hi there, friend"


def test_truncate_fault_ends_the_response_incomplete(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        events = ask(conn, "cut short")
        assert text_of(events) == "one two"
        assert events[-1].response.status == "incomplete"
        assert events[-1].response.output[0].content[0].text == "one two"


def test_a_rule_error_and_a_rate_limit_are_error_events(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        events = ask(conn, "refuse this")
        assert [e.type for e in events] == ["response.created", "error", "response.done"]
        assert events[1].error.message == "nope" and events[-1].response.status == "failed"

        assert text_of(ask(conn, "limited one")) == "ok"
        events = ask(conn, "limited two")
        error = next(e for e in events if e.type == "error")
        assert error.error.code == "rate_limit_exceeded" and "Rate limit reached" in error.error.message
        assert events[-1].response.status == "failed"
        assert text_of(ask(conn, "hello")) == "Hi there, friend"


def test_rate_limits_updated_reports_a_configured_limit(client):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        events = ask(conn, "hello")
        assert next(e for e in events if e.type == "rate_limits.updated").rate_limits == []
    limited = FakeLLM({"rules": [{"respond": {"content": "ok"}}],
                       "defaults": {"rate_limit": {"requests_per_minute": 100}}})
    with limited:
        other = openai.OpenAI(base_url=limited.openai_base_url, api_key="sk-test", max_retries=0)
        with other.realtime.connect(model="gpt-realtime") as conn:
            conn.recv()
            events = ask(conn, "anything")
    report = next(e for e in events if isinstance(e, ga.RateLimitsUpdatedEvent)).rate_limits
    assert [(r.name, r.limit, r.remaining) for r in report] == [("requests", 100, 99)]


def test_when_api_names_the_realtime_api_and_each_socket_is_its_own_conversation(client, llm):
    for _ in range(2):
        with client.realtime.connect(model="gpt-realtime") as conn:
            conn.recv()
            assert text_of(ask(conn, "which api is this")) == "the realtime one"
            # A sequence counts per conversation: each socket starts it again.
            assert [text_of(ask(conn, "count")) for _ in range(2)] == ["first", "second"]
    chat = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "which api is this"}])
    assert chat.choices[0].message.content != "the realtime one"
    conversations = {r.conversation_id for r in llm.requests if r.rule == "counted"}
    assert len(conversations) == 2


def test_out_of_band_response_leaves_the_conversation_alone(client, llm):
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.response.create(response={"conversation": "none", "input": [user("hello")],
                                       "metadata": {"purpose": "side"}})
        events = until(conn, "response.done")
        assert text_of(events) == "Hi there, friend"
        assert events[-1].response.conversation_id is None and events[-1].response.metadata == {"purpose": "side"}
        conn.conversation.item.create(item=user("which api is this"))
        added = until(conn, "conversation.item.added")[-1]
        assert added.previous_item_id is None  # the side response's output did not join the conversation


def test_a_handshake_without_a_model_is_refused_with_a_400(client, llm):
    url = llm.openai_base_url.replace("http://", "ws://") + "/realtime"
    with pytest.raises(InvalidStatus) as refused:
        ws_client.connect(url)
    assert refused.value.response.status_code == 400
    assert b"model" in refused.value.response.body
    with pytest.raises(InvalidStatus) as unknown:
        ws_client.connect(llm.openai_base_url.replace("http://", "ws://") + "/elsewhere")
    assert unknown.value.response.status_code == 404
    with client.realtime.connect(model="gpt-realtime") as conn:  # still serving
        assert conn.recv().type == "session.created"


def test_fakellm_serve_speaks_websocket_and_admin_access_does_not_apply(tmp_path):
    config = tmp_path / "fakellm.yaml"
    config.write_text("rules:\n  - respond: {content: served over a socket}\n")
    with Served("--config", str(config), "--admin-token", "secret-admin-token") as served:
        client = served.openai()
        with client.realtime.connect(model="gpt-realtime",
                                     extra_headers={"Origin": "http://elsewhere.example"}) as conn:
            conn.recv()
            assert text_of(ask(conn, "anything")) == "served over a socket"


def test_a_socket_keeps_at_most_max_items(client, llm, monkeypatch):
    from fakellm.providers.openai.realtime import session

    monkeypatch.setattr(session, "MAX_ITEMS", 5)
    with client.realtime.connect(model="gpt-realtime") as conn:
        until(conn, "session.created")
        for i in range(8):
            conn.conversation.item.create(item=user(f"note {i}"))
            done = until(conn, "conversation.item.done")[-1]
            assert done.item.content[0].text == f"note {i}"
        conn.response.create()
        until(conn, "response.done")
    # The engine saw only the newest five items: notes 3 to 7.
    request = llm.requests[-1].request
    assert "note 2" not in str(request) and "note 3" in str(request) and "note 7" in str(request), request
