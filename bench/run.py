"""Benchmarks (not part of the test suite): claim contention and ingest throughput.

    .venv/bin/python bench/run.py [--rounds 40] [--mentions 2000]

For each store (SQLite file, Redis on 127.0.0.1:6379) it measures:
- claim: rounds of 50 concurrent claimers on one fresh thread; latency of every claim call
  (winner and losers) and claim calls resolved per second;
- ingest: mentions stored per second through the thread service, then carded per second by
  the dispatcher onto a no-op surface;
- a floor from the same run: a bare Redis PING round trip and a bare SQLite INSERT+COMMIT.
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from bot.config import parse_config
from bot.dispatch import CardDispatcher
from bot.domain import Author, CardRef, Mention, Person
from bot.errors import AlreadyClaimed
from bot.ports import Card
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore

REDIS_URL = "redis://127.0.0.1:6379/0"
CONFIG = parse_config({"departments": [{"name": "social"}]})


class NoopSurface:
    name = "noop"

    def channel_for(self, department: str) -> str | None:
        return department

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        return CardRef(
            surface="noop",
            channel=channel,
            message_id=key,
            department=card.department,
            placement=card.placement,
        )

    async def update_card(self, ref: CardRef, card: Card) -> None:
        return None

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        return None

    async def close(self) -> None:
        return None


def mention(n: int) -> Mention:
    return Mention(
        source="bench",
        network="mastodon",
        external_id=str(n),
        conversation_key=str(n),
        author=Author(id=str(n), handle=f"user{n}"),
        text=f"mention number {n} about a refund",
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_claims(store: Store, rounds: int) -> dict[str, float]:
    service = ThreadService(store, Directory(CONFIG.departments), Router((), "social"))
    latencies: list[float] = []
    start_all = time.perf_counter()
    for r in range(rounds):
        outcome = await service.ingest(mention(1_000_000 + r))
        assert outcome is not None
        thread_id = outcome.thread.id

        async def claim(i: int, thread_id: str = thread_id) -> None:
            t0 = time.perf_counter()
            with contextlib.suppress(AlreadyClaimed):
                await service.claim(thread_id, Person(surface="b", id=f"p{i}"))
            latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(claim(i) for i in range(50)))
    elapsed = time.perf_counter() - start_all
    return {
        "claims_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 0.50) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
    }


async def bench_ingest(store: Store, count: int) -> dict[str, float]:
    service = ThreadService(store, Directory(CONFIG.departments), Router((), "social"))
    t0 = time.perf_counter()
    for n in range(count):
        await service.ingest(mention(n))
    stored = time.perf_counter() - t0
    dispatcher = CardDispatcher(store, CONFIG.departments, [NoopSurface()], {})
    t1 = time.perf_counter()
    carded = await dispatcher.drain()
    cards = time.perf_counter() - t1
    return {"stored_per_s": count / stored, "carded_per_s": carded / cards}


async def floors(tmp: Path, samples: int = 2000) -> dict[str, float]:
    client = aioredis.from_url(REDIS_URL)
    t0 = time.perf_counter()
    for _ in range(samples):
        await client.ping()
    redis_rtt = (time.perf_counter() - t0) / samples
    await client.aclose()
    conn = sqlite3.connect(tmp / "floor.sqlite3")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    t0 = time.perf_counter()
    for i in range(samples):
        conn.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        conn.commit()
    sqlite_write = (time.perf_counter() - t0) / samples
    conn.close()
    return {"redis_ping_ms": redis_rtt * 1000, "sqlite_write_ms": sqlite_write * 1000}


async def cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for i in range(0, len(keys), 500):
        await client.delete(*keys[i : i + 500])
    await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--mentions", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floor = await floors(folder)
        for kind in ("sqlite", "redis"):
            prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
            store: Store
            if kind == "sqlite":
                store = SQLiteStore.from_url(f"sqlite:///{folder / 'bench.sqlite3'}")
            else:
                store = RedisStore.from_url(REDIS_URL, prefix=prefix)
            claims = await bench_claims(store, args.rounds)
            ingest = await bench_ingest(store, args.mentions)
            await store.close()
            if kind == "redis":
                await cleanup(prefix)
            rows.append((kind, claims, ingest))
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores"
    )
    print(
        f"floor: Redis PING round trip {floor['redis_ping_ms']:.3f} ms; "
        f"SQLite INSERT+COMMIT {floor['sqlite_write_ms']:.3f} ms"
    )
    print()
    print(
        "| store | claim calls/s (50 contenders) | claim p50 ms | claim p99 ms "
        "| ingest stored/s | ingest carded/s |"
    )
    print("|---|---|---|---|---|---|")
    for kind, c, i in rows:
        print(
            f"| {kind} | {c['claims_per_s']:.0f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} "
            f"| {i['stored_per_s']:.0f} | {i['carded_per_s']:.0f} |"
        )
    print(f"\n(rounds={args.rounds}, mentions={args.mentions}; one run)")


if __name__ == "__main__":
    asyncio.run(main())
