"""The room's store, the memory one and the Redis one (a real redis-server), under the same rules:
one answer per voter, changes before the reveal, a flood from one address capped, presenter-only
reveal and close, limits, expiry, and two servers sharing one Redis."""

from __future__ import annotations

import threading

import pytest

from backend.room.questions import Question
from backend.room.store import (CHANGED, COUNTED, OTHER, REFUSED, REVEALED, UNCHANGED, UNKNOWN, MemoryStore,
                                RedisStore, RoomStoreError)

QUESTION = Question("classification", "Positive or negative?", "What a wonderful film",
                    ("negative", "positive"), (0.02, 0.98))


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return RedisStore(request.getfixturevalue("fresh_redis"))


@pytest.fixture
def fresh_redis(redis_url):
    """The test process's Redis, emptied for this test."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


def test_one_answer_per_voter_changed_before_the_reveal_refused_after(store):
    code = store.open(QUESTION, "secret", "presenter-a", most_open=3)
    assert store.question(code) == QUESTION
    assert store.answer(code, "v1", 1, "10.0.0.1", 50) == COUNTED
    assert store.answer(code, "v1", 1, "10.0.0.1", 50) == UNCHANGED  # a double tap, a reload
    assert store.answer(code, "v2", 0, "10.0.0.1", 50) == COUNTED
    assert store.answer(code, "v2", 1, "10.0.0.1", 50) == CHANGED
    assert store.mine(code, "v2") == 1 and store.mine(code, "v3") is None
    tally = store.tally(code)
    assert tally.counts == (0, 2) and tally.answered == 2 and tally.matched == 2
    assert store.reveal(code, "secret") and store.revealed(code)
    assert store.answer(code, "v3", 0, "10.0.0.2", 50) == REVEALED
    assert store.answer(code, "v1", 0, "10.0.0.1", 50) == REVEALED
    assert store.tally(code).counts == (0, 2)


def test_typed_answers_count_as_other_and_are_kept_short(store):
    code = store.open(QUESTION, "s", "p", 3)
    assert store.answer(code, "v1", OTHER, "a", 50, typed="  <b>bold</b>\n" + "x" * 500) == COUNTED
    tally = store.tally(code)
    assert tally.others == 1 and tally.counts == (0, 0) and tally.typed == (("<b>bold</b> " + "x" * 500)[:40],)
    assert store.answer(code, "v1", 0, "a", 50) == CHANGED
    assert store.tally(code).others == 0 and store.tally(code).typed == ()


def test_a_flood_from_one_address_stops_moving_the_count(store):
    code = store.open(QUESTION, "s", "p", 3)
    outcomes = [store.answer(code, f"voter-{i}", i % 2, "203.0.113.9", 5) for i in range(200)]
    assert outcomes.count(COUNTED) == 5 and outcomes.count(REFUSED) == 195
    assert store.answer(code, "someone-else", 1, "198.51.100.1", 5) == COUNTED
    assert store.tally(code).answered == 6
    # those already counted may still change their answer
    assert store.answer(code, "voter-0", 1, "203.0.113.9", 5) == CHANGED


def test_only_the_presenters_secret_reveals_or_closes(store):
    code = store.open(QUESTION, "right", "p", 3)
    assert not store.reveal(code, "wrong") and store.revealed(code) is False
    assert not store.close(code, "wrong") and store.question(code) is not None
    assert not store.reveal("nosuch", "right")
    assert store.close(code, "right")
    assert store.question(code) is None and store.tally(code) is None and store.revealed(code) is None
    assert store.answer(code, "v", 0, "a", 5) == UNKNOWN


def test_a_presenter_holds_a_few_questions_at_once(store):
    codes = [store.open(QUESTION, "s", "busy", 2) for _ in range(2)]
    with pytest.raises(RoomStoreError, match="At most 2 questions can be open"):
        store.open(QUESTION, "s", "busy", 2)
    store.open(QUESTION, "s", "another presenter", 2)
    assert store.close(codes[0], "s")
    store.open(QUESTION, "s", "busy", 2)


def test_answers_arriving_together_are_each_counted_once(store):
    code = store.open(QUESTION, "s", "p", 3)
    start = threading.Barrier(24)

    def phone(i: int) -> None:
        start.wait()
        for _ in range(3):  # each phone taps three times
            store.answer(code, f"phone-{i}", i % 2, f"10.0.0.{i % 4}", 50)

    threads = [threading.Thread(target=phone, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.tally(code).counts == (12, 12)


def test_two_servers_on_one_redis_share_the_room(fresh_redis):
    first, second = RedisStore(fresh_redis), RedisStore(fresh_redis)
    code = first.open(QUESTION, "s", "p", 3)
    assert second.question(code) == QUESTION
    assert first.answer(code, "v1", 1, "a", 50) == COUNTED
    assert second.answer(code, "v1", 1, "a", 50) == UNCHANGED  # the same phone through the other server
    assert second.answer(code, "v2", 0, "b", 50) == COUNTED
    assert first.tally(code).counts == second.tally(code).counts == (1, 1)
    assert second.reveal(code, "s") and first.revealed(code)


def test_the_memory_store_is_bounded_and_forgets_old_questions():
    now = [0.0]
    store = MemoryStore(max_questions=10, ttl=60, clock=lambda: now[0])
    codes = [store.open(QUESTION, "s", f"p{i}", 3) for i in range(25)]
    assert len(store) == 10 and store.question(codes[0]) is None and store.question(codes[-1]) is not None
    now[0] = 61
    assert store.question(codes[-1]) is None and store.answer(codes[-1], "v", 0, "a", 5) == UNKNOWN


def test_redis_keys_expire_with_the_question(fresh_redis):
    import redis

    redis_url = fresh_redis
    store = RedisStore(redis_url, ttl=100)
    code = store.open(QUESTION, "s", "p", 3)
    store.answer(code, "v", 0, "a", 5, typed="")
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"room:{{{code}}}:*"))
    assert len(keys) == 3 and all(0 < client.ttl(k) <= 100 for k in keys)


def test_an_unreachable_redis_is_a_clear_message():
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(RoomStoreError, match="cannot be reached"):
        store.question("abcdef")
