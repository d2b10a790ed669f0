"""A cancel ends only the wait it belongs to: a release stored between a claim and the claim's
cancel starts a new wait whose timers survive that cancel (both stores)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.config import parse_config
from bot.domain import Author, EventKind, Mention, Person
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.sla.clock import SlaClock
from bot.sla.loop import TimerLoop
from bot.sla.plan import claim_prefix
from bot.storage import DueTimer, Timers
from bot.store import Store
from tests.clock import FakeTime
from tests.stores.conftest import Backend

ALICE = Person(surface="slack", id="U1", name="alice")
CONFIG = parse_config({"departments": [{"name": "support", "sla": {"claim": "10m"}}]})


class Interleaved(Timers):
    """The real due-time index; the first prefix cancel first lets ``between`` run (another
    replica's change landing between a change and its cancel)."""

    def __init__(self, inner: Timers) -> None:
        self.inner = inner
        self.between: Callable[[], Awaitable[object]] | None = None
        self.cancelled: list[str] = []

    async def schedule(self, key: str, due: datetime, payload: str) -> None:
        await self.inner.schedule(key, due, payload)

    async def cancel(self, key: str) -> None:
        await self.inner.cancel(key)

    async def cancel_prefix(self, prefix: str) -> int:
        step, self.between = self.between, None
        if step is not None:
            await step()
        self.cancelled.append(prefix)
        return await self.inner.cancel_prefix(prefix)

    async def take_due(
        self, now: datetime, limit: int, lease_seconds: float, holder: str
    ) -> list[DueTimer]:
        return await self.inner.take_due(now, limit, lease_seconds, holder)

    async def next_due(self) -> datetime | None:
        return await self.inner.next_due()

    async def finish(self, key: str, holder: str, generation: int | None = None) -> bool:
        return await self.inner.finish(key, holder, generation)


async def test_a_release_between_a_claim_and_its_cancel_keeps_the_new_waits_timers(
    backend: Backend,
) -> None:
    time = FakeTime()
    store: Store = backend.open()
    threads = ThreadService(
        store, Directory(CONFIG.departments), Router((), "support"), clock=time.now
    )
    timers = Interleaved(store)
    clock = SlaClock(threads, timers, CONFIG.sla_policy)
    threads.observers.append(clock)
    other = ThreadService(
        backend.open(), Directory(CONFIG.departments), Router((), "support"), clock=time.now
    )
    other.observers.append(SlaClock(other, store, CONFIG.sla_policy))
    loop = TimerLoop(clock, store, "a", now=time.now, sleep=time.sleep)
    author = Author(id="a", handle="@a")
    outcome = await threads.ingest(
        Mention(
            source="m",
            network="mastodon",
            external_id="1",
            conversation_key="1",
            author=author,
            text="help",
            created_at=time.now(),
        )
    )
    assert outcome is not None
    tid = outcome.thread.id
    await time.advance(60)

    timers.between = lambda: other.release(tid, ALICE)  # lands before the claim's cancel
    await threads.claim(tid, ALICE)
    thread = await store.get_thread(tid)
    assert thread is not None and thread.owner is None, "the release came after the claim"
    assert timers.cancelled and timers.cancelled[0] != claim_prefix(tid)

    await time.advance(9 * 60 + 30)  # past the first wait's breach: cancelled, nothing
    while await loop.tick():
        pass
    kinds = [e.kind for e in await store.events(tid)]
    assert EventKind.SLA_BREACHED not in kinds
    await time.advance(30)  # ten minutes after the release: its breach fires, once
    while await loop.tick():
        pass
    kinds = [e.kind for e in await store.events(tid)]
    assert kinds.count(EventKind.SLA_BREACHED) == 1, kinds
    assert kinds.count(EventKind.SLA_REMINDER) == 2, "the new wait's reminders fired"
