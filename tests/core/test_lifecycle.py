"""The board closes what it opened: every surface gets ``close()`` once when it stops."""

from __future__ import annotations

from pathlib import Path

from bot.domain import CardRef
from bot.ports import Card, Surface
from tests.boards import board_for, mention_item, real_store, write_items


class Recording:
    """A surface that only records what the board asks of it."""

    name = "recording"

    def __init__(self) -> None:
        self.closed = 0
        self.posted: list[str] = []

    def channel_for(self, department: str) -> str | None:
        return department

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        self.posted.append(key)
        return CardRef(
            surface=self.name,
            channel=channel,
            message_id=key,
            department=card.department,
            placement=card.placement,
        )

    async def update_card(self, ref: CardRef, card: Card) -> None:
        return None

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        return None

    async def close(self) -> None:
        self.closed += 1


async def test_stop_closes_every_surface_once(tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.json", [mention_item(1)])
    recording = Recording()
    surfaces: list[Surface] = [recording]
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items, surfaces)
        await board.ingestor.poll_once(board.sources[0])
        await board.dispatcher.drain()
        await board.start(ingest=False)
        assert recording.closed == 0
        await board.stop()
    assert recording.posted and recording.closed == 1
