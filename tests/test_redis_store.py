"""The Redis store beyond the Store contract: atomic across instances (each its own connections, as
separate workers have), prefixes, bounds in Redis's own keys, failures and recovery, the fleet's
config. Against a real redis-server (tests/redis_fixture.py)."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
import redis as redis_client

from fakellm.store.base import Bounds, JournalEntry, StateUnavailable, StoredResponse
from fakellm.store.buckets import BucketLimit
from fakellm.store.memory import MemoryStore
from fakellm.store.redis import RedisStore, redacted_url


def run(coro):
    return asyncio.run(coro)


# The tests of many concurrent calls open as many connections at once, which a loaded machine may take
# longer than the default 0.5 s to accept: they are about atomicity, not timeouts.
PATIENT = 5.0


def entry(n: int, rule: str | None = "r") -> JournalEntry:
    return JournalEntry(1_700_000_000.0 + n, "openai.chat", "/v1/chat/completions", "m", False, "c", 1, rule, 200,
                        f"answer {n}", (), None, b"{}", {"authorization": "Bearer sk-x"})


def in_threads(stores: list[RedisStore], calls_each: int, step) -> list:
    """`step(store, i)` called `calls_each` times concurrently on each store, each store in a thread of its
    own with its own event loop (so its own connections): as workers do."""
    results: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def worker(store: RedisStore) -> None:
        async def go():
            start.wait()
            return await asyncio.gather(*(step(store, i) for i in range(calls_each)))
        try:
            results.extend(asyncio.run(go()))
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def keys(url: str, prefix: str) -> list[str]:
    client = redis_client.Redis.from_url(url)
    try:
        return sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()


# -- atomicity across workers

def test_times_100_gives_exactly_100_hits_to_150_concurrent_calls_over_5_instances(redis_url, redis_prefix):
    stores = [RedisStore(redis_url, prefix=redis_prefix, timeout=PATIENT) for _ in range(5)]
    hits = in_threads(stores, 30, lambda store, i: store.count_hit("conv", 0, 100))
    assert len(hits) == 150
    assert sorted(h for h in hits if h is not None) == list(range(100))
    assert hits.count(None) == 50
    turn, counted = run(stores[0].open_turn("conv", time.time(), None, []))
    assert counted == {0: 100}


def test_ids_increase_across_instances_and_the_journal_is_in_id_order(redis_url, redis_prefix):
    stores = [RedisStore(redis_url, prefix=redis_prefix, worker=f"w{i}", timeout=PATIENT) for i in range(3)]

    async def record(store, i):
        return (await store.record(entry(i))).id, store.worker

    recorded = in_threads(stores, 20, record)
    assert sorted(i for i, _ in recorded) == list(range(1, 61))
    journal = run(stores[1].journal())
    assert [e.id for e in journal] == list(range(1, 61))
    assert {e.worker for e in journal} == {"w0", "w1", "w2"}
    assert dict(recorded) == {e.id: e.worker for e in journal}  # each entry names who recorded it
    assert run(stores[2].stats()).total == 60


def test_a_rate_limit_admits_exactly_its_capacity_across_instances(redis_url, redis_prefix):
    stores = [RedisStore(redis_url, prefix=redis_prefix, timeout=PATIENT) for _ in range(4)]
    limit = BucketLimit("defaults", req_rate=0.001, req_cap=10.0, tok_rate=0.0, tok_cap=0.0, per_key=False)
    admissions = in_threads(stores, 25, lambda store, i: store.admit([limit], "", 0, time.monotonic()))
    assert sum(a.wait_s == 0 for a in admissions) == 10


def test_the_bucket_maths_in_lua_gives_the_same_numbers_as_buckets_py(redis_url, redis_prefix):
    """The Lua port of store/buckets.py against the Python, exactly, over a random walk of steps."""
    rng = random.Random(13)
    limits = [BucketLimit("defaults", 2.5, 5.0, 40.0, 400.0, True), BucketLimit("rule 0", 0.0, 0.0, 7.3, 90.0, False),
              BucketLimit("rule 1", 0.7, 1.0, 0.0, 0.0, True)]
    memory = MemoryStore()
    redis_store = RedisStore(redis_url, prefix=redis_prefix, clock_offset=0.0)  # the callers' clock as it is

    async def go():
        now = 5000.0 + rng.random()
        for _ in range(400):
            now += rng.choice([0.0, 0.0, rng.random() / 10, rng.random() * 3])
            chosen = rng.sample(limits, rng.randint(1, 3))
            key = rng.choice(["sk-a", "sk-b"])
            if rng.random() < 0.7:
                need = rng.choice([0, rng.randint(1, 60), rng.randint(80, 120)])
                assert await redis_store.admit(chosen, key, need, now) == await memory.admit(chosen, key, need, now)
            else:
                used = rng.randint(0, 50)
                assert await redis_store.settle(chosen, key, used, now) == await memory.settle(chosen, key, used, now)
        assert await redis_store.bucket_count() == await memory.bucket_count()
    run(go())


def test_processes_with_different_monotonic_clocks_share_one_bucket_clock(redis_url, redis_prefix):
    """Two machines' monotonic clocks differ arbitrarily; each store maps its own onto Redis's clock."""
    here = RedisStore.connect(redis_url, prefix=redis_prefix)
    there = RedisStore.connect(redis_url, prefix=redis_prefix)
    there._clock_offset -= 5000.0  # as if its machine had booted 5000 s earlier
    limit = BucketLimit("defaults", req_rate=1.0, req_cap=1.0, tok_rate=0.0, tok_cap=0.0, per_key=False)

    async def go():
        emptied = time.monotonic()
        assert (await here.admit([limit], "", 0, time.monotonic())).wait_s == 0
        refused = await there.admit([limit], "", 0, time.monotonic() + 5000.0)
        since = time.monotonic() - emptied
        # The bucket emptied just now on the shared clock (each offset is measured to within a few ms);
        # on `there`'s own clock it would have been full for 5000 s.
        assert 1.0 - since - 0.05 <= refused.wait_s <= 1.05
        await asyncio.sleep(1.2)
        assert (await there.admit([limit], "", 0, time.monotonic() + 5000.0)).wait_s == 0
    run(go())


# -- keys: prefixes and bounds

def test_every_key_carries_the_prefix_and_prefixes_isolate_fleets(redis_url, redis_prefix):
    one = RedisStore(redis_url, prefix=f"{redis_prefix}a")
    other = RedisStore(redis_url, prefix=f"{redis_prefix}b")
    limit = BucketLimit("defaults", 1.0, 1.0, 0.0, 0.0, True)

    async def fill(store):
        await store.open_turn("c", time.time(), None, ["tool output"])
        await store.count_hit("c", 0, None)
        await store.admit([limit], "sk-secret-key", 0, 1.0)
        await store.put_response(StoredResponse("r1", b"{}", "c", None, [], None, ("i1",)))
        await store.record(entry(0))
        await store.put_config("rules: []", "test")

    async def go():
        await fill(one)
        await fill(other)
        assert keys(redis_url, f"{redis_prefix}a") and keys(redis_url, f"{redis_prefix}b")
        assert await one.reset() == 1 and await one.clear_journal() == 1
        assert await one.conversation_count() == 0 and await one.journal() == []
        assert await other.conversation_count() == 1 and len(await other.journal()) == 1
        assert await other.get_response("r1") is not None and await other.bucket_count() == 1
        assert (await other.stats()).total == 1
    run(go())
    everything = keys(redis_url, "*")
    ours = [k for k in everything if k.startswith(redis_prefix)]
    assert all(k.startswith((f"{redis_prefix}a:", f"{redis_prefix}b:")) for k in ours), ours
    # Secrets and tool output are kept only as digests.
    client = redis_client.Redis.from_url(redis_url)
    try:
        dump = b"".join(client.dump(k) or b"" for k in ours)
    finally:
        client.close()
    assert b"sk-secret-key" not in dump and b"tool output" not in dump


@pytest.mark.parametrize("prefix", ["", "a:b", "fleet one", "x" * 65, "{tag}"])
def test_a_prefix_that_could_clash_with_another_fleets_keys_is_refused(redis_url, prefix):
    with pytest.raises(ValueError, match="invalid Redis key prefix"):
        RedisStore(redis_url, prefix=prefix)


def test_evicted_conversations_and_responses_leave_no_keys_behind(redis_url, redis_prefix):
    store = RedisStore(redis_url, prefix=redis_prefix, bounds=Bounds(max_conversations=3, max_responses=2,
                                                                     max_tool_results=2))

    async def go():
        for i in range(10):
            await store.open_turn(f"c{i}", time.time(), None, [f"t{i}", f"u{i}", f"v{i}"])
            await store.count_hit(f"c{i}", 0, None)
            await store.put_response(StoredResponse(f"r{i}", b"{}", "c", None, [], None, (f"i{i}", f"j{i}")))
    run(go())
    held = keys(redis_url, redis_prefix)
    assert [k for k in held if k.startswith(f"{redis_prefix}:conv:")] == [f"{redis_prefix}:conv:c{i}" for i in (7, 8, 9)]
    assert len([k for k in held if k.startswith(f"{redis_prefix}:hits:")]) == 3
    assert len([k for k in held if k.startswith(f"{redis_prefix}:response:")]) == 2
    client = redis_client.Redis.from_url(redis_url)
    try:
        assert client.hlen(f"{redis_prefix}:items") == 4  # the two kept responses' items only
        assert all(client.zcard(f"{redis_prefix}:tools:c{i}") == 2 for i in (7, 8, 9))
    finally:
        client.close()


# -- failures

def test_redacted_url_hides_the_password_only():
    assert redacted_url("redis://:s3cret@db.internal:6380/2") == "redis://:***@db.internal:6380/2"
    assert redacted_url("redis://app:s3cret@db:6379/0?prefix=x") == "redis://app:***@db:6379/0?prefix=x"
    assert redacted_url("redis://app@db:6379") == "redis://app@db:6379"
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("url, problem", [
    ("http://:pw-in-url@127.0.0.1:6379/0", "must start with redis://"),
    ("redis://:pw-in-url@127.0.0.1:notaport/0", "Port"),
    ("redis://:pw-in-url@127.0.0.1:6379/zero", "database number"),
    ("redis://:pw-in-url@127.0.0.1:6379/0?prefx=a", "unknown parameter"),
    ("redis://:pw-in-url@/0", "names no host"),
])
def test_a_bad_url_is_refused_with_a_message_that_hides_its_password(url, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        RedisStore(url)
    assert "pw-in-url" not in str(caught.value) and "***" in str(caught.value)


def test_the_prefix_can_come_from_the_url(redis_url):
    assert RedisStore(f"{redis_url}?prefix=fleet-7").prefix == "fleet-7"
    assert RedisStore(f"{redis_url}?prefix=fleet-7", prefix="given").prefix == "given"
    assert RedisStore(redis_url).prefix == "fakellm"


def test_connect_to_no_redis_raises_state_unavailable_naming_the_url_without_its_password():
    from helpers import free_port

    url = f"redis://:topsecret@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(StateUnavailable) as caught:
        RedisStore.connect(url)
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in message and "topsecret" not in message


def test_a_password_protected_redis(own_redis_with_password):
    server = own_redis_with_password
    store = RedisStore.connect(server.url, prefix="p")
    assert run(store.open_turn("c", time.time(), None, []))[0] == 1
    wrong = server.url.replace(server.password, "not-the-password")
    with pytest.raises(StateUnavailable) as caught:
        RedisStore.connect(wrong)
    assert "not-the-password" not in str(caught.value) and ":***@" in str(caught.value)
    with pytest.raises(StateUnavailable) as caught:
        run(RedisStore(wrong).record(entry(0)))
    assert "not-the-password" not in str(caught.value) and "could not record a journal entry" in str(caught.value)
    server.stop()
    with pytest.raises(StateUnavailable) as caught:
        run(store.count_hit("c", 0, None))
    assert server.password not in str(caught.value) and f"redis://:***@127.0.0.1:{server.port}/0" in str(caught.value)


@pytest.fixture
def own_redis_with_password():
    from redis_fixture import RedisServer

    server = RedisServer(password="pa55-w0rd").start()
    yield server
    server.close()


def test_redis_stopped_fails_within_a_second_and_restarted_works_again(own_redis):
    store = RedisStore.connect(own_redis.url, prefix="f")

    async def go():
        assert (await store.open_turn("c", time.time(), None, []))[0] == 1
        own_redis.stop()
        for call in (store.open_turn("c", time.time(), None, []), store.record(entry(0)), store.stats(),
                     store.conversation_count()):
            started = time.monotonic()
            with pytest.raises(StateUnavailable, match="is unavailable: could not"):
                await call
            assert time.monotonic() - started < 1.0
        own_redis.start()  # the same port, empty (no persistence)
        assert (await store.open_turn("c", time.time(), None, []))[0] == 1
        assert (await store.record(entry(1))).id == 1
    run(go())


def test_a_hung_redis_fails_within_a_second_and_recovers(own_redis):
    store = RedisStore.connect(own_redis.url, prefix="h")

    async def go():
        await store.open_turn("c", time.time(), None, [])
        own_redis.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StateUnavailable, match="could not count a rule's hit"):
                await store.count_hit("c", 0, 5)
            assert time.monotonic() - started < 1.0
        finally:
            own_redis.resume()
        assert await store.count_hit("c", 0, 5) in (0, 1)  # the timed-out call may have run once Redis woke
        assert (await store.open_turn("c", time.time(), None, []))[0] == 2
    run(go())


def test_more_calls_than_connections_wait_their_turn_instead_of_failing(redis_url, redis_prefix, monkeypatch):
    """A worker with a thousand streams makes more calls at once than it has connections: they take turns
    in order, with no deadline, where the pool alone made some wait out its deadline and fail (a 503)
    while others barged ahead."""
    import fakellm.store.redis as redis_store
    monkeypatch.setattr(redis_store, "POOL_SIZE", 6)
    monkeypatch.setattr(redis_store, "GATE_SIZE", 2)
    monkeypatch.setattr(redis_store, "POOL_WAIT_S", 0.001)  # a pool wait would fail at once
    store = RedisStore(redis_url, prefix=redis_prefix, timeout=PATIENT)

    async def go():
        return await asyncio.gather(*(store.count_hit("c", 0, None) for _ in range(400)))
    assert sorted(run(go())) == list(range(400))


def test_calls_waiting_their_turn_fail_at_once_when_redis_hangs(own_redis, monkeypatch):
    import fakellm.store.redis as redis_store
    monkeypatch.setattr(redis_store, "GATE_SIZE", 2)
    store = RedisStore.connect(own_redis.url, prefix="q")

    async def go():
        await store.open_turn("c", time.time(), None, [])
        own_redis.pause()
        try:
            started = time.monotonic()
            outcomes = await asyncio.gather(*(store.count_hit("c", 0, 5) for _ in range(50)), return_exceptions=True)
            elapsed = time.monotonic() - started
        finally:
            own_redis.resume()
        assert all(isinstance(o, StateUnavailable) for o in outcomes), outcomes
        assert elapsed < 1.5  # the first timeout marks Redis down; the rest of the queue fails without waiting
    run(go())


def test_a_store_works_from_one_event_loop_after_another(redis_url, redis_prefix):
    store = RedisStore(redis_url, prefix=redis_prefix)
    assert [run(store.count_hit("c", 0, None)) for _ in range(3)] == [0, 1, 2]


# -- beyond the protocol: the fleet's config

def test_put_config_keeps_the_newest_and_announces_it(redis_url, redis_prefix):
    store = RedisStore(redis_url, prefix=redis_prefix)

    async def go():
        assert await store.get_config() is None
        listener = redis_client.asyncio.Redis.from_url(redis_url)
        pubsub = listener.pubsub()
        await pubsub.subscribe(store.config_channel)
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        assert await store.put_config("rules: []\n", "host-a:1 fakellm.yaml") == (1, None)
        version, replaced = await store.put_config("rules: [{respond: {content: hi}}]\n", "host-b:2 fakellm.yaml")
        assert version == 2
        assert (replaced.text, replaced.origin, replaced.version) == ("rules: []\n", "host-a:1 fakellm.yaml", 1)
        current = await store.get_config()
        assert (current.text, current.origin, current.version) == ("rules: [{respond: {content: hi}}]\n",
                                                                   "host-b:2 fakellm.yaml", 2)
        announced = []
        while len(announced) < 2:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            assert message is not None
            announced.append(message["data"])
        assert announced == [b"1", b"2"]
        await pubsub.aclose()
        await listener.aclose()
        await store.reset()
        assert (await store.get_config()).version == 2  # a reset keeps the fleet's config
    run(go())
