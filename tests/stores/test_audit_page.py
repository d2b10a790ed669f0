"""The audit log read by time, in pages (``ThreadRepository.audit_page``), on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import AuditEvent, EventKind, Person
from bot.storage import AuditRow
from bot.store import Store
from tests.stores.builders import event, ingest, mention

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def read_all(
    store: Store, start: datetime | None, end: datetime | None, limit: int
) -> tuple[list[str], int]:
    ids: list[str] = []
    pages, cursor = 0, ""
    while True:
        page = await store.audit_page(start, end, after=cursor, limit=limit)
        pages += 1
        assert len(page.events) <= limit
        ids += [e.id for e in page.events]
        if not page.cursor:
            return ids, pages
        cursor = page.cursor


async def test_pages_cover_the_range_in_time_order_with_ties_in_append_order(
    store: Store,
) -> None:
    thread = (await ingest(store, mention(1))).thread
    opened = (await store.audit())[0]
    # Appended out of time order; five share one microsecond (more than a page).
    minutes = [30, 10, 20, 20, 20, 20, 20, 50, 40, 70]
    appended = []
    for n, m in enumerate(minutes):
        e = event(thread.id, EventKind.NOTE, at=T0 + timedelta(minutes=m), n=str(n))
        await store.append_event(e, notify=False)
        appended.append(e)
    in_order = sorted(appended, key=lambda e: (e.at, appended.index(e)))
    for limit in (1, 2, 3, 4, 100):
        ids, _ = await read_all(store, T0, T0 + timedelta(minutes=60), limit)
        assert ids == [e.id for e in in_order if e.at < T0 + timedelta(minutes=60)], limit
    ids, _ = await read_all(store, T0 + timedelta(minutes=20), T0 + timedelta(minutes=40), 2)
    assert ids == [e.id for e in in_order if 20 <= (e.at - T0).total_seconds() / 60 < 40]
    everything, _ = await read_all(store, None, None, 3)
    assert set(everything) == {opened.id, *(e.id for e in appended)}
    assert len(everything) == len(appended) + 1


async def test_an_empty_range_is_one_empty_page(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    await store.append_event(event(thread.id, at=T0), notify=False)
    page = await store.audit_page(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert page.events == [] and page.cursor == ""


async def test_the_end_is_exclusive_and_the_start_inclusive(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    at_start = event(thread.id, at=T0)
    at_end = event(thread.id, at=T0 + timedelta(hours=1))
    for e in (at_start, at_end):
        await store.append_event(e, notify=False)
    page = await store.audit_page(T0, T0 + timedelta(hours=1))
    assert [e.id for e in page.events] == [at_start.id]


def as_row(e: AuditEvent) -> AuditRow:
    """What ``audit_rows`` must hand back for ``e``, written out from the model."""
    d = e.data
    return AuditRow(
        kind=e.kind.value,
        thread_id=e.thread_id,
        at=e.at.timestamp(),
        actor=e.actor.key if e.actor else "",
        label=e.actor.label if e.actor else "",
        department=str(d.get("department") or ""),
        to=str(d.get("to") or ""),
        to_person=bool(d.get("to_person")),
        rollover=bool(d.get("rollover")),
    )


async def test_rows_are_the_same_events_in_the_same_pages_decoded_light(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    ann = Person(surface="slack", id="U1", name="ann")
    nameless = Person(surface="teams", id="29:x")
    written = [
        event(thread.id, EventKind.OPENED, at=T0, department="billing"),
        event(thread.id, EventKind.CLAIMED, actor=ann, at=T0 + timedelta(seconds=1.5)),
        event(thread.id, EventKind.TRANSFERRED, actor=ann, at=T0, to="social", to_person="x:y"),
        event(thread.id, EventKind.TRANSFERRED, at=T0 + timedelta(minutes=3), to="social"),
        event(thread.id, EventKind.NOTE, actor=nameless, at=T0 + timedelta(minutes=4), text="hi"),
    ]
    rolled = AuditEvent(
        id="ev-rolled",
        thread_id=thread.id,
        kind=EventKind.TRANSFERRED,
        at=T0 + timedelta(minutes=5, microseconds=7),
        data={"to": "social", "rollover": True},
    )
    for e in [*written, rolled]:
        await store.append_event(e, notify=False)
    end = T0 + timedelta(hours=1)
    for limit in (1, 2, 4, 100):
        cursor, pages = "", 0
        while True:
            page = await store.audit_page(T0, end, after=cursor, limit=limit)
            rows = await store.audit_rows(T0, end, after=cursor, limit=limit)
            assert rows.rows == [as_row(e) for e in page.events], limit
            assert rows.cursor == page.cursor
            pages += 1
            if not page.cursor:
                break
            cursor = page.cursor
        assert pages == 6 // limit + 1, limit  # a full last page is followed by an empty one
    found = (await store.audit_rows(T0, end)).rows
    kinds = ["opened", "transferred", "claimed", "transferred", "note", "transferred"]
    assert [r.kind for r in found] == kinds
    assert found[0].department == "billing" and found[1].to_person and not found[3].to_person
    assert (found[2].actor, found[2].label) == ("slack:U1", "ann")
    assert found[2].at == T0.timestamp() + 1.5
    assert (found[4].actor, found[4].label) == ("teams:29:x", "29:x")
    assert found[5].rollover and not found[3].rollover
    assert found[5].at == (T0 + timedelta(minutes=5, microseconds=7)).timestamp()
