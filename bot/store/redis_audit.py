"""The audit log read by time on Redis: pages of the ``audit`` sorted set (scored by the
event time in microseconds, members ``<seq>:<event id>`` in append order within a score),
then the event documents of that page; as full events or as light rows."""

from __future__ import annotations

from datetime import datetime

from bot.domain import AuditEvent
from bot.storage import AuditPage, AuditRows
from bot.store.audit_row import audit_row
from bot.store.codec import micros
from bot.store.redis_io import RedisIO, guarded, text


class RedisAudit(RedisIO):
    async def _page(
        self, start: datetime | None, end: datetime | None, after: str, limit: int
    ) -> tuple[list[tuple[float, str | bytes]], str]:
        """(score, document) of each event of the page, and the next cursor."""
        limit = max(1, limit)
        # The cursor is the last score read and how many members of that score were read.
        if after:
            score, _, seen = after.partition(":")
            low: int | str = int(score)
            skip = int(seen)
        else:
            low, skip = ("-inf" if start is None else micros(start)), 0
        high = "+inf" if end is None else f"({micros(end)}"
        found = await self.client.zrangebyscore(
            self.keys.audit, low, high, start=skip, num=limit, withscores=True
        )
        rows: list[tuple[str, float]] = [(text(row[0]), float(row[1])) for row in found]
        ids = [member.split(":", 1)[1] for member, _ in rows]
        docs = await self.client.hmget(self.keys.events, ids) if ids else []
        out = [(s, doc) for (_, s), doc in zip(rows, docs, strict=True) if doc is not None]
        if len(rows) < limit:
            return out, ""
        last = int(rows[-1][1])
        same = sum(1 for _, s in rows if int(s) == last)
        seen_now = skip + same if after and last == low else same
        return out, f"{last}:{seen_now}"

    @guarded
    async def audit_page(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditPage:
        found, cursor = await self._page(start, end, after, limit)
        return AuditPage([AuditEvent.model_validate_json(doc) for _, doc in found], cursor)

    @guarded
    async def audit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditRows:
        found, cursor = await self._page(start, end, after, limit)
        return AuditRows([audit_row(at, doc) for at, doc in found], cursor)
