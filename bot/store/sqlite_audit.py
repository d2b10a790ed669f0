"""The audit log read by time on SQLite: pages of ``events`` through ``events_by_time``
(``at_us, seq``), an index every schema has had; as full events or as light rows (their
fields picked out of the documents by ``json_extract``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import AuditEvent
from bot.storage import AuditPage, AuditRow, AuditRows
from bot.store.codec import micros
from bot.store.sqlite_io import Conn, SQLiteIO

PAGE = (
    "SELECT at_us, seq, doc FROM events INDEXED BY events_by_time"
    " WHERE (at_us, seq) > (?, ?) AND at_us < ? ORDER BY at_us, seq LIMIT ?"
)
ROWS = (
    "SELECT at_us, seq, json_extract(doc, '$.kind'), thread_id,"
    " json_extract(doc, '$.actor.surface'), json_extract(doc, '$.actor.id'),"
    " json_extract(doc, '$.actor.name'), json_extract(doc, '$.data.department'),"
    " json_extract(doc, '$.data.to'), json_extract(doc, '$.data.to_person'),"
    " json_extract(doc, '$.data.rollover')"
    " FROM events INDEXED BY events_by_time"
    " WHERE (at_us, seq) > (?, ?) AND at_us < ? ORDER BY at_us, seq LIMIT ?"
)
"""The page of ``PAGE`` with only the fields of an ``AuditRow``, picked out by SQLite (in the
store's thread, not the caller's)."""
NEVER = 2**62
"""Microseconds past any event's time (an open end)."""


class SQLiteAudit(SQLiteIO):
    async def _page(
        self, sql: str, start: datetime | None, end: datetime | None, after: str, limit: int
    ) -> tuple[list[tuple[Any, ...]], str]:
        limit = max(1, limit)
        if after:
            at, _, seq = after.partition(":")
            low = (int(at), int(seq))
        else:
            low = (-NEVER if start is None else micros(start), -1)
        high = NEVER if end is None else micros(end)

        def run(c: Conn) -> list[tuple[Any, ...]]:
            return c.execute(sql, (*low, high, limit)).fetchall()

        rows = await self._run(run, write=False)
        cursor = f"{rows[-1][0]}:{rows[-1][1]}" if len(rows) >= limit else ""
        return rows, cursor

    async def audit_page(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditPage:
        rows, cursor = await self._page(PAGE, start, end, after, limit)
        return AuditPage([AuditEvent.model_validate_json(doc) for _, _, doc in rows], cursor)

    async def audit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditRows:
        rows, cursor = await self._page(ROWS, start, end, after, limit)
        return AuditRows([_row(*r) for r in rows], cursor)


def _row(
    at_us: int,
    _seq: int,
    kind: str,
    thread_id: str,
    surface: str | None,
    actor_id: str | None,
    name: str | None,
    department: object,
    to: object,
    to_person: object,
    rollover: object,
) -> AuditRow:
    key = label = ""
    if actor_id is not None:
        key, label = f"{surface}:{actor_id}", name or actor_id
    return AuditRow(
        kind,
        thread_id,
        at_us / 1e6,
        key,
        label,
        str(department or ""),
        str(to or ""),
        bool(to_person),
        bool(rollover),
    )
