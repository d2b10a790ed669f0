"""The SLA clocks run in the service: an observer of the thread service and a supervised timer
loop named ``sla timers`` in /readyz, on the board's clock; no loop when nothing is timed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.app import SLA_LOOP, Switchboard
from bot.config import parse_config
from bot.domain import Author, EventKind, Mention
from bot.errors import StoreError
from bot.sla.clock import SlaClock
from bot.store import Store
from tests.clock import FakeTime, eventually
from tests.core.test_retention import store_on
from tests.tcp_proxy import TcpProxy

SUPPORT: dict[str, Any] = {"name": "support", "sla": {"claim": "10m"}}


def board(store: Store, time: FakeTime, *departments: dict[str, Any]) -> Switchboard:
    config = parse_config({"departments": list(departments)})
    return Switchboard(config, store, [], [], sleep=time.sleep, clock=time.now)


def mention(time: FakeTime, n: int = 1) -> Mention:
    return Mention(
        source="m",
        network="mastodon",
        external_id=str(n),
        conversation_key=str(n),
        author=Author(id="a", handle="@a"),
        text="help",
        created_at=time.now(),
    )


async def breaches(store: Store, thread_id: str) -> int:
    return [e.kind for e in await store.events(thread_id)].count(EventKind.SLA_BREACHED)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_the_loop_runs_in_the_service_and_fires_on_its_clock(
    kind: str, tmp_path: Path
) -> None:
    time = FakeTime()
    async with store_on(kind, tmp_path, time) as store:
        sb = board(store, time, SUPPORT)
        assert any(isinstance(o, SlaClock) for o in sb.threads.observers)
        outcome = await sb.threads.ingest(mention(time))
        assert outcome is not None
        await sb.start(ingest=False)
        try:
            assert sb.loops()[SLA_LOOP] == "running"
            await eventually(lambda: time.sleeping >= 1)
            await time.advance(9 * 60)
            await eventually(lambda: time.sleeping >= 1)
            assert await breaches(store, outcome.thread.id) == 0

            async def breached() -> bool:
                try:  # the test's own read may meet a connection the cut closed: ask again
                    return await breaches(store, outcome.thread.id) == 1
                except StoreError:
                    return False

            await eventually(breached, time=time, tick=5.0)
            assert time.seconds <= 10 * 60 + 10, "within a tick of the due time"
            report = await sb.readiness()
            assert report["ready"] is True
            assert report["loops"][SLA_LOOP] == "running"  # type: ignore[index]
        finally:
            await asyncio.wait_for(sb.stop(), timeout=5)


async def test_no_target_no_observer_and_no_loop(tmp_path: Path) -> None:
    time = FakeTime()
    async with store_on("sqlite", tmp_path, time) as store:
        sb = board(store, time, {"name": "support", "escalation": "social"}, {"name": "social"})
        assert sb.timer_loop is None and sb.sla_clock is None
        assert not any(isinstance(o, SlaClock) for o in sb.threads.observers)
        await sb.start(ingest=False)
        try:
            assert SLA_LOOP not in sb.loops()
        finally:
            await asyncio.wait_for(sb.stop(), timeout=5)


async def test_sla_minutes_alone_switches_the_first_response_clock_on(tmp_path: Path) -> None:
    time = FakeTime()
    async with store_on("sqlite", tmp_path, time) as store:
        sb = board(store, time, {"name": "support", "sla_minutes": 30})
        assert sb.timer_loop is not None


@pytest.mark.redis
async def test_the_loop_survives_a_store_outage(tmp_path: Path) -> None:
    time = FakeTime()
    async with (
        TcpProxy(6379) as proxy,
        store_on("redis", tmp_path, time, proxy.url("redis")) as store,
    ):
        sb = board(store, time, SUPPORT)
        outcome = await sb.threads.ingest(mention(time))
        assert outcome is not None
        await sb.start(ingest=False)
        try:
            await eventually(lambda: time.sleeping >= 1)
            await proxy.cut()
            await time.advance(10 * 60)
            await eventually(lambda: time.sleeping >= 1 and time.slept[-1] < 5)  # backing off
            assert sb.loops()[SLA_LOOP] == "running"
            await proxy.restore()

            async def breached() -> bool:
                try:  # the test's own read may meet a connection the cut closed: ask again
                    return await breaches(store, outcome.thread.id) == 1
                except StoreError:
                    return False

            await eventually(breached, time=time, tick=1.0)
            assert sb.loops()[SLA_LOOP] == "running"
        finally:
            await asyncio.wait_for(sb.stop(), timeout=5)
