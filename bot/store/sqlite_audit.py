"""The audit log read by time on SQLite: pages of ``events`` through ``events_by_time``
(``at_us, seq``), an index every schema has had; as full events or as light rows."""

from __future__ import annotations

from datetime import datetime

from bot.domain import AuditEvent
from bot.storage import AuditPage, AuditRows
from bot.store.audit_row import audit_row
from bot.store.codec import micros
from bot.store.sqlite_io import Conn, SQLiteIO

PAGE = (
    "SELECT at_us, seq, doc FROM events INDEXED BY events_by_time"
    " WHERE (at_us, seq) > (?, ?) AND at_us < ? ORDER BY at_us, seq LIMIT ?"
)
NEVER = 2**62
"""Microseconds past any event's time (an open end)."""


class SQLiteAudit(SQLiteIO):
    async def _page(
        self, start: datetime | None, end: datetime | None, after: str, limit: int
    ) -> tuple[list[tuple[int, int, str]], str]:
        limit = max(1, limit)
        if after:
            at, _, seq = after.partition(":")
            low = (int(at), int(seq))
        else:
            low = (-NEVER if start is None else micros(start), -1)
        high = NEVER if end is None else micros(end)

        def run(c: Conn) -> list[tuple[int, int, str]]:
            return c.execute(PAGE, (*low, high, limit)).fetchall()

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
        rows, cursor = await self._page(start, end, after, limit)
        return AuditPage([AuditEvent.model_validate_json(doc) for _, _, doc in rows], cursor)

    async def audit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditRows:
        rows, cursor = await self._page(start, end, after, limit)
        return AuditRows([audit_row(at, doc) for at, _, doc in rows], cursor)
