"""The SQLite store's group commit: calls queued while its worker is busy share one
transaction, each under its own savepoint, and every caller is answered after the commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.errors import AlreadyClaimed, StoreError
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_io import BATCH, Conn

from .builders import ingest, mention, person


async def traced(store: SQLiteStore) -> list[str]:
    """Every statement the store's connection runs from now on."""
    statements: list[str] = []
    await store._run(lambda c: c.set_trace_callback(statements.append), write=False)
    statements.clear()
    return statements


async def test_concurrent_writes_share_commits_and_all_are_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    store = SQLiteStore(path)
    statements = await traced(store)
    await asyncio.gather(*(store.set_cursor(f"source-{n}", str(n)) for n in range(200)))
    commits = statements.count("COMMIT")
    assert 200 // BATCH <= commits < 200, commits
    await store.close()

    with closing(sqlite3.connect(path)) as conn:
        rows = dict(conn.execute("SELECT source, cursor FROM cursors").fetchall())
    assert rows == {f"source-{n}": str(n) for n in range(200)}


async def test_a_failing_call_undoes_only_its_own_statements(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    store = SQLiteStore(path)
    await store._run(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    statements = await traced(store)

    def insert(n: int) -> Callable[[Conn], None]:
        def run(c: Conn) -> None:
            c.execute("INSERT INTO t VALUES (?)", (n,))
            if n % 3 == 0:
                raise ValueError(f"job {n} refuses")

        return run

    def duplicate(c: Conn) -> None:
        c.execute("INSERT INTO t VALUES (1000)")
        c.execute("INSERT INTO t VALUES (1000)")

    jobs = [store._run(insert(n)) for n in range(30)]
    results = await asyncio.gather(*jobs, store._run(duplicate), return_exceptions=True)
    assert statements.count("COMMIT") < 31
    refused = [r for r in results[:30] if isinstance(r, ValueError)]
    assert [str(r) for r in refused] == [f"job {n} refuses" for n in range(0, 30, 3)]
    assert isinstance(results[30], StoreError) and "UNIQUE" in str(results[30])
    await store.close()

    with closing(sqlite3.connect(path)) as conn:
        kept = [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")]
    assert kept == [n for n in range(30) if n % 3]


async def test_a_lost_claim_in_a_shared_commit_keeps_the_winner(tmp_path: Path) -> None:
    """Fifty people claim one thread at once: their claims share commits; one wins, everyone
    else is told who holds it, and the winner's claim is what a new connection reads."""
    path = str(tmp_path / "s.sqlite3")
    store = SQLiteStore(path)
    departments = parse_config({"departments": [{"name": "support"}]}).departments
    service = ThreadService(store, Directory(departments), Router((), "support"))
    thread = (await ingest(store, mention(1))).thread
    people = [person(f"p{n}") for n in range(50)]
    results = await asyncio.gather(
        *(service.claim(thread.id, p) for p in people), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(won) == 1 and len(lost) == 49
    winner = won[0].owner
    await store.close()

    again = SQLiteStore(path)
    stored = await again.get_thread(thread.id)
    assert stored is not None and stored.owner == winner
    await again.close()


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    await store.set_cursor("a", "1")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.set_cursor("a", "2")
