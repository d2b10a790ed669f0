"""Each store's own edges: URLs, unreachable servers, files on disk, schema versions."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from bot.errors import ConfigError, StoreError
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.redis_schema import SCHEMA_VERSION as REDIS_SCHEMA_VERSION
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_schema import SCHEMA_VERSION, open_database
from tests.boards import free_port

from .builders import ingest, mention


async def test_unreachable_redis_is_a_clear_store_error() -> None:
    port = free_port()
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreError) as caught:
            await store.ping()
        assert str(caught.value) == f"cannot reach Redis at 127.0.0.1:{port}: Connection refused"
        with pytest.raises(StoreError, match="cannot reach Redis"):
            await ingest(store, mention(1))
    finally:
        await store.close()


@pytest.mark.redis
async def test_redis_ping_and_open_by_url(redis_url: str, redis_prefix: str) -> None:
    store = Store.from_url(redis_url)
    assert isinstance(store, RedisStore)
    marked = await store.client.exists(store.keys.schema)
    try:
        await store.ping()
        assert await store.client.get(store.keys.schema) == str(REDIS_SCHEMA_VERSION)
    finally:
        if not marked:  # the default prefix is shared: leave it as it was
            await store.client.delete(store.keys.schema)
        await store.close()


async def test_sqlite_file_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "sb.sqlite3"
    store = Store.from_url(f"sqlite:///{path}")
    assert isinstance(store, SQLiteStore)
    await ingest(store, mention(1))
    await store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.execute("PRAGMA user_version = 99")
    newer = SQLiteStore.from_url(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match="schema version 99"):
            await newer.ping()
    finally:
        await newer.close()


async def test_sqlite_relative_and_memory_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///data.sqlite3", "sqlite:///:memory:"):
        store = SQLiteStore.from_url(url)
        try:
            assert (await ingest(store, mention(1))).thread.number == 1001
        finally:
            await store.close()
    assert (tmp_path / "data.sqlite3").is_file()
    assert not Path(":memory:").exists()


async def test_sqlite_missing_folder_and_closed_store(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 'nope' / 'sb.sqlite3'}")
    with pytest.raises(StoreError, match=r"no directory .*nope"):
        await store.ping()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.ping()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:relative.db", "postgres://x"])
def test_bad_store_urls_name_the_fix(url: str) -> None:
    with pytest.raises(ConfigError, match=r"store\.url"):
        Store.from_url(url)


def test_processes_creating_one_sqlite_file_at_once_all_open_it(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    for attempt in range(30):
        path = str(tmp_path / f"new-{attempt}.sqlite3")
        start = threading.Barrier(5)

        def open_it(path: str = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                open_database(path, time.time).close()
            except BaseException as exc:
                failures.append(exc)

        workers = [threading.Thread(target=open_it) for _ in range(5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert failures == []
