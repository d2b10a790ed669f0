"""Contract: the namespaced key-value port, its expiry on an injected clock, and its races."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore

from .conftest import Backend, FakeClock

HOSTILE = [
    ("a:b", "c"),
    ("a", "b:c"),
    ("a\x1fb", "c"),
    ("a", "b\x1fc"),
    ("", "a:b"),
    ("a:b", ""),
    ("1:a", "b"),
    ("1", "a:b"),
    ("teams.posted", "k"),
    ("teams.posted:k", ""),
    ("ns", "*?[x]\\"),
]


async def test_get_put_overwrite_delete(store: Store) -> None:
    assert await store.kv_get("teams.posted", "card-1") is None
    await store.kv_put("teams.posted", "card-1", '{"id": 1}')
    assert await store.kv_get("teams.posted", "card-1") == '{"id": 1}'
    await store.kv_put("teams.posted", "card-1", '{"id": 2}')
    assert await store.kv_get("teams.posted", "card-1") == '{"id": 2}'
    await store.kv_put("teams.posted", "card-2", "")
    assert await store.kv_get("teams.posted", "card-2") == ""
    await store.kv_delete("teams.posted", "card-1")
    await store.kv_delete("teams.posted", "never-there")
    assert await store.kv_get("teams.posted", "card-1") is None
    assert await store.kv_get("teams.posted", "card-2") == ""


async def test_namespaces_and_hostile_keys_never_collide(store: Store) -> None:
    for n, (namespace, key) in enumerate(HOSTILE):
        await store.kv_put(namespace, key, f"value-{n}")
    for n, (namespace, key) in enumerate(HOSTILE):
        assert await store.kv_get(namespace, key) == f"value-{n}"
    await store.kv_delete("a:b", "c")
    assert await store.kv_get("a:b", "c") is None
    assert [await store.kv_get(ns, key) for ns, key in HOSTILE[1:]] == [
        f"value-{n}" for n in range(1, len(HOSTILE))
    ]
    assert not await store.kv_put_if_absent("a", "b:c", "other")
    assert await store.kv_put_if_absent("a:b", "c", "again")


async def test_kv_lives_beside_cursors_and_leases(store: Store) -> None:
    await store.kv_put("cursors", "mastodon-main", "kv")
    await store.set_cursor("mastodon-main", "110")
    assert await store.acquire_lease("poll", "replica-a", 5)
    await store.kv_put("lease", "poll", "kv")
    assert (
        await store.kv_get("cursors", "mastodon-main"),
        await store.get_cursor("mastodon-main"),
    ) == ("kv", "110")
    assert not await store.acquire_lease("poll", "replica-b", 5)


async def test_put_if_absent_keeps_a_live_entry(store: Store, clock: FakeClock) -> None:
    assert await store.kv_put_if_absent("draft.key", "k1", "draft-1")
    assert not await store.kv_put_if_absent("draft.key", "k1", "draft-2")
    assert not await store.kv_put_if_absent("draft.key", "k1", "draft-2", ttl=1)
    clock.advance(10 * 365 * 86_400)
    assert not await store.kv_put_if_absent("draft.key", "k1", "draft-3"), "no ttl: forever"
    assert await store.kv_get("draft.key", "k1") == "draft-1"


async def test_fifty_put_if_absent_callers_one_winner(backend: Backend, clock: FakeClock) -> None:
    stores = [backend.open(clock=clock) for _ in range(5)]
    await asyncio.gather(*(s.ping() for s in stores))
    start = asyncio.Barrier(50)

    async def take(n: int) -> bool:
        await start.wait()
        return await stores[n % 5].kv_put_if_absent("draft.key", "k", f"caller-{n}", ttl=60)

    won = await asyncio.gather(*(take(n) for n in range(50)))
    assert won.count(True) == 1
    assert await stores[0].kv_get("draft.key", "k") == f"caller-{won.index(True)}"


async def test_entries_expire_on_the_injected_clock(store: Store, clock: FakeClock) -> None:
    await store.kv_put("teams.conversation", "c;1", "th-1", ttl=10)
    await store.kv_put("teams.conversation", "c;2", "th-2")
    clock.advance(9)
    assert await store.kv_get("teams.conversation", "c;1") == "th-1"
    clock.advance(1)
    assert await store.kv_get("teams.conversation", "c;1") is None, "expires at exactly ttl"
    assert await store.kv_get("teams.conversation", "c;2") == "th-2"


async def test_put_replaces_the_expiry(store: Store, clock: FakeClock) -> None:
    await store.kv_put("ns", "k", "short", ttl=5)
    await store.kv_put("ns", "k", "forever")
    await store.kv_put("ns", "other", "forever")
    await store.kv_put("ns", "other", "short", ttl=5)
    clock.advance(6)
    assert await store.kv_get("ns", "k") == "forever"
    assert await store.kv_get("ns", "other") is None


async def test_expired_entry_is_taken_again(store: Store, clock: FakeClock) -> None:
    assert await store.kv_put_if_absent("draft.decision", "d1", "approved", ttl=5)
    assert not await store.kv_put_if_absent("draft.decision", "d1", "rejected", ttl=5)
    clock.advance(5)
    assert await store.kv_get("draft.decision", "d1") is None
    assert await store.kv_put_if_absent("draft.decision", "d1", "rejected", ttl=5)
    assert await store.kv_get("draft.decision", "d1") == "rejected"
    clock.advance(4)
    assert not await store.kv_put_if_absent("draft.decision", "d1", "approved")
    assert await store.kv_put_if_absent("draft.recorded", "d1", "1", ttl=0), "another namespace"
    assert await store.kv_get("draft.recorded", "d1") is None, "ttl 0: expired at once"


async def test_stores_on_one_clock_agree(backend: Backend, clock: FakeClock) -> None:
    a, b = backend.open(clock=clock), backend.open(clock=clock)
    await a.kv_put("ns", "k", "v", ttl=30)
    assert await b.kv_get("ns", "k") == "v"
    clock.advance(30)
    assert await b.kv_get("ns", "k") is None
    assert await b.kv_put_if_absent("ns", "k", "w", ttl=30)
    assert await a.kv_get("ns", "k") == "w"


def _kv_rows(store: SQLiteStore) -> int:
    with closing(sqlite3.connect(store.path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])


async def test_sqlite_sweeps_expired_rows(tmp_path: Path, clock: FakeClock) -> None:
    store = SQLiteStore(str(tmp_path / "sb.sqlite3"), clock=clock)
    for n in range(250):
        await store.kv_put("slack.event", f"ev-{n}", "1", ttl=1)
    await store.kv_put("ns", "kept", "v")
    clock.advance(2)
    assert await store.kv_get("slack.event", "ev-1") is None
    assert _kv_rows(store) == 251, "reads ignore expired rows without deleting"
    await store.kv_put("ns", "other", "v")
    assert _kv_rows(store) == 252 - 100, "each write sweeps a bounded batch"
    assert await store.sweep(limit=50) == 50
    assert await store.sweep() == 100
    assert await store.sweep() == 0
    assert _kv_rows(store) == 2
    assert await store.kv_get("ns", "kept") == "v"
    await store.close()


@pytest.mark.redis
async def test_redis_keeps_expiring_entries_well_past_their_ttl(
    redis_url: str, redis_prefix: str, clock: FakeClock
) -> None:
    store = RedisStore.from_url(redis_url, prefix=redis_prefix, clock=clock)
    await store.kv_put("ns", "short", "v", ttl=10)
    await store.kv_put("ns", "forever", "v", ttl=10)
    await store.kv_put("ns", "forever", "v")
    assert await store.kv_put_if_absent("ns", "taken", "v", ttl=10)
    assert await store.acquire_lease("poll", "replica-a", 10)
    pttl = store.client.pttl
    assert await pttl(store.keys.kv("ns", "short")) > 20_000
    assert await pttl(store.keys.kv("ns", "taken")) > 20_000
    assert await pttl(store.keys.lease("poll")) > 20_000
    assert await pttl(store.keys.kv("ns", "forever")) == -1
    await store.close()
