"""Contract: threads, mentions, commits and the audit log, for every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import EventKind, Mention, ThreadState
from bot.store import IngestStatus, Store

from .builders import event, ingest, mention, new_thread, person


async def test_first_mention_opens_thread_t1001(store: Store) -> None:
    m = mention(1)
    fresh = new_thread(m)
    opened = event(fresh.id, EventKind.OPENED)

    outcome = await store.ingest_mention(m, fresh, opened)

    assert outcome.status is IngestStatus.CREATED
    thread = outcome.thread
    assert (thread.id, thread.number, thread.short_id) == (fresh.id, 1001, "T-1001")
    assert thread == fresh.model_copy(update={"number": 1001})
    assert await store.get_thread(fresh.id) == thread
    assert await store.get_thread_by_number(1001) == thread
    assert await store.mentions(thread.id) == [m]
    assert await store.get_mention(m.key) == m
    assert await store.events(thread.id) == [opened]
    assert await store.get_event(opened.id) == opened
    assert await store.outbox_size() == 1


async def test_threads_are_numbered_in_order(store: Store) -> None:
    numbers = [(await ingest(store, mention(n))).thread.number for n in range(3)]
    assert numbers == [1001, 1002, 1003]
    assert await store.get_thread_by_number(1004) is None
    assert await store.get_thread("th-unknown") is None


async def test_same_mention_twice_is_a_duplicate(store: Store) -> None:
    m = mention(1)
    first = await ingest(store, m)
    again = new_thread(m)
    second_event = event(again.id, EventKind.OPENED)

    outcome = await store.ingest_mention(m, again, second_event)

    assert outcome.status is IngestStatus.DUPLICATE
    assert outcome.thread == first.thread
    assert await store.get_thread(first.thread.id) == first.thread
    assert await store.get_thread(again.id) is None
    assert await store.mentions(first.thread.id) == [m]
    assert len(await store.events(first.thread.id)) == 1
    assert await store.get_event(second_event.id) is None
    assert await store.outbox_size() == 1


async def test_follow_up_attaches_to_its_conversation(store: Store) -> None:
    first, follow_up = mention(1, conversation="root"), mention(2, conversation="root")
    opened = await ingest(store, first)
    stray = new_thread(follow_up)
    note = event(stray.id, EventKind.OPENED, reason="follow-up")

    outcome = await store.ingest_mention(follow_up, stray, note)

    assert outcome.status is IngestStatus.ATTACHED
    thread = outcome.thread
    assert thread.id == opened.thread.id
    assert (thread.number, thread.mention_count, thread.version) == (1001, 2, 2)
    assert await store.get_thread(thread.id) == thread
    assert await store.get_thread(stray.id) is None
    assert await store.mentions(thread.id) == [first, follow_up]
    events = await store.events(thread.id)
    assert [e.kind for e in events] == [EventKind.OPENED, EventKind.ATTACHED]
    assert events[1] == note.model_copy(update={"thread_id": thread.id, "kind": "attached"})
    assert await store.outbox_size() == 2
    assert (await ingest(store, mention(3))).thread.number == 1002


async def test_conversation_is_per_source(store: Store) -> None:
    a = await ingest(store, mention(1, conversation="root", source="mastodon-main"))
    b = await ingest(store, mention(2, conversation="root", source="mastodon-eu"))
    assert b.status is IngestStatus.CREATED
    assert a.thread.id != b.thread.id


async def test_hostile_ids_and_text_round_trip(store: Store) -> None:
    m = Mention.model_validate(
        {
            **mention(1).model_dump(),
            "external_id": 'x:*?[a-z]\x1f"\\ \u202e',
            "conversation_key": "thread:{id}:mentions*",
            "text": '<script>alert("hi")</script> \u0000 😀 ' + "long " * 2000,
        }
    )
    outcome = await ingest(store, m)
    assert await store.get_mention(m.key) == m
    assert await store.mentions(outcome.thread.id) == [m]
    assert (await ingest(store, m)).status is IngestStatus.DUPLICATE


async def test_commit_is_compare_and_set(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    alice, bob = person("alice"), person("bob")
    claimed = thread.evolve(owner=alice, state=ThreadState.CLAIMED)
    claim = event(thread.id, EventKind.CLAIMED, actor=alice)

    assert await store.commit(claimed, thread.version, claim)
    assert await store.get_thread(thread.id) == claimed

    stale = thread.evolve(owner=bob, state=ThreadState.CLAIMED)
    lost = event(thread.id, EventKind.CLAIMED, actor=bob)
    assert not await store.commit(stale, thread.version, lost)

    assert await store.get_thread(thread.id) == claimed
    events = await store.events(thread.id)
    assert [e.kind for e in events] == [EventKind.OPENED, EventKind.CLAIMED]
    assert events[1] == claim
    assert await store.get_event(lost.id) is None
    assert lost.id not in {e.id for e in await store.audit()}
    assert await store.outbox_size() == 2


async def test_commit_loses_to_an_attached_follow_up(store: Store) -> None:
    thread = (await ingest(store, mention(1, conversation="root"))).thread
    await ingest(store, mention(2, conversation="root"))
    resolved = thread.evolve(state=ThreadState.RESOLVED)
    assert not await store.commit(resolved, thread.version, event(thread.id))
    stored = await store.get_thread(thread.id)
    assert stored is not None
    assert (stored.state, stored.mention_count) == (ThreadState.NEW, 2)


async def test_commit_without_notify_queues_nothing(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    quiet = event(thread.id, EventKind.SPAM)
    assert await store.commit(thread.evolve(spam=True), thread.version, quiet, notify=False)
    assert [e.id for e in await store.events(thread.id)][1:] == [quiet.id]
    assert await store.outbox_size() == 1


async def test_commit_of_unknown_thread_writes_nothing(store: Store) -> None:
    ghost = new_thread(mention(1)).model_copy(update={"number": 1001})
    assert not await store.commit(ghost.evolve(spam=True), ghost.version, event(ghost.id))
    assert await store.get_thread(ghost.id) is None
    assert await store.audit() == []
    assert await store.outbox_size() == 0


async def test_commit_refuses_a_version_that_does_not_move(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    with pytest.raises(ValueError, match="expected_version"):
        await store.commit(thread, thread.version, event(thread.id))


async def test_append_event_adds_a_note(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    note = event(thread.id, EventKind.NOTE, actor=person("carol"), text="called them back")
    silent = event(thread.id, EventKind.NOTE, text="internal only")
    await store.append_event(note)
    await store.append_event(silent, notify=False)
    assert (await store.events(thread.id))[1:] == [note, silent]
    assert await store.get_thread(thread.id) == thread
    assert await store.outbox_size() == 2


async def test_audit_is_oldest_first_and_filters_on_since(store: Store) -> None:
    a = (await ingest(store, mention(1))).thread
    b = (await ingest(store, mention(2))).thread
    base = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    late = event(a.id, at=base + timedelta(seconds=2))
    early = event(b.id, at=base)
    middle = event(a.id, at=base + timedelta(microseconds=1))
    for e in (late, early, middle):
        await store.append_event(e)

    everything = await store.audit()
    assert everything[-3:] == [early, middle, late]
    assert len(everything) == 5
    assert await store.audit(since=base) == [early, middle, late]
    assert await store.audit(since=base + timedelta(microseconds=1)) == [middle, late]
    assert await store.audit(since=base + timedelta(seconds=3)) == []
    assert [e.id for e in await store.events(a.id)][1:] == [late.id, middle.id]


async def test_list_threads_filters_and_orders(store: Store) -> None:
    alice, bob = person("alice"), person("bob")
    t1 = (await ingest(store, mention(1), "support")).thread
    t2 = (await ingest(store, mention(2), "billing")).thread
    t3 = (await ingest(store, mention(3), "support")).thread
    t4 = (await ingest(store, mention(4), "support")).thread
    changes = [
        (t1, {"owner": alice, "state": ThreadState.CLAIMED}),
        (t2, {"owner": alice, "state": ThreadState.REPLIED}),
        (t4, {"owner": bob, "state": ThreadState.RESOLVED}),
    ]
    for t, change in changes:
        assert await store.commit(t.evolve(**change), t.version, event(t.id))

    async def numbers(
        department: str | None = None,
        states: frozenset[ThreadState] | None = None,
        owner_key: str | None = None,
    ) -> list[int]:
        found = await store.list_threads(department=department, states=states, owner_key=owner_key)
        return [t.number for t in found]

    open_states = frozenset({ThreadState.NEW, ThreadState.CLAIMED, ThreadState.REPLIED})
    assert await numbers() == [1001, 1002, 1003, 1004]
    assert await numbers(department="support") == [1001, 1003, 1004]
    assert await numbers(states=frozenset({ThreadState.NEW})) == [1003]
    assert await numbers(states=open_states) == [1001, 1002, 1003]
    assert await numbers(owner_key=alice.key) == [1001, 1002]
    assert await numbers(department="support", states=open_states, owner_key=alice.key) == [1001]
    assert await numbers(states=frozenset()) == []
    assert await numbers(department="legal") == []

    t3_now = await store.get_thread(t3.id)
    assert t3_now is not None
    moved = t3_now.evolve(state=ThreadState.TRANSFERRED, department="billing")
    assert await store.commit(moved, t3_now.version, event(t3.id))
    assert await numbers(states=frozenset({ThreadState.NEW})) == []
    assert await numbers(states=frozenset({ThreadState.TRANSFERRED})) == [1003]
    assert await numbers(department="billing") == [1002, 1003]
    listed = await store.list_threads(states=frozenset({ThreadState.TRANSFERRED}))
    assert listed == [moved]
