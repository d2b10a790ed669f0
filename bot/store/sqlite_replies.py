"""The reply ledger on SQLite: the ``replies`` table, each method one transaction."""

from __future__ import annotations

from bot.domain import ReplyRecord, ReplyStatus
from bot.errors import StoreError
from bot.store.codec import dump
from bot.store.sqlite_io import Conn, SQLiteIO, one


class SQLiteReplies(SQLiteIO):
    async def reply_begin(
        self, record: ReplyRecord, lease_seconds: float
    ) -> tuple[ReplyRecord, bool]:
        fresh = record.model_copy(update={"status": ReplyStatus.PENDING})
        row = (fresh.status.value, dump(fresh), fresh.key)

        def run(c: Conn) -> tuple[ReplyRecord, bool]:
            now = self.clock()
            sql = "SELECT doc, lease_until FROM replies WHERE key = ?"
            found = c.execute(sql, (record.key,)).fetchone()
            if found is None:
                c.execute(
                    "INSERT INTO replies (status, doc, key, lease_until) VALUES (?, ?, ?, ?)",
                    (*row, now + lease_seconds),
                )
                return fresh, True
            stored = ReplyRecord.model_validate_json(found[0])
            expired = stored.status is ReplyStatus.PENDING and found[1] <= now
            if stored.status is not ReplyStatus.FAILED and not expired:
                return stored, False
            c.execute(
                "UPDATE replies SET status = ?, doc = ?, lease_until = ? WHERE key = ?",
                (row[0], row[1], now + lease_seconds, row[2]),
            )
            return fresh, True

        return await self._run(run)

    async def reply_finish(
        self,
        key: str,
        status: ReplyStatus,
        *,
        external_id: str = "",
        url: str = "",
        error: str = "",
    ) -> ReplyRecord:
        changes = {"status": status, "external_id": external_id, "url": url, "error": error}

        def run(c: Conn) -> ReplyRecord:
            doc = one(c, "SELECT doc FROM replies WHERE key = ?", key)
            if doc is None:
                raise StoreError(f"no reply recorded under {key!r}")
            done = ReplyRecord.model_validate_json(doc).model_copy(update=changes)
            c.execute(
                "UPDATE replies SET status = ?, lease_until = 0, doc = ? WHERE key = ?",
                (status.value, dump(done), key),
            )
            return done

        return await self._run(run)

    async def get_reply(self, key: str) -> ReplyRecord | None:
        return await self._model(ReplyRecord, "SELECT doc FROM replies WHERE key = ?", key)

    async def pending_replies(self) -> list[ReplyRecord]:
        sql = "SELECT doc FROM replies WHERE status = ? ORDER BY seq"
        records = await self._models(ReplyRecord, sql, ReplyStatus.PENDING.value)
        return sorted(records, key=lambda r: r.created_at)
