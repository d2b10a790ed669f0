"""Bench (not part of the test suite): claim throughput beside a floor at the same concurrency.

    .venv/bin/python bench/claims.py [--threads 5000] [--workers 50] [--rounds 3]

For each store (a SQLite file; Redis on 127.0.0.1:6379 under a fresh prefix, deleted after):
``--threads`` threads are ingested through the thread service, then ``--workers`` concurrent
workers claim them all through ``ThreadService.claim`` (each thread once). In the same run and
on the same store object, the same workers run each floor as many times: on Redis a bare
EVALSHA of a script that returns 1; on SQLite a bare versioned ``UPDATE`` (one row of a table
of its own), once committed on its own on the store's worker thread and once through the
store's own path, where concurrent calls share one commit as claims do. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bulk import REDIS_URL
from bench.queries import CONFIG, cleanup
from bot.domain import Author, Mention, Person
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_io import Conn


def mention(n: int) -> Mention:
    return Mention(
        source="bench",
        network="mastodon",
        external_id=f"claim-{n}",
        conversation_key=f"claim-{n}",
        author=Author(id=str(n), handle=f"user{n}"),
        text=f"claim me {n}",
    )


async def run_workers(
    count: int, workers: int, job: Callable[[int, int], Awaitable[None]]
) -> float:
    """Per second: ``count`` jobs shared by ``workers`` concurrent workers."""
    return (await measured(count, workers, job, None))[0]


async def server_cpu(store: Store | None) -> float:
    """CPU seconds Redis has used so far (0 for SQLite, which runs inside this process)."""
    if not isinstance(store, RedisStore):
        return 0.0
    info = await store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def measured(
    count: int, workers: int, job: Callable[[int, int], Awaitable[None]], store: Store | None
) -> tuple[float, float]:
    """(jobs per second, CPU microseconds per job: this process, all its threads, plus the
    Redis server). CPU per job is steadier than a rate on a shared machine: other processes
    slow a run down but do not add to its CPU."""
    jobs = iter(range(count))

    async def worker(w: int) -> None:
        for n in jobs:
            await job(w, n)

    cpu0, srv0, t0 = time.process_time(), await server_cpu(store), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0 + await server_cpu(store) - srv0
    return count / wall, cpu / count * 1e6


Job = Callable[[int, int], Awaitable[None]]
FLOOR_SQL = "UPDATE floor SET version = version + 1 WHERE id = ? AND version = ?"


def floor_jobs(store: Store) -> dict[str, Job]:
    """The floors, by name. Redis: a bare EVALSHA. SQLite: a bare versioned UPDATE committed on
    its own (its own transaction and sync, on the store's worker thread and connection), and
    the same UPDATE through the store's own path, where concurrent calls share a commit."""
    if isinstance(store, RedisStore):
        trivial = store.client.register_script("return 1")

        async def evalsha(w: int, n: int) -> None:
            await trivial(keys=[store.keys.thread(str(n))], args=[n])

        return {"bare EVALSHA": evalsha}
    assert isinstance(store, SQLiteStore)
    sqlite = store

    def own_commit(n: int) -> None:
        conn = sqlite._connect()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(FLOOR_SQL, (n, 1))
        conn.execute("COMMIT")

    async def committed_alone(w: int, n: int) -> None:
        await asyncio.get_running_loop().run_in_executor(sqlite._executor, own_commit, n)

    async def group_committed(w: int, n: int) -> None:
        await sqlite._run(lambda c: c.execute(FLOOR_SQL, (n, 2)))

    return {"UPDATE, own commit": committed_alone, "UPDATE, group commit": group_committed}


async def floor_table(store: Store, count: int) -> None:
    """SQLite: a table of ``count`` versioned rows the floor updates once each."""
    if isinstance(store, SQLiteStore):

        def create(c: Conn) -> None:
            c.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
            c.executemany("INSERT INTO floor VALUES (?, 1)", [(n,) for n in range(count)])

        await store._run(create)


Round = tuple[float, float, float, float]
"""claims/s, floor/s, CPU µs per claim, CPU µs per floor call."""


async def bench(store: Store, threads: int, workers: int, rounds: int) -> dict[str, list[Round]]:
    """``rounds`` of each floor then claims, alternating so all see the same moments of a
    shared machine; every round claims its own ``threads`` threads."""
    service = ThreadService(store, Directory(CONFIG.departments), Router((), "social"))
    ids = []
    for n in range(threads * rounds):
        outcome = await service.ingest(mention(n))
        assert outcome is not None
        ids.append(outcome.thread.id)
    people = [Person(surface="bench", id=f"worker{w}") for w in range(workers)]
    await floor_table(store, threads * rounds)
    floors = floor_jobs(store)
    results: dict[str, list[Round]] = {name: [] for name in floors}
    for r in range(rounds):
        base = r * threads

        async def claim(w: int, n: int, base: int = base) -> None:
            await service.claim(ids[base + n], people[w])

        measured_floors = {}
        for name, floor in floors.items():

            async def floor_round(w: int, n: int, base: int = base, floor: Job = floor) -> None:
                await floor(w, base + n)

            measured_floors[name] = await measured(threads, workers, floor_round, store)
        claim_rate, claim_cpu = await measured(threads, workers, claim, store)
        for name, (floor_rate, floor_cpu) in measured_floors.items():
            results[name].append((claim_rate, floor_rate, claim_cpu, floor_cpu))
    assert all(t.owner is not None for t in await store.list_threads())
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; {args.threads} threads claimed by {args.workers} workers\n"
    )
    print(
        "| store | floor | round | claims/s | floor/s (same workers) | claims/floor "
        "| CPU µs per claim | per floor call | floor/claim CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "redis"):
            prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
            store: Store = (
                SQLiteStore(str(Path(tmp) / "claims.sqlite3"))
                if kind == "sqlite"
                else RedisStore.from_url(REDIS_URL, prefix=prefix)
            )
            try:
                results = await bench(store, args.threads, args.workers, args.rounds)
            finally:
                await store.close()
                if kind == "redis":
                    await cleanup(prefix)
            for name, pairs in results.items():
                for r, (claims, floor, cpu_claim, cpu_floor) in enumerate(pairs, 1):
                    print(
                        f"| {kind} | {name} | {r} | {claims:.0f} | {floor:.0f} "
                        f"| {claims / floor:.2f} | {cpu_claim:.0f} | {cpu_floor:.0f} "
                        f"| {cpu_floor / cpu_claim:.2f} |"
                    )
                ratio = statistics.median(c / f for c, f, _, _ in pairs)
                cpu_ratio = statistics.median(fc / cc for _, _, cc, fc in pairs)
                print(f"| {kind} | {name} | median | | | {ratio:.2f} | | | {cpu_ratio:.2f} |")
    print(
        "\nfloors: redis a bare EVALSHA of `return 1`; sqlite a bare versioned UPDATE, "
        "committed on its own or sharing the store's group commit"
    )


if __name__ == "__main__":
    asyncio.run(main())
