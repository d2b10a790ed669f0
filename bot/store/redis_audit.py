"""The audit log read by time on Redis: pages of the ``audit`` sorted set (scored by the
event time in microseconds, members ``<seq>:<event id>`` in append order within a score),
then the event documents of that page."""

from __future__ import annotations

from datetime import datetime

from bot.domain import AuditEvent
from bot.storage import AuditPage
from bot.store.codec import micros
from bot.store.redis_io import RedisIO, guarded, text


class RedisAudit(RedisIO):
    @guarded
    async def audit_page(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditPage:
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
        events = [AuditEvent.model_validate_json(doc) for doc in docs if doc is not None]
        if len(rows) < limit:
            return AuditPage(events, "")
        last = int(rows[-1][1])
        same = sum(1 for _, s in rows if int(s) == last)
        seen_now = skip + same if after and last == low else same
        return AuditPage(events, f"{last}:{seen_now}")
