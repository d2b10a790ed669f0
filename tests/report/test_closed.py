"""Closed threads are forgotten: a reopen (or a spam mark) of one closed long before is looked
up in the thread's own events, with the same figures as when it is still remembered."""

from __future__ import annotations

from typing import Any

from bot.domain import AuditEvent, EventKind
from bot.report import Reports
from bot.report.render import rows
from bot.report.service import policy_table
from bot.store import Store
from tests.report.history import FRIDAY, MONDAY, SINCE, UNTIL, History, alice, bob, config
from tests.report.history import write_history as hand_made


async def report(store: Store, **kw: Any) -> list[dict[str, Any]]:
    policies = policy_table(d.sla_policy for d in config().departments)
    return rows(await Reports(store, policies, **kw).build(SINCE, UNTIL))


async def write_history(store: Store) -> None:
    h = History(store)
    ts = h.threads
    h.at(FRIDAY, "08:00")
    old = await h.open(10)  # received before the period
    await ts.claim(old.id, alice)
    await ts.resolve(old.id, alice)
    h.at(MONDAY, "09:00")
    a = await h.open(11)
    await ts.transfer(a.id, bob, "social", "theirs")
    h.at(MONDAY, "09:02")
    await ts.claim(a.id, bob)
    await ts.resolve(a.id, bob)
    b = await h.open(12)
    h.at(MONDAY, "09:03")
    await ts.resolve(b.id, alice)  # closed without a reply or a claim
    c = await h.open(13)
    await ts.resolve(c.id, alice)
    h.at(MONDAY, "09:10")
    await h.open(11, "-again")  # reopens A: it waits again in social, where it was closed
    await h.open(10, "-again")  # the old thread reopens: still not in the report
    h.at(MONDAY, "09:30")
    await ts.claim(a.id, alice)
    # B, long closed, marked as spam (as an older version's log may hold it)
    spam = AuditEvent(
        id="late-spam", thread_id=b.id, kind=EventKind.SPAM, actor=alice, at=h.clock.at
    )
    await store.append_event(spam, notify=False)
    h.at(MONDAY, "10:00")
    await ts.claim(old.id, bob)


async def test_a_reopen_long_after_the_close_is_looked_up(store: Store) -> None:
    await write_history(store)
    remembered = await report(store)
    forgotten = await report(store, page=1, recent=1)
    assert forgotten == remembered
    departments = {r["name"]: r for r in forgotten if r["scope"] == "department"}
    social = departments["social"]
    # A waited 2 min, then (reopened at 09:10) 20 min more, both in social (30 min target).
    assert (social["claimed"], social["claim_timed"], social["claim_within_target"]) == (2, 2, 2)
    assert (social["claim_median_business_s"], social["claim_p90_business_s"]) == (120, 1200)
    assert social["resolved"] == 1
    support = departments["support"]
    assert (support["received"], support["resolved"], support["spam"]) == (3, 2, 1)
    assert support["claimed"] == 0  # the old thread's claim is not followed
    people = {r["name"]: r for r in forgotten if r["scope"] == "person"}
    assert (people["alice"]["claimed"], people["alice"]["spam"]) == (1, 1)
    assert people["bob"]["claimed"] == 1


async def test_the_hand_made_history_needs_no_memory_of_closed_threads(store: Store) -> None:
    await hand_made(store)
    assert await report(store, page=1, recent=1) == await report(store, page=500)
