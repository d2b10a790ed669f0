"""Retention on SQLite: closed threads leave the hot tables; a tombstone stays in ``archived``.

The ``closed`` table (schema 4, kept by triggers) names every resolved thread by closing time,
so a run reads only what is due."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain import Thread
from bot.storage import ArchivedThread
from bot.store.codec import dump, micros
from bot.store.sqlite_io import Conn, SQLiteIO

DUE = (
    "SELECT t.doc FROM closed c JOIN threads t ON t.id = c.thread_id"
    " WHERE c.closed_us < ? ORDER BY c.closed_us, c.thread_id LIMIT ?"
)


def archive(c: Conn, thread: Thread, archived_at: datetime) -> None:
    """Replace ``thread`` by its tombstone; its events stay."""
    sql = "INSERT OR REPLACE INTO archived (id, number, doc) VALUES (?, ?, ?)"
    c.execute(sql, (thread.id, thread.number, dump(ArchivedThread.of(thread, archived_at))))
    c.execute("DELETE FROM threads WHERE id = ?", (thread.id,))
    c.execute("DELETE FROM mentions WHERE thread_id = ?", (thread.id,))
    sql = "DELETE FROM conversations WHERE conversation = ? AND thread_id = ?"
    c.execute(sql, (thread.conversation, thread.id))
    c.execute("DELETE FROM cards WHERE thread_id = ?", (thread.id,))


class SQLiteRetention(SQLiteIO):
    async def archive_closed(self, before: datetime, limit: int) -> int:
        if limit <= 0:
            return 0

        def run(c: Conn) -> int:
            archived_at = datetime.fromtimestamp(self.clock(), UTC)
            due = [
                Thread.model_validate_json(doc)
                for (doc,) in c.execute(DUE, (micros(before), limit))
            ]
            for thread in due:
                archive(c, thread, archived_at)
            return len(due)

        return await self._run(run)

    async def get_archived(self, thread_id: str) -> ArchivedThread | None:
        sql = "SELECT doc FROM archived WHERE id = ?"
        return await self._model(ArchivedThread, sql, thread_id)

    async def get_archived_by_number(self, number: int) -> ArchivedThread | None:
        sql = "SELECT doc FROM archived WHERE number = ?"
        return await self._model(ArchivedThread, sql, number)
