"""Issue 10: polling survives a store outage, and a loop that ends is started again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis

from adapters.replay import ReplaySettings, ReplaySource, load_items
from bot.ingest import Ingestor, LoopState
from bot.ports import Batch
from bot.store.redis import RedisStore
from tests.boards import REDIS_URL, board_for, mention_item, real_store, write_items
from tests.clock import FakeTime, eventually
from tests.tcp_proxy import TcpProxy


class GrowingSource(ReplaySource):
    """A replay source that re-reads its file on every fetch, so items can arrive later."""

    def __init__(self, settings: ReplaySettings) -> None:
        super().__init__(settings)
        self.calls = 0

    async def fetch(self, cursor: str | None) -> Batch:
        self.calls += 1
        self._items = load_items(self.settings.path)
        return await super().fetch(cursor)


@asynccontextmanager
async def redis_behind(proxy: TcpProxy) -> AsyncIterator[RedisStore]:
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    store = RedisStore.from_url(proxy.url("redis"), prefix=prefix)
    try:
        yield store
    finally:
        await store.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_polling_resumes_by_itself_after_a_redis_outage(tmp_path: Path) -> None:
    path = write_items(tmp_path / "i.json", [mention_item(n) for n in range(2)])
    async with TcpProxy(6379) as proxy, redis_behind(proxy) as store:
        board = board_for(store, path)
        source = GrowingSource(ReplaySettings(name="feed", type="replay", path=str(path)))
        time = FakeTime()
        ingestor = Ingestor(board.threads, [source], store, lease_seconds=30, sleep=time.sleep)
        health = ingestor.health["feed"]
        stop = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stop))
        await eventually(lambda: health.stored == 2, time=time, tick=1.0)
        assert health.state is LoopState.RUNNING

        await proxy.cut()
        write_items(path, [mention_item(n) for n in range(4)])
        await eventually(lambda: health.failing, time=time, tick=1.0, within=5)
        assert "cannot reach Redis" in health.last_error
        assert not task.done() and health.state is LoopState.RUNNING

        await proxy.restore()
        await eventually(lambda: health.stored == 4, time=time, tick=1.0, within=10)
        assert not health.failing and health.last_error == ""
        assert len(await store.list_threads()) == 4
        assert await store.get_cursor("feed") == "4"

        stop.set()
        await asyncio.wait_for(task, timeout=5)
        assert ingestor.health["feed"].state is LoopState.IDLE


class Unprintable(Exception):
    """A platform error that cannot even be turned into text."""

    def __str__(self) -> str:
        raise RuntimeError("cannot print this error")


class CrashingSource(GrowingSource):
    """Fails once with an error whose handling itself blows up, then works."""

    async def fetch(self, cursor: str | None) -> Batch:
        if not self.calls:
            self.calls += 1
            raise Unprintable
        return await super().fetch(cursor)


async def test_a_loop_that_ends_is_started_again_and_the_others_go_on(tmp_path: Path) -> None:
    path = write_items(tmp_path / "i.json", [mention_item(n) for n in range(3)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, path)
        one = CrashingSource(ReplaySettings(name="one", type="replay", path=str(path)))
        two = GrowingSource(ReplaySettings(name="two", type="replay", path=str(path)))
        time = FakeTime()
        ingestor = Ingestor(board.threads, [one, two], store, sleep=time.sleep)
        health = ingestor.health
        stop = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stop))
        await eventually(lambda: health["two"].stored == 3, time=time)
        await eventually(lambda: health["one"].stored == 3, time=time, tick=1.0)
        assert health["one"].restarts == 1 and health["two"].restarts == 0
        assert health["one"].state is LoopState.RUNNING
        stop.set()
        await asyncio.wait_for(task, timeout=5)
