"""A store outage is said once per loop: one WARNING without a traceback however many
attempts fail, one INFO when the store answers again (a real Redis behind a cut proxy)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.replay import ReplaySettings
from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import CardRef
from bot.ingest import Ingestor
from bot.ports import Card
from bot.store.redis import RedisStore
from bot.surfaces.cardlog import CardLogSurface
from tests.boards import DEPARTMENTS, ROUTING, board_for, mention_item, write_items
from tests.clock import FakeTime, eventually
from tests.core.test_dispatch import entries, virtual_dispatcher
from tests.core.test_ingest_outage import GrowingSource, redis_behind
from tests.tcp_proxy import TcpProxy

ATTEMPTS = 6


@pytest.fixture
async def proxied(redis_url: str) -> AsyncIterator[tuple[TcpProxy, RedisStore]]:
    async with TcpProxy(6379) as proxy, redis_behind(proxy) as store:
        yield proxy, store


def said(caplog: pytest.LogCaptureFixture, loop: str, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == level and r.getMessage().startswith(f"{loop}: ")
    ]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text


async def test_the_card_dispatcher_says_an_outage_once(
    proxied: tuple[TcpProxy, RedisStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store = proxied
    caplog.set_level(logging.INFO, logger="bot")
    cards = tmp_path / "cards.jsonl"
    board = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]), [])
    time = FakeTime()
    dispatcher = virtual_dispatcher(board, time)
    dispatcher.surfaces.append(CardLogSurface(cards))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await eventually(lambda: time.sleeping > 0)
        await proxy.cut()
        await eventually(lambda: dispatcher.outage.attempts >= ATTEMPTS, time=time, tick=5.0)
        [warning] = said(caplog, "card dispatch", logging.WARNING)
        assert warning.startswith("card dispatch: store unavailable, retrying in ")
        assert "cannot reach Redis" in warning
        assert said(caplog, "card dispatch", logging.INFO) == []
        assert_no_traceback(caplog)

        await proxy.restore()
        await eventually(lambda: not dispatcher.outage.down, time=time, tick=5.0)
        [info] = said(caplog, "card dispatch", logging.INFO)
        assert info.startswith("card dispatch: store available again after ")
        await board.ingestor.poll_once(board.sources[0])
        await eventually(
            lambda: cards.exists() and len(entries(cards, "post")) == 1, time=time, tick=1.0
        )

        await proxy.cut()  # a second outage is said again, once
        await eventually(lambda: dispatcher.outage.attempts >= ATTEMPTS, time=time, tick=5.0)
        assert len(said(caplog, "card dispatch", logging.WARNING)) == 2
        await proxy.restore()
        await eventually(lambda: not dispatcher.outage.down, time=time, tick=5.0)
        assert len(said(caplog, "card dispatch", logging.INFO)) == 2
        assert_no_traceback(caplog)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


class HeldSurface(CardLogSurface):
    """Holds its first post until ``go`` is set, so the store can go down meanwhile."""

    name = "held"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.holding = asyncio.Event()
        self.go = asyncio.Event()

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        self.holding.set()
        await self.go.wait()
        return await super().post_card(channel, card, key)


async def test_a_card_lane_says_an_outage_once_and_never_a_traceback(
    proxied: tuple[TcpProxy, RedisStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store = proxied
    caplog.set_level(logging.DEBUG, logger="bot")
    surface = HeldSurface(tmp_path / "cards.jsonl")
    board = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]), [surface])
    await board.ingestor.poll_once(board.sources[0])
    time = FakeTime()
    dispatcher = virtual_dispatcher(board, time, max_attempts=50)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await eventually(lambda: surface.holding.is_set())
        await proxy.cut()
        surface.go.set()
        lane = dispatcher._lane(surface)
        await eventually(lambda: lane.outage.attempts >= ATTEMPTS, time=time, tick=5.0)
        [warning] = said(caplog, "held cards", logging.WARNING)
        assert warning.startswith("held cards: store unavailable, retrying in ")
        assert len(said(caplog, "card dispatch", logging.WARNING)) <= 1
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert_no_traceback(caplog)
        assert dispatcher.health()["held"].startswith("failing: cannot reach Redis")

        await proxy.restore()
        await eventually(lambda: dispatcher.health()["held"] == "ok", time=time, tick=5.0)
        [info] = said(caplog, "held cards", logging.INFO)
        assert info.startswith("held cards: store available again")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


async def test_a_source_loop_says_an_outage_once(
    proxied: tuple[TcpProxy, RedisStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store = proxied
    caplog.set_level(logging.INFO, logger="bot")
    path = write_items(tmp_path / "i.json", [mention_item(1)])
    board = board_for(store, path)
    source = GrowingSource(ReplaySettings(name="feed", type="replay", path=str(path)))
    time = FakeTime()
    ingestor = Ingestor(board.threads, [source], store, lease_seconds=30, sleep=time.sleep)
    health = ingestor.health["feed"]
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    try:
        await eventually(lambda: health.stored == 1, time=time, tick=1.0)
        await proxy.cut()
        await eventually(lambda: health.failures >= ATTEMPTS, time=time, tick=5.0)
        [warning] = said(caplog, "source feed", logging.WARNING)
        assert warning.startswith("source feed: store unavailable, retrying in ")
        assert "cannot reach Redis" in warning
        assert_no_traceback(caplog)

        await proxy.restore()
        write_items(path, [mention_item(1), mention_item(2)])
        await eventually(lambda: health.stored == 2, time=time, tick=5.0)
        [info] = said(caplog, "source feed", logging.INFO)
        assert info.startswith("source feed: store available again after ")
        assert len(said(caplog, "source feed", logging.WARNING)) == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


async def test_reply_recovery_says_an_outage_once(
    proxied: tuple[TcpProxy, RedisStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store = proxied
    caplog.set_level(logging.INFO, logger="bot")
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    config = parse_config(
        {
            "departments": DEPARTMENTS,
            "routing": ROUTING,
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )
    time = FakeTime()
    sources = Switchboard.from_config(config, [], store=store).sources
    board = Switchboard(config, store, sources, [], sleep=time.sleep)
    await proxy.cut()
    await board.start(ingest=False)
    try:
        await eventually(lambda: len(time.slept) >= ATTEMPTS, time=time, tick=60.0)
        [warning] = said(caplog, "reply recovery", logging.WARNING)
        assert warning.startswith("reply recovery: store unavailable, retrying in ")
        assert_no_traceback(caplog)

        await proxy.restore()
        await eventually(
            lambda: bool(said(caplog, "reply recovery", logging.INFO)), time=time, tick=60.0
        )
    finally:
        await board.stop()
    [info] = said(caplog, "reply recovery", logging.INFO)
    assert info.startswith("reply recovery: store available again")
