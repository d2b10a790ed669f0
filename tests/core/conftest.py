from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Switchboard
from tests.boards import board_for, mention_item, real_store, write_items


@pytest.fixture(params=["sqlite", "redis"])
async def board(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Switchboard]:
    items = write_items(
        tmp_path / "items.json",
        [
            mention_item(1, "@acme I need a refund for order 12"),
            mention_item(2, "@acme is the site down?"),
            mention_item(3, "@acme love the app"),
        ],
    )
    async with real_store(request.param, tmp_path) as store:
        sb = board_for(store, items)
        source = sb.sources[0]
        while await sb.ingestor.poll_once(source):
            pass
        yield sb
        for src in sb.sources:
            await src.close()
