"""The audit log read by time on Redis: pages of the ``audit`` sorted set (scored by the
event time in microseconds, members ``<seq>:<event id>`` in append order within a score),
then the event documents of that page; as full events, or as light rows picked out of the
documents by a script on the server (one round trip, no document crosses the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.commands.core import AsyncScript

from bot.domain import AuditEvent
from bot.storage import AuditPage, AuditRow, AuditRows
from bot.store.codec import micros
from bot.store.redis_io import RedisIO, guarded, text

ROWS = """
-- KEYS: audit (sorted set), events (hash); ARGV: low, high, skip, limit
-- Returns {scores of the page's members, 9 fields per stored event: score, kind, thread,
-- actor key, actor label, department, to, to_person ('1' or ''), rollover ('1' or '')}.
local found = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES',
    'LIMIT', ARGV[3], ARGV[4])
local function text(v)
    if v == nil or v == cjson.null or type(v) == 'table' then return '' end
    if v == true then return 'True' elseif v == false then return '' end
    return tostring(v)
end
local function flag(v)
    if v == nil or v == cjson.null or v == false or v == '' or v == 0 then return '' end
    if type(v) == 'table' and next(v) == nil then return '' end
    return '1'
end
local scores, out = {}, {}
for i = 1, #found, 2 do
    local score = found[i + 1]
    scores[#scores + 1] = score
    local member = found[i]
    local id = string.sub(member, string.find(member, ':', 1, true) + 1)
    local doc = redis.call('HGET', KEYS[2], id)
    if doc then
        local d = cjson.decode(doc)
        local key, label = '', ''
        local actor = d.actor
        if type(actor) == 'table' then
            key = tostring(actor.surface) .. ':' .. tostring(actor.id)
            label = actor.name
            if label == nil or label == cjson.null or label == '' then label = actor.id end
            label = tostring(label)
        end
        local data = d.data
        if type(data) ~= 'table' then data = {} end
        local n = #out
        out[n + 1], out[n + 2], out[n + 3] = score, d.kind, d.thread_id
        out[n + 4], out[n + 5] = key, label
        out[n + 6], out[n + 7] = text(data.department), text(data.to)
        out[n + 8], out[n + 9] = flag(data.to_person), flag(data.rollover)
    end
end
return {scores, out}
"""


def _bounds(start: datetime | None, end: datetime | None, after: str) -> tuple[int | str, int, str]:
    """The low score, how many members of it to skip, the high score."""
    # The cursor is the last score read and how many members of that score were read.
    if after:
        score, _, seen = after.partition(":")
        return int(score), int(seen), _high(end)
    return ("-inf" if start is None else micros(start)), 0, _high(end)


def _high(end: datetime | None) -> str:
    return "+inf" if end is None else f"({micros(end)}"


def _cursor(scores: list[float], limit: int, low: int | str, skip: int, after: str) -> str:
    if len(scores) < limit:
        return ""
    last = int(scores[-1])
    same = sum(1 for s in scores if int(s) == last)
    seen_now = skip + same if after and last == low else same
    return f"{last}:{seen_now}"


class RedisAudit(RedisIO):
    _rows_script: AsyncScript | None = None

    async def _page(
        self, start: datetime | None, end: datetime | None, after: str, limit: int
    ) -> tuple[list[tuple[float, str | bytes]], str]:
        """(score, document) of each event of the page, and the next cursor."""
        limit = max(1, limit)
        low, skip, high = _bounds(start, end, after)
        found = await self.client.zrangebyscore(
            self.keys.audit, low, high, start=skip, num=limit, withscores=True
        )
        rows: list[tuple[str, float]] = [(text(row[0]), float(row[1])) for row in found]
        ids = [member.split(":", 1)[1] for member, _ in rows]
        docs = await self.client.hmget(self.keys.events, ids) if ids else []
        out = [(s, doc) for (_, s), doc in zip(rows, docs, strict=True) if doc is not None]
        return out, _cursor([s for _, s in rows], limit, low, skip, after)

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
        limit = max(1, limit)
        low, skip, high = _bounds(start, end, after)
        if self._rows_script is None:
            self._rows_script = self.client.register_script(ROWS)
        keys = [self.keys.audit, self.keys.events]
        scores, f = await self._rows_script(keys=keys, args=[low, high, skip, limit])
        rows = [_row(f, i) for i in range(0, len(f), 9)]
        return AuditRows(rows, _cursor([float(s) for s in scores], limit, low, skip, after))


def _row(f: list[Any], i: int) -> AuditRow:
    return AuditRow(
        text(f[i + 1]),
        text(f[i + 2]),
        float(f[i]) / 1e6,
        text(f[i + 3]),
        text(f[i + 4]),
        text(f[i + 5]),
        text(f[i + 6]),
        bool(f[i + 7]),
        bool(f[i + 8]),
    )
