"""The claim clock on both stores: reminders, breach, claim cancels, replicas fire once."""

from __future__ import annotations

from bot.cards import history_line
from bot.config import parse_config
from bot.domain import Author, EventKind, Mention, Person
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.sla.clock import SlaClock
from bot.sla.loop import TimerLoop
from bot.store import Store
from tests.clock import FakeTime
from tests.stores.conftest import Backend

ALICE = Person(surface="slack", id="U1", name="alice")
CONFIG = parse_config(
    {
        "departments": [
            {"name": "support", "sla": {"claim": "10m"}, "escalation": "social"},
            {"name": "social", "sla": {"claim": "10m"}},
        ]
    }
)


def mention(n: int, time: FakeTime) -> Mention:
    author = Author(id="a", handle="@a")
    return Mention(
        source="m",
        network="mastodon",
        external_id=str(n),
        conversation_key=str(n),
        author=author,
        text="help",
        created_at=time.now(),
    )


def replica(store: Store, time: FakeTime, name: str) -> tuple[ThreadService, TimerLoop]:
    threads = ThreadService(
        store,
        Directory(CONFIG.departments),
        Router(CONFIG.routing.rules, "support"),
        clock=time.now,
    )
    clock = SlaClock(threads, store, CONFIG.sla_policy)
    threads.observers.append(clock)
    return threads, TimerLoop(clock, store, name, now=time.now, sleep=time.sleep)


async def kinds(store: Store, thread_id: str) -> list[EventKind]:
    return [
        e.kind
        for e in await store.events(thread_id)
        if e.kind.startswith("sla") or e.data.get("rollover")
    ]


async def test_reminders_breach_and_rollover_then_claim_cancels(backend: Backend) -> None:
    time = FakeTime()
    store = backend.open()
    threads, loop = replica(store, time, "a")
    outcome = await threads.ingest(mention(1, time))
    assert outcome is not None
    tid = outcome.thread.id
    await time.advance(4 * 60 + 59)
    await loop.tick()
    assert await kinds(store, tid) == []
    await time.advance(1)
    await loop.tick()
    assert await kinds(store, tid) == [EventKind.SLA_REMINDER]
    await time.advance(3 * 60)
    await loop.tick()
    await time.advance(2 * 60)
    await loop.tick()
    assert await kinds(store, tid) == [EventKind.SLA_REMINDER] * 2 + [EventKind.SLA_BREACHED]
    await time.advance(15 * 60)
    await loop.tick()
    thread = await store.get_thread(tid)
    assert thread is not None and thread.department == "social"
    assert thread.transfers[-1].note == "no answer within 25 business minutes"
    await threads.claim(tid, ALICE)
    await time.advance(3600)
    await loop.tick()
    assert len(await kinds(store, tid)) == 4, "the claim cancelled social's timers"


async def test_two_replicas_fire_each_breach_once(backend: Backend) -> None:
    time = FakeTime()
    a_store, b_store = backend.open(), backend.open()
    threads, a = replica(a_store, time, "a")
    _, b = replica(b_store, time, "b")
    ids = []
    for n in range(30):
        outcome = await threads.ingest(mention(n, time))
        assert outcome is not None
        ids.append(outcome.thread.id)
    await time.advance(600)
    while await a.tick() + await b.tick():
        pass
    for tid in ids:
        events = await a_store.events(tid)
        assert [e.kind for e in events].count(EventKind.SLA_BREACHED) == 1


async def test_lines_say_reminder_breach_and_late(backend: Backend) -> None:
    time = FakeTime()
    store = backend.open()
    threads, loop = replica(store, time, "a")
    outcome = await threads.ingest(mention(1, time))
    assert outcome is not None
    await time.advance(3 * 3600)  # nothing ran: every timer is late at start
    while await loop.tick():
        pass
    lines = [history_line(e, {}) for e in await store.events(outcome.thread.id)]
    texts = [str(x) for x in lines]
    first = "Reminder: nobody has claimed this for 180 min (due in less than a minute)"
    assert texts.count(f"{first} (late by 175 min)") == 1, texts
    assert any("(late by 175 min)" in str(x) for x in lines), lines
    assert [str(x) for x in lines].count(
        "SLA breached: nobody has claimed this within 10 min (late by 170 min)"
    ) == 1, lines
