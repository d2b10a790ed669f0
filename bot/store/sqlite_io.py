"""How the SQLite store talks to its file: one connection in one worker thread.

Every store method runs one function there inside a transaction, so each method is atomic and
the event loop never blocks on disk. Calls that queue up while the worker is busy share one
transaction (group commit: one sync to disk for all of them), each under a savepoint of its
own, so one that fails undoes only its own statements; every caller is answered only after the
commit, so what a caller was told is stored is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from bot.errors import StoreError
from bot.storage import UpgradeProgress
from bot.store.sqlite_schema import open_database

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Conn = sqlite3.Connection
BATCH = 64
"""Most calls sharing one commit: a read queued behind a burst of writes waits for at most this
many of them."""


@dataclass(frozen=True)
class Outcome:
    """What one job gave: its value, or the error its caller gets."""

    value: Any = None
    error: BaseException | None = None
    reopen: bool = False
    """The error is one a fresh connection may not meet again."""


@dataclass(frozen=True)
class _Job(Generic[T]):
    fn: Callable[[Conn], T]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]

    def answer(self, outcome: Outcome) -> None:
        """From the worker thread: settle the caller's future on its own loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(self._settle, outcome)

    def _settle(self, outcome: Outcome) -> None:
        if self.future.done():  # the caller was cancelled
            return
        if outcome.error is not None:
            self.future.set_exception(outcome.error)
        else:
            self.future.set_result(outcome.value)


class SQLiteIO:
    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._queue: deque[_Job[Any]] = deque()
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

    def _drain(self) -> None:
        """In the worker thread: run every job queued so far (up to ``BATCH``) in one
        transaction, one savepoint each, then answer each caller once it is committed."""
        batch: list[_Job[Any]] = []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.popleft())
            except IndexError:
                break
        if not batch:
            return  # an earlier drain took these jobs
        try:
            outcomes = self._attempts(batch)
        except sqlite3.Error as exc:
            self._answer(batch, _failed(self.path, exc))
        except BaseException as exc:
            self._answer(batch, exc)
            raise
        else:
            for job, outcome in zip(batch, outcomes, strict=True):
                job.answer(outcome)

    def _attempts(self, batch: list[_Job[Any]]) -> list[Outcome]:
        try:
            return self._commit(batch, last=False)
        except sqlite3.Error as exc:
            if not (any(job.write for job in batch) and _reopen_after(exc)):
                raise
        self._drop_connection()  # nothing was written: try once on a fresh connection
        try:
            outcomes = self._commit(batch, last=True)
        except sqlite3.Error:
            self._drop_connection()
            raise
        if any(isinstance(o.error, StoreError) and o.reopen for o in outcomes):
            self._drop_connection()
        return outcomes

    def _commit(self, batch: list[_Job[Any]], *, last: bool) -> list[Outcome]:
        """One transaction: each job under a savepoint, so a job that raises undoes only its
        own statements. A statement that loses the transaction, a failed commit, or (unless
        ``last``) a refusal a fresh connection may not meet again raises ``sqlite3.Error`` for
        the whole batch; nothing of it is then written."""
        conn = self._connect()
        write = any(job.write for job in batch)
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        outcomes: list[Outcome] = []
        try:
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append(Outcome(job.fn(conn)))
                except sqlite3.Error as exc:
                    reopen = _reopen_after(exc)
                    if not conn.in_transaction or (reopen and not last):
                        raise
                    _undo(conn)
                    outcomes.append(Outcome(error=_failed(self.path, exc), reopen=reopen))
                except Exception as exc:  # the caller's own error: its job alone is undone
                    _undo(conn)
                    outcomes.append(Outcome(error=exc))
                else:
                    conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _answer(batch: list[_Job[Any]], error: BaseException) -> None:
        for job in batch:
            job.answer(Outcome(error=error))

    def _drop_connection(self) -> None:
        """Forget the connection so the next call opens the file again: SQLite keeps a file
        it opened read-only (permissions, an immutable file) read-only for the connection's
        life, so a write fixed by the operator would otherwise stay refused until a restart."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = True) -> T:
        """Run ``fn`` in the worker thread inside a transaction and return what it returns,
        once that transaction is committed (``fn``'s error if it raised: then none of its
        statements are kept). Calls made while the worker is busy share one commit."""
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(fn, write, loop, loop.create_future())
        self._queue.append(job)
        self._executor.submit(self._drain)
        return await job.future

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


def _undo(conn: Conn) -> None:
    conn.execute("ROLLBACK TO job")
    conn.execute("RELEASE job")


def _failed(path: str, exc: sqlite3.Error) -> StoreError:
    error = StoreError(f"SQLite store {path}: {exc}")
    error.__cause__ = exc
    return error


def _reopen_after(exc: sqlite3.Error) -> bool:
    """A write refused because of how the file was opened or the disk under it, which a new
    connection may not meet again."""
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "disk i/o", "unable to open"))
