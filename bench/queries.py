"""Bench (not part of the test suite): claim-next, queue and mine at a million threads.

    .venv/bin/python bench/queries.py [--threads 1000000] [--rounds 200] [--claims 40]

For each store (a SQLite file; Redis on 127.0.0.1:6379 under a fresh prefix, deleted after)
it opens two stores holding the same answer — ``WAITING`` threads waiting in ``social`` and
``HELD`` open threads held by alice, ingested and claimed through the thread service — one of
them also holding ``--threads`` crowd threads bulk-loaded by ``bench/bulk.py`` in a child
process (resolved, held by others, waiting elsewhere, spam; alice holds many resolved ones).
It then times, alternating between the two stores, the queries the product answers:
- *queue*: ``ThreadService.waiting("social")``;
- *mine*: ``ThreadService.held_by(alice)``;
- *claim-next*: ``next_waiting("social")`` then ``claim`` (as ``/claim`` without an id does);
and the growth of this process's resident memory across the timed part. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bulk import DEPARTMENT, PERSON, REDIS_URL
from bot.config import parse_config
from bot.domain import Author, Mention, Person
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore

WAITING = 50
HELD = 10
CONFIG = parse_config(
    {"departments": [{"name": n} for n in ("social", "support", "billing", "legal")]}
)
BULK = Path(__file__).resolve().parent / "bulk.py"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def mention(n: int) -> Mention:
    return Mention(
        source="bench",
        network="mastodon",
        external_id=f"answer-{n}",
        conversation_key=f"answer-{n}",
        author=Author(id=str(n), handle=f"user{n}"),
        text=f"answer thread {n}",
    )


async def bulk_load(kind: str, target: str, count: int) -> float:
    t0 = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(BULK), kind, target, str(count)
    )
    if await child.wait() != 0:
        raise SystemExit(f"bulk load of {kind} failed")
    return time.perf_counter() - t0


async def answer(service: ThreadService) -> None:
    """The same answer in both stores: WAITING waiting in social, HELD held by alice."""
    for n in range(WAITING + HELD):
        outcome = await service.ingest(mention(n))
        assert outcome is not None
        if n >= WAITING:
            await service.claim(outcome.thread.id, PERSON)


Timed = Callable[[ThreadService], Awaitable[int]]


async def queue(service: ThreadService) -> int:
    return len(await service.waiting(DEPARTMENT))


async def mine(service: ThreadService) -> int:
    return len(await service.held_by(PERSON))


def claim_next(i: int) -> Timed:
    async def run(service: ThreadService) -> int:
        thread = await service.next_waiting(DEPARTMENT)
        assert thread is not None
        await service.claim(thread.id, Person(surface="bench", id=f"claimer{i}"))
        return 1

    return run


async def timed(service: ThreadService, op: Timed) -> tuple[float, int]:
    t0 = time.perf_counter()
    size = await op(service)
    return time.perf_counter() - t0, size


async def measure(
    empty: ThreadService, full: ThreadService, rounds: int, claims: int
) -> dict[str, tuple[list[float], list[float]]]:
    results: dict[str, tuple[list[float], list[float]]] = {}
    ops: list[tuple[str, list[Timed]]] = [
        ("queue", [queue] * rounds),
        ("mine", [mine] * rounds),
        ("claim-next", [claim_next(i) for i in range(claims)]),
    ]
    for name, runs in ops:
        small: list[float] = []
        big: list[float] = []
        for op in runs:
            (a, size_a), (b, size_b) = await timed(empty, op), await timed(full, op)
            assert size_a == size_b, f"{name}: the stores answer differently ({size_a}, {size_b})"
            small.append(a)
            big.append(b)
        results[name] = (small, big)
    return results


def service(store: Store) -> ThreadService:
    return ThreadService(store, Directory(CONFIG.departments), Router((), DEPARTMENT))


async def bench(
    kind: str, folder: Path, threads: int, rounds: int, claims: int
) -> dict[str, object]:
    prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
    if kind == "sqlite":
        target = str(folder / "full.sqlite3")
        empty_store: Store = SQLiteStore(str(folder / "empty.sqlite3"))
    else:
        target = prefix + "full:"
        empty_store = RedisStore.from_url(REDIS_URL, prefix=prefix + "empty:")
    load_s = await bulk_load(kind, target, threads)
    full_store: Store = (
        SQLiteStore(target) if kind == "sqlite" else RedisStore.from_url(REDIS_URL, prefix=target)
    )
    try:
        empty, full = service(empty_store), service(full_store)
        await answer(empty)
        await answer(full)
        await measure(empty, full, 5, 0)  # warm both up
        before = rss_mb()
        results = await measure(empty, full, rounds, claims)
        growth = rss_mb() - before
    finally:
        await empty_store.close()
        await full_store.close()
        if kind == "redis":
            await cleanup(prefix)
    return {"load_s": load_s, "growth_mb": growth, "rss_mb": rss_mb(), "results": results}


async def cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)
    await client.aclose()


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args()
    assert args.claims <= WAITING
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{args.threads:,} crowd threads; answer: {WAITING} waiting in {DEPARTMENT}, "
        f"{HELD} held by alice\n"
    )
    print(
        "| store | query | empty p50 ms | full p50 ms | p50 ratio "
        "| empty p95 ms | full p95 ms | p95 ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            out = await bench(kind, Path(tmp), args.threads, args.rounds, args.claims)
            results = out["results"]
            assert isinstance(results, dict)
            for name, (small, big) in results.items():
                e50, f50, e95, f95 = ms(small, 0.5), ms(big, 0.5), ms(small, 0.95), ms(big, 0.95)
                print(
                    f"| {kind} | {name} | {e50:.3f} | {f50:.3f} | {f50 / e50:.2f} "
                    f"| {e95:.3f} | {f95:.3f} | {f95 / e95:.2f} |"
                )
            notes.append(
                f"{kind}: bulk load {out['load_s']:.0f} s in a child process; this process grew "
                f"{out['growth_mb']:+.1f} MB over the timed part (RSS {out['rss_mb']:.0f} MB)"
            )
    print()
    for note in notes:
        print(f"- {note}")
    print(f"\n(rounds={args.rounds}, claims={args.claims}; one run)")


if __name__ == "__main__":
    asyncio.run(main())
