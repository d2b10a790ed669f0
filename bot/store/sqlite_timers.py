"""The due-time index on SQLite: the ``timers`` table (schema 5), read through its index on
``next_us``, the time each timer can next be taken (its due time, or the end of its lease)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage import DueTimer
from bot.store.codec import from_micros, micros
from bot.store.sqlite_io import Conn, SQLiteIO

SCHEDULE = (
    "INSERT INTO timers (key, due_us, next_us, payload) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET due_us = excluded.due_us, next_us = excluded.next_us,"
    " payload = excluded.payload, holder = '', attempts = 0, generation = generation + 1"
)
DUE = (
    "SELECT key, due_us, payload, attempts, generation FROM timers"
    " WHERE next_us <= ? ORDER BY next_us, key LIMIT ?"
)
TAKE = "UPDATE timers SET holder = ?, next_us = ?, attempts = attempts + 1 WHERE key = ?"
FINISH = "DELETE FROM timers WHERE key = ? AND holder = ? AND holder <> ''"


def prefix_end(prefix: str) -> str | None:
    """The least text above every text starting with ``prefix`` (None: no such bound)."""
    head = prefix.rstrip(chr(0x10FFFF))
    if not head:
        return None
    return head[:-1] + chr(ord(head[-1]) + 1)


class SQLiteTimers(SQLiteIO):
    async def schedule(self, key: str, due: datetime, payload: str) -> None:
        at = micros(due)
        await self._write(SCHEDULE, key, at, at, payload)

    async def cancel(self, key: str) -> None:
        await self._write("DELETE FROM timers WHERE key = ?", key)

    async def cancel_prefix(self, prefix: str) -> int:
        end = prefix_end(prefix)
        sql, args = "DELETE FROM timers WHERE key >= ?", [prefix]
        if end is not None:
            sql, args = f"{sql} AND key < ?", [prefix, end]
        return await self._run(lambda c: c.execute(sql, args).rowcount)

    async def take_due(
        self, now: datetime, limit: int, lease_seconds: float, holder: str
    ) -> list[DueTimer]:
        if limit <= 0:
            return []
        now_us = micros(now)
        until = now_us + max(0, round(lease_seconds * 1_000_000))

        def run(c: Conn) -> list[DueTimer]:
            rows = c.execute(DUE, (now_us, limit)).fetchall()
            c.executemany(TAKE, [(holder, until, key) for key, *_ in rows])
            return [
                DueTimer(
                    key=key,
                    due=from_micros(due_us),
                    payload=payload,
                    attempts=attempts + 1,
                    late=timedelta(microseconds=now_us - due_us),
                    generation=generation,
                )
                for key, due_us, payload, attempts, generation in rows
            ]

        return await self._run(run)

    async def next_due(self) -> datetime | None:
        def run(c: Conn) -> int | None:
            row = c.execute("SELECT MIN(next_us) FROM timers").fetchone()
            return None if row is None or row[0] is None else int(row[0])

        found = await self._run(run)
        return None if found is None else from_micros(found)

    async def finish(self, key: str, holder: str, generation: int | None = None) -> bool:
        sql, args = FINISH, list[str | int]([key, holder])
        if generation is not None:
            sql, args = f"{FINISH} AND generation = ?", [*args, generation]
        return await self._run(lambda c: c.execute(sql, args).rowcount == 1)
