"""Upgrade in place from files the previous release wrote.

``tests/fixtures/stores/schema1.db`` (SQLite) and ``schema1-redis.json`` (every key under a
prefix, with its type and remaining PX) were written by the release before the key-value port
(schema 1): a thread, a source cursor, the Teams surface's lookups in the cursor table, the
approval state and Slack event de-duplication in leases, and a live polling lease."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.domain import CardRef
from bot.storage import DRAFT_DECISION, DRAFT_KEY, DRAFT_RECORDED
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from bot.surfaces.teams.lookups import CardLookups

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
WRITTEN_AT = 1796193139.0
"""When the fixtures were written (2026-12-02 06:32:19 UTC); the clock starts 10 s later."""
CARD_KEY = "th-1:0:teams"
CONVERSATION = "19:legal@thread.tacv2;messageid=1700000000001"


async def restore(url: str, prefix: str) -> None:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        for name, entry in json.loads((FIXTURES / "schema1-redis.json").read_text()).items():
            key, kind, value = prefix + name, entry["type"], entry["value"]
            if kind == "string":
                await client.set(key, value)
            elif kind == "hash":
                await client.hset(key, mapping=value)
            elif kind == "zset":
                await client.zadd(key, {member: score for member, score in value})
            elif kind == "list":
                await client.rpush(key, *value)
            elif kind == "set":
                await client.sadd(key, *value)
            if entry["pttl"] > 0:
                await client.pexpire(key, entry["pttl"])
    finally:
        await client.aclose()


@pytest.fixture(params=["sqlite", "redis"])
async def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    def clock() -> float:
        return WRITTEN_AT + 10

    store: Store
    if request.param == "sqlite":
        path = tmp_path / "written-by-schema-1.db"
        shutil.copy(FIXTURES / "schema1.db", path)
        store = SQLiteStore(str(path), clock=clock)
    else:
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")
        await restore(url, prefix)
        store = RedisStore.from_url(url, prefix=prefix, clock=clock)
    await store.ping()
    yield store
    await store.close()


async def test_every_lookup_survives_the_upgrade(upgraded: Store) -> None:
    thread = await upgraded.get_thread("th-1")
    assert thread is not None and thread.department == "legal"
    assert [m.text for m in await upgraded.mentions("th-1")] == ["my lawyer will call"]
    lookups = CardLookups(upgraded)
    ref = await lookups.posted(CARD_KEY)
    assert ref == CardRef(
        surface="teams", channel=CONVERSATION, message_id="1700000000001",
        department="legal", placement=0,
    )  # fmt: skip
    assert await lookups.thread_for(CONVERSATION) == "th-1"
    assert await upgraded.kv_get(DRAFT_KEY, "slack:view:V1") == "draft-1"
    assert await upgraded.kv_get(DRAFT_DECISION, "draft-1") == "approved"
    assert await upgraded.kv_get(DRAFT_RECORDED, "draft-1:approved") == "1"


async def test_only_source_cursors_and_real_leases_are_left(upgraded: Store) -> None:
    assert await upgraded.get_cursor("mastodon-main") == "110"
    assert await upgraded.get_cursor(f"teams:card:{CARD_KEY}") is None
    assert (
        await upgraded.get_cursor("teams:conversation:19:legal@thread.tacv2;1700000000001") is None
    )
    assert not await upgraded.acquire_lease("source:mastodon-main", "replica-b", 60)
    for moved in ("slack:event:Ev01", "approval:draft-1", "draft:slack:view:V1"):
        assert await upgraded.acquire_lease(moved, "new-holder", 60), moved


async def test_a_second_open_changes_nothing(upgraded: Store, tmp_path: Path) -> None:
    before: dict[str, Any] = {
        "cursor": await upgraded.get_cursor("mastodon-main"),
        "posted": await CardLookups(upgraded).posted(CARD_KEY),
        "decision": await upgraded.kv_get(DRAFT_DECISION, "draft-1"),
    }
    if isinstance(upgraded, SQLiteStore):
        again: Store = SQLiteStore(upgraded.path, clock=lambda: WRITTEN_AT + 20)
    else:
        assert isinstance(upgraded, RedisStore)
        again = RedisStore(upgraded.client, upgraded.keys.prefix, clock=lambda: WRITTEN_AT + 20)
    after = {
        "cursor": await again.get_cursor("mastodon-main"),
        "posted": await CardLookups(again).posted(CARD_KEY),
        "decision": await again.kv_get(DRAFT_DECISION, "draft-1"),
    }
    assert after == before
    if isinstance(again, SQLiteStore):
        await again.close()
