"""Bulk-load threads straight into a store's layout (schema 3), for the query bench.

    .venv/bin/python bench/bulk.py sqlite PATH COUNT
    .venv/bin/python bench/bulk.py redis PREFIX COUNT

The threads are the crowd a busy deployment accumulates and that no query should have to
read: mostly resolved (many held by ``PERSON``, the person the bench asks "mine" for), some held
open by other people, some waiting in other departments than ``DEPARTMENT``. None of them is in
``DEPARTMENT``'s queue or among ``PERSON``'s open threads. Run in its own process so the
measuring process never holds them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain import Person, Thread, ThreadState
from bot.store.codec import FIRST_THREAD_NUMBER, dump, held_by, waiting_in
from bot.store.keys import Keys
from bot.store.redis_schema import SCHEMA_VERSION as REDIS_SCHEMA
from bot.store.sqlite_schema import SCHEMA_VERSION as SQLITE_SCHEMA
from bot.store.sqlite_schema import open_database

REDIS_URL = "redis://127.0.0.1:6379/0"
DEPARTMENT = "social"
PERSON = Person(surface="bench", id="alice", name="alice")
PLACEHOLDER_NUMBER = 987_654_321
BATCH = 5_000


def variants() -> list[Thread]:
    """The kinds of crowd thread, in the proportions they are loaded (one in 20 each)."""
    others = [Person(surface="bench", id=f"p{i}") for i in range(4)]
    made = []
    for i in range(20):
        department = DEPARTMENT if i % 2 == 0 else ("support", "billing", "legal")[i % 3]
        owner: Person | None = PERSON if i % 4 == 0 else others[i % 4]
        state, spam = ThreadState.RESOLVED, False
        if i == 1:
            state, owner = ThreadState.NEW, None  # waiting, but in another department
        elif i == 3:
            state, owner = ThreadState.CLAIMED, others[i % 4]
        elif i == 5:
            state, owner, spam = ThreadState.NEW, None, True
        elif i == 6:
            state, owner, spam = ThreadState.NEW, None, True  # spam in the queue's department
        elif i == 8:
            state, owner, spam = ThreadState.CLAIMED, PERSON, True  # spam the person holds
        made.append(
            Thread(
                id="@ID@",
                number=PLACEHOLDER_NUMBER,
                department=department,
                state=state,
                owner=owner,
                spam=spam,
                source="bench",
                network="mastodon",
                conversation="bench\x1f@ID@",
            )
        )
    for t in made:
        assert waiting_in(t) != DEPARTMENT and held_by(t) != PERSON.key
    return made


def rows(count: int) -> Iterator[tuple[Thread, str, str, int]]:
    """(variant, thread id, doc, number) for each crowd thread."""
    kinds = [(t, dump(t)) for t in variants()]
    for n in range(count):
        thread, template = kinds[n % len(kinds)]
        number = FIRST_THREAD_NUMBER + n
        thread_id = f"bulk{n:08d}"
        doc = template.replace("@ID@", thread_id).replace(
            f'"number":{PLACEHOLDER_NUMBER}', f'"number":{number}'
        )
        yield thread, thread_id, doc, number


def load_sqlite(path: str, count: int) -> None:
    conn = open_database(path, lambda: 0.0)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SQLITE_SCHEMA
    sql = (
        "INSERT INTO threads (id, number, version, department, state, owner_key, waiting, held,"
        " doc) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)"
    )
    conn.execute("BEGIN")
    batch = []
    for t, thread_id, doc, number in rows(count):
        owner = t.owner.key if t.owner else None
        marks = (waiting_in(t) or None, held_by(t) or None)
        batch.append((thread_id, number, t.department, t.state.value, owner, *marks, doc))
        if len(batch) == BATCH:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.close()


async def load_redis(prefix: str, count: int) -> None:
    k = Keys(prefix)
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    await client.set(k.schema, REDIS_SCHEMA)
    pipe = client.pipeline(transaction=False)
    for i, (t, thread_id, doc, number) in enumerate(rows(count), start=1):
        waiting, held = waiting_in(t), held_by(t)
        fields: dict[str, str | int] = {"doc": doc, "number": number, "version": 1}
        fields |= {"mention_count": 1, "state": t.state.value, "waiting": waiting, "held": held}
        pipe.hset(k.thread(thread_id), mapping=fields)  # type: ignore[arg-type]
        pipe.zadd(k.threads, {thread_id: number})
        pipe.zadd(k.threads_in(t.state), {thread_id: number})
        if waiting:
            pipe.zadd(k.waiting(waiting), {thread_id: number})
            pipe.zadd(k.waiting_all, {thread_id: number})
        if held:
            pipe.zadd(k.held(held), {thread_id: number})
        if i % BATCH == 0:
            await pipe.execute()
    await pipe.execute()
    await client.set(k.thread_counter, count)
    await client.aclose()


def main() -> None:
    kind, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "sqlite":
        load_sqlite(target, count)
    else:
        asyncio.run(load_redis(target, count))


if __name__ == "__main__":
    main()
