"""Config: ``store.retention_days`` and the Redis key prefix (``store.prefix`` or ``?prefix=``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.config import parse_config
from bot.errors import ConfigError
from bot.store import open_store
from bot.store.redis import RedisStore
from tests.boards import REDIS_URL
from tests.stores.builders import ingest, mention

MINIMAL = {"departments": [{"name": "social"}]}


def store_config(**store: object) -> dict[str, object]:
    return {**MINIMAL, "store": store}


def test_retention_defaults_to_90_days_and_0_keeps_forever() -> None:
    assert parse_config(MINIMAL).store.retention_days == 90
    assert parse_config(store_config(retention_days=0)).store.retention_days == 0
    assert parse_config(store_config(retention_days="30")).store.retention_days == 30


@pytest.mark.parametrize("days", [-1, "soon", 1.5])
def test_a_bad_retention_names_the_key_and_the_fix(days: object) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(store_config(retention_days=days))
    message = str(err.value)
    assert "store.retention_days" in message and repr(days) in message


def test_a_negative_retention_says_what_to_write() -> None:
    with pytest.raises(ConfigError, match=r"0 or more; use e\.g\. 90, or 0 to keep"):
        parse_config(store_config(retention_days=-5))


@pytest.mark.parametrize(
    "store",
    [
        {"url": "redis://127.0.0.1:6379/0", "prefix": ""},
        {"url": "redis://127.0.0.1:6379/0", "prefix": "acme corp:"},
        {"url": "redis://127.0.0.1:6379/0?prefix="},
        {"url": "redis://127.0.0.1:6379/0?prefix=acme%20corp:"},
        {"url": "redis://127.0.0.1:6379/0", "prefix": "tab\there:"},
    ],
)
def test_a_blank_or_spaced_prefix_is_refused(store: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="must be non-empty, without spaces"):
        parse_config({**MINIMAL, "store": store})


def test_two_different_prefixes_or_a_prefix_on_sqlite_are_refused() -> None:
    both = {"url": "redis://127.0.0.1:6379/0?prefix=a:", "prefix": "b:"}
    with pytest.raises(ConfigError, match="differ; keep one"):
        parse_config({**MINIMAL, "store": both})
    with pytest.raises(ConfigError, match="Redis store only"):
        parse_config(store_config(url="sqlite:///x.sqlite3", prefix="acme:"))
    with pytest.raises(ConfigError, match="Redis store only"):
        open_store("sqlite:///x.sqlite3", prefix="acme:")
    same = {"url": "redis://127.0.0.1:6379/0?prefix=a:", "prefix": "a:"}
    assert parse_config({**MINIMAL, "store": same}).store.prefix == "a:"


async def test_the_prefix_comes_from_the_setting_else_the_url_else_sb() -> None:
    plain = open_store("redis://127.0.0.1:1/0")
    in_url = open_store("redis://127.0.0.1:1/0?prefix=acme:&socket_keepalive=true")
    setting = open_store("redis://127.0.0.1:1/0", prefix="globex:")
    stores = [plain, in_url, setting]
    try:
        assert all(isinstance(s, RedisStore) for s in stores)
        assert [s.keys.prefix for s in stores if isinstance(s, RedisStore)] == [
            "sb:",
            "acme:",
            "globex:",
        ]
    finally:
        for store in stores:
            await store.close()
    with pytest.raises(ConfigError, match="differ"):
        RedisStore.from_url("redis://127.0.0.1:1/0?prefix=a:", "b:")


@pytest.fixture
async def two_prefixes() -> AsyncIterator[tuple[str, str]]:
    run = uuid.uuid4().hex[:12]
    prefixes = (f"sbtest:{run}:acme:", f"sbtest:{run}:globex:")
    yield prefixes
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"sbtest:{run}:*", count=500)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_two_deployments_share_one_redis(two_prefixes: tuple[str, str]) -> None:
    acme_prefix, globex_prefix = two_prefixes
    acme_config = parse_config(store_config(url=f"{REDIS_URL}?prefix={acme_prefix}"))
    globex_config = parse_config(store_config(url=REDIS_URL, prefix=globex_prefix))
    acme = open_store(acme_config.store.url, prefix=acme_config.store.prefix)
    globex = open_store(globex_config.store.url, prefix=globex_config.store.prefix)
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        one = (await ingest(acme, mention(1))).thread
        other = (await ingest(globex, mention(1))).thread
        assert one.number == other.number == 1001, "each deployment numbers its own threads"
        assert await acme.get_thread(other.id) is None
        assert await globex.get_thread(one.id) is None
        assert [t.id for t in await globex.list_threads()] == [other.id]
        assert await client.exists(f"{acme_prefix}thread:{one.id}") == 1
        assert await client.exists(f"{globex_prefix}thread:{other.id}") == 1
        assert await client.exists(f"sb:thread:{one.id}") == 0
    finally:
        await client.aclose()
        await acme.close()
        await globex.close()
