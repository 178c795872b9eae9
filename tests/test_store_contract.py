"""What every Store method means, pinned for the memory store and the Redis store alike.

Each test runs against both: a `MemoryStore`, and a `RedisStore` on a real redis-server (its own key
prefix). The Redis-only behaviour (atomicity across instances, failures, prefixes) is in
test_redis_store.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

from fakellm.model import Message, ToolCall
from fakellm.store.base import Bounds, JournalEntry, StoredResponse, journal_footprint
from fakellm.store.buckets import BucketLimit
from fakellm.store.memory import MemoryStore

REDACTED = frozenset({"x-team-credential"})


@pytest.fixture(params=["memory", "redis"])
def make_store(request) -> Callable[..., Any]:
    """Builds the store under test; a Redis store gets a prefix of this test's own."""
    def make(bounds: Bounds = Bounds()):
        if request.param == "memory":
            return MemoryStore(bounds, REDACTED)
        from fakellm.store.redis import RedisStore

        return RedisStore(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"),
                          bounds=bounds, redacted_headers=REDACTED)
    return make


def run(coro):
    return asyncio.run(coro)


def entry(n: int = 0, rule: str | None = "greet", api: str = "openai.chat", body: bytes | dict = b'{"model":"m"}',
          headers: dict[str, str] | None = None, content: str | None = "hi") -> JournalEntry:
    return JournalEntry(1_700_000_000.0 + n, api, "/v1/chat/completions", "gpt-4o-mini", False, f"conv-{n}", 1, rule,
                        200, content, (), None, body, headers if headers is not None else {"user-agent": "test"})


def stored(response_id: str, previous: str | None = None, items: tuple[str, ...] = (), text: str = "hi") -> StoredResponse:
    return StoredResponse(response_id, b'{"id":"%s"}' % response_id.encode(), "conv-r", previous,
                          [Message("user", text), Message("assistant", f"answer to {text}")], text, items)


# -- conversations and rule counters

def test_open_turn_counts_requests_or_takes_the_given_turn(make_store):
    async def go(store):
        now = time.time()
        assert (await store.open_turn("a", now, None, []))[0] == 1
        assert (await store.open_turn("a", now, None, []))[0] == 2
        assert (await store.open_turn("a", now, 7, []))[0] == 7  # the request's own turn wins
        assert (await store.open_turn("a", now, None, []))[0] == 4  # still the fourth request
        assert (await store.open_turn("b", now, None, []))[0] == 1  # another conversation
    run(go(make_store()))


def test_count_hit_gives_each_hit_its_index_and_stops_at_times(make_store):
    async def go(store):
        await store.open_turn("a", time.time(), None, [])
        assert [await store.count_hit("a", 0, None) for _ in range(3)] == [0, 1, 2]
        assert [await store.count_hit("a", 1, 2) for _ in range(4)] == [0, 1, None, None]
        assert [await store.count_hit("b", 1, 2) for _ in range(3)] == [0, 1, None]  # per conversation
        _, hits = await store.open_turn("a", time.time(), None, [])
        assert dict(hits) == {0: 3, 1: 2}  # a refused hit counted nothing
    run(go(make_store()))


def test_count_hit_on_a_conversation_never_opened_starts_it(make_store):
    async def go(store):
        assert await store.count_hit("fresh", 3, 1) == 0
        assert await store.conversation_count() == 1
        turn, hits = await store.open_turn("fresh", time.time(), None, [])
        assert (turn, dict(hits)) == (1, {3: 1})
    run(go(make_store()))


def test_clear_rule_counters_restarts_sequences_but_keeps_conversations(make_store):
    async def go(store):
        await store.open_turn("a", time.time(), None, [])
        await store.count_hit("a", 0, 1)
        assert await store.count_hit("a", 0, 1) is None
        await store.clear_rule_counters()
        turn, hits = await store.open_turn("a", time.time(), None, [])
        assert (turn, dict(hits)) == (2, {})
        assert await store.count_hit("a", 0, 1) == 0
        await store.clear_rule_counters()
        assert await store.count_hit("a", 0, 1) == 0  # also without a turn opened in between
    run(go(make_store()))


def test_conversations_are_listed_most_recent_first_in_pages(make_store):
    async def go(store):
        for i, cid in enumerate(["a", "b", "c"]):
            await store.open_turn(cid, 1000.0 + i, None, [])
        await store.open_turn("a", 1010.0, 4, ["Found it", "found IT", "other"])
        total, page = await store.conversations(2, 0)
        assert total == 3
        assert page == [
            {"id": "a", "requests": 2, "turn": 4, "tool_results_seen": 2, "first_seen": 1000.0, "last_seen": 1010.0},
            {"id": "c", "requests": 1, "turn": 1, "tool_results_seen": 0, "first_seen": 1002.0, "last_seen": 1002.0},
        ]
        assert [c["id"] for c in (await store.conversations(2, 2))[1]] == ["b"]
        assert (await store.conversations(0, 0)) == (3, [])
        assert await store.conversation_count() == 3
    run(go(make_store()))


def test_conversations_past_max_conversations_are_evicted_least_recently_used(make_store):
    async def go(store):
        for cid in ["a", "b"]:
            await store.open_turn(cid, time.time(), None, [])
        await store.open_turn("a", time.time(), None, [])  # a is used again: b is now the oldest
        await store.count_hit("a", 0, None)
        await store.open_turn("c", time.time(), None, [])
        assert await store.conversation_count() == 2
        assert sorted(c["id"] for c in (await store.conversations(10, 0))[1]) == ["a", "c"]
        assert (await store.open_turn("b", time.time(), None, []))[0] == 1  # b starts over
        turn, hits = await store.open_turn("c", time.time(), None, [])
        assert (turn, dict(hits)) == (2, {})
    run(go(make_store(Bounds(max_conversations=2))))


def test_tool_results_per_conversation_are_capped(make_store):
    async def go(store):
        await store.open_turn("a", time.time(), None, [f"result {i}" for i in range(5)])
        await store.open_turn("a", time.time(), None, ["RESULT 4"])  # seen already, whatever its case
        _, [summary] = await store.conversations(1, 0)
        assert summary["tool_results_seen"] == 3
    run(go(make_store(Bounds(max_tool_results=3))))


# -- rate limits

RPM = BucketLimit("defaults", req_rate=1.0, req_cap=2.0, tok_rate=0.0, tok_cap=0.0, per_key=True)
TPM = BucketLimit("rule 0", req_rate=0.0, req_cap=0.0, tok_rate=10.0, tok_cap=100.0, per_key=False)


def test_admit_takes_a_request_until_the_bucket_is_empty_then_says_how_long_to_wait(make_store):
    async def go(store):
        first = await store.admit([RPM], "sk-1", 0, 1000.0)
        assert (first.wait_s, first.entries[0][:2]) == (0, (2.0, 0.0))  # the bucket as checked, before taking
        assert (await store.admit([RPM], "sk-1", 0, 1000.0)).wait_s == 0
        over = await store.admit([RPM], "sk-1", 0, 1000.25)
        assert (over.limit_index, over.bucket) == (0, "requests")
        assert over.wait_s == pytest.approx(0.75, abs=1e-6)
        assert over.entries[0][0] == pytest.approx(0.25, abs=1e-6)
        assert (await store.admit([RPM], "sk-2", 0, 1000.25)).wait_s == 0  # per API key
        assert (await store.admit([RPM], "sk-1", 0, 1001.5)).wait_s == 0  # refilled meanwhile
        assert await store.bucket_count() == 2
    run(go(make_store()))


def test_admit_with_token_buckets_and_a_request_too_large(make_store):
    async def go(store):
        assert (await store.admit([RPM, TPM], "sk", 60, 1000.0)).wait_s == 0
        short = await store.admit([RPM, TPM], "sk", 60, 1000.0)
        assert (short.limit_index, short.bucket) == (1, "tokens")
        assert short.wait_s == pytest.approx(2.0, abs=1e-6)  # 20 of 60 tokens left, 10 a second
        assert [e[:2] for e in short.entries] == [pytest.approx((1.0, 0.0)), pytest.approx((0.0, 40.0))]
        huge = await store.admit([RPM, TPM], "other", 101, 1000.0)
        assert (huge.wait_s, huge.limit_index, huge.bucket) == (float("inf"), 1, "too_large")
        left = await store.admit([RPM, TPM], "sk", 0, 1000.0)  # the refused requests took nothing
        assert left.wait_s == 0 and left.entries[1][1] == pytest.approx(40.0, abs=1e-6)
    run(go(make_store()))


def test_settle_takes_the_output_tokens_and_gives_the_last_bucket(make_store):
    async def go(store):
        await store.admit([RPM, TPM], "sk", 30, 1000.0)
        entry = await store.settle([RPM, TPM], "sk", 50, 1000.0)
        assert entry[:2] == pytest.approx([0.0, 20.0], abs=1e-6)
        assert entry[2] == pytest.approx(1000.0, abs=1e-3)
        assert (await store.settle([RPM], "sk", 50, 1000.0))[:2] == pytest.approx([1.0, 0.0], abs=1e-6)
        await store.clear_buckets()
        assert await store.bucket_count() == 0
        assert (await store.admit([TPM], "sk", 100, 1000.0)).wait_s == 0  # a full bucket again
    run(go(make_store()))


# -- journal and stats

def test_record_gives_increasing_ids_and_counts_stats(make_store):
    async def go(store):
        before = await store.stats()
        recorded = [await store.record(entry(0)), await store.record(entry(1, rule=None)),
                    await store.record(entry(2, api="anthropic.messages"))]
        assert [e.id for e in recorded] == [1, 2, 3]
        stats = await store.stats()
        assert stats.started == before.started <= time.time()
        assert (stats.total, stats.unmatched) == (3, 1)
        assert stats.by_rule == {"greet": 2}
        assert stats.by_api == {"openai.chat": 2, "anthropic.messages": 1}
        assert stats.last_hit == {"greet": 1_700_000_002.0}
        assert [e.id for e in await store.journal(1)] == [2, 3]
        assert await store.journal_info() == (3, 1, 1000)
    run(go(make_store()))


def test_an_entry_reads_back_as_recorded_and_redacts_secrets(make_store):
    async def go(store):
        headers = {"authorization": "Bearer sk-secret", "x-team-credential": "hunter2", "user-agent": "ua"}
        sent = entry(0, headers=headers, body=b'{"model":"m","messages":[{"role":"user","content":"caf\xc3\xa9"}]}')
        sent.tool_calls = (("call_1", "lookup", '{"q": 1}'),)
        sent.error = ("slow down", "rate_limit_error", None)
        sent.explanation = {"closest_rule": "x", "conditions": [{"ok": False}]}
        recorded = await store.record(sent)
        await store.note_latency(recorded, 12.5)
        missed = await store.record(entry(1, rule=None, body={"_fakellm": "request body of 9 bytes not kept"}))
        first, second = await store.journal()
        assert first == recorded and second == missed
        assert first.latency_ms == 12.5 and second.latency_ms is None
        assert first.body == sent.body and isinstance(second.body, dict)
        shown = first.as_dict(store.redacted_headers)
        assert shown["headers"] == {"authorization": "[redacted]", "x-team-credential": "[redacted]", "user-agent": "ua"}
        assert shown["request"]["messages"][0]["content"] == "café"
        assert shown["reply"]["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": '{"q": 1}'}]
        assert shown["reply"]["error"] == {"message": "slow down", "type": "rate_limit_error", "code": None}
        assert shown["explanation"] == sent.explanation
    run(go(make_store()))


def test_the_journal_holds_journal_size_entries_oldest_dropped_first(make_store):
    async def go(store):
        for i in range(5):
            await store.record(entry(i))
        assert [e.id for e in await store.journal()] == [3, 4, 5]
        assert await store.journal_info() == (3, 3, 3)
        assert (await store.stats()).total == 5  # counts survive the ring buffer
    run(go(make_store(Bounds(journal_size=3))))


def test_the_journal_holds_journal_bytes_but_always_the_newest_entry(make_store):
    async def go(store):
        big = entry(0, body=b"x" * 400_000)
        size = journal_footprint(big)
        store_bounds = Bounds(journal_bytes=2 * size + 10)
        await store.resize(store_bounds)
        for i in range(4):
            await store.record(entry(i, body=b"x" * 400_000))
        assert [e.id for e in await store.journal()] == [3, 4]
        await store.resize(Bounds(journal_bytes=1024 * 1024 // 4))
        assert [e.id for e in await store.journal()] == [4]  # over the budget alone, the newest stays
        await store.record(entry(9))
        assert [e.id for e in await store.journal()] == [5]
    run(go(make_store()))


def test_clear_journal_empties_it_and_ids_keep_counting(make_store):
    async def go(store):
        for i in range(3):
            await store.record(entry(i))
        assert await store.clear_journal() == 3
        assert await store.journal() == [] and await store.journal_info() == (0, None, 1000)
        assert (await store.record(entry(4))).id == 4
        assert (await store.stats()).total == 4
    run(go(make_store()))


def test_note_latency_is_seen_by_later_reads(make_store):
    async def go(store):
        recorded = await store.record(entry(0))
        assert (await store.journal())[0].latency_ms is None
        await store.note_latency(recorded, 3.25)
        assert recorded.latency_ms == 3.25
        assert (await store.journal())[0].latency_ms == 3.25
    run(go(make_store()))


# -- stored responses

def test_stored_responses_are_put_read_and_deleted(make_store):
    async def go(store):
        first = stored("resp_1", items=("msg_1",))
        first.messages.append(Message("assistant", "", [ToolCall("lookup", '{"q":1}', "call_9")], []))
        first.messages.append(Message("tool", "", [], ["the result"]))
        first.input = [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
        await store.put_response(first)
        assert await store.get_response("resp_1") == first
        assert await store.get_response("resp_x") is None
        assert (await store.owner_of_item("msg_1")) == first
        assert await store.owner_of_item("msg_x") is None
        assert await store.delete_response("resp_1") is True
        assert await store.delete_response("resp_1") is False
        assert await store.get_response("resp_1") is None
        assert await store.owner_of_item("msg_1") is None
    run(go(make_store()))


def test_response_history_follows_the_chain_oldest_first(make_store):
    async def go(store):
        await store.put_response(stored("r1", text="one"))
        await store.put_response(stored("r2", "r1", text="two"))
        await store.put_response(stored("r3", "r2", text="three"))
        response, messages = await store.response_history("r3")
        assert response.id == "r3"
        assert [m.text for m in messages] == ["one", "answer to one", "two", "answer to two", "three", "answer to three"]
        assert await store.response_history("nope") is None
        await store.delete_response("r1")  # a missing ancestor ends the walk
        assert [m.text for m in (await store.response_history("r3"))[1]] == ["two", "answer to two", "three",
                                                                             "answer to three"]
    run(go(make_store()))


def test_stored_responses_past_max_responses_are_evicted_least_recently_used(make_store):
    async def go(store):
        await store.put_response(stored("r1", items=("i1",)))
        await store.put_response(stored("r2", items=("i2",)))
        await store.get_response("r1")  # used: r2 is now the oldest
        await store.put_response(stored("r3", items=("i3",)))
        assert [await store.get_response(r) is not None for r in ("r1", "r2", "r3")] == [True, False, True]
        assert await store.owner_of_item("i2") is None
        await store.resize(Bounds(max_responses=1))
        assert [await store.get_response(r) is not None for r in ("r1", "r3")] == [False, True]
    run(go(make_store(Bounds(max_responses=2))))


# -- everything

def test_resize_applies_smaller_bounds_at_once(make_store):
    async def go(store):
        for cid in "abcd":
            await store.open_turn(cid, time.time(), None, [])
        for i in range(4):
            await store.record(entry(i))
        await store.resize(Bounds(max_conversations=2, journal_size=1))
        assert sorted(c["id"] for c in (await store.conversations(10, 0))[1]) == ["c", "d"]
        assert [e.id for e in await store.journal()] == [4]
        assert (await store.journal_info())[2] == 1
    run(go(make_store()))


def test_reset_forgets_conversations_responses_and_buckets_but_keeps_journal_and_stats(make_store):
    async def go(store):
        await store.open_turn("a", time.time(), None, [])
        await store.count_hit("a", 0, 1)
        await store.open_turn("b", time.time(), None, [])
        await store.put_response(stored("r1", items=("i1",)))
        await store.admit([RPM], "sk", 0, 1000.0)
        await store.record(entry(0))
        assert await store.reset() == 2
        assert await store.conversation_count() == 0 and await store.bucket_count() == 0
        assert await store.get_response("r1") is None and await store.owner_of_item("i1") is None
        assert (await store.open_turn("a", time.time(), None, [])) == (1, {})
        assert len(await store.journal()) == 1 and (await store.stats()).total == 1
        assert await store.reset() == 1
    run(go(make_store()))
