"""Journal entries and stored responses survive the trip to bytes and back exactly (store/codec.py),
whatever their bodies hold."""

from __future__ import annotations

import pytest

from fakellm.model import Message, ToolCall
from fakellm.store.base import JournalEntry, StoredResponse
from fakellm.store.codec import dump_entry, dump_response, load_entry, load_response


@pytest.mark.parametrize("body", [
    b'{"model":"m","messages":[{"role":"user","content":"line one\\nline two"}]}',
    b"raw\nnewlines\n\nand \xff\xfe bytes that are not UTF-8",
    b"",
    {"_fakellm": "request body of 10485760 bytes not kept in the journal"},
])
def test_an_entry_round_trips_exactly(body):
    sent = JournalEntry(1_700_000_000.123456, "anthropic.messages", "/v1/messages", "claude", True, "conv\nid", 3,
                        None, 404, None, (("toolu_1", "search", '{"q": "a\\nb"}'),), ("no rule", "not_found", "nope"),
                        body, {"x-api-key": "sk-ant", "user-agent": "ü"}, {"closest_rule": "a", "why": [1, 2.5, None]},
                        id=41, latency_ms=0.125, worker="host:99",
                        notes=("rule 'a''s text was set aside: the request forces a tool call",))
    back = load_entry(dump_entry(sent))
    assert back == sent
    assert type(back.body) is type(sent.body) and isinstance(back.tool_calls[0], tuple)
    if isinstance(body, dict) or body.startswith(b"{"):  # as the journal shows it (it parses the body)
        assert back.as_dict() == sent.as_dict()


def test_an_entry_without_optional_fields_round_trips():
    sent = JournalEntry(1.5, "openai.chat", "/v1/chat/completions", "m", False, "c", 1, "r", 200, "hi", (), None,
                        b"{}", {})
    assert load_entry(dump_entry(sent)) == sent


def test_a_stored_response_round_trips_exactly():
    sent = StoredResponse(
        "resp_1", b'{"id":"resp_1","output":[]}\n\xff', "conv", "resp_0",
        [Message("user", "hi\nthere"), Message("assistant", "", [ToolCall("f", '{"a":1}', "call_1")]),
         Message("tool", "", [], ["result one", "result two"])],
        [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}], ("msg_1", "fc_2"))
    back = load_response(dump_response(sent))
    assert back == sent
    assert isinstance(back.item_ids, tuple) and isinstance(back.messages[1].tool_calls[0], ToolCall)
