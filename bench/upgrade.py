"""Bench (not part of the test suite): how long the schema 3 upgrade takes to index old data.

    .venv/bin/python bench/upgrade.py [--threads 100000]

Bulk-loads ``--threads`` threads (``bench/bulk.py``), turns them back into what schema 2 wrote
(no query columns or index sets), then times the first query of a freshly opened store, which
runs the upgrade. Redis uses a fresh prefix, deleted after.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bulk import REDIS_URL
from bench.queries import bulk_load, cleanup
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore

AS_SCHEMA_2 = """
DROP INDEX threads_waiting; DROP INDEX threads_waiting_all; DROP INDEX threads_held;
ALTER TABLE threads DROP COLUMN waiting; ALTER TABLE threads DROP COLUMN held;
PRAGMA user_version = 2;
"""


async def sqlite_upgrade(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "old.sqlite3")
        await bulk_load("sqlite", path, count)
        with closing(sqlite3.connect(path)) as conn:
            conn.executescript(AS_SCHEMA_2)
        store = SQLiteStore(path)
        t0 = time.perf_counter()
        assert len(await store.waiting_threads("billing", limit=3)) == 3
        took = time.perf_counter() - t0
        await store.close()
        return took


async def redis_upgrade(count: int) -> float:
    prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
    await bulk_load("redis", prefix, count)
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    client, k = store.client, store.keys
    try:
        async with client.pipeline(transaction=False) as pipe:
            for n in range(count):
                pipe.hdel(k.thread(f"bulk{n:08d}"), "waiting", "held")
                if n % 5000 == 4999:
                    await pipe.execute()
            await pipe.execute()
        stale = [key async for key in client.scan_iter(match=f"{prefix}waiting*")]
        stale += [key async for key in client.scan_iter(match=f"{prefix}held:*")]
        await client.delete(*stale)
        await client.set(k.schema, 2)
        t0 = time.perf_counter()
        assert len(await store.waiting_threads("billing", limit=3)) == 3
        return time.perf_counter() - t0
    finally:
        await store.close()
        await cleanup(prefix)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100_000)
    args = parser.parse_args()
    for kind, run in (("sqlite", sqlite_upgrade), ("redis", redis_upgrade)):
        took = await run(args.threads)
        print(f"{kind}: schema 3 upgrade of {args.threads:,} threads took {took:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
