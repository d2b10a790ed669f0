"""Ingest supervision: backoff, health, one poller per source, echo filtering."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.replay import ReplaySettings, ReplaySource
from bot.errors import SourceError
from bot.ingest import Ingestor
from bot.ports import Batch
from tests.boards import board_for, mention_item, real_store, write_items
from tests.clock import FakeTime, eventually


class StormySource(ReplaySource):
    """A replay source whose network answers 429 a few times, then fails with 503s, then
    recovers."""

    def __init__(self, settings: ReplaySettings, storms: int, outages: int = 0) -> None:
        super().__init__(settings)
        self.storms = storms
        self.outages = outages
        self.calls = 0

    async def fetch(self, cursor: str | None) -> Batch:
        self.calls += 1
        if self.storms:
            self.storms -= 1
            raise SourceError("429 Too Many Requests", retry_after=5.0)
        if self.outages:
            self.outages -= 1
            raise SourceError("503 Service Unavailable")
        return await super().fetch(cursor)


async def test_a_storm_slows_the_poller_and_loses_nothing(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(n) for n in range(25)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items)
        settings = ReplaySettings(name="stormy", type="replay", path=str(items), batch_size=10)
        stormy = StormySource(settings, storms=4, outages=3)
        time = FakeTime()
        ingestor = Ingestor(
            board.threads, [stormy, board.sources[0]], board.store, sleep=time.sleep
        )
        stop = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stop))
        seen: set[str] = set()

        def caught_up() -> bool:
            health = ingestor.health["stormy"]
            if health.failing:
                seen.add("failing")
            elif health.rate_limited >= 4:
                seen.add("rate limited")
            return health.stored == 25 and ingestor.health["sample"].stored == 25

        await eventually(caught_up, time=time, tick=1.0)
        stop.set()
        await task
        assert seen == {"failing", "rate limited"}
        assert time.slept.count(5.0) == 4, "each 429 waited its Retry-After"
        assert not ingestor.health["stormy"].failing
        assert stormy.calls == 4 + 3 + 3
        assert await store.get_cursor("stormy") == "25"
        threads = await store.list_threads()
        assert len(threads) == 50


async def test_only_one_replica_polls_a_source(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(n) for n in range(5)])
    async with real_store("redis", tmp_path) as store:
        one, two = board_for(store, items), board_for(store, items)
        settings = ReplaySettings(name="shared", type="replay", path=str(items))
        sources = [StormySource(settings, storms=0), StormySource(settings, storms=0)]
        time = FakeTime()
        replicas = [
            Ingestor(one.threads, [sources[0]], one.store, lease_seconds=5, sleep=time.sleep),
            Ingestor(two.threads, [sources[1]], two.store, lease_seconds=5, sleep=time.sleep),
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in replicas]

        async def polled_a_while() -> bool:
            stored = len(await store.list_threads()) == 5
            return stored and max(s.calls for s in sources) >= 4

        await eventually(polled_a_while, time=time, tick=0.5)
        stop.set()
        await asyncio.gather(*tasks)
        assert sorted(s.calls > 0 for s in sources) == [False, True]
        assert len(await store.list_threads()) == 5


async def test_our_own_posts_never_come_back(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items)
        await store.mark_own_post("sample", "m-2")
        await board.ingestor.poll_once(board.sources[0])
        assert [t.short_id for t in await store.list_threads()] == ["T-1001"]
