"""Issue 10: cards and activity lines exactly once across replicas, on the fake Slack.

Two replicas are two boards on one real store (one SQLite file, or one Redis prefix), each with
its own ``SlackSurface`` on one fake Slack; their dispatchers drain concurrently. A replica
that dies between posting and saving the ref is recovered by the other with one look-up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import CardRef, Person
from bot.ports import Card
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from bot.surfaces.slack.blocks import ACTIVITY_EVENT, CARD_EVENT
from bot.surfaces.slack.surface import SlackSurface
from tests.boards import REDIS_URL, mention_item, write_items

from .fake_slack import FakeSlack

ALICE = Person(surface="slack", id="U0ALICE", name="alice")
CHANNELS = ("C0SOCIAL", "C0BILLING")
LEASE = 5.0


class Clock:
    """Epoch seconds for the stores, moved by hand (leases and claim expiry)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Died(Exception):
    """The replica 'dies' right after the platform took the post."""


class DiesAfterPosting(SlackSurface):
    """A Slack surface whose process dies after Slack received the card or line."""

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        await super().post_card(channel, card, key)
        raise Died(key)

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        await super().notify(ref, text, key)
        raise Died(key)


@asynccontextmanager
async def two_stores(kind: str, tmp_path: Path, clock: Clock) -> AsyncIterator[list[Store]]:
    """Two store instances on one SQLite file, or on one Redis prefix."""
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    stores: list[Store] = []
    for _ in range(2):
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
            stores.append(SQLiteStore.from_url(url, clock=clock))
        else:
            stores.append(RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock))
    try:
        yield stores
    finally:
        for store in stores:
            await store.close()
        if kind == "redis":
            client = aioredis.from_url(REDIS_URL)
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


def board(
    fake: FakeSlack, store: Store, items: Path, surface: type[SlackSurface] = SlackSurface
) -> Switchboard:
    config = parse_config(
        {
            "slack": fake.settings(),
            "server": {"lease_seconds": LEASE},
            "departments": [
                {"name": "social", "title": "Social", "slack_channel": "C0SOCIAL"},
                {"name": "billing", "title": "Billing", "slack_channel": "C0BILLING"},
            ],
            "routing": {
                "default_department": "social",
                "rules": [{"department": "billing", "keywords": ["refund"]}],
            },
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )
    slack = surface.from_config(config, per_channel_interval=0.0)
    return Switchboard.from_config(config, surfaces=[slack], store=store)


def follow_ups(count: int) -> list[dict[str, Any]]:
    """``count`` mentions; every second one a follow-up of the one before."""
    items = []
    for n in range(count):
        text = "refund please" if n % 4 < 2 else "hello @acme"
        items.append(mention_item(n, text, conversation_key=f"m-{n - n % 2}"))
    return items


def posted(fake: FakeSlack, event_type: str) -> Counter[str]:
    """How often each card key (or activity line key) reached Slack."""
    keys: Counter[str] = Counter()
    for channel in CHANNELS:
        for message in fake.messages_in(channel):
            found = [message, *fake.thread(channel, str(message["ts"]))]
            for shown in found:
                meta = shown.get("metadata") or {}
                if meta.get("event_type") == event_type:
                    keys[str(meta["event_payload"]["key"])] += 1
    return keys


def thread_ids(fake: FakeSlack) -> set[str]:
    return {
        str(message["metadata"]["event_payload"]["thread_id"])
        for channel in CHANNELS
        for message in fake.messages_in(channel)
        if (message.get("metadata") or {}).get("event_type") == CARD_EVENT
    }


async def ingest_all(replica: Switchboard) -> None:
    while await replica.ingestor.poll_once(replica.sources[0]):
        pass


async def drain_together(replicas: list[Switchboard]) -> None:
    await asyncio.gather(*(r.dispatcher.drain() for r in replicas))


@pytest.fixture
def channels(fake_slack: FakeSlack) -> FakeSlack:
    for channel in CHANNELS:
        fake_slack.add_channel(channel, channel[2:].lower())
    return fake_slack


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_two_replicas_post_every_card_and_line_once(
    channels: FakeSlack, tmp_path: Path, kind: str
) -> None:
    clock = Clock()
    items = write_items(tmp_path / "m.json", follow_ups(60))
    async with two_stores(kind, tmp_path, clock) as stores:
        replicas = [board(channels, store, items) for store in stores]
        await ingest_all(replicas[0])
        await drain_together(replicas)
        cards = posted(channels, CARD_EVENT)
        assert len(cards) == 30 and set(cards.values()) == {1}

        for thread_id in sorted(thread_ids(channels))[::2]:
            await replicas[1].threads.claim(thread_id, ALICE, "slack")
        await drain_together(replicas)
        lines = posted(channels, ACTIVITY_EVENT)
        assert len(lines) >= 15 and set(lines.values()) == {1}
        assert set(posted(channels, CARD_EVENT).values()) == {1}
        assert channels.calls("conversations.history") == []
        assert channels.calls("conversations.replies") == []
        assert await stores[0].outbox_size() == 0


async def die_then_recover(
    fake: FakeSlack, tmp_path: Path, kind: str, act: Callable[[Switchboard], Any]
) -> tuple[Counter[str], Counter[str]]:
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        healthy = board(fake, stores[0], items)
        await ingest_all(healthy)
        await healthy.dispatcher.drain()
        await act(healthy)
        dying = board(fake, stores[1], items, DiesAfterPosting)
        with pytest.raises(Died):
            await dying.dispatcher.drain()
        clock.now += LEASE + 1
        survivor = board(fake, stores[0], items)
        assert await survivor.dispatcher.drain() >= 1
        assert await stores[0].outbox_size() == 0
        return posted(fake, CARD_EVENT), posted(fake, ACTIVITY_EVENT)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_card_posted_by_a_replica_that_died_is_adopted_not_posted_again(
    channels: FakeSlack, tmp_path: Path, kind: str
) -> None:
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        dying = board(channels, stores[1], items, DiesAfterPosting)
        await ingest_all(dying)
        with pytest.raises(Died):
            await dying.dispatcher.drain()
        assert sum(posted(channels, CARD_EVENT).values()) == 1
        clock.now += LEASE + 1
        survivor = board(channels, stores[0], items)
        assert await survivor.dispatcher.drain() == 1
        (card,) = channels.messages_in("C0BILLING")
        refs = await stores[0].card_refs(str(card["metadata"]["event_payload"]["thread_id"]))
        assert [ref.message_id for ref in refs.values()] == [card["ts"]]
    assert list(posted(channels, CARD_EVENT).values()) == [1]
    assert len(channels.calls("conversations.history")) == 1
    assert len(channels.calls("chat.postMessage")) == 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_line_added_by_a_replica_that_died_is_not_added_again(
    channels: FakeSlack, tmp_path: Path, kind: str
) -> None:
    async def claim(replica: Switchboard) -> None:
        (card,) = channels.messages_in("C0BILLING")
        thread_id = str(card["metadata"]["event_payload"]["thread_id"])
        await replica.threads.claim(thread_id, ALICE, "slack")

    cards, lines = await die_then_recover(channels, tmp_path, kind, claim)
    assert list(cards.values()) == [1]
    assert list(lines.values()) == [1]
    assert len(channels.calls("conversations.replies")) == 1
    assert channels.calls("conversations.history") == []
