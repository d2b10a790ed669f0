"""``switchboard audit``: the audit log streamed out, page by page (memory flat), filtered.

``--since`` / ``--until`` bound the time (``[since, until)``), ``--thread T-1042`` keeps one
thread's events, ``--person`` the events a person made (their id, name or ``surface:id``),
``--format jsonl`` (default: one event per line, as stored) or ``csv`` (one row per event: time,
event id, thread, kind, actor, surface, and the event's data as JSON)."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TextIO

from bot.domain import AuditEvent
from bot.storage import ThreadRepository

PAGE = 1000
CSV_FIELDS = ("at", "id", "thread_id", "kind", "actor", "surface", "data")


async def events(
    store: ThreadRepository,
    since: datetime | None,
    until: datetime | None,
    *,
    thread_id: str | None = None,
    person: str | None = None,
) -> AsyncIterator[AuditEvent]:
    """The audit log's events in order, one page in memory at a time."""
    if thread_id is not None:  # one thread: its own index
        for event in await store.events(thread_id):
            if _within(event, since, until) and _by(event, person):
                yield event
        return
    after = ""
    while True:
        page = await store.audit_page(since, until, after=after, limit=PAGE)
        for event in page.events:
            if _by(event, person):
                yield event
        if not page.cursor:
            return
        after = page.cursor


def _within(event: AuditEvent, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or event.at >= since) and (until is None or event.at < until)


def _by(event: AuditEvent, person: str | None) -> bool:
    if person is None:
        return True
    actor = event.actor
    if actor is None:
        return False
    wanted = person.strip().lstrip("@").lower()
    return wanted in {actor.key.lower(), actor.id.lower(), (actor.name or "").lower()}


async def write(stream: AsyncIterator[AuditEvent], out: TextIO, fmt: str) -> int:
    """Write every event of ``stream`` to ``out``; how many were written."""
    written = 0
    rows = csv.writer(out) if fmt == "csv" else None
    if rows is not None:
        rows.writerow(CSV_FIELDS)
    async for event in stream:
        if rows is None:
            out.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False) + "\n")
        else:
            actor = event.actor.key if event.actor else ""
            data = json.dumps(event.data, ensure_ascii=False, sort_keys=True)
            row = (event.at.isoformat(), event.id, event.thread_id, event.kind.value, actor)
            rows.writerow((*row, event.surface, data))
        written += 1
    return written
