"""The card dispatcher: at least once from the outbox, never a duplicate card."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.app import Switchboard
from bot.domain import CardRef
from bot.ports import Card
from bot.surfaces.cardlog import CardLogSurface
from tests.boards import board_for, mention_item, person, real_store, write_items

alice = person("alice")


def entries(path: Path, op: str) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["op"] == op]


class OnlySupport(CardLogSurface):
    """A surface that shows only the support department (like a Slack-only department)."""

    name = "support-only"

    def channel_for(self, department: str) -> str | None:
        return "C-support" if department == "support" else None


class FlakySurface(CardLogSurface):
    """Fails its first post, like a chat platform having a bad second."""

    name = "flaky"
    failures = 1

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("chat platform unavailable")
        return await super().post_card(channel, card, key)


async def ingest_all(board: Switchboard) -> None:
    while await board.ingestor.poll_once(board.sources[0]):
        pass


async def test_cards_follow_the_thread(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1, "need a refund")])
    log = tmp_path / "cards.jsonl"
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items, [CardLogSurface(log), OnlySupport(tmp_path / "s.jsonl")])
        await ingest_all(board)
        await board.dispatcher.drain()
        posts = entries(log, "post")
        assert [p["ref"]["channel"] for p in posts] == ["billing"]  # type: ignore[index]
        assert not (tmp_path / "s.jsonl").exists()

        thread = await board.threads.find("T-1001")
        await board.threads.claim(thread.id, alice)
        await board.threads.transfer(thread.id, alice, "support", "please check")
        await board.dispatcher.drain()

        posts = entries(log, "post")
        assert [p["ref"]["placement"] for p in posts] == [0, 1]  # type: ignore[index]
        old_updates = [u for u in entries(log, "update") if u["key"] == posts[0]["key"]]
        assert old_updates[-1]["card"]["banner"] == (  # type: ignore[index]
            "Transferred to Customer Support by alice — please check"
        )
        assert old_updates[-1]["card"]["actions"] == []  # type: ignore[index]
        notes = [n["text"] for n in entries(log, "notify")]
        assert notes == [
            "Claimed by alice",
            "Transferred to Customer Support by alice — please check",
        ]
        support = entries(tmp_path / "s.jsonl", "post")
        assert len(support) == 1 and support[0]["ref"]["channel"] == "C-support"  # type: ignore[index]
        new_card = support[0]["card"]
        assert new_card["department_title"] == "Customer Support"  # type: ignore[index]
        assert "Transferred to Customer Support by alice — please check" in new_card["history"]  # type: ignore[index]


async def test_an_item_processed_twice_posts_one_card(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    log = tmp_path / "cards.jsonl"
    async with real_store("redis", tmp_path) as store:
        board = board_for(store, items, [CardLogSurface(log)])
        await ingest_all(board)
        item = await store.outbox_claim(lease_seconds=0.1)
        assert item is not None
        await board.dispatcher.process(item)  # posted, then the process dies before the ack
        await asyncio.sleep(0.2)
        restarted = board_for(store, items, [CardLogSurface(log)])
        assert await restarted.dispatcher.drain() == 1
        assert len(entries(log, "post")) == 1
        assert await store.outbox_size() == 0


async def test_a_failing_surface_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    log = tmp_path / "cards.jsonl"
    async with real_store("sqlite", tmp_path) as store:
        flaky = FlakySurface(log)
        board = board_for(store, items, [flaky])
        board.dispatcher.lease_seconds = 0.2
        await ingest_all(board)
        stop = asyncio.Event()
        runner = asyncio.create_task(board.dispatcher.run(stop, idle=0.05))
        for _ in range(100):
            if log.exists() and len(entries(log, "post")) == 2 and not await store.outbox_size():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await runner
        assert sorted(p["ref"]["channel"] for p in entries(log, "post")) == ["social", "social"]  # type: ignore[index]
        assert await store.outbox_size() == 0
