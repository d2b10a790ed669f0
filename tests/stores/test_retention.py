"""Contract: closed threads are archived after the retention period, for every store.

An archived thread leaves every thread structure (its mentions, conversation mapping and card
refs with it) and a tombstone stays; its audit events are kept. Threads are found through an
index of closed threads by closing time, which reopening leaves, and data written before that
index existed (schema 3) is indexed when a store opens.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import CardRef, EventKind, Thread, ThreadState
from bot.storage import ArchivedThread
from bot.store import IngestStatus, Store, lua
from bot.store.redis import RedisStore
from tests.stores.builders import event, ingest, mention, person
from tests.stores.conftest import Backend, FakeClock

DAY = timedelta(days=1)
alice = person("alice")


def now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC)


async def resolve(store: Store, t: Thread, at: datetime, *, spam: bool = False) -> Thread:
    closed = t.evolve(state=ThreadState.RESOLVED, resolved_at=at, spam=spam, updated_at=at)
    kind = EventKind.SPAM if spam else EventKind.RESOLVED
    assert await store.commit(closed, t.version, event(t.id, kind, actor=alice, at=at))
    return closed


async def opened(store: Store, n: int) -> Thread:
    return (await ingest(store, mention(n))).thread


async def test_a_thread_closed_before_the_cut_is_archived_and_its_events_kept(
    store: Store, clock: FakeClock
) -> None:
    t = await opened(store, 1)
    keep = await opened(store, 2)
    resolved_at = now(clock)
    closed = await resolve(store, t, resolved_at)
    ref = CardRef(
        surface="slack", channel="C1", message_id="1.2", department="support", placement=0
    )
    await store.set_card_ref(t.id, "card", ref)
    history = await store.events(t.id)
    assert [e.kind for e in history] == [EventKind.OPENED, EventKind.RESOLVED]

    assert await store.archive_closed(resolved_at, 100) == 0, "closed at the cut: not before it"
    clock.advance(90 * 86_400 + 60)
    assert await store.archive_closed(resolved_at + timedelta(seconds=1), 100) == 1

    assert await store.get_thread(t.id) is None
    assert await store.get_thread_by_number(closed.number) is None
    assert [x.id for x in await store.list_threads()] == [keep.id]
    assert await store.list_threads(states=frozenset({ThreadState.RESOLVED})) == []
    assert await store.mentions(t.id) == []
    assert await store.get_mention(mention(1).key) is None
    assert await store.card_refs(t.id) == {}
    assert await store.events(t.id) == history, "the audit trail is untouched"
    assert {e.id for e in await store.audit() if e.thread_id == t.id} == {e.id for e in history}

    tombstone = ArchivedThread(
        id=t.id,
        number=closed.number,
        department="support",
        resolved_at=resolved_at,
        archived_at=now(clock),
        spam=False,
    )
    assert await store.get_archived(t.id) == tombstone
    assert await store.get_archived_by_number(closed.number) == tombstone
    assert tombstone.kept_days == 90 and tombstone.closed_on == resolved_at.date().isoformat()
    assert await store.get_archived(keep.id) is None
    assert await store.get_archived_by_number(keep.number) is None
    assert await store.get_thread(keep.id) == keep
    assert await store.archive_closed(now(clock), 100) == 0, "nothing is archived twice"


async def test_a_later_mention_in_the_conversation_opens_a_new_thread_with_a_new_number(
    store: Store, clock: FakeClock
) -> None:
    first = await opened(store, 1)
    last = await opened(store, 2)  # the highest number so far
    await resolve(store, last, now(clock))
    assert await store.archive_closed(now(clock) + DAY, 10) == 1

    follow_up = mention(3, conversation="conv-2")
    outcome = await ingest(store, follow_up)
    assert outcome.status is IngestStatus.CREATED
    assert outcome.thread.id != last.id
    assert outcome.thread.number == last.number + 1, "an archived number is never given again"
    assert await store.mentions(outcome.thread.id) == [follow_up]
    again = await ingest(store, mention(2))  # the archived mention itself, delivered again
    assert again.status is IngestStatus.ATTACHED, "not a duplicate: its record went with it"
    assert again.thread.id == outcome.thread.id
    assert await store.get_thread(first.id) == first


async def test_the_earliest_closed_go_first_at_most_limit_per_call(
    store: Store, clock: FakeClock
) -> None:
    start = now(clock)
    threads = [await opened(store, n) for n in range(5)]
    order = [3, 0, 4, 1]  # closing order; thread 2 stays open
    for hours, index in enumerate(order):
        await resolve(store, threads[index], start + timedelta(hours=hours))
    cut = start + timedelta(hours=2, minutes=30)  # threads 3, 0 and 4 are due
    assert await store.archive_closed(cut, 2) == 2
    assert [await store.get_thread(threads[i].id) is None for i in range(5)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert await store.archive_closed(cut, 2) == 1
    assert await store.get_thread(threads[4].id) is None
    assert await store.get_thread(threads[1].id) is not None
    assert await store.archive_closed(cut, 0) == 0
    assert await store.archive_closed(start + DAY, 10) == 1
    assert [t.id for t in await store.list_threads()] == [threads[2].id]


async def test_reopening_takes_a_thread_out_of_the_closed_index(
    store: Store, clock: FakeClock
) -> None:
    t = await opened(store, 1)
    closed = await resolve(store, t, now(clock))
    reopened = closed.evolve(state=ThreadState.NEW, resolved_at=None)
    assert await store.commit(reopened, closed.version, event(t.id, EventKind.REOPENED))
    assert await store.archive_closed(now(clock) + 365 * DAY, 10) == 0
    assert await store.get_thread(t.id) == reopened

    claimed = reopened.evolve(state=ThreadState.CLAIMED, owner=alice)
    assert await store.commit(claimed, reopened.version, event(t.id))
    later = now(clock) + 10 * DAY
    again = await resolve(store, claimed, later)
    assert await store.archive_closed(later, 10) == 0, "closed again: its new closing time"
    assert await store.archive_closed(later + DAY, 10) == 1
    gone = await store.get_archived(t.id)
    assert gone is not None and gone.resolved_at == again.resolved_at


async def test_spam_is_archived_and_marking_it_keeps_the_first_closing_time(
    store: Store, clock: FakeClock
) -> None:
    t = await opened(store, 1)
    start = now(clock)
    closed = await resolve(store, t, start)
    await resolve(store, closed, start + 5 * DAY, spam=True)
    assert await store.archive_closed(start + DAY, 10) == 1, "closed since the first resolve"
    gone = await store.get_archived(t.id)
    assert gone is not None and gone.spam and gone.resolved_at == start + 5 * DAY


async def test_a_follow_up_attached_to_a_closed_thread_does_not_keep_it(
    store: Store, clock: FakeClock
) -> None:
    t = await opened(store, 1)
    start = now(clock)
    await resolve(store, t, start, spam=True)
    attached = await ingest(store, mention(2, conversation="conv-1"))
    assert attached.status is IngestStatus.ATTACHED and attached.thread.id == t.id
    assert await store.archive_closed(start + DAY, 10) == 1
    assert await store.mentions(t.id) == []
    assert await store.get_mention(mention(2).key) is None


async def test_the_sqlite_archive_reads_only_the_closed_index(
    backend: Backend, store: Store
) -> None:
    if backend.path is None:
        pytest.skip("SQLite's query plan")
    await opened(store, 1)
    from bot.store.sqlite_retention import DUE

    with closing(sqlite3.connect(backend.path)) as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {DUE}", (0, 1)))
    assert "USING INDEX closed_by_time" in plan or "USING COVERING INDEX closed_by_time" in plan
    assert "TEMP B-TREE" not in plan and "SCAN t" not in plan, plan


async def as_schema_3(backend: Backend, store: Store) -> None:
    """Turn the data back into what schema 3 wrote: no closed index, no archive."""
    if isinstance(store, RedisStore):
        await store.client.delete(store.keys.closed)
        await store.client.set(store.keys.schema, 3)
        return
    await store.close()
    assert backend.path is not None
    with closing(sqlite3.connect(backend.path)) as conn:
        conn.executescript(
            "DROP TRIGGER threads_closed_new; DROP TRIGGER threads_closed;"
            " DROP TRIGGER threads_reopened; DROP TRIGGER threads_removed;"
            " DROP TABLE closed; DROP TABLE archived; PRAGMA user_version = 3;"
        )


async def test_threads_closed_before_the_upgrade_are_indexed_on_open(
    backend: Backend, clock: FakeClock
) -> None:
    old = backend.open(clock=clock)
    start = now(clock)
    threads = [await opened(old, n) for n in range(4)]
    await resolve(old, threads[0], start)
    await resolve(old, threads[1], start + 2 * DAY, spam=True)
    reopened = await resolve(old, threads[2], start)
    back = reopened.evolve(state=ThreadState.NEW, resolved_at=None)
    assert await old.commit(back, reopened.version, event(back.id, EventKind.REOPENED))
    await as_schema_3(backend, old)

    new = backend.open(clock=clock)
    assert await new.archive_closed(start + DAY, 10) == 1
    assert await new.get_thread(threads[0].id) is None
    assert await new.archive_closed(start + 3 * DAY, 10) == 1
    gone = await new.get_archived(threads[1].id)
    assert gone is not None and gone.spam and gone.resolved_at == start + 2 * DAY
    assert await new.archive_closed(start + 365 * DAY, 10) == 0
    assert {t.id for t in await new.list_threads()} == {threads[2].id, threads[3].id}
    assert new.upgrade_progress is None, "the upgrade is over"


async def test_a_thread_that_changed_since_it_was_read_is_not_archived(
    backend: Backend, store: Store, clock: FakeClock
) -> None:
    if not isinstance(store, RedisStore):
        pytest.skip("SQLite archives inside one transaction")
    t = await opened(store, 1)
    closed = await resolve(store, t, now(clock))
    k = store.keys
    script = store.client.register_script(lua.ARCHIVE)
    keys = [k.thread(t.id), k.thread_mentions(t.id), k.thread_cards(t.id)]
    keys += [k.conversation(t.conversation), k.threads, k.closed]
    keys += [k.archived, k.archived_numbers, k.waiting_all]
    args: list[str | int] = [t.id, closed.version - 1, "{}", closed.number, k.threads_in_head]
    args += [k.mention_head, k.waiting_head, k.held_head]
    assert await script(keys=keys, args=args) == -1
    assert await store.get_thread(t.id) == closed
    assert await store.get_archived(t.id) is None
    assert await store.archive_closed(now(clock) + DAY, 10) == 1
    assert await script(keys=keys, args=args) == 0, "gone: nothing to do"
    assert await store.client.zcard(k.closed) == 0
