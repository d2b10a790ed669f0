"""The dispatcher's lanes: a broken or rate-limited surface never holds up another, store
outages are survived, and nothing is acked before every surface did its part. Virtual time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain import CardRef, OutboxItem
from bot.errors import StoreError
from bot.ports import Card
from bot.store.sqlite import SQLiteStore
from bot.surfaces.cardlog import CardLogSurface
from tests.boards import board_for, mention_item, write_items
from tests.clock import FakeTime, eventually

from .test_dispatch import entries, ingest_all, virtual_dispatcher


class Throttled(Exception):
    """What a platform client raises on 429: it carries ``retry_after``."""

    retry_after = 30.0


class BrokenSurface(CardLogSurface):
    """A chat platform that is down (or rate limiting) until told otherwise."""

    name = "broken"

    def __init__(self, path: Path, error: Exception | None = None) -> None:
        super().__init__(path)
        self.error: Exception | None = error or ConnectionError("chat platform unavailable")
        self.tries = 0

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        self.tries += 1
        if self.error is not None:
            raise self.error
        return await super().post_card(channel, card, key)


class OutageStore(SQLiteStore):
    """A store whose outbox is unreachable for its first ``outages`` calls."""

    outages = 3

    async def outbox_claim(self, lease_seconds: float) -> OutboxItem | None:
        if self.outages:
            self.outages -= 1
            raise StoreError("database is locked")
        return await super().outbox_claim(lease_seconds)


def posted_keys(path: Path) -> list[str]:
    return [str(e["key"]) for e in entries(path, "post")] if path.exists() else []


async def test_a_broken_surface_holds_up_nobody_and_loses_nothing(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    broken = BrokenSurface(bad)
    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    board = board_for(store, items, [CardLogSurface(good), broken])
    time = FakeTime()
    dispatcher = virtual_dispatcher(board, time, lease_seconds=0.1, max_attempts=2)
    await ingest_all(board)
    stop = asyncio.Event()
    runner = asyncio.create_task(dispatcher.run(stop))
    try:
        await eventually(lambda: len(posted_keys(good)) == 2, time=time, tick=0.2)
        assert time.monotonic() < 1.0, "the good surface waited for the broken one"
        assert dispatcher.health()["cardlog"] == "ok"
        assert dispatcher.health()["broken"].startswith("failing: chat platform unavailable")
        await eventually(lambda: broken.tries >= 4, time=time, tick=1.0)
        assert await store.outbox_size() == 2, "acked although a surface never showed it"

        broken.error = None  # the platform is back; the set-aside items return with their leases

        async def all_done() -> bool:
            return len(posted_keys(bad)) == 2 and not await store.outbox_size()

        await eventually(all_done, time=time, tick=1.0)
    finally:
        stop.set()
        await runner
        await board.stop()
    assert len(posted_keys(good)) == 2, "the good surface posted a card twice"
    assert dispatcher.health() == {"cardlog": "ok", "broken": "ok"}


async def test_the_loop_survives_store_outages(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    store = OutageStore(str(tmp_path / "s.sqlite3"))
    log = tmp_path / "cards.jsonl"
    board = board_for(store, items, [CardLogSurface(log)])
    time = FakeTime()
    dispatcher = virtual_dispatcher(board, time)
    await ingest_all(board)
    stop = asyncio.Event()
    runner = asyncio.create_task(dispatcher.run(stop))
    try:

        async def carded() -> bool:
            return len(posted_keys(log)) == 1 and not await store.outbox_size()

        await eventually(carded, time=time, tick=0.1)
    finally:
        stop.set()
        await runner
        await board.stop()
    assert store.outages == 0 and not runner.exception()
    assert time.slept[:3] == [0.2, 0.4, 0.8], "the outbox is retried with a growing backoff"


async def test_drain_waits_out_a_rate_limit_on_the_injected_clock(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    throttled = BrokenSurface(tmp_path / "t.jsonl", Throttled("429 Too Many Requests"))
    board = board_for(store, items, [throttled])
    time = FakeTime()
    dispatcher = virtual_dispatcher(board, time)
    await ingest_all(board)

    async def recovers(seconds: float) -> None:
        throttled.error = None
        await time.leap(seconds)

    dispatcher.sleep = recovers
    try:
        assert await dispatcher.drain() == 1
    finally:
        await board.stop()
    assert time.slept == [30.0] and throttled.tries == 2
    assert len(posted_keys(tmp_path / "t.jsonl")) == 1


async def test_drain_raises_a_failure_once_the_other_surfaces_are_done(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    good = tmp_path / "good.jsonl"
    board = board_for(store, items, [BrokenSurface(tmp_path / "b.jsonl"), CardLogSurface(good)])
    await ingest_all(board)
    try:
        with pytest.raises(ConnectionError):
            await board.dispatcher.drain()
        assert len(posted_keys(good)) == 2
        assert await store.outbox_size() == 2
    finally:
        await board.stop()
