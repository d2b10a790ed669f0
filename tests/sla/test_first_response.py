"""The first-response clock (both stores): it starts at the first mention, a claim does not
stop it, the first public reply does; a move does not restart it — the rest of the target is
counted in the new department's hours. And a mention on Saturday is due on Monday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cards import history_line
from bot.domain import EventKind
from tests.clock import FakeTime
from tests.sla.helpers import ALICE, at, opened, run_due, sla_board, sla_events
from tests.stores.conftest import Backend

REMINDER, BREACH = EventKind.SLA_REMINDER, EventKind.SLA_BREACHED
FIRST = "first_response"
FRIDAY = datetime(2024, 5, 3, 16, 30, tzinfo=UTC)
SATURDAY = datetime(2024, 5, 4, 10, 0, tzinfo=UTC)
MONDAY = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
OFFICE = {"timezone": "UTC", "weekly": ["mon-fri 09:00-17:00"]}


async def test_a_claim_does_not_stop_it_the_first_public_reply_does(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime()
    store = backend.open()
    board = sla_board(store, time, tmp_path, [{"name": "support", "sla_minutes": 60}])
    tid = await opened(board, time)
    start = time.now()
    await at(time, start + timedelta(minutes=10), board)
    await board.threads.claim(tid, ALICE)
    await at(time, start + timedelta(minutes=30), board)
    assert await sla_events(store, tid) == [(REMINDER, FIRST, 1)]
    [event] = [e for e in await store.events(tid) if e.kind is REMINDER]
    assert history_line(event, {}) == (
        "Reminder: no public reply to this for 30 min (due in 30 min)"
    )
    await at(time, start + timedelta(minutes=50), board)
    await board.replies.reply(tid, ALICE, "Sorry, on it!")
    await at(time, start + timedelta(hours=3), board)
    assert await sla_events(store, tid) == [(REMINDER, FIRST, 1), (REMINDER, FIRST, 2)]


async def test_unanswered_it_breaches_once_at_the_target(backend: Backend, tmp_path: Path) -> None:
    time = FakeTime()
    store = backend.open()
    board = sla_board(store, time, tmp_path, [{"name": "support", "sla": {"first_response": "1h"}}])
    tid = await opened(board, time)
    await at(time, time.now() + timedelta(minutes=59, seconds=59), board)
    assert BREACH not in [k for k, _, _ in await sla_events(store, tid)]
    await at(time, time.now() + timedelta(seconds=1), board)
    await at(time, time.now() + timedelta(hours=5), board)
    events = [e for e in await store.events(tid) if e.kind is BREACH]
    assert len(events) == 1
    assert history_line(events[0], {}) == "SLA breached: no public reply to this within 60 min"


async def test_a_move_keeps_the_customers_wait_in_the_new_departments_hours(
    backend: Backend, tmp_path: Path
) -> None:
    time = FakeTime(FRIDAY)
    store = backend.open()
    board = sla_board(
        store,
        time,
        tmp_path,
        [
            {"name": "social", "sla_minutes": 60},
            {"name": "billing", "sla_minutes": 60, "hours": OFFICE},
        ],
    )
    tid = await opened(board, time)
    await at(time, FRIDAY + timedelta(minutes=20), board)  # 20 min used in social (24/7)
    await board.threads.transfer(tid, ALICE, "billing", "refund question")
    # 40 min left in billing's hours: 10 on Friday until 17:00, 30 on Monday from 09:00
    await at(time, datetime(2024, 5, 3, 17, 0, tzinfo=UTC), board)
    assert await sla_events(store, tid) == [(REMINDER, FIRST, 1)], "30 of 60 min at 17:00"
    await at(time, MONDAY + timedelta(minutes=18), board)
    assert await sla_events(store, tid) == [(REMINDER, FIRST, 1), (REMINDER, FIRST, 2)]
    await at(time, MONDAY + timedelta(minutes=29, seconds=59), board)
    assert len(await sla_events(store, tid)) == 2
    await at(time, MONDAY + timedelta(minutes=30), board)
    breach = [e for e in await store.events(tid) if e.kind is BREACH]
    assert [(e.data["department"], e.at) for e in breach] == [("billing", time.now())]
    await at(time, MONDAY + timedelta(days=3), board)
    assert len(await sla_events(store, tid)) == 3, "nothing restarted, nothing twice"


async def test_a_mention_on_saturday_is_due_on_monday(backend: Backend, tmp_path: Path) -> None:
    time = FakeTime(SATURDAY)
    store = backend.open()
    board = sla_board(
        store, time, tmp_path, [{"name": "support", "sla": {"claim": "10m"}, "hours": OFFICE}]
    )
    tid = await opened(board, time)
    await at(time, MONDAY - timedelta(seconds=1), board)
    assert await sla_events(store, tid) == [], "nothing counts over the weekend"
    await at(time, MONDAY + timedelta(minutes=5), board)
    await at(time, MONDAY + timedelta(minutes=8), board)
    await at(time, MONDAY + timedelta(minutes=9, seconds=59), board)
    assert await sla_events(store, tid) == [(REMINDER, "claim", 1), (REMINDER, "claim", 2)]
    await at(time, MONDAY + timedelta(minutes=10), board)
    assert (await sla_events(store, tid))[-1] == (BREACH, "claim", 0)
    assert await run_due(board) == 0
