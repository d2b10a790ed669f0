"""``assign``: an ownership change the service spells out, applied without a read first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.domain import Person, ThreadState
from bot.service import CLAIM_MOVES
from bot.storage import Assignment
from bot.store import Store
from tests.stores.builders import event, ingest, mention, person

alice, bob = person("alice"), person("bob")
AT = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)


def claim_by(who: Person, at: datetime = AT) -> Assignment:
    return Assignment(owner=who, moves=CLAIM_MOVES, updated_at=at)


async def test_a_thread_nobody_holds_is_assigned_with_its_event_and_indexes(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    outbox = await store.outbox_size()
    won = await store.assign(t.id, claim_by(alice), event(t.id), active=alice.key)
    assert won.stored and won.current is not None
    expected = t.model_copy(
        update={
            "owner": alice,
            "state": ThreadState.CLAIMED,
            "version": t.version + 1,
            "updated_at": AT,
        }
    )
    assert won.current == expected
    assert await store.get_thread(t.id) == expected
    assert await store.get_thread_by_number(t.number) == expected
    assert len(await store.events(t.id)) == 2 and await store.outbox_size() == outbox + 1
    assert await store.get_active(alice.key) == t.id
    assert await store.waiting_threads("support") == []
    assert await store.waiting_threads() == []
    assert await store.held_threads(alice.key) == [expected]
    claimed = await store.list_threads(states=frozenset({ThreadState.CLAIMED}))
    assert claimed == [expected]
    assert await store.list_threads(states=frozenset({ThreadState.NEW})) == []


async def test_a_held_thread_is_not_assigned_and_the_holder_comes_back(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    first = await store.assign(t.id, claim_by(alice), event(t.id))
    events, outbox = len(await store.events(t.id)), await store.outbox_size()
    lost = await store.assign(t.id, claim_by(bob), event(t.id), active=bob.key)
    assert not lost.stored and lost.current == first.current
    assert lost.current is not None and lost.current.owner == alice
    assert len(await store.events(t.id)) == events and await store.outbox_size() == outbox
    assert await store.get_active(bob.key) is None
    assert await store.held_threads(bob.key) == []


async def test_a_replied_thread_stays_replied_and_a_resolved_one_is_refused(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    replied = t.evolve(state=ThreadState.REPLIED)
    assert await store.commit(replied, t.version, event(t.id))
    outcome = await store.assign(t.id, claim_by(bob), event(t.id))
    assert outcome.stored and outcome.current is not None
    assert (outcome.current.state, outcome.current.owner) == (ThreadState.REPLIED, bob)
    u = (await ingest(store, mention(2))).thread
    resolved = u.evolve(state=ThreadState.RESOLVED)
    assert await store.commit(resolved, u.version, event(u.id))
    refused = await store.assign(u.id, claim_by(alice), event(u.id))
    assert not refused.stored and refused.current == resolved


async def test_a_full_commit_after_an_assign_sees_and_keeps_the_assigned_fields(
    store: Store,
) -> None:
    t = (await ingest(store, mention(1))).thread
    claimed = (await store.assign(t.id, claim_by(alice), event(t.id))).current
    assert claimed is not None
    stale = await store.compare_and_set(t.evolve(owner=bob), t.version, event(t.id))
    assert not stale.stored and stale.current == claimed
    moved = claimed.evolve(department="billing", owner=None, state=ThreadState.TRANSFERRED)
    assert await store.commit(moved, claimed.version, event(t.id))
    assert await store.get_thread(t.id) == moved
    assert await store.waiting_threads("billing") == [moved]
    assert await store.held_threads(alice.key) == []
    again = await store.assign(t.id, claim_by(bob, AT.replace(minute=45)), event(t.id))
    assert again.stored and again.current is not None
    assert again.current.owner == bob and again.current.department == "billing"
    assert await store.get_thread(t.id) == again.current
    follow_up = await ingest(store, mention(2, conversation="conv-1"))
    assert follow_up.thread.owner == bob and follow_up.thread.mention_count == 2


async def test_a_missing_thread_is_not_assigned(store: Store) -> None:
    outcome = await store.assign("th-missing", claim_by(alice), event("th-missing"))
    assert not outcome.stored and outcome.current is None
    assert await store.events("th-missing") == []


async def test_of_many_concurrent_assigns_exactly_one_wins(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    people = [person(f"p{n}") for n in range(20)]
    outcomes = await asyncio.gather(*(store.assign(t.id, claim_by(p), event(t.id)) for p in people))
    winners = [o for o in outcomes if o.stored]
    assert len(winners) == 1
    owner = winners[0].current.owner if winners[0].current else None
    assert all(o.current is not None and o.current.owner == owner for o in outcomes)
    assert len(await store.events(t.id)) == 2
