"""The indexed queries: a department's waiting queue and a person's open threads.

Both stores keep the indexes in the same atomic step as every change; these tests walk every
state, owner and spam flag and check the indexes agree with ``bot.domain.is_waiting`` and
``is_open`` exactly, and that data written before the indexes is indexed when a store opens.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from contextlib import closing

import pytest

from bot.domain import Person, Thread, ThreadState, is_open, is_waiting
from bot.store import Store, lua
from bot.store.redis import RedisStore
from tests.stores.builders import event, ingest, mention, person
from tests.stores.conftest import Backend

alice, bob = person("alice"), person("bob")
DEPARTMENTS = ("support", "billing")
OWNERS: tuple[Person | None, ...] = (None, alice, bob)


async def expect_indexes_agree(store: Store) -> None:
    """Every query answers exactly what filtering every thread by the domain rules gives."""
    everything = await store.list_threads()
    for department in (*DEPARTMENTS, None, "legal"):
        expected = [
            t.id
            for t in everything
            if is_waiting(t) and (department is None or t.department == department)
        ]
        found = [t.id for t in await store.waiting_threads(department)]
        assert found == expected, department
    for who in (alice, bob, person("nobody")):
        expected = [t.id for t in everything if is_open(t) and t.owner == who]
        assert [t.id for t in await store.held_threads(who.key)] == expected, who.name


async def every_combination(store: Store) -> list[Thread]:
    """One thread per (state, owner, spam, department), numbered in that order."""
    made = []
    combos = itertools.product(ThreadState, OWNERS, (False, True), DEPARTMENTS)
    for n, (state, owner, spam, department) in enumerate(combos):
        t = (await ingest(store, mention(n), "support")).thread
        changed = t.evolve(state=state, owner=owner, spam=spam, department=department)
        assert await store.commit(changed, t.version, event(t.id))
        made.append(changed)
    return made


async def test_indexes_agree_with_the_domain_in_every_state(store: Store) -> None:
    made = await every_combination(store)
    await expect_indexes_agree(store)
    waiting = [t for t in made if is_waiting(t)]
    assert {t.state for t in waiting} == set(ThreadState) - {ThreadState.RESOLVED}
    assert await store.waiting_threads("support") == [
        t for t in waiting if t.department == "support"
    ]
    assert len(await store.held_threads(alice.key)) == 8  # 4 open states x 2 departments


async def test_one_thread_walked_through_every_change(store: Store) -> None:
    t = (await ingest(store, mention(1), "support")).thread
    steps: list[dict[str, object]] = [
        {"state": ThreadState.CLAIMED, "owner": alice},
        {"state": ThreadState.CLAIMED, "owner": bob},
        {"state": ThreadState.REPLIED},
        {"state": ThreadState.NEW, "owner": None},
        {"state": ThreadState.TRANSFERRED, "department": "billing"},
        {"state": ThreadState.TRANSFERRED, "department": "support", "owner": alice},
        {"state": ThreadState.RESOLVED},
        {"state": ThreadState.NEW, "owner": None},
        {"spam": True},
        {"spam": False, "state": ThreadState.REPLIED, "owner": bob},
        {"state": ThreadState.RESOLVED, "owner": None},
    ]
    for change in steps:
        changed = t.evolve(**change)
        assert await store.commit(changed, t.version, event(t.id))
        t = changed
        await expect_indexes_agree(store)
    assert not await store.commit(t.evolve(state=ThreadState.NEW), t.version - 1, event(t.id))
    await expect_indexes_agree(store)


async def test_follow_ups_keep_one_entry_and_limits_take_the_oldest(store: Store) -> None:
    threads = [(await ingest(store, mention(n), "support")).thread for n in range(5)]
    await ingest(store, mention(99, conversation="conv-2"), "support")  # joins the third
    queue = await store.waiting_threads("support")
    assert [t.number for t in queue] == [1001, 1002, 1003, 1004, 1005]
    assert queue[2].mention_count == 2
    oldest = await store.waiting_threads("support", limit=2)
    assert [t.id for t in oldest] == [threads[0].id, threads[1].id]
    assert await store.waiting_threads("support", limit=0) == []
    assert await store.waiting_threads(limit=1) == [queue[0]]
    for t in queue[:3]:
        assert await store.commit(t.evolve(owner=alice), t.version, event(t.id))
    held = await store.held_threads(alice.key, limit=2)
    assert [t.number for t in held] == [1001, 1002]
    assert [t.number for t in await store.waiting_threads("support", limit=1)] == [1004]


async def test_the_sqlite_queries_read_only_their_index(backend: Backend, store: Store) -> None:
    if backend.path is None:
        pytest.skip("SQLite's query plan")
    await ingest(store, mention(1), "support")
    with closing(sqlite3.connect(backend.path)) as conn:
        plans = {
            index: " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for index, sql in [
                ("threads_waiting", "SELECT doc FROM threads WHERE waiting = 'x' ORDER BY number"),
                (
                    "threads_waiting_all",
                    "SELECT doc FROM threads WHERE waiting IS NOT NULL ORDER BY number",
                ),
                ("threads_held", "SELECT doc FROM threads WHERE held = 'x' ORDER BY number"),
            ]
        }
    for index, plan in plans.items():
        assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan


async def as_schema_2(backend: Backend, store: Store) -> None:
    """Turn the data back into what schema 2 wrote: no query columns, indexes or sets."""
    if isinstance(store, RedisStore):
        k, client = store.keys, store.client
        for t in await store.list_threads():
            await client.hdel(k.thread(t.id), "waiting", "held")
        stale = [key async for key in client.scan_iter(match=f"{k.prefix}waiting*")]
        stale += [key async for key in client.scan_iter(match=f"{k.prefix}held:*")]
        await client.delete(*stale)
        await client.set(k.schema, 2)
        return
    await store.close()
    assert backend.path is not None
    with closing(sqlite3.connect(backend.path)) as conn:
        conn.executescript(
            "DROP INDEX threads_waiting; DROP INDEX threads_waiting_all; DROP INDEX threads_held;"
            " ALTER TABLE threads DROP COLUMN waiting; ALTER TABLE threads DROP COLUMN held;"
            " PRAGMA user_version = 2;"
        )


async def test_data_written_before_the_indexes_is_indexed_on_open(backend: Backend) -> None:
    old = backend.open()
    await every_combination(old)
    await as_schema_2(backend, old)
    if isinstance(old, RedisStore):
        assert await old.client.exists(old.keys.waiting_all) == 0
        assert await old.waiting_threads("support") == []  # this instance upgraded already
    replicas = [backend.open() for _ in range(3 if backend.kind == "redis" else 1)]
    answers = await asyncio.gather(*(r.waiting_threads("support") for r in replicas))
    assert answers[0] and all(answer == answers[0] for answer in answers)
    for replica in replicas:
        await expect_indexes_agree(replica)
    t = answers[0][0]
    assert await replicas[0].commit(t.evolve(owner=alice), t.version, event(t.id))
    await expect_indexes_agree(replicas[-1])


async def test_a_thread_changed_during_the_upgrade_is_indexed_as_it_is_now(
    backend: Backend,
) -> None:
    if backend.kind != "redis":
        pytest.skip("SQLite upgrades inside one exclusive transaction")
    old = backend.open()
    assert isinstance(old, RedisStore)
    t = (await ingest(old, mention(1), "support")).thread
    await as_schema_2(backend, old)
    script = old.client.register_script(lua.INDEX_THREAD)
    k = old.keys
    args: list[str | int] = [t.id, t.version - 1, "support", "", k.waiting_head, k.held_head]
    assert await script(keys=[k.thread(t.id), k.waiting_all], args=args) == -1
    args[1] = t.version
    assert await script(keys=[k.thread(t.id), k.waiting_all], args=args) == 1
    assert await script(keys=[k.thread(t.id), k.waiting_all], args=args) == 0
    await old.client.set(k.schema, 3)
    assert [w.id for w in await backend.open().waiting_threads("support")] == [t.id]
