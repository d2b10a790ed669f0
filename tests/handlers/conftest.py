from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from bot.app import Switchboard
from bot.commands import parse
from bot.domain import Person
from bot.interaction import Interaction, Response
from tests.boards import board_for, mention_item, person, real_store, write_items


class Say(Protocol):
    async def __call__(self, actor: Person, line: str, **extra: object) -> Response: ...


@pytest.fixture(params=["sqlite", "redis"])
async def board(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Switchboard]:
    """T-1001 social, T-1002 billing, T-1003 support, T-1004 legal (replies need approval)."""
    items = write_items(
        tmp_path / "items.json",
        [
            mention_item(1, "@acme hello there"),
            mention_item(2, "@acme I need a refund"),
            mention_item(3, "@acme the site is down"),
            mention_item(4, "@acme my lawyer will call you"),
        ],
    )
    async with real_store(request.param, tmp_path) as store:
        sb = board_for(store, items)
        while await sb.ingestor.poll_once(sb.sources[0]):
            pass
        yield sb
        for src in sb.sources:
            await src.close()


@pytest.fixture
def say(board: Switchboard) -> Say:
    """Type a command as a person would in the shell (or a chat), through the desk."""

    async def run(actor: Person, line: str, **extra: object) -> Response:
        interaction: Interaction = parse(line, "shell", actor, **extra)
        return await board.desk.handle(interaction)

    return run


alice = person("alice")
bob = person("bob")
carol = person("carol")
guest = person("gus", guest=True)
