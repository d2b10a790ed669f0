"""Issue 10: while a freshly opened store upgrades old data, /readyz says so (503) instead of
hanging or claiming ready; once it is done the store is ready and the old data is indexed."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.domain import Thread, ThreadState
from bot.store import Store
from bot.store.codec import dump
from bot.store.keys import Keys
from bot.store.redis import RedisStore
from bot.store.redis_schema import SCHEMA_VERSION as REDIS_SCHEMA
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_schema import SCHEMA_VERSION as SQLITE_SCHEMA
from bot.store.sqlite_schema import open_database
from tests.boards import REDIS_URL, board_for, mention_item, write_items
from tests.clock import eventually

RESOLVED_AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
UPGRADING = {
    kind: re.compile(rf"upgrading \(schema 2 -> {target}, step [34]: (\d+) of (\d+) threads\)")
    for kind, target in (("sqlite", SQLITE_SCHEMA), ("redis", REDIS_SCHEMA))
}


def old_threads(count: int) -> list[Thread]:
    return [
        Thread(
            id=f"old{n:06d}",
            number=1001 + n,
            department="support",
            state=ThreadState.RESOLVED,
            resolved_at=RESOLVED_AT,
            source="sample",
            network="mastodon",
            conversation=f"sample\x1fold{n}",
        )
        for n in range(count)
    ]


def write_sqlite_schema_2(path: Path, threads: list[Thread]) -> None:
    """Threads as the release of schema 2 stored them: no query columns, no closed index."""
    conn = open_database(str(path), lambda: 0.0)
    with closing(conn):
        conn.executescript(
            "DROP TRIGGER threads_closed_new; DROP TRIGGER threads_closed;"
            " DROP TRIGGER threads_reopened; DROP TRIGGER threads_removed;"
            " DROP TABLE closed; DROP TABLE archived;"
            " DROP INDEX threads_waiting; DROP INDEX threads_waiting_all;"
            " DROP INDEX threads_held; ALTER TABLE threads DROP COLUMN waiting;"
            " ALTER TABLE threads DROP COLUMN held; PRAGMA user_version = 2;"
        )
        sql = (
            "INSERT INTO threads (id, number, version, department, state, owner_key, doc)"
            " VALUES (?, ?, 1, ?, ?, NULL, ?)"
        )
        rows = [(t.id, t.number, t.department, t.state.value, dump(t)) for t in threads]
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")


async def write_redis_schema_2(prefix: str, threads: list[Thread]) -> None:
    k = Keys(prefix)
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    async with client.pipeline(transaction=False) as pipe:
        for t in threads:
            fields: dict[str | bytes, str | int] = {"doc": dump(t), "number": t.number}
            fields |= {"version": 1, "mention_count": 1, "state": t.state.value}
            pipe.hset(k.thread(t.id), mapping=fields)  # type: ignore[arg-type]
            pipe.zadd(k.threads, {t.id: t.number})
            pipe.zadd(k.threads_in(t.state), {t.id: t.number})
        pipe.set(k.thread_counter, len(threads))
        pipe.set(k.schema, 2)
        await pipe.execute()
    await client.aclose()


@asynccontextmanager
async def old_store(kind: str, tmp_path: Path, count: int) -> AsyncIterator[Store]:
    threads = old_threads(count)
    if kind == "sqlite":
        path = tmp_path / "old.sqlite3"
        write_sqlite_schema_2(path, threads)
        store: Store = SQLiteStore(str(path))
        try:
            yield store
        finally:
            await store.close()
        return
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    await write_redis_schema_2(prefix, threads)
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        yield store
    finally:
        await store.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.parametrize(
    ("kind", "count"), [("sqlite", 5000), pytest.param("redis", 3000, marks=pytest.mark.redis)]
)
async def test_readiness_says_upgrading_while_the_first_query_upgrades(
    kind: str, count: int, tmp_path: Path
) -> None:
    async with old_store(kind, tmp_path, count) as store:
        board = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]))
        assert store.upgrade_progress is None, "nothing runs before the first query"
        first = asyncio.create_task(store.ping())

        def counting() -> bool:
            progress = store.upgrade_progress
            return progress is not None and progress.total > 0

        await eventually(counting, step=0.001)
        report = await asyncio.wait_for(board.readiness(), timeout=1)
        assert report["ready"] is False and report["broken"] == ["store"], report
        shown = str(report["store"])
        match = UPGRADING[kind].fullmatch(shown)
        assert match is not None, shown
        done, total = int(match.group(1)), int(match.group(2))
        assert total == count and done <= total, "every old thread is resolved: both steps see all"

        await asyncio.wait_for(first, timeout=60)
        assert store.upgrade_progress is None
        after = await board.readiness()
        assert after["store"] == "ok" and after["ready"] is True, after
        assert len(await store.waiting_threads()) == 0
        assert await store.archive_closed(RESOLVED_AT.replace(day=3), 10 * count) == count
        assert await store.list_threads() == []


@pytest.mark.redis
async def test_a_caller_that_stops_waiting_does_not_abort_the_upgrade(tmp_path: Path) -> None:
    async with old_store("redis", tmp_path, 3000) as store:
        assert isinstance(store, RedisStore)
        impatient = asyncio.create_task(store.ping())
        await eventually(lambda: store.upgrade_progress is not None, step=0.001)
        impatient.cancel()
        with pytest.raises(asyncio.CancelledError):
            await impatient
        await eventually(lambda: store.upgrade_progress is None, within=60)
        assert await store.client.get(store.keys.schema) == "4"
        assert await store.client.zcard(store.keys.closed) == 3000
