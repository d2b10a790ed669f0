"""Contract: the due-time index. Timers come in due order, once each across replicas, leased to
one holder at a time, back when a lease lapses, and survive a restart (taken late)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from contextlib import closing, suppress
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import EventKind
from bot.storage import DueTimer, Timers
from bot.store import Store
from bot.store.sqlite_schema import SCHEMA_VERSION
from bot.store.sqlite_timers import DUE

from .builders import event, ingest, mention
from .conftest import Backend

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
LEASE = 60.0


def keys(taken: list[DueTimer]) -> list[str]:
    return [t.key for t in taken]


async def test_timers_come_in_due_order_and_never_before_due(store: Store) -> None:
    await store.schedule("sla:T-1002:claim:reminder:1", T0 + 2 * MINUTE, "second")
    await store.schedule("sla:T-1001:claim:reminder:1", T0 + MINUTE, "first")
    await store.schedule("sla:T-1003:claim:breach", T0 + 3 * MINUTE, "third")
    assert await store.take_due(T0 + MINUTE - timedelta(microseconds=1), 10, LEASE, "a") == []

    taken = await store.take_due(T0 + 10 * MINUTE, 2, LEASE, "a")
    assert taken == [
        DueTimer("sla:T-1001:claim:reminder:1", T0 + MINUTE, "first", 1, 9 * MINUTE, 1),
        DueTimer("sla:T-1002:claim:reminder:1", T0 + 2 * MINUTE, "second", 1, 8 * MINUTE, 1),
    ]
    rest = await store.take_due(T0 + 10 * MINUTE, 10, LEASE, "a")
    assert keys(rest) == ["sla:T-1003:claim:breach"], "taken ones are leased, not handed again"
    assert await store.take_due(T0 + 10 * MINUTE, 0, LEASE, "a") == []


async def test_due_at_exactly_now_is_taken_to_the_microsecond(store: Store) -> None:
    due = T0 + timedelta(microseconds=123_457)
    await store.schedule("k", due, "p")
    assert await store.take_due(due - timedelta(microseconds=1), 1, LEASE, "a") == []
    [timer] = await store.take_due(due, 1, LEASE, "a")
    assert (timer.due, timer.late) == (due, timedelta(0))
    assert timer.due.tzinfo is not None and timer.due.utcoffset() == timedelta(0)


async def test_rescheduling_moves_the_timer_and_replaces_its_payload(store: Store) -> None:
    await store.schedule("sla:T-1001:reply", T0, "old")
    await store.schedule("sla:T-1001:reply", T0 + 30 * MINUTE, "new")
    assert await store.take_due(T0 + 29 * MINUTE, 10, LEASE, "a") == []
    [timer] = await store.take_due(T0 + 31 * MINUTE, 10, LEASE, "a")
    assert (timer.payload, timer.due, timer.attempts, timer.generation) == (
        "new",
        T0 + 30 * MINUTE,
        1,
        2,
    )
    await store.schedule("sla:T-1001:reply", T0 - MINUTE, "earlier")
    [moved] = await store.take_due(T0, 10, LEASE, "a")
    assert (moved.payload, moved.late, moved.generation) == ("earlier", MINUTE, 3)


async def test_cancel_removes_one_timer(store: Store) -> None:
    await store.schedule("a", T0, "1")
    await store.schedule("b", T0, "2")
    await store.cancel("a")
    await store.cancel("never-there")
    assert keys(await store.take_due(T0, 10, LEASE, "x")) == ["b"]
    assert not await store.finish("a", "x")


PREFIXED = [
    "sla:T-1001:",
    "sla:T-1001:claim:reminder:1",
    "sla:T-1001:claim:breach",
    "sla:T-1001:\U0010ffff",
    "sla:T-1001:\U0010ffff\U0010ffffz",
]
OTHERS = [
    "sla:T-1001",
    "sla:T-10010:claim:breach",
    "sla:T-1001;",
    "sla:T-1002:claim:breach",
    "sla:T-100",
    "other:sla:T-1001:x",
]


async def test_cancel_by_prefix_removes_exactly_the_keys_it_starts(store: Store) -> None:
    for n, key in enumerate(PREFIXED + OTHERS):
        await store.schedule(key, T0 + n * SECOND, key)
    assert await store.cancel_prefix("sla:T-1001:") == len(PREFIXED)
    assert await store.cancel_prefix("sla:T-1001:") == 0
    assert await store.cancel_prefix("%_*?[") == 0
    assert keys(await store.take_due(T0 + MINUTE, 100, LEASE, "x")) == OTHERS


async def test_cancel_by_prefix_with_hostile_text_and_the_empty_prefix(store: Store) -> None:
    hostile = ["a*b", "a*bc", "a?b", "a[b]", "a%b", "a_b", "a\\b", "ü🙂x", "ü🙂", "ü"]
    for key in hostile:
        await store.schedule(key, T0, "p")
    assert await store.cancel_prefix("a*") == 2
    assert await store.cancel_prefix("a_") == 1
    assert await store.cancel_prefix("ü🙂") == 2
    assert await store.cancel_prefix("") == 5
    assert await store.take_due(T0, 100, LEASE, "x") == []


async def test_a_lease_blocks_others_until_it_lapses(store: Store) -> None:
    await store.schedule("sla:T-1001:claim:breach", T0, "breach")
    [first] = await store.take_due(T0, 10, LEASE, "replica-a")
    assert first.attempts == 1
    assert await store.take_due(T0 + 59 * SECOND, 10, LEASE, "replica-b") == []

    [again] = await store.take_due(T0 + 60 * SECOND, 10, LEASE, "replica-b")
    assert (again.key, again.attempts, again.late) == (first.key, 2, 60 * SECOND)
    assert not await store.finish(first.key, "replica-a"), "replica-a lost its lease"
    assert not await store.finish(first.key, ""), "nobody's name finishes nothing"
    assert await store.finish(first.key, "replica-b")
    assert not await store.finish(first.key, "replica-b"), "already finished"
    assert await store.take_due(T0 + 24 * 60 * MINUTE, 10, LEASE, "replica-c") == []


async def test_a_lapsed_lease_nobody_took_can_still_be_finished(store: Store) -> None:
    await store.schedule("k", T0, "p")
    await store.take_due(T0, 10, LEASE, "a")
    assert not await store.finish("k", "b")
    assert await store.finish("k", "a")
    assert await store.take_due(T0 + 10 * MINUTE, 10, LEASE, "b") == []


async def test_an_unleased_timer_cannot_be_finished(store: Store) -> None:
    await store.schedule("k", T0, "p")
    assert not await store.finish("k", "a")
    assert not await store.finish("k", "")
    assert keys(await store.take_due(T0, 10, LEASE, "a")) == ["k"]


async def test_a_reschedule_during_a_lease_survives_the_finish(store: Store) -> None:
    await store.schedule("sla:T-1001:claim:reminder:1", T0, "first")
    [old] = await store.take_due(T0, 10, LEASE, "replica-a")
    await store.schedule(old.key, T0 + 10 * MINUTE, "moved")
    assert not await store.finish(old.key, "replica-a")
    assert await store.take_due(T0 + 9 * MINUTE, 10, LEASE, "replica-b") == []
    [new] = await store.take_due(T0 + 10 * MINUTE, 10, LEASE, "replica-b")
    assert (new.payload, new.attempts, new.generation) == ("moved", 1, old.generation + 1)
    assert await store.finish(new.key, "replica-b")


async def test_a_generation_tells_apart_two_takes_by_one_holder(store: Store) -> None:
    await store.schedule("k", T0, "first")
    [old] = await store.take_due(T0, 10, LEASE, "a")
    await store.schedule("k", T0, "second")
    [new] = await store.take_due(T0, 10, LEASE, "a")
    assert not await store.finish("k", "a", old.generation)
    assert await store.finish("k", "a", new.generation)
    assert await store.take_due(T0 + 10 * MINUTE, 10, LEASE, "a") == []


async def test_payloads_and_keys_keep_their_text(store: Store) -> None:
    texts = ["", "123", '{"a": 1, "b": [null]}', 'ü "quoted" \\ / \n\t 🙂', "x" * 10_000]
    for n, text in enumerate(texts):
        await store.schedule(f"k:{n}:{text[:20]}", T0 + n * SECOND, text)
    taken = await store.take_due(T0 + MINUTE, 100, LEASE, "a")
    assert [t.payload for t in taken] == texts
    assert [t.key for t in taken] == [f"k:{n}:{text[:20]}" for n, text in enumerate(texts)]


async def replica(timers: Timers, holder: str, now: datetime, seen: list[str]) -> None:
    while taken := await timers.take_due(now, 25, LEASE, holder):
        for timer in taken:
            seen.append(timer.key)
            assert await timer_finish(timers, timer, holder)


async def timer_finish(timers: Timers, timer: DueTimer, holder: str) -> bool:
    return await timers.finish(timer.key, holder, timer.generation)


async def test_three_replicas_take_500_timers_due_at_once_exactly_once(
    backend: Backend,
) -> None:
    first = backend.open()
    expected = [f"sla:T-{1000 + n}:claim:breach" for n in range(500)]
    for key in expected:
        await first.schedule(key, T0, key)
    stores = [first, backend.open(), backend.open()]
    seen: list[list[str]] = [[], [], []]
    await asyncio.gather(
        *(replica(s, f"replica-{n}", T0 + SECOND, seen[n]) for n, s in enumerate(stores))
    )
    counts = Counter(key for taken in seen for key in taken)
    assert sorted(counts) == sorted(expected)
    assert set(counts.values()) == {1}
    assert await first.take_due(T0 + 24 * 60 * MINUTE, 1000, LEASE, "later") == []


async def test_the_timers_of_a_replica_that_died_midway_are_taken_by_the_others(
    backend: Backend,
) -> None:
    dead, *alive = (backend.open() for _ in range(3))
    for n in range(200):
        await dead.schedule(f"t:{n:03}", T0, str(n))
    lost = await dead.take_due(T0, 50, LEASE, "dead")
    for timer in lost[:10]:
        assert await dead.finish(timer.key, "dead")
    seen: list[list[str]] = [[], []]
    await asyncio.gather(*(replica(s, f"alive-{n}", T0, seen[n]) for n, s in enumerate(alive)))
    assert len(seen[0]) + len(seen[1]) == 150, "the dead replica's lease holds 40"

    later = T0 + timedelta(seconds=LEASE)
    retaken = await alive[0].take_due(later, 100, LEASE, "alive-0")
    assert sorted(keys(retaken)) == sorted(t.key for t in lost[10:])
    assert {t.attempts for t in retaken} == {2}
    for timer in retaken:
        assert await alive[0].finish(timer.key, "alive-0")
    assert not await dead.finish(lost[-1].key, "dead")
    assert await alive[1].take_due(later + 60 * MINUTE, 100, LEASE, "alive-1") == []


async def test_a_timer_due_while_nothing_ran_is_taken_late_at_start(backend: Backend) -> None:
    before = backend.open()
    await before.schedule("sla:T-1001:claim:breach", T0 + MINUTE, "breach")
    await before.schedule("sla:T-1001:resolve:rollover", T0 + 5 * 60 * MINUTE, "rollover")
    await before.close()

    after = backend.open()
    start = T0 + 3 * 60 * MINUTE
    [timer] = await after.take_due(start, 10, LEASE, "restarted")
    assert (timer.key, timer.late, timer.attempts) == (
        "sla:T-1001:claim:breach",
        3 * 60 * MINUTE - MINUTE,
        1,
    )
    assert await after.finish(timer.key, "restarted")
    assert await after.take_due(start, 10, LEASE, "restarted") == []


async def test_a_lease_held_when_everything_stopped_lapses_after_restart(
    backend: Backend,
) -> None:
    before = backend.open()
    await before.schedule("k", T0, "p")
    assert keys(await before.take_due(T0, 10, LEASE, "old-replica")) == ["k"]
    await before.close()

    after = backend.open()
    assert await after.take_due(T0 + 30 * SECOND, 10, LEASE, "new-replica") == []
    [timer] = await after.take_due(T0 + 10 * MINUTE, 10, LEASE, "new-replica")
    assert (timer.attempts, timer.late) == (2, 10 * MINUTE)


async def test_a_schema_4_sqlite_file_gains_the_timers_table_in_place(backend: Backend) -> None:
    if backend.path is None:
        pytest.skip("Redis keeps timers in new keys: no data to upgrade")
    old = backend.open()
    await old.set_cursor("mastodon-main", "110")
    await old.close()
    with closing(sqlite3.connect(backend.path)) as conn:
        conn.executescript("DROP TABLE timers; PRAGMA user_version = 4;")

    new = backend.open()
    await new.schedule("k", T0, "p")
    assert keys(await new.take_due(T0, 10, LEASE, "a")) == ["k"]
    assert await new.get_cursor("mastodon-main") == "110"
    with closing(sqlite3.connect(backend.path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_the_sqlite_take_reads_only_its_index(backend: Backend, store: Store) -> None:
    if backend.path is None:
        pytest.skip("SQLite query plan")
    await store.ping()
    with closing(sqlite3.connect(backend.path)) as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {DUE}", (0, 1)))
    assert "USING INDEX timers_by_next" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_an_event_a_timer_records_twice_is_stored_once(store: Store) -> None:
    """Two holders of one timer (a lease lapsed mid-firing) record its event under one id:
    the store keeps the first (SQLite refuses the second, Redis leaves it out)."""
    thread = (await ingest(store, mention(1))).thread
    first = event(thread.id, EventKind.SLA_REMINDER, mark="1")
    await store.append_event(first)
    with suppress(Exception):
        await store.append_event(first.model_copy(update={"data": {"mark": "2"}}))
    assert (await store.events(thread.id))[1:] == [first]
    assert await store.get_event(first.id) == first
    assert await store.outbox_size() == 2, "the ingest and the first only"


async def test_next_due_is_when_the_next_timer_can_be_taken(store: Store) -> None:
    assert await store.next_due() is None
    await store.schedule("sla:T-1:claim:breach", T0 + 2 * MINUTE, "b")
    await store.schedule("sla:T-1:claim:reminder:1", T0 + MINUTE, "r")
    assert await store.next_due() == T0 + MINUTE
    [taken] = await store.take_due(T0 + MINUTE, 1, LEASE, "a")
    assert await store.next_due() == T0 + 2 * MINUTE, "the leased one is back only at its end"
    assert await store.finish(taken.key, "a", taken.generation)
    await store.cancel("sla:T-1:claim:breach")
    assert await store.next_due() is None
    await store.schedule("k", T0, "p")
    await store.take_due(T0, 1, LEASE, "a")
    assert await store.next_due() == T0 + timedelta(seconds=LEASE), "a lease that may lapse"
