"""Upgrade in place: lookups that schema 1 kept in source cursors and leases move to KV, once."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

import pytest

from bot.domain import CardRef
from bot.storage import DAY
from bot.store import Store
from bot.store.redis import RedisStore

from .conftest import Backend, FakeClock

WEEK = 7 * DAY
REF = CardRef(
    surface="teams",
    channel="19:abc@thread.tacv2",
    message_id="m1",
    department="support",
    placement=0,
).model_dump_json()
CONVERSATION = "19:abc@thread.tacv2;1700000000000"

# schema 1's lease script, verbatim: a lease was a string holding the holder, with a PX
V1_ACQUIRE_LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


async def write_lookups_as_today(store: Store) -> None:
    """What the Teams surface, the approval handlers and Slack de-duplication store today."""
    await store.set_cursor("mastodon-main", "110")
    await store.set_cursor("bluesky", "cursor:abc")
    await store.set_cursor("teams:card:th-1:teams:0", REF)
    await store.set_cursor(f"teams:conversation:{CONVERSATION}", "th-1")
    assert await store.acquire_lease("source:mastodon-main", "replica-a", 60)
    assert await store.acquire_lease("draft:click-1", "draft-1", WEEK)
    assert await store.acquire_lease("draft:click-old", "draft-0", 10)
    assert await store.acquire_lease("approval:draft-1:approved:recorded", "x1", WEEK)
    assert await store.acquire_lease("approval:draft-1", "approved", WEEK)
    assert await store.acquire_lease("slack:event:Ev01", "x2", 3600)


SCHEMA_1 = """
DROP INDEX threads_waiting; DROP INDEX threads_waiting_all; DROP INDEX threads_held;
ALTER TABLE threads DROP COLUMN waiting; ALTER TABLE threads DROP COLUMN held;
DROP TABLE kv; PRAGMA user_version = 1;
"""
"""Turns a SQLite file of this build back into the shape schema 1 wrote."""


async def as_schema_1(backend: Backend, store: Store) -> None:
    """Mark the data as written by schema 1 (SQLite: no kv table nor query columns; Redis:
    no schema key)."""
    if isinstance(store, RedisStore):
        await store.client.delete(store.keys.schema)
        return
    await store.close()
    assert backend.path is not None
    with closing(sqlite3.connect(backend.path)) as conn:
        conn.executescript(SCHEMA_1)


async def left_over(backend: Backend, store: Store) -> tuple[list[str], list[str]]:
    """The cursor names and lease names still stored."""
    if isinstance(store, RedisStore):
        cursors = [str(name) for name in await store.client.hkeys(store.keys.cursors)]
        head = store.keys.leases
        keys = [str(key) async for key in store.client.scan_iter(match=f"{head}*")]
        return sorted(cursors), sorted(key[len(head) :] for key in keys)
    assert backend.path is not None
    with closing(sqlite3.connect(backend.path)) as conn:
        cursors = [row[0] for row in conn.execute("SELECT source FROM cursors")]
        leases = [row[0] for row in conn.execute("SELECT name FROM leases")]
    return sorted(cursors), sorted(leases)


async def test_lookups_move_from_cursors_and_leases_to_kv(
    backend: Backend, clock: FakeClock
) -> None:
    old = backend.open(clock=clock)
    await write_lookups_as_today(old)
    await as_schema_1(backend, old)
    await old.close()
    clock.advance(DAY)

    new = backend.open(clock=clock)
    assert await new.kv_get("teams.posted", "th-1:teams:0") == REF
    assert await new.kv_get("teams.conversation", CONVERSATION) == "th-1"
    assert await new.kv_get("draft.key", "click-1") == "draft-1"
    assert await new.kv_get("draft.key", "click-old") is None, "an expired lease is dropped"
    assert await new.kv_get("draft.recorded", "draft-1:approved") == "1"
    assert await new.kv_get("draft.decision", "draft-1") == "approved"
    assert await left_over(backend, new) == (
        ["bluesky", "mastodon-main"],
        ["source:mastodon-main"],
    ), "only real source cursors and real leases are left"
    assert await new.get_cursor("mastodon-main") == "110"
    assert await new.get_cursor("teams:card:th-1:teams:0") is None
    assert await new.acquire_lease("slack:event:Ev01", "x3", 3600), "de-duplication dropped"
    assert await new.acquire_lease("approval:draft-1", "rejected", WEEK), "a KV entry now"

    written, opened = clock.now - DAY, clock.now
    clock.now = written + WEEK - 1
    assert await new.kv_get("draft.decision", "draft-1") == "approved"
    clock.now = written + WEEK
    assert await new.kv_get("draft.decision", "draft-1") is None, "the lease's remaining time"
    assert await new.kv_get("draft.recorded", "draft-1:approved") is None
    assert await new.kv_get("draft.key", "click-1") is None
    clock.now = opened + 30 * DAY - 1
    assert await new.kv_get("teams.posted", "th-1:teams:0") == REF
    clock.now = opened + 30 * DAY
    assert await new.kv_get("teams.posted", "th-1:teams:0") is None, "30 days"
    clock.now = opened + 90 * DAY - 1
    assert await new.kv_get("teams.conversation", CONVERSATION) == "th-1"
    clock.now = opened + 90 * DAY
    assert await new.kv_get("teams.conversation", CONVERSATION) is None, "90 days"


async def test_real_leases_survive_the_upgrade(backend: Backend, clock: FakeClock) -> None:
    old = backend.open(clock=clock)
    await write_lookups_as_today(old)
    await as_schema_1(backend, old)
    await old.close()

    new = backend.open(clock=clock)
    assert not await new.acquire_lease("source:mastodon-main", "replica-b", 60)
    assert await left_over(backend, new) == (
        ["bluesky", "mastodon-main"],
        ["source:mastodon-main"],
    )
    assert await new.acquire_lease("source:mastodon-main", "replica-a", 60)
    clock.advance(60)
    assert await new.acquire_lease("source:mastodon-main", "replica-b", 60)


async def test_the_upgrade_runs_once(backend: Backend, clock: FakeClock) -> None:
    old = backend.open(clock=clock)
    await write_lookups_as_today(old)
    await as_schema_1(backend, old)
    await old.close()
    first, second = backend.open(clock=clock), backend.open(clock=clock)
    await asyncio.gather(first.ping(), second.ping())
    assert await second.kv_get("draft.decision", "draft-1") == "approved"

    await first.kv_put("teams.posted", "th-1:teams:0", "newer")
    await first.set_cursor("teams:card:later", REF)
    again = backend.open(clock=clock)
    assert await again.get_cursor("teams:card:later") == REF, "schema 2 data is not moved"
    assert await again.kv_get("teams.posted", "th-1:teams:0") == "newer"
    assert await again.kv_get("teams.posted", "later") is None


@pytest.mark.redis
async def test_redis_upgrades_leases_written_by_schema_1(
    redis_url: str, redis_prefix: str, clock: FakeClock
) -> None:
    store = RedisStore.from_url(redis_url, prefix=redis_prefix, clock=clock)
    client, keys = store.client, store.keys
    v1_acquire = client.register_script(V1_ACQUIRE_LEASE)
    for name, holder, ttl_ms in [
        ("source:mastodon-main", "replica-a", 60_000),
        ("draft:click-1", "draft-1", 7 * 86_400_000),
        ("approval:draft-1:approved:recorded", "x1", 7 * 86_400_000),
        ("approval:draft-1", "approved", 7 * 86_400_000),
        ("slack:event:Ev01", "x2", 3_600_000),
    ]:
        assert await v1_acquire(keys=[keys.lease(name)], args=[holder, ttl_ms]) == 1
    await client.hset(keys.cursors, mapping={"mastodon-main": "110", "teams:card:k": REF})
    try:
        assert await store.kv_get("teams.posted", "k") == REF
        assert await store.kv_get("draft.key", "click-1") == "draft-1"
        assert await store.kv_get("draft.recorded", "draft-1:approved") == "1"
        assert await store.kv_get("draft.decision", "draft-1") == "approved"
        assert await client.hkeys(keys.cursors) == ["mastodon-main"]
        assert [k async for k in client.scan_iter(match=f"{keys.leases}*")] == [
            keys.lease("source:mastodon-main")
        ]
        assert not await store.acquire_lease("source:mastodon-main", "replica-b", 60)
        clock.advance(WEEK - 5)
        assert await store.kv_get("draft.decision", "draft-1") == "approved"
        clock.advance(6)
        assert await store.kv_get("draft.decision", "draft-1") is None
        assert await store.acquire_lease("source:mastodon-main", "replica-b", 60)
    finally:
        await store.close()
