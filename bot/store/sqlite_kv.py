"""The KV port on SQLite: a ``kv`` table; expired rows read as absent and are swept."""

from __future__ import annotations

from bot.store.sqlite_io import Conn, SQLiteIO

SWEEP_BATCH = 100
"""Expired rows removed by each KV write, so the table never grows without bound."""

UPSERT = (
    "INSERT INTO kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE"
    " SET value = excluded.value, expires_at = excluded.expires_at"
)


def sweep_expired(c: Conn, now: float, limit: int | None) -> int:
    if limit is None:
        return c.execute("DELETE FROM kv WHERE expires_at <= ?", (now,)).rowcount
    sql = "DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv WHERE expires_at <= ? LIMIT ?)"
    return c.execute(sql, (now, limit)).rowcount


class SQLiteKV(SQLiteIO):
    def _expiry(self, ttl: float | None) -> tuple[float, float | None]:
        now = self.clock()
        return now, None if ttl is None else now + ttl

    async def kv_get(self, namespace: str, key: str) -> str | None:
        sql = (
            "SELECT value FROM kv WHERE namespace = ? AND key = ?"
            " AND (expires_at IS NULL OR expires_at > ?)"
        )
        value = await self._value(sql, namespace, key, self.clock())
        return None if value is None else str(value)

    async def kv_put(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> None:
        now, expires_at = self._expiry(ttl)

        def run(c: Conn) -> None:
            sweep_expired(c, now, SWEEP_BATCH)
            c.execute(UPSERT, (namespace, key, value, expires_at))

        await self._run(run)

    async def kv_put_if_absent(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> bool:
        now, expires_at = self._expiry(ttl)
        sql = UPSERT + " WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?"

        def run(c: Conn) -> bool:
            sweep_expired(c, now, SWEEP_BATCH)
            return c.execute(sql, (namespace, key, value, expires_at, now)).rowcount == 1

        return await self._run(run)

    async def kv_delete(self, namespace: str, key: str) -> None:
        await self._write("DELETE FROM kv WHERE namespace = ? AND key = ?", namespace, key)

    async def sweep(self, limit: int | None = None) -> int:
        """Delete expired KV rows (at most ``limit``; None: all); returns how many."""
        now = self.clock()
        return await self._run(lambda c: sweep_expired(c, now, limit))
