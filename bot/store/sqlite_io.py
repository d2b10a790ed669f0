"""How the SQLite store talks to its file: one connection in one worker thread.

Every store method runs one function there inside one transaction, so each method is atomic
and the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import BaseModel

from bot.errors import StoreError
from bot.storage import UpgradeProgress
from bot.store.sqlite_schema import open_database

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Conn = sqlite3.Connection


class SQLiteIO:
    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: Conn | None = None
        self._closed = False
        self._progress: UpgradeProgress | None = None

    @property
    def upgrade_progress(self) -> UpgradeProgress | None:
        """The schema upgrade the first transaction is running (in the worker thread), or None."""
        return self._progress

    def _report(self, progress: UpgradeProgress | None) -> None:
        self._progress = progress

    def _connect(self) -> Conn:
        if self._conn is None:
            self._conn = open_database(self.path, self.clock, self._report)
        return self._conn

    def _transaction(self, fn: Callable[[Conn], T], write: bool) -> T:
        try:
            return self._attempt(fn, write)
        except sqlite3.Error as exc:
            if not (write and _reopen_after(exc)):
                raise StoreError(f"SQLite store {self.path}: {exc}") from exc
            self._drop_connection()  # nothing was written: try once on a fresh connection
        try:
            return self._attempt(fn, write)
        except sqlite3.Error as exc:
            self._drop_connection()
            raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    def _attempt(self, fn: Callable[[Conn], T], write: bool) -> T:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _drop_connection(self) -> None:
        """Forget the connection so the next call opens the file again: SQLite keeps a file
        it opened read-only (permissions, an immutable file) read-only for the connection's
        life, so a write fixed by the operator would otherwise stay refused until a restart."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = True) -> T:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, fn, write)

    async def _write(self, sql: str, *args: Any) -> None:
        await self._run(lambda c: c.execute(sql, args))

    async def _value(self, sql: str, *args: Any) -> Any:
        return await self._run(lambda c: one(c, sql, *args), write=False)

    async def _model(self, model: type[M], sql: str, *args: Any) -> M | None:
        doc = await self._value(sql, *args)
        return None if doc is None else model.model_validate_json(doc)

    async def _models(self, model: type[M], sql: str, *args: Any) -> list[M]:
        docs = await self._run(lambda c: [r[0] for r in c.execute(sql, args)], write=False)
        return [model.model_validate_json(doc) for doc in docs]

    async def ping(self) -> None:
        await self._value("SELECT 1")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)


def one(c: Conn, sql: str, *args: Any) -> Any:
    row = c.execute(sql, args).fetchone()
    return None if row is None else row[0]


def _reopen_after(exc: sqlite3.Error) -> bool:
    """A write refused because of how the file was opened or the disk under it, which a new
    connection may not meet again."""
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "disk i/o", "unable to open"))
