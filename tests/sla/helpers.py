"""A board on virtual time for the SLA tests: real store, replay source, the clocks on."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Author, EventKind, Mention, Person
from bot.sla.loop import TimerLoop
from bot.store import Store
from bot.surfaces.shell import ShellSurface
from tests.clock import FakeTime

ALICE = Person(surface="shell", id="alice", name="alice")


def sla_board(
    store: Store,
    time: FakeTime,
    tmp_path: Path,
    departments: list[dict[str, Any]],
    *,
    replica: str = "a",
    out: io.StringIO | None = None,
) -> Switchboard:
    items = tmp_path / "none.json"
    items.write_text(json.dumps([]), encoding="utf-8")
    config = parse_config(
        {
            "departments": departments,
            "routing": {"default_department": departments[0]["name"]},
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )
    board = Switchboard.from_config(config, [ShellSurface(out or io.StringIO())], store=store)
    return Switchboard(
        config,
        store,
        board.sources,
        board.surfaces,
        sleep=time.sleep,
        clock=time.now,
        replica=replica,
    )


def mention(time: FakeTime, n: int = 1) -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id=f"m-{n}",
        conversation_key=f"m-{n}",
        author=Author(id=f"a{n}", handle=f"user{n}@example.social"),
        text="help please",
        created_at=time.now(),
    )


async def opened(board: Switchboard, time: FakeTime, n: int = 1) -> str:
    outcome = await board.threads.ingest(mention(time, n))
    assert outcome is not None
    return outcome.thread.id


def loop(board: Switchboard) -> TimerLoop:
    assert board.timer_loop is not None, "no department has an SLA target"
    return board.timer_loop


async def run_due(*boards: Switchboard) -> int:
    """Tick every board's timer loop until none takes anything; how many were taken."""
    total = 0
    while taken := sum([await loop(b).tick() for b in boards]):
        total += taken
    return total


async def at(time: FakeTime, moment: datetime, *boards: Switchboard) -> None:
    """Advance to ``moment`` and fire what is due."""
    await time.advance((moment - time.now()).total_seconds())
    await run_due(*boards)


async def sla_events(store: Store, thread_id: str) -> list[tuple[EventKind, str, int]]:
    """(kind, clock, mark) of each SLA event and rollover of the thread, in order."""
    found = []
    for e in await store.events(thread_id):
        if e.kind.startswith("sla") or e.data.get("rollover"):
            found.append((e.kind, str(e.data.get("clock", "")), int(e.data.get("mark", 0))))
    return found
