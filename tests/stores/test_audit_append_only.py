"""The audit log cannot be rewritten: the SQLite file refuses UPDATE and DELETE of events
(whoever connects); on both stores nothing the store does — a change, an event id written
again, retention archiving the thread — removes or alters an event already written."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import AuditEvent, EventKind, ThreadState
from bot.errors import StoreError
from bot.store import Store

from .builders import event, ingest, mention, person
from .conftest import Backend, FakeClock


async def test_sqlite_refuses_to_change_or_delete_an_event(backend: Backend) -> None:
    if backend.path is None:
        pytest.skip("SQLite triggers")
    store = backend.open()
    thread = (await ingest(store, mention(1))).thread
    await store.append_event(event(thread.id, actor=person("alice")))
    before = await store.events(thread.id)
    await store.close()
    with closing(sqlite3.connect(backend.path)) as conn:
        for sql in ("UPDATE events SET doc = '{}'", "DELETE FROM events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        conn.execute("INSERT INTO events (id, thread_id, at_us, doc) VALUES ('x', 't', 1, '{}')")
        conn.rollback()
    again = backend.open()
    assert await again.events(thread.id) == before
    await again.close()


async def test_every_event_stays_as_written_through_a_threads_whole_life(
    backend: Backend, clock: FakeClock
) -> None:
    """Claim, a replayed event id, resolve, archive: after each step every event written so far
    is still there, unchanged, in the thread's history and in the audit log by time."""
    store = backend.open(clock=clock)
    t = (await ingest(store, mention(1))).thread
    written: list[AuditEvent] = []

    async def unchanged() -> None:
        history = await store.events(t.id)
        for e in written:
            assert e in history, e
        everything = [e async for e in audit_log(store)]
        assert all(e in everything for e in written)

    written += await store.events(t.id)
    claim = event(t.id, EventKind.CLAIMED, actor=person("alice"))
    claimed = t.evolve(owner=person("alice"), state=ThreadState.CLAIMED)
    assert await store.commit(claimed, t.version, claim)
    written.append(claim)
    await unchanged()
    rewritten = claim.model_copy(update={"data": {"forged": True}})
    with contextlib.suppress(StoreError):  # the same id again: refused or ignored, never kept
        await store.append_event(rewritten)
    await unchanged()
    at = datetime.fromtimestamp(clock.now, UTC)
    done = claimed.evolve(state=ThreadState.RESOLVED, resolved_at=at, updated_at=at)
    resolved = event(t.id, EventKind.RESOLVED, actor=person("alice"), at=at)
    assert await store.commit(done, claimed.version, resolved)
    written.append(resolved)
    clock.advance(120 * 86_400)
    assert await store.archive_closed(at + timedelta(days=1), 10) == 1
    await unchanged()
    await store.close()


async def audit_log(store: Store) -> AsyncIterator[AuditEvent]:
    for e in await store.audit(None):
        yield e
