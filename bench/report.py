"""Bench (not part of the test suite): ``switchboard report`` over 100,000 threads.

    .venv/bin/python bench/report.py [--threads 100000] [--days 3] [--rounds 3]
        [--sizes 25000,50000]

For each store (a SQLite file; Redis on 127.0.0.1:6379 under a fresh prefix, deleted after) a
child process loads the audit log of ``--threads`` threads received over ``--days`` days
straight into the store's event layout (the report reads nothing else): each opened, most
claimed, replied and resolved, some transferred, rolled over, released, noted or marked as
spam, in three departments (two on office hours in Europe/Berlin, one 24/7) by 30 people.
Then, alternating so both see the same moments of the machine, it times
- *floor*: a bare scan of the same event index, page by page, with the same light decoding
  (``audit_rows``: the rows the report reads, nothing else done with them),
- *report*: ``Reports.build`` over the same period (the same pages, folded into figures),
and, in separate runs under ``tracemalloc`` (which slows Python), the peak memory each
allocates. ``--sizes``: smaller logs at the same rate of threads a day (a shorter period),
measured for memory only, to show how it grows with the period. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import parse_config
from bot.domain import AuditEvent, EventKind, Person
from bot.report import Reports
from bot.report.fold import Count
from bot.report.service import PAGE, policy_table
from bot.store import Store
from bot.store.codec import micros
from bot.store.keys import Keys
from bot.store.redis import RedisStore
from bot.store.redis_schema import SCHEMA_VERSION as REDIS_SCHEMA
from bot.store.sqlite import SQLiteStore
from bot.store.sqlite_schema import open_database

REDIS_URL = "redis://127.0.0.1:6379/0"
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday
CONFIG = parse_config(
    {
        "sla": {
            "claim": "15m",
            "first_response": "1h",
            "calendars": {
                "office": {"timezone": "Europe/Berlin", "weekly": ["mon-fri 09:00-18:00"]}
            },
        },
        "departments": [
            {"name": "support", "hours": "office", "escalation": "social"},
            {"name": "billing", "hours": "office"},
            {"name": "social", "hours": "24/7"},
        ],
    }
)
PEOPLE = [Person(surface="slack", id=f"U{i:04d}", name=f"person{i}") for i in range(30)]
BATCH = 5_000


def ev(
    rng: random.Random,
    tid: str,
    at: datetime,
    kind: EventKind,
    who: Person | None,
    **data: object,
) -> AuditEvent:
    return AuditEvent(
        id=uuid.UUID(int=rng.getrandbits(128)).hex,
        thread_id=tid,
        kind=kind,
        actor=who,
        at=at,
        surface="slack" if who else "ingest",
        data=data,
    )


def history(threads: int, days: float) -> Iterator[AuditEvent]:
    """The events of every thread (not in time order: stores index them by time)."""
    rng = random.Random(42)
    span = days * 86_400
    departments = [d.name for d in CONFIG.departments]
    for n in range(threads):
        tid = f"bench{n:08d}"
        at = START + timedelta(seconds=span * n / threads)
        department = departments[n % 3]

        yield ev(
            rng, tid, at, EventKind.OPENED, None, mention=f"bench\x1fm{n}", department=department
        )
        roll = rng.random()
        if roll < 0.02 and department == "support":
            at += timedelta(minutes=30)
            yield ev(
                rng,
                tid,
                at,
                EventKind.TRANSFERRED,
                None,
                to="social",
                note="no answer",
                rollover=True,
            )
            department = "social"
        elif roll < 0.10:
            at += timedelta(minutes=rng.randrange(1, 20))
            target = departments[(n + 1) % 3]
            yield ev(
                rng, tid, at, EventKind.TRANSFERRED, rng.choice(PEOPLE), to=target, note="yours"
            )
            department = target
        if rng.random() < 0.05:
            continue  # still waiting
        who = rng.choice(PEOPLE)
        at += timedelta(minutes=rng.randrange(1, 90))
        yield ev(rng, tid, at, EventKind.CLAIMED, who)
        if rng.random() < 0.05:
            at += timedelta(minutes=5)
            yield ev(rng, tid, at, EventKind.RELEASED, who)
            who = rng.choice(PEOPLE)
            at += timedelta(minutes=rng.randrange(1, 30))
            yield ev(rng, tid, at, EventKind.CLAIMED, who)
        if rng.random() < 0.2:
            at += timedelta(minutes=2)
            yield ev(rng, tid, at, EventKind.NOTE, who, text="looking into it")
        if rng.random() < 0.04:
            at += timedelta(minutes=1)
            yield ev(rng, tid, at, EventKind.SPAM, who)
            continue
        if rng.random() < 0.85:
            at += timedelta(minutes=rng.randrange(1, 120))
            yield ev(
                rng, tid, at, EventKind.REPLIED, who, key=f"r{n}", url=f"https://example.social/{n}"
            )
        if rng.random() < 0.8:
            at += timedelta(minutes=rng.randrange(5, 600))
            yield ev(rng, tid, at, EventKind.RESOLVED, who)


def load_sqlite(path: str, threads: int, days: float) -> int:
    conn = open_database(path, lambda: 0.0)
    sql = "INSERT INTO events (id, thread_id, at_us, doc) VALUES (?, ?, ?, ?)"
    conn.execute("BEGIN")
    batch, count = [], 0
    for e in history(threads, days):
        batch.append((e.id, e.thread_id, micros(e.at), e.model_dump_json()))
        if len(batch) == BATCH:
            conn.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.close()
    return count + len(batch)


async def load_redis(prefix: str, threads: int, days: float) -> int:
    k = Keys(prefix)
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    await client.set(k.schema, REDIS_SCHEMA)
    pipe = client.pipeline(transaction=False)
    count = 0
    for count, e in enumerate(history(threads, days), start=1):
        pipe.hset(k.events, e.id, e.model_dump_json())
        pipe.rpush(k.thread_events(e.thread_id), e.id)
        pipe.zadd(k.audit, {f"{count:012d}:{e.id}": micros(e.at)})
        if count % BATCH == 0:
            await pipe.execute()
    await pipe.execute()
    await client.set(k.event_counter, count)
    await client.aclose()
    return count


async def scan(store: Store, since: datetime, until: datetime) -> int:
    """The floor: read every page of the period, and nothing else."""
    seen, cursor = 0, ""
    while True:
        page = await store.audit_rows(since, until, after=cursor, limit=PAGE)
        seen += len(page.rows)
        if not page.cursor:
            return seen
        cursor = page.cursor


async def report(store: Store, since: datetime, until: datetime) -> int:
    policies = policy_table(d.sla_policy for d in CONFIG.departments)
    built = await Reports(store, policies).build(since, until)
    return sum(r.counts[next(iter(r.counts))] for r in built.departments)


async def timed(step: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = await step()
    return time.perf_counter() - t0, result


async def peak(step: Callable[[], Awaitable[int]]) -> float:
    tracemalloc.start()
    try:
        await step()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def memory(store: Store, days: float) -> tuple[float, float, int]:
    """Peak MB of the report and of the floor, and the threads still open at the end."""
    since, until = START, START + timedelta(days=days + 1)
    floor_mb = await peak(lambda: scan(store, since, until))
    report_mb = await peak(lambda: report(store, since, until))
    policies = policy_table(d.sla_policy for d in CONFIG.departments)
    built = await Reports(store, policies).build(since, until)
    received = sum(r.counts[Count.RECEIVED] for r in built.departments)
    closed = sum(r.counts[Count.RESOLVED] + r.counts[Count.SPAM] for r in built.departments)
    return report_mb, floor_mb, received - closed


async def bench(kind: str, store: Store, args: argparse.Namespace) -> tuple[str, str]:
    """The timing row and the memory row of the full-size log."""
    since, until = START, START + timedelta(days=args.days + 1)
    floors, reports = [], []
    received = 0
    for _ in range(args.rounds):
        floors.append((await timed(lambda: scan(store, since, until)))[0])
        took, received = await timed(lambda: report(store, since, until))
        reports.append(took)
    report_mb, floor_mb, still_open = await memory(store, args.days)
    events = await scan(store, since, until)
    fmt = ", ".join
    line = (
        f"| {kind} | {received:,} | {events:,} | {fmt(f'{t:.2f}' for t in reports)} "
        f"| {fmt(f'{t:.2f}' for t in floors)} | {report_mb:.1f} | {floor_mb:.1f} |"
    )
    return line, _memory_row(kind, args.threads, args.days, report_mb, floor_mb, still_open)


def _memory_row(kind: str, threads: int, days: float, *found: float) -> str:
    report_mb, floor_mb, still_open = found
    return (
        f"| {kind} | {threads:,} | {days:g} | {still_open:,.0f} | {report_mb:.1f} "
        f"| {floor_mb:.1f} |"
    )


async def sized(kind: str, threads: int, days: float) -> str:
    """Memory only, for a log of ``threads`` threads over ``days``."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "bench.sqlite3")
            await child_load("sqlite", path, threads, days)
            store: Store = SQLiteStore(path)
            try:
                found = await memory(store, days)
            finally:
                await store.close()
    else:
        prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
        try:
            await child_load("redis", prefix, threads, days)
            store = RedisStore.from_url(REDIS_URL, prefix=prefix)
            try:
                found = await memory(store, days)
            finally:
                await store.close()
        finally:
            await cleanup(prefix)
    return _memory_row(kind, threads, days, *found)


async def cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=5000)]
    for i in range(0, len(keys), 5000):
        await client.delete(*keys[i : i + 5000])
    await client.aclose()


async def child_load(kind: str, target: str, threads: int, days: float) -> float:
    t0 = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--load", kind, target, str(threads), str(days)
    )
    if await child.wait() != 0:
        raise SystemExit(f"loading {kind} failed")
    return time.perf_counter() - t0


async def main(args: argparse.Namespace) -> None:
    print(f"{platform.python_version()} on {platform.machine()}; {args.threads:,} threads")
    print("| store | threads received | events | report s | floor s | report MB | floor MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.sqlite3")
        loaded = await child_load("sqlite", path, args.threads, args.days)
        store: Store = SQLiteStore(path)
        try:
            line, sqlite_mb = await bench("sqlite", store, args)
        finally:
            await store.close()
        print(line)
        plan = sqlite3.connect(path).execute(
            "EXPLAIN QUERY PLAN " + "SELECT doc FROM events INDEXED BY events_by_time"
            " WHERE (at_us, seq) > (0, 0) AND at_us < 1 ORDER BY at_us, seq LIMIT 1"
        )
        detail = "; ".join(str(r[-1]) for r in plan)
    prefix = f"sbbench:{uuid.uuid4().hex[:8]}:"
    try:
        redis_loaded = await child_load("redis", prefix, args.threads, args.days)
        store = RedisStore.from_url(REDIS_URL, prefix=prefix)
        try:
            line, redis_mb = await bench("redis", store, args)
            print(line)
        finally:
            await store.close()
    finally:
        await cleanup(prefix)
    print(f"\n(load: sqlite {loaded:.0f} s, redis {redis_loaded:.0f} s; rounds={args.rounds})")
    print(f"SQLite page query plan: {detail}")
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    print("\n| store | threads | days | open at the end | report MB | floor MB |")
    print("|---|---|---|---|---|---|")
    for kind, full in (("sqlite", sqlite_mb), ("redis", redis_mb)):
        for n in sizes:
            print(await sized(kind, n, args.days * n / args.threads))
        print(full)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        kind, target, n, d = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        if kind == "sqlite":
            print(f"loaded {load_sqlite(target, n, d)} events", file=sys.stderr)
        else:
            print(f"loaded {asyncio.run(load_redis(target, n, d))} events", file=sys.stderr)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="25000,50000", help="threads, comma-separated")
    asyncio.run(main(parser.parse_args()))
