"""Compare-and-set that answers who won: one atomic step, nothing written when it loses."""

from __future__ import annotations

from bot.domain import ThreadState
from bot.store import Store
from tests.stores.builders import event, ingest, mention, person

alice, bob = person("alice"), person("bob")


async def test_a_lost_race_hands_back_the_winner_and_writes_nothing(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    mine = t.evolve(owner=alice, state=ThreadState.CLAIMED)
    won = await store.compare_and_set(mine, t.version, event(t.id), active=alice.key)
    assert won.stored and won.current == mine
    assert await store.get_active(alice.key) == t.id
    events, outbox = len(await store.events(t.id)), await store.outbox_size()
    theirs = t.evolve(owner=bob, state=ThreadState.CLAIMED)
    lost = await store.compare_and_set(theirs, t.version, event(t.id), active=bob.key)
    assert not lost.stored and lost.current == mine
    assert lost.current is not None and lost.current.owner == alice
    assert await store.get_active(bob.key) is None
    assert len(await store.events(t.id)) == events and await store.outbox_size() == outbox
    assert await store.waiting_threads("support") == []
    assert [h.id for h in await store.held_threads(alice.key)] == [t.id]
    assert await store.held_threads(bob.key) == []


async def test_a_follow_up_moves_the_version_and_the_loser_sees_it(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    await ingest(store, mention(2, conversation="conv-1"))
    lost = await store.compare_and_set(t.evolve(owner=alice), t.version, event(t.id))
    assert not lost.stored and lost.current is not None
    assert lost.current.version == t.version + 1 and lost.current.mention_count == 2
    assert (
        await store.compare_and_set(
            lost.current.evolve(owner=alice), lost.current.version, event(t.id)
        )
    ).stored


async def test_a_missing_thread_loses_with_nothing_to_show(store: Store) -> None:
    t = (await ingest(store, mention(1))).thread
    ghost = t.model_copy(update={"id": "th-missing"}).evolve()
    outcome = await store.compare_and_set(ghost, t.version, event("th-missing"))
    assert not outcome.stored and outcome.current is None
    assert await store.events("th-missing") == []
