"""Contract: active threads, card refs, the outbox, cursors, leases and own posts."""

from __future__ import annotations

from bot.domain import CardRef, EventKind
from bot.store import Store

from .builders import event, ingest, mention, person
from .conftest import FakeClock

LEASE = 30.0


async def test_active_thread_per_person(store: Store) -> None:
    alice, bob = person("alice").key, person("bob").key
    assert await store.get_active(alice) is None
    await store.set_active(alice, "th-1")
    await store.set_active(bob, "th-2")
    await store.set_active(alice, "th-3")
    assert (await store.get_active(alice), await store.get_active(bob)) == ("th-3", "th-2")


async def test_card_refs_per_thread_and_key(store: Store) -> None:
    first = CardRef(
        surface="slack", channel="C1", message_id="1.1", department="support", placement=0
    )
    moved = first.model_copy(update={"channel": "C2", "message_id": "2.2", "placement": 1})
    teams = CardRef(
        surface="teams", channel="19:x", message_id="m1", department="support", placement=0
    )
    assert await store.card_refs("th-1") == {}
    await store.set_card_ref("th-1", "slack:0", first)
    await store.set_card_ref("th-1", "teams:0", teams)
    await store.set_card_ref("th-2", "slack:0", moved)
    await store.set_card_ref("th-1", "slack:0", moved)
    assert await store.card_refs("th-1") == {"slack:0": moved, "teams:0": teams}
    assert await store.card_refs("th-2") == {"slack:0": moved}


async def test_outbox_claim_ack_and_lease_expiry(store: Store, clock: FakeClock) -> None:
    assert await store.outbox_claim(LEASE) is None
    a = (await ingest(store, mention(1))).thread
    b = (await ingest(store, mention(2))).thread
    assert await store.outbox_size() == 2

    first = await store.outbox_claim(LEASE)
    second = await store.outbox_claim(LEASE)
    assert first is not None and second is not None
    assert (first.thread_id, second.thread_id) == (a.id, b.id)
    assert (await store.get_event(first.event_id)) == (await store.events(a.id))[0]
    assert await store.outbox_claim(LEASE) is None, "claimed items stay hidden during the lease"

    await store.outbox_ack(first.id)
    assert await store.outbox_size() == 1
    clock.advance(LEASE - 1)
    assert await store.outbox_claim(LEASE) is None, "still within the lease"
    clock.advance(1)

    again = await store.outbox_claim(LEASE)
    assert again == second, "an item not acked in time comes back"
    await store.outbox_ack(again.id)
    await store.outbox_ack(again.id)
    await store.outbox_ack("no-such-item")
    assert await store.outbox_size() == 0
    clock.advance(LEASE + 1)
    assert await store.outbox_claim(LEASE) is None


async def test_outbox_items_come_oldest_first(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    notes = [event(thread.id, EventKind.NOTE, n=str(n)) for n in range(5)]
    for note in notes:
        await store.append_event(note)
    claimed = [await store.outbox_claim(30) for _ in range(6)]
    assert [item.event_id if item else None for item in claimed] == [
        (await store.events(thread.id))[0].id,
        *(note.id for note in notes),
    ]


async def test_cursors_per_source(store: Store) -> None:
    assert await store.get_cursor("mastodon-main") is None
    await store.set_cursor("mastodon-main", "110")
    await store.set_cursor("bluesky", "cursor:abc")
    await store.set_cursor("mastodon-main", "111")
    assert await store.get_cursor("mastodon-main") == "111"
    await store.set_cursor("mastodon-main", None)
    assert await store.get_cursor("mastodon-main") is None
    assert await store.get_cursor("bluesky") == "cursor:abc"


async def test_lease_has_one_holder_and_renews(store: Store) -> None:
    assert await store.acquire_lease("poll:mastodon", "replica-a", 5)
    assert not await store.acquire_lease("poll:mastodon", "replica-b", 5)
    assert await store.acquire_lease("poll:mastodon", "replica-a", 5)
    assert await store.acquire_lease("poll:bluesky", "replica-b", 5)

    await store.release_lease("poll:mastodon", "replica-b")
    assert not await store.acquire_lease("poll:mastodon", "replica-b", 5)
    await store.release_lease("poll:mastodon", "replica-a")
    assert await store.acquire_lease("poll:mastodon", "replica-b", 5)
    assert not await store.acquire_lease("poll:mastodon", "replica-a", 5)


async def test_lease_expires_unless_renewed(store: Store, clock: FakeClock) -> None:
    assert await store.acquire_lease("poll", "replica-a", 40)
    clock.advance(25)
    assert await store.acquire_lease("poll", "replica-a", 40)
    clock.advance(25)
    assert not await store.acquire_lease("poll", "replica-b", 40), "renewal extended it"
    clock.advance(14)
    assert not await store.acquire_lease("poll", "replica-b", 40)
    clock.advance(1)
    assert await store.acquire_lease("poll", "replica-b", 40), "a dead holder's lease expires"
    assert not await store.acquire_lease("poll", "replica-a", 40)


async def test_released_or_lapsed_lease_is_free(store: Store, clock: FakeClock) -> None:
    assert await store.acquire_lease("poll", "replica-a", 5)
    await store.release_lease("poll", "replica-a")
    assert await store.acquire_lease("poll", "replica-b", 5)
    clock.advance(3600)
    await store.release_lease("poll", "replica-b")
    assert await store.acquire_lease("poll", "replica-a", 5)


async def test_own_posts_are_remembered(store: Store) -> None:
    assert not await store.is_own_post("mastodon-main", "111")
    await store.mark_own_post("mastodon-main", "111")
    await store.mark_own_post("mastodon-main", "111")
    assert await store.is_own_post("mastodon-main", "111")
    assert not await store.is_own_post("mastodon-eu", "111")
    assert not await store.is_own_post("mastodon-main", "112")
