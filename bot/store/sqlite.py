"""The embedded store: one SQLite file in WAL mode, for a single process.

One connection lives in one worker thread (``sqlite_io``); every method is one transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.domain import (
    AuditEvent,
    CardRef,
    Mention,
    OutboxItem,
    Thread,
    ThreadState,
)
from bot.storage import Assignment, CasOutcome, IngestOutcome, IngestStatus
from bot.store.base import Store
from bot.store.codec import (
    FIRST_THREAD_NUMBER,
    attach_to,
    attached,
    dump,
    dump_time,
    held_by,
    micros,
    owner_key,
    waiting_in,
)
from bot.store.sqlite_audit import SQLiteAudit
from bot.store.sqlite_io import Conn, one
from bot.store.sqlite_kv import SQLiteKV
from bot.store.sqlite_replies import SQLiteReplies
from bot.store.sqlite_retention import SQLiteRetention
from bot.store.sqlite_schema import sqlite_path
from bot.store.sqlite_timers import SQLiteTimers

UPDATE_THREAD = (
    "UPDATE threads SET version = :version, department = :department, state = :state,"
    " owner_key = :owner_key, waiting = :waiting, held = :held, doc = :doc"
    " WHERE id = :id AND version = :expected"
)
INSERT_THREAD = (
    "INSERT INTO threads (id, number, version, department, state, owner_key, waiting, held, doc)"
    " VALUES (:id, :number, :version, :department, :state, :owner_key, :waiting, :held, :doc)"
)


TOP_NUMBER = (
    "SELECT MAX(n) FROM (SELECT MAX(number) AS n FROM threads"
    " UNION ALL SELECT MAX(number) FROM archived)"
)
"""The highest thread number given so far: an archived thread's number is never reused."""


class SQLiteStore(SQLiteReplies, SQLiteKV, SQLiteRetention, SQLiteTimers, SQLiteAudit, Store):
    """``SQLiteStore(path, clock=time.time)``: ``clock`` (epoch seconds) decides leases,
    outbox visibility, reply-attempt leases and KV expiry."""

    @staticmethod
    def from_url(url: str, *, clock: Callable[[], float] | None = None) -> SQLiteStore:
        """``sqlite:///relative/file``, ``sqlite:////absolute/file`` or ``sqlite:///:memory:``."""
        return SQLiteStore(sqlite_path(url), clock=clock or time.time)

    # threads and mentions ----------------------------------------------------------------
    async def ingest_mention(
        self, mention: Mention, new_thread: Thread, event: AuditEvent
    ) -> IngestOutcome:
        def run(c: Conn) -> IngestOutcome:
            known = one(c, "SELECT thread_id FROM mentions WHERE key = ?", mention.key)
            if known is not None and (thread := _thread(c, known)):
                return IngestOutcome(IngestStatus.DUPLICATE, thread)
            sql = "SELECT thread_id FROM conversations WHERE conversation = ?"
            conv = one(c, sql, mention.conversation)
            if conv is not None and (existing := _thread(c, conv)):
                thread, status = attach_to(existing), IngestStatus.ATTACHED
                c.execute(UPDATE_THREAD, {**_row(thread), "expected": existing.version})
                event_now = attached(event, thread.id)
            else:
                top = one(c, TOP_NUMBER)
                number = FIRST_THREAD_NUMBER if top is None else top + 1
                thread, status = (
                    new_thread.model_copy(update={"number": number}),
                    IngestStatus.CREATED,
                )
                c.execute(INSERT_THREAD, _row(thread))
                c.execute(
                    "INSERT OR REPLACE INTO conversations (conversation, thread_id) VALUES (?, ?)",
                    (mention.conversation, thread.id),
                )
                event_now = event
            c.execute(
                "INSERT INTO mentions (key, thread_id, doc) VALUES (?, ?, ?)",
                (mention.key, thread.id, dump(mention)),
            )
            _append(c, event_now, True, self.clock())
            return IngestOutcome(status, thread)

        return await self._run(run)

    async def get_thread(self, thread_id: str) -> Thread | None:
        return await self._model(Thread, "SELECT doc FROM threads WHERE id = ?", thread_id)

    async def get_thread_by_number(self, number: int) -> Thread | None:
        return await self._model(Thread, "SELECT doc FROM threads WHERE number = ?", number)

    async def commit(
        self, thread: Thread, expected_version: int, event: AuditEvent, *, notify: bool = True
    ) -> bool:
        return (await self.compare_and_set(thread, expected_version, event, notify=notify)).stored

    async def compare_and_set(
        self,
        thread: Thread,
        expected_version: int,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        if thread.version <= expected_version:
            raise ValueError("commit needs a thread whose version is above expected_version")

        def run(c: Conn) -> CasOutcome:
            cursor = c.execute(UPDATE_THREAD, {**_row(thread), "expected": expected_version})
            if cursor.rowcount != 1:
                return CasOutcome(False, _thread(c, thread.id))
            if active is not None:
                sql = "INSERT OR REPLACE INTO active (person_key, thread_id) VALUES (?, ?)"
                c.execute(sql, (active, thread.id))
            _append(c, event, notify, self.clock())
            return CasOutcome(True, thread)

        return await self._run(run)

    async def assign(
        self,
        thread_id: str,
        change: Assignment,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        sql, args = _assign_sql(thread_id, change)
        event_doc = dump(event)  # JSON work stays out of the store's worker thread

        def run(c: Conn) -> tuple[bool, str | None]:
            row = c.execute(sql, args).fetchone()
            if row is None:
                return False, one(c, "SELECT doc FROM threads WHERE id = ?", thread_id)
            if active is not None:
                sql_active = "INSERT OR REPLACE INTO active (person_key, thread_id) VALUES (?, ?)"
                c.execute(sql_active, (active, thread_id))
            _append(c, event, notify, self.clock(), event_doc)
            return True, row[0]

        stored, doc = await self._run(run)
        return CasOutcome(stored, None if doc is None else Thread.model_validate_json(doc))

    async def append_event(self, event: AuditEvent, *, notify: bool = True) -> None:
        await self._run(lambda c: _append(c, event, notify, self.clock()))

    async def mentions(self, thread_id: str) -> list[Mention]:
        sql = "SELECT doc FROM mentions WHERE thread_id = ? ORDER BY seq"
        return await self._models(Mention, sql, thread_id)

    async def get_mention(self, key: str) -> Mention | None:
        return await self._model(Mention, "SELECT doc FROM mentions WHERE key = ?", key)

    async def events(self, thread_id: str) -> list[AuditEvent]:
        sql = "SELECT doc FROM events WHERE thread_id = ? ORDER BY seq"
        return await self._models(AuditEvent, sql, thread_id)

    async def get_event(self, event_id: str) -> AuditEvent | None:
        return await self._model(AuditEvent, "SELECT doc FROM events WHERE id = ?", event_id)

    async def audit(self, since: datetime | None = None) -> list[AuditEvent]:
        start = micros(since) if since is not None else None
        sql = "SELECT doc FROM events WHERE ? IS NULL OR at_us >= ? ORDER BY at_us, seq"
        return await self._models(AuditEvent, sql, start, start)

    async def list_threads(
        self,
        *,
        department: str | None = None,
        states: frozenset[ThreadState] | None = None,
        owner_key: str | None = None,
    ) -> list[Thread]:
        where: list[str] = ["1"]
        args: list[Any] = []
        if department is not None:
            where.append("department = ?")
            args.append(department)
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states)) or 'NULL'})")
            args.extend(sorted(s.value for s in states))
        if owner_key is not None:
            where.append("owner_key = ?")
            args.append(owner_key)
        sql = f"SELECT doc FROM threads WHERE {' AND '.join(where)} ORDER BY number"
        return await self._models(Thread, sql, *args)

    async def waiting_threads(
        self, department: str | None = None, *, limit: int | None = None
    ) -> list[Thread]:
        if department is None:
            sql = "SELECT doc FROM threads WHERE waiting IS NOT NULL ORDER BY number LIMIT ?"
            return await self._models(Thread, sql, _limit(limit))
        sql = "SELECT doc FROM threads WHERE waiting = ? ORDER BY number LIMIT ?"
        return await self._models(Thread, sql, department, _limit(limit))

    async def held_threads(self, owner_key: str, *, limit: int | None = None) -> list[Thread]:
        sql = "SELECT doc FROM threads WHERE held = ? ORDER BY number LIMIT ?"
        return await self._models(Thread, sql, owner_key, _limit(limit))

    # who is on which call -------------------------------------------------------------------
    async def set_active(self, person_key: str, thread_id: str) -> None:
        sql = "INSERT OR REPLACE INTO active (person_key, thread_id) VALUES (?, ?)"
        await self._write(sql, person_key, thread_id)

    async def get_active(self, person_key: str) -> str | None:
        return _text(
            await self._value("SELECT thread_id FROM active WHERE person_key = ?", person_key)
        )

    # cards ------------------------------------------------------------------------------
    async def set_card_ref(self, thread_id: str, key: str, ref: CardRef) -> None:
        sql = "INSERT OR REPLACE INTO cards (thread_id, key, doc) VALUES (?, ?, ?)"
        await self._write(sql, thread_id, key, dump(ref))

    async def card_refs(self, thread_id: str) -> dict[str, CardRef]:
        sql = "SELECT key, doc FROM cards WHERE thread_id = ?"
        rows = await self._run(lambda c: c.execute(sql, (thread_id,)).fetchall(), write=False)
        return {key: CardRef.model_validate_json(doc) for key, doc in rows}

    async def outbox_claim(self, lease_seconds: float) -> OutboxItem | None:
        def run(c: Conn) -> OutboxItem | None:
            now = self.clock()
            row = c.execute(
                "SELECT seq, id, thread_id, event_id FROM outbox WHERE visible_at <= ?"
                " ORDER BY visible_at, seq LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            sql = "UPDATE outbox SET visible_at = ? WHERE seq = ?"
            c.execute(sql, (now + lease_seconds, row[0]))
            return OutboxItem(id=row[1], thread_id=row[2], event_id=row[3])

        return await self._run(run)

    async def outbox_ack(self, item_id: str) -> None:
        await self._write("DELETE FROM outbox WHERE id = ?", item_id)

    async def outbox_size(self) -> int:
        return int(await self._value("SELECT COUNT(*) FROM outbox"))

    # sources ------------------------------------------------------------------------------
    async def get_cursor(self, source: str) -> str | None:
        return _text(await self._value("SELECT cursor FROM cursors WHERE source = ?", source))

    async def set_cursor(self, source: str, cursor: str | None) -> None:
        if cursor is None:
            await self._write("DELETE FROM cursors WHERE source = ?", source)
        else:
            sql = "INSERT OR REPLACE INTO cursors (source, cursor) VALUES (?, ?)"
            await self._write(sql, source, cursor)

    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        def run(c: Conn) -> bool:
            now = self.clock()
            sql = "SELECT holder, expires_at FROM leases WHERE name = ?"
            row = c.execute(sql, (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            c.execute(
                "INSERT OR REPLACE INTO leases (name, holder, expires_at) VALUES (?, ?, ?)",
                (name, holder, now + ttl_seconds),
            )
            c.execute("DELETE FROM leases WHERE expires_at < ?", (now,))  # lapsed: forget them
            return True

        return await self._run(run)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._write("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)

    async def mark_own_post(self, source: str, external_id: str) -> None:
        sql = "INSERT OR IGNORE INTO own_posts (source, external_id) VALUES (?, ?)"
        await self._write(sql, source, external_id)

    async def is_own_post(self, source: str, external_id: str) -> bool:
        sql = "SELECT 1 FROM own_posts WHERE source = ? AND external_id = ?"
        return await self._value(sql, source, external_id) is not None


def _thread(c: Conn, thread_id: str) -> Thread | None:
    doc = one(c, "SELECT doc FROM threads WHERE id = ?", thread_id)
    return None if doc is None else Thread.model_validate_json(doc)


def _row(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "number": thread.number,
        "version": thread.version,
        "department": thread.department,
        "state": thread.state.value,
        "owner_key": owner_key(thread.owner),
        "waiting": waiting_in(thread) or None,
        "held": held_by(thread) or None,
        "doc": dump(thread),
    }


def _assign_sql(thread_id: str, change: Assignment) -> tuple[str, list[Any]]:
    """One guarded UPDATE for ``change``; the document is patched in place (``json_set``) and
    comes back with ``RETURNING``. Values are parameters; only the state names (an enum's
    values) are part of the text."""
    moves = sorted((src.value, dst.value) for src, dst in change.moves.items())
    case = "CASE state " + " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in moves) + " END"
    within = ", ".join(f"'{a}'" for a, _ in moves) or "NULL"
    key = change.owner.key
    sql = (
        f"UPDATE threads SET version = version + 1, state = {case}, owner_key = ?,"
        " waiting = NULL, held = ?,"
        f" doc = json_set(doc, '$.version', version + 1, '$.state', {case},"
        " '$.owner', json(?), '$.updated_at', json(?))"
        f" WHERE id = ? AND owner_key IS NULL AND state IN ({within}) RETURNING doc"
    )
    return sql, [key, key, dump(change.owner), dump_time(change.updated_at), thread_id]


def _append(c: Conn, event: AuditEvent, notify: bool, now: float, doc: str | None = None) -> None:
    """Append ``event`` (``doc``: its JSON, when dumped before the transaction)."""
    c.execute(
        "INSERT INTO events (id, thread_id, at_us, doc) VALUES (?, ?, ?, ?)",
        (event.id, event.thread_id, micros(event.at), doc or dump(event)),
    )
    if notify:
        c.execute(
            "INSERT INTO outbox (id, thread_id, event_id, visible_at) VALUES (?, ?, ?, ?)",
            (uuid.uuid4().hex, event.thread_id, event.id, now),
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _limit(limit: int | None) -> int:
    """SQLite's LIMIT: -1 is no limit."""
    return -1 if limit is None else max(0, limit)
