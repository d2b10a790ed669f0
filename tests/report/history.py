"""A small hand-made history, written through the real thread service on a real store.

Support works mon-fri 09:00-18:00 UTC (claim 10 min, first reply 1 h, rolls over to social);
social is 24/7 (claim 30 min, first reply 2 h). The period is Fri 2026-11-06 12:00 to
Mon 2026-11-09 14:00 UTC. The expected figures are worked out by hand in test_figures.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Config, parse_config
from bot.domain import Author, EventKind, Mention, Person, Thread, ThreadState, Transfer
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.sla.rollover import SYSTEM
from bot.store import Store

FRIDAY = datetime(2026, 11, 6, tzinfo=UTC)
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)
SINCE = FRIDAY + timedelta(hours=12)
UNTIL = MONDAY + timedelta(hours=14)

CONFIG: dict[str, Any] = {
    "sla": {
        "claim": "10m",
        "first_response": "1h",
        "calendars": {"office": {"timezone": "UTC", "weekly": ["mon-fri 09:00-18:00"]}},
    },
    "departments": [
        {"name": "support", "hours": "office", "escalation": "social", "slack_channel": "C-sup"},
        {"name": "social", "hours": "24/7", "sla": {"claim": "30m", "first_response": "2h"}},
    ],
    "routing": {"default_department": "support"},
}


def config() -> Config:
    return parse_config(CONFIG)


def person(name: str) -> Person:
    return Person(surface="slack", id=f"U{name.upper()}", name=name)


alice, bob, carol = person("alice"), person("bob"), person("carol")


class Clock:
    def __init__(self) -> None:
        self.at = FRIDAY

    def __call__(self) -> datetime:
        return self.at


def mention(n: int, at: datetime, follow_up: str = "") -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id=f"m-{n}{follow_up}",
        conversation_key=f"c-{n}",
        author=Author(id=f"a{n}", handle=f"user{n}@example.social"),
        text=f"@acme question {n}",
        created_at=at,
    )


class History:
    """Writes through ``threads`` (a service on ``clock``), or a service of its own."""

    def __init__(
        self, store: Store, threads: ThreadService | None = None, clock: Clock | None = None
    ) -> None:
        self.clock = clock or Clock()
        cfg = config()
        self.threads = threads or ThreadService(
            store,
            Directory(cfg.departments),
            Router(cfg.routing.rules, cfg.default_department),
            clock=self.clock,
        )

    def at(self, day: datetime, hh_mm: str) -> None:
        h, m = hh_mm.split(":")
        self.clock.at = day + timedelta(hours=int(h), minutes=int(m))

    async def open(self, n: int, follow_up: str = "") -> Thread:
        outcome = await self.threads.ingest(mention(n, self.clock.at, follow_up))
        assert outcome is not None
        return outcome.thread

    async def reply(self, thread: Thread, who: Person) -> None:
        def mutate(t: Thread) -> Thread:
            return t.evolve(state=ThreadState.REPLIED, owner=who, reply_count=t.reply_count + 1)

        await self.threads.change(
            thread.id, who, "slack", EventKind.REPLIED, mutate, key=f"r-{thread.id}", url="u"
        )

    async def rollover(self, thread: Thread, to: str) -> None:
        now = self.clock.at

        def mutate(t: Thread) -> Thread:
            move = Transfer(from_department=t.department, to_department=to, by=SYSTEM, at=now)
            return t.evolve(
                department=to, state=ThreadState.TRANSFERRED, owner=None, transfers=(move,)
            )

        await self.threads.change(
            thread.id, SYSTEM, "sla", EventKind.TRANSFERRED, mutate, to=to, rollover=True
        )


async def write_history(store: Store, h: History | None = None) -> None:
    h = h or History(store)
    ts = h.threads
    h.at(FRIDAY, "08:00")
    t5 = await h.open(5)  # received before the period: not in the report
    h.at(FRIDAY, "17:50")
    t1 = await h.open(1)
    h.at(MONDAY, "09:00")
    await ts.claim(t5.id, alice)
    h.at(MONDAY, "09:05")
    await ts.claim(t1.id, alice)  # 15 business min (10 on Friday, 5 on Monday): late
    h.at(MONDAY, "09:20")
    await h.reply(t1, alice)  # first reply after 30 business min: within 1 h
    h.at(MONDAY, "10:00")
    t2 = await h.open(2)
    h.at(MONDAY, "10:04")
    await ts.claim(t2.id, bob)
    h.at(MONDAY, "10:10")
    await ts.transfer(t2.id, bob, "social", "billing question")
    h.at(MONDAY, "10:40")
    await ts.claim(t2.id, carol)
    h.at(MONDAY, "11:00")
    t3 = await h.open(3)
    await h.reply(t2, carol)  # 10 min in support + 50 in social
    h.at(MONDAY, "11:25")
    await h.rollover(t3, "social")  # waited 25 min in support: a claim breach there
    h.at(MONDAY, "12:00")
    t4 = await h.open(4)
    h.at(MONDAY, "12:01")
    await ts.resolve(t4.id, alice, spam=True)
    h.at(MONDAY, "12:30")
    t6 = await h.open(6)
    h.at(MONDAY, "12:32")
    await ts.claim(t6.id, bob)
    h.at(MONDAY, "12:40")
    await ts.release(t6.id, bob)
    h.at(MONDAY, "12:50")
    await ts.claim(t6.id, alice)  # waited exactly the 10 min target: within
    h.at(MONDAY, "13:00")
    await ts.resolve(t6.id, alice)
    h.at(MONDAY, "13:30")
    await h.open(6, "-again")  # the author writes again: T6 reopens, waits 30 min by 14:00
    h.at(MONDAY, "15:00")
    await ts.resolve(t2.id, carol)  # after the period
