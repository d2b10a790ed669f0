"""``directory`` shows each department open or closed now, its targets and who is on duty."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Switchboard
from bot.commands import parse
from bot.config import parse_config
from bot.surfaces.shell import ShellSurface
from tests.boards import person, real_store
from tests.clock import FakeTime

SATURDAY_NOON_BERLIN = datetime(2024, 5, 4, 10, 0, tzinfo=UTC)
DEPARTMENTS: list[dict[str, Any]] = [
    {
        "name": "support",
        "title": "Customer Support",
        "slack_channel": "C-support",
        "hours": "office",
        "sla": {"claim": "10m", "first_response": "1h"},
        "escalation": "social",
        "on_duty": {"mon-fri 09:00-17:00": ["alice", "bob"], "sat-sun 10:00-14:00": ["carol"]},
    },
    {"name": "social", "title": "Social team", "sla_minutes": 30, "on_duty": ["dora"]},
    {
        "name": "billing",
        "title": "Billing",
        "hours": {"timezone": "America/New_York", "weekly": ["mon-fri 08:00-17:00"]},
    },
]
SLA = {"calendars": {"office": {"timezone": "Europe/Berlin", "weekly": ["mon-fri 09:00-18:00"]}}}


@pytest.fixture(params=["sqlite", "redis"])
async def desk_at(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Switchboard, FakeTime]]:
    time = FakeTime(SATURDAY_NOON_BERLIN)
    config = parse_config({"departments": DEPARTMENTS, "sla": SLA})
    async with real_store(request.param, tmp_path) as store:
        yield Switchboard(config, store, [], [ShellSurface(io.StringIO())], clock=time.now), time


async def directory(board: Switchboard) -> dict[str, list[str]]:
    response = await board.desk.handle(parse("directory", "shell", person("erin")))
    assert response.ok
    lines = response.text.splitlines()
    assert lines[0] == "Departments:"
    found: dict[str, list[str]] = {}
    for first, second in zip(lines[1::2], lines[2::2], strict=True):
        found[first.split()[0]] = [first.strip(), second.strip()]
    return found


async def test_closed_on_saturday_with_the_weekend_shift_on_duty(
    desk_at: tuple[Switchboard, FakeTime],
) -> None:
    board, _ = desk_at
    shown = await directory(board)
    assert list(shown) == ["support", "social", "billing"]
    head, hours = shown["support"]
    assert "Customer Support · C-support · on duty: carol · replies: open" in head
    assert hours == (
        "opens Mon 09:00 · claim 10 min · first reply 1 h, business hours mon-fri 09:00-18:00 "
        "Europe/Berlin · rolls over to social"
    )
    head, hours = shown["social"]
    assert "on duty: dora" in head
    assert hours == "open now (24/7) · first reply 30 min"
    head, hours = shown["billing"]
    assert "on duty: nobody listed" in head
    # billing sets hours but no target: no clock is timed there, so none is promised
    assert hours.startswith("opens Mon 08:00 · business hours mon-fri")
    assert "America/New_York" in hours


async def test_the_directory_follows_the_desk_clock(desk_at: tuple[Switchboard, FakeTime]) -> None:
    board, time = desk_at
    await time.advance(timedelta(hours=4).total_seconds())  # Saturday 16:00 in Berlin
    head, _ = (await directory(board))["support"]
    assert "on duty: nobody now" in head
    await time.advance(timedelta(days=2, hours=-6).total_seconds())  # Monday 10:00 in Berlin
    shown = await directory(board)
    head, hours = shown["support"]
    assert "on duty: alice, bob" in head
    assert hours.startswith("open now until 18:00 · claim 10 min")
    assert shown["billing"][1].startswith("opens Mon 08:00")  # 04:00 in New York
    await time.advance(timedelta(hours=8).total_seconds())  # 18:00 Berlin, 12:00 New York
    shown = await directory(board)
    assert shown["support"][1].startswith("opens Tue 09:00")
    assert shown["billing"][1].startswith("open now until 17:00")
