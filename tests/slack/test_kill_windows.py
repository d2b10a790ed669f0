"""A replica killed in each window of posting a card or an activity line loses nothing.

The windows, in the order a replica goes through them (``bot.postclaims``):

- ``claimed``: it took the outbox item's lease and the key's claim, and died before marking
  the key tried;
- ``tried``: the key is marked tried, and it died before the platform call;
- ``posted``: Slack took the post, and it died before marking the key done;
- ``done``: the key is done (the card ref saved), and it died before acking the item.

A kill is simulated in one process: the replica stops at that point and leaves its claim and
its outbox lease to expire on the stores' clock. A fresh replica then drains the outbox: the
card and the line are on Slack exactly once, the outbox is empty, and the platform was asked
to look anything up only when an earlier attempt may have posted (``tried``, ``posted``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from bot.app import Switchboard
from bot.domain import CardRef
from bot.ports import Card
from bot.storage import POST_CLAIM
from bot.surfaces.slack.blocks import ACTIVITY_EVENT, CARD_EVENT
from bot.surfaces.slack.surface import SlackSurface
from tests.boards import mention_item, write_items

from .fake_slack import FakeSlack
from .test_cards_once import (
    LEASE,
    Clock,
    Died,
    DiesAfterPosting,
    board,
    ingest_all,
    posted,
    two_stores,
)

Window = Literal["claimed", "tried", "posted", "done"]
LOOK_UPS: dict[Window, int] = {"claimed": 0, "tried": 1, "posted": 1, "done": 0}
"""How many look-ups the replica that takes over makes: one when an attempt may have posted."""


class DiesBeforePosting(SlackSurface):
    """A Slack surface whose process dies just before it calls Slack."""

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        raise Died(key)

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        raise Died(key)


async def die_in(window: Window, fake: FakeSlack, replica: Switchboard, items: Path) -> None:
    """Replica ``replica`` (on its own store instance) handles the next outbox item and is
    killed in ``window``; the item is the card's (first mention) or the line's (follow-up)."""
    store = replica.store
    if window in ("claimed", "done"):
        item = await store.outbox_claim(LEASE)
        assert item is not None
        if window == "done":
            await replica.dispatcher.process(item)
            return
        thread = await store.get_thread(item.thread_id)
        assert thread is not None
        refs = await store.card_refs(thread.id)
        key = (
            f"line:{item.event_id}:slack" if refs else f"card:{thread.id}:{thread.placement}:slack"
        )
        assert await store.kv_put_if_absent(POST_CLAIM, key, "dead-replica", ttl=LEASE)
        return
    surface = DiesBeforePosting if window == "tried" else DiesAfterPosting
    dying = board(fake, store, items, surface)
    with pytest.raises(Died):
        await dying.dispatcher.drain()


@pytest.fixture
def channels(fake_slack: FakeSlack) -> FakeSlack:
    for channel in ("C0SOCIAL", "C0BILLING"):
        fake_slack.add_channel(channel, channel[2:].lower())
    return fake_slack


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("window", list(LOOK_UPS))
async def test_a_card_is_posted_once_whichever_window_its_replica_died_in(
    channels: FakeSlack, tmp_path: Path, kind: str, window: Window
) -> None:
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        await ingest_all(board(channels, stores[1], items))
        await die_in(window, channels, board(channels, stores[1], items), items)
        clock.now += LEASE + 1
        survivor = board(channels, stores[0], items)
        assert await survivor.dispatcher.drain() == 1
        assert await stores[0].outbox_size() == 0
    assert list(posted(channels, CARD_EVENT).values()) == [1]
    assert len(channels.calls("chat.postMessage")) == 1
    assert len(channels.calls("conversations.history")) == LOOK_UPS[window]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("window", list(LOOK_UPS))
async def test_a_follow_ups_line_is_posted_once_whichever_window_its_replica_died_in(
    channels: FakeSlack, tmp_path: Path, kind: str, window: Window
) -> None:
    clock = Clock()
    first = mention_item(1, "refund please")
    items = write_items(tmp_path / "m.json", [first])
    async with two_stores(kind, tmp_path, clock) as stores:
        healthy = board(channels, stores[0], items)
        await ingest_all(healthy)
        assert await healthy.dispatcher.drain() == 1
        follow_up = mention_item(2, "still waiting for that refund", conversation_key="m-1")
        items = write_items(tmp_path / "m.json", [first, follow_up])
        replica = board(channels, stores[1], items)
        await ingest_all(replica)
        await die_in(window, channels, replica, items)
        clock.now += LEASE + 1
        survivor = board(channels, stores[0], items)
        assert await survivor.dispatcher.drain() == 1
        assert await stores[0].outbox_size() == 0
        (card,) = channels.messages_in("C0BILLING")
        thread_id = str(card["metadata"]["event_payload"]["thread_id"])
        assert len(await stores[0].mentions(thread_id)) == 2
    assert list(posted(channels, CARD_EVENT).values()) == [1]
    assert list(posted(channels, ACTIVITY_EVENT).values()) == [1]
    assert len(channels.calls("chat.postMessage")) == 2
    assert len(channels.calls("conversations.replies")) == LOOK_UPS[window]
    assert channels.calls("conversations.history") == []
