"""The card dispatcher: at least once from the outbox, never a duplicate card."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bot.app import Switchboard
from bot.dispatch import CardDispatcher
from bot.domain import CardRef
from bot.ports import Card
from bot.surfaces.cardlog import CardLogSurface
from tests.boards import board_for, mention_item, person, real_store, write_items
from tests.clock import FakeTime, eventually

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


def virtual_dispatcher(board: Switchboard, time: FakeTime, **options: Any) -> CardDispatcher:
    """The board's dispatcher, on ``time``."""
    return CardDispatcher(
        board.store,
        board.config.departments,
        board.surfaces,
        {s.name: s for s in board.sources},
        clock=time.now,
        monotonic=time.monotonic,
        sleep=time.sleep,
        **options,
    )


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
        restarted = board_for(store, items, [CardLogSurface(log)])
        done: list[int] = []

        async def drained_once_its_lease_ran_out() -> bool:
            done.append(await restarted.dispatcher.drain())
            return sum(done) > 0

        await eventually(drained_once_its_lease_ran_out)
        assert sum(done) == 1
        assert len(entries(log, "post")) == 1
        assert await store.outbox_size() == 0


async def test_a_failing_surface_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    log = tmp_path / "cards.jsonl"
    async with real_store("sqlite", tmp_path) as store:
        flaky = FlakySurface(log)
        board = board_for(store, items, [flaky])
        time = FakeTime()
        dispatcher = virtual_dispatcher(board, time)
        await ingest_all(board)

        async def all_carded() -> bool:
            posted = log.exists() and len(entries(log, "post")) == 2
            return posted and not await store.outbox_size()

        stop = asyncio.Event()
        runner = asyncio.create_task(dispatcher.run(stop))
        await eventually(all_carded, time=time, tick=0.5)
        stop.set()
        await runner
        assert time.monotonic() >= 0.8, "the failed post was retried after a backoff"
        assert sorted(p["ref"]["channel"] for p in entries(log, "post")) == ["social", "social"]  # type: ignore[index]
        assert await store.outbox_size() == 0
