"""Timers survive what replicas go through (both stores): a timer due while everything was
down fires once after start, marked late; a replica that took a timer and died leaves it to
another once the lease lapses, and nothing is recorded twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.cards import history_line
from bot.domain import EventKind
from tests.clock import FakeTime, eventually
from tests.sla.helpers import loop, opened, run_due, sla_board, sla_events
from tests.stores.conftest import Backend

SUPPORT = [{"name": "support", "sla": {"claim": "10m"}, "reminders": [0.5]}]


async def test_a_timer_due_while_down_fires_once_after_start_marked_late(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime()
    before = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="before")
    tid = await opened(before, time)
    await before.stop()  # everything down before any timer was due
    await time.advance(2 * 3600)

    after = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="after")
    await after.start(ingest=False)
    try:

        async def breached() -> bool:
            kinds = [k for k, _, _ in await sla_events(after.store, tid)]
            return EventKind.SLA_BREACHED in kinds

        await eventually(breached)
        events = [e for e in await after.store.events(tid) if e.kind.startswith("sla")]
        assert [history_line(e, {}) for e in events] == [
            "Reminder: nobody has claimed this for 120 min (due in less than a minute)"
            " (late by 115 min)",
            "SLA breached: nobody has claimed this within 10 min (late by 110 min)",
        ]
        await time.advance(3600)
        await eventually(lambda: time.sleeping >= 1)
        assert len(await sla_events(after.store, tid)) == 2, "once, after start"
    finally:
        await asyncio.wait_for(after.stop(), timeout=5)


async def test_a_replica_that_died_holding_a_timer_leaves_it_to_another_once(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime()
    dead = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="dead")
    alive = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="alive")
    tid = await opened(dead, time)
    await time.advance(5 * 60)
    lease = loop(dead).lease_seconds
    [taken] = await dead.store.take_due(time.now(), 10, lease, "dead")  # then it dies
    assert taken.key.endswith(":reminder:1")
    assert await run_due(alive) == 0, "leased to the replica that died"
    await time.advance(lease - 1)
    assert await run_due(alive) == 0
    await time.advance(1)
    assert await run_due(alive) == 1
    assert await sla_events(alive.store, tid) == [(EventKind.SLA_REMINDER, "claim", 1)]
    assert not await dead.store.finish(taken.key, "dead", taken.generation), "too late"


async def test_a_replica_that_died_after_recording_is_not_recorded_twice(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime()
    dead = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="dead")
    alive = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="alive")
    tid = await opened(dead, time)
    await time.advance(10 * 60)
    lease = loop(dead).lease_seconds
    taken = await dead.store.take_due(time.now(), 10, lease, "dead")
    assert len(taken) == 2 and dead.sla_clock is not None
    for timer in taken:  # recorded both, died before finishing either
        assert await dead.sla_clock.fire(timer, time.now())
    await time.advance(lease + timedelta(minutes=1).total_seconds())
    assert await run_due(alive) == 2
    assert await sla_events(alive.store, tid) == [
        (EventKind.SLA_REMINDER, "claim", 1),
        (EventKind.SLA_BREACHED, "claim", 0),
    ]
    assert await run_due(alive) == 0


async def test_two_holders_firing_one_timer_at_once_record_it_once(
    backend: Backend, tmp_path: Path
) -> None:
    """A lease that lapsed while its holder was still firing: both fire together."""
    time = FakeTime()
    slow = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="slow")
    other = sla_board(backend.open(), time, tmp_path, SUPPORT, replica="other")
    tid = await opened(slow, time)
    await time.advance(5 * 60)
    lease = loop(slow).lease_seconds
    [first] = await slow.store.take_due(time.now(), 10, lease, "slow")
    await time.advance(lease)
    [again] = await other.store.take_due(time.now(), 10, lease, "other")
    assert again.key == first.key and slow.sla_clock and other.sla_clock
    await asyncio.gather(
        slow.sla_clock.fire(first, time.now()),
        other.sla_clock.fire(again, time.now()),
        return_exceptions=True,  # the one that lost may be refused by the store
    )
    events = await slow.store.events(tid)
    assert [e.kind for e in events].count(EventKind.SLA_REMINDER) == 1
    assert len({e.id for e in events}) == len(events)


async def test_a_rollover_records_the_breach_a_dead_replica_still_holds(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime()
    departments: list[dict[str, Any]] = [
        {"name": "support", "sla": {"claim": "10m"}, "reminders": [0.5], "escalation": "social"},
        {"name": "social"},
    ]
    dead = sla_board(backend.open(), time, tmp_path, departments, replica="dead")
    alive = sla_board(backend.open(), time, tmp_path, departments, replica="alive")
    tid = await opened(dead, time)
    await time.advance(5 * 60)
    assert await run_due(alive) == 1
    await time.advance(5 * 60)
    [breach] = await dead.store.take_due(time.now(), 10, 3600, "dead")  # then it dies
    assert breach.key.endswith(":breach")
    await time.advance(15 * 60)  # the rollover is due while the breach is still leased
    assert await run_due(alive) == 1
    kinds = [k for k, _, _ in await sla_events(alive.store, tid)]
    assert kinds == [EventKind.SLA_REMINDER, EventKind.SLA_BREACHED, EventKind.TRANSFERRED]
    [late] = [e for e in await alive.store.events(tid) if e.kind is EventKind.SLA_BREACHED]
    assert late.data["late"] == 15 * 60, "said late: it was due at the target"
    await time.advance(3600)
    assert await run_due(alive) == 0, "the move cancelled the old department's timers"
    assert not await dead.store.finish(breach.key, "dead", breach.generation)
    assert len(await sla_events(alive.store, tid)) == 3
