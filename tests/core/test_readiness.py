"""Issue 10: /readyz tells the truth — a store that refuses writes, a dead loop, a chat
platform that cannot be used (Slack and Teams themselves: tests/*/test_readiness_platform.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from adapters.replay import ReplaySettings
from bot.app import Switchboard
from bot.ingest import LoopState
from bot.ports import PartHealth
from bot.server import build_app
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.boards import board_for, mention_item, write_items
from tests.clock import FakeTime, eventually
from tests.core.test_ingest_outage import CrashingSource
from tests.private_redis import private_redis


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[str]:
    """A redis-server of this test's own (its URL)."""
    async with private_redis(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0"


async def test_not_ready_while_the_store_refuses_writes(own_redis: str, tmp_path: Path) -> None:
    """The store answers PING but refuses every write, as a full disk or a read-only file
    does. Tests run as root, where chmod does not stop SQLite and a loop mount needs
    privileges; so a redis-server of the test's own is switched with ``CONFIG SET
    min-replicas-to-write 1`` (no replica exists, so every write gets NOREPLICAS) — never the
    shared Redis, whose other users would be refused too."""
    admin = aioredis.from_url(own_redis)
    store = RedisStore.from_url(own_redis, prefix="sbtest:ready:")
    board = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]))
    async with TestClient(TestServer(build_app(board))) as client:
        assert (await client.get("/readyz")).status == 200
        await admin.config_set("min-replicas-to-write", 1)
        refused = await client.get("/readyz")
        body = await refused.json()
        assert refused.status == 503 and body["ready"] is False
        assert body["broken"] == ["store"] and "NOREPLICAS" in body["store"]
        await store.ping()  # what the old check asked: it still answers

        await admin.config_set("min-replicas-to-write", 0)
        again = await client.get("/readyz")
        assert again.status == 200 and (await again.json())["broken"] == []
    await admin.aclose()
    await store.close()


async def test_not_ready_while_a_source_loop_is_dead(tmp_path: Path) -> None:
    path = write_items(tmp_path / "i.json", [mention_item(1)])
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 's.sqlite3'}")
    sample = board_for(store, path)
    crashing = CrashingSource(ReplaySettings(name="one", type="replay", path=str(path)))
    time = FakeTime()
    board = Switchboard(sample.config, store, [crashing], sample.surfaces, sleep=time.sleep)
    health = board.ingestor.health["one"]
    await board.start()
    try:
        async with TestClient(TestServer(build_app(board))) as client:
            await eventually(lambda: health.state is LoopState.DEAD)
            dead = await client.get("/readyz")
            body = await dead.json()
            assert dead.status == 503 and body["broken"] == ["source one"]
            assert body["sources"]["one"].startswith("dead, restarting: loop crashed")
            assert body["loops"] == {
                "reply recovery": "done",
                "ingest": "running",
                "dispatcher": "running",
                "retention": "running",
            }
            await time.advance(2)
            await eventually(lambda: health.stored == 1)
            ready = await client.get("/readyz")
            assert ready.status == 200, await ready.text()
    finally:
        await asyncio.wait_for(board.stop(), timeout=5)


class Platform:
    """A chat platform's health as the core sees it (the ``PlatformHealth`` port)."""

    def __init__(self, name: str, parts: dict[str, PartHealth]) -> None:
        self.name = name
        self.parts = parts
        self.error = ""
        self.asked = 0

    async def health(self) -> dict[str, PartHealth]:
        self.asked += 1
        if self.error:
            raise RuntimeError(self.error)
        return dict(self.parts)


async def test_not_ready_while_a_platform_part_is_broken_and_it_is_named(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 's.sqlite3'}")
    board = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]))
    chat = Platform("chat", {"chat auth": PartHealth("ok"), "chat link": PartHealth("up")})
    board.add_platform_health(chat)
    try:
        async with TestClient(TestServer(build_app(board))) as client:
            ready = await client.get("/readyz")
            body = await ready.json()
            assert ready.status == 200 and body["platforms"] == {
                "chat auth": "ok",
                "chat link": "up",
            }
            chat.parts["chat link"] = PartHealth("down for 40 s", broken=True)
            down = await client.get("/readyz")
            body = await down.json()
            assert down.status == 503 and body["broken"] == ["chat link"]
            assert body["platforms"]["chat link"] == "down for 40 s"
            chat.error = "the platform client is closed"
            unknown = await client.get("/readyz")
            body = await unknown.json()
            assert unknown.status == 200, "a health check that fails is no verdict"
            assert body["platforms"] == {"chat": "unknown: the platform client is closed"}
            assert chat.asked == 3
    finally:
        await store.close()
