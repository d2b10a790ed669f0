"""The SLA clock on Slack: the card's badge, updated once per threshold event (and not on the
ticks between), and the App Home and ``/switchboard queue`` listing what is due first — on both
stores, through the fake Slack Web API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import Switchboard, build_sources
from bot.config import Config, parse_config
from bot.dispatch import CardDispatcher
from bot.domain import Author, EventKind, Mention, Person, Thread
from bot.routing import Router
from bot.server import build_app
from bot.service import Directory, ThreadService
from bot.sla.clock import SlaClock
from bot.sla.loop import TimerLoop
from bot.store import Store
from bot.surfaces.slack.app import install_slack
from bot.surfaces.slack.surface import SlackSurface
from tests.clock import FakeTime
from tests.stores import conftest as stores
from tests.stores.conftest import Backend

from .fake_slack import FakeSlack
from .hostile import assert_inert
from .inbound_harness import ALICE, BILLING, BOB, SUPPORT, Harness, config_for, workspace

SLACK_ALICE = Person(surface="slack", id=ALICE, name="alice")
backend = stores.backend
"""Every test here runs on both stores (SQLite and Redis), as the store contract suite does."""


def sla_config(fake: FakeSlack, tmp: Path) -> Config:
    """Billing claims within 10 min and replies within 1 h, Support claims within 30 min;
    ``help`` goes to Support."""
    data = config_for(fake, tmp)
    data["departments"][0]["sla"] = {"claim": "10m", "first_response": "1h"}
    data["departments"][1]["sla"] = {"claim": "30m"}
    data["routing"]["rules"].append({"department": "support", "keywords": ["help"]})
    return parse_config(data)


def mention(n: int, text: str, time: FakeTime) -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id=f"post-{n}",
        conversation_key=f"conv-{n}",
        author=Author(id=f"a{n}", handle="<!channel>", display_name="<!here> Dana"),
        text=text,
        permalink=f"https://social.example/@dana/{n}",
        created_at=time.now(),
    )


def badge_of(blocks: list[dict[str, Any]]) -> str:
    """The card's badge line: the context block right under the header."""
    assert blocks[0]["type"] == "header", blocks[0]
    second = blocks[1]
    assert second["type"] == "context", "no badge under the header"
    return str(second["elements"][0]["text"])


async def test_the_card_badge_changes_once_per_threshold_event(
    fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    workspace(fake_slack)
    config = sla_config(fake_slack, tmp_path)
    time = FakeTime()
    store = backend.open()
    threads = ThreadService(
        store,
        Directory(config.departments),
        Router(config.routing.rules, config.default_department),
        clock=time.now,
    )
    clock = SlaClock(threads, store, config.sla_policy)
    threads.observers.append(clock)
    loop = TimerLoop(clock, store, "a", now=time.now, sleep=time.sleep)
    surface = SlackSurface.from_config(config, per_channel_interval=0.0)
    dispatcher = CardDispatcher(
        store,
        config.departments,
        [surface],
        {},
        clock=time.now,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )
    try:
        outcome = await threads.ingest(mention(1, "refund <!channel> please", time))
        assert outcome is not None
        await dispatcher.drain()
        (card,) = fake_slack.messages_in(BILLING)
        assert badge_of(card["blocks"]) == "⏱ Claim due 09:10"

        async def step(seconds: float) -> list[Any]:
            before = len(fake_slack.calls("chat.update"))
            await time.advance(seconds)
            while await loop.tick():
                pass
            await dispatcher.drain()
            return fake_slack.calls("chat.update")[before:]

        (at_half,) = await step(5 * 60)
        assert badge_of(at_half.obj("blocks")) == "⏱ Claim due 09:10"
        (at_last_mark,) = await step(3 * 60)
        assert badge_of(at_last_mark.obj("blocks")) == "*⚠ Claim due 09:10 — 2 min left at 09:08*"
        assert await step(30) == [] and await step(30) == [], "no update between thresholds"
        (at_breach,) = await step(60)
        assert badge_of(at_breach.obj("blocks")) == "*⛔ Claim overdue since 09:10*"
        assert await step(60) == []

        kinds = [e.kind for e in await store.events(outcome.thread.id)]
        assert kinds.count(EventKind.SLA_REMINDER) == 2
        assert kinds.count(EventKind.SLA_BREACHED) == 1
        lines = [m["text"] for m in fake_slack.thread(BILLING, card["ts"])]
        assert len(lines) == 3 and lines[-1].startswith("SLA breached")

        await threads.claim(outcome.thread.id, SLACK_ALICE, "slack")
        await dispatcher.drain()
        claimed = fake_slack.calls("chat.update")[-1]
        assert badge_of(claimed.obj("blocks")) == "⏱ First reply due 10:00"
        for call in fake_slack.log:
            assert_inert(call.params)
    finally:
        await surface.close()


@asynccontextmanager
async def app_on(
    fake: FakeSlack, tmp: Path, store: Store, time: FakeTime
) -> AsyncIterator[Harness]:
    """The whole Slack app (Events API, commands, App Home) on ``store`` and ``time``."""
    workspace(fake)
    config = sla_config(fake, tmp)
    assert config.slack is not None
    surface = SlackSurface.from_config(config, per_channel_interval=0.0)
    board = Switchboard(config, store, build_sources(config), [surface], clock=time.now)
    app = build_app(board)
    inbound = install_slack(board.desk, app, config.slack, surface)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Harness(fake, board, surface, inbound, client)
    finally:
        await client.close()
        await board.stop()


def sections(home: dict[str, Any]) -> dict[str, list[str]]:
    """Each App Home header and the rows under it, as their text."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for block in home["blocks"]:
        if block["type"] == "header":
            current = found.setdefault(block["text"]["text"], [])
        elif block["type"] == "section":
            current.append(block["text"]["text"])
    return found


def ids(rows: list[str]) -> list[str]:
    return [m.group(1) for r in rows if (m := re.match(r"\*(T-\d+)\*", r))]


async def test_app_home_and_queue_list_what_is_due_first(
    fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    time = FakeTime()
    async with app_on(fake_slack, tmp_path, backend.open(), time) as h:
        threads = h.board.threads

        async def arrive(n: int, text: str) -> Thread:
            outcome = await threads.ingest(mention(n, text, time))
            assert outcome is not None
            return outcome.thread

        s1 = await arrive(1, "help with my login")  # support 09:00, claim due 09:30
        await time.advance(60)
        moved = await arrive(2, "refund")  # billing 09:01, to support at 09:08: due 09:38
        await time.advance(60)
        b1 = await arrive(3, "refund")  # billing 09:02, due 09:12
        await time.advance(60)
        s2 = await arrive(4, "help me")  # support 09:03, due 09:33
        await time.advance(60)
        b2 = await arrive(5, "refund")  # billing 09:04, released 09:09: due 09:19
        await threads.claim(b2.id, SLACK_ALICE, "slack")
        await time.advance(3 * 60)
        b3 = await arrive(6, "refund")  # billing 09:07, due 09:17
        await time.advance(60)
        await threads.transfer(moved.id, SLACK_ALICE, "support", surface="slack")
        await time.advance(60)
        await threads.release(b2.id, SLACK_ALICE, "slack")
        await time.advance(60)  # 09:10

        await h.event(
            {
                "type": "app_home_opened",
                "user": BOB,
                "channel": "D0B",
                "tab": "home",
                "event_ts": "1",
            }
        )
        await h.settle()
        shown = sections(h.fake.home[BOB])  # in Support's user group, and in Billing's channel
        billing, support = shown["Waiting in Billing"], shown["Waiting in Support"]
        assert ids(billing) == [b1.short_id, b3.short_id, b2.short_id]
        assert ids(support) == [s1.short_id, s2.short_id, moved.short_id]
        assert "⚠ claim: 2 min left (due 09:12)" in billing[0]
        assert "⏱ claim due in 7 min (09:17)" in billing[1]
        assert "⏱ claim due in 28 min (09:38)" in support[2]

        await h.command(ALICE, "/switchboard", "queue", channel=BILLING)
        await h.command(ALICE, "/switchboard", "queue", channel=SUPPORT)
        await h.settle()
        billing_queue, support_queue = h.ephemerals(ALICE)
        assert re.findall(r"T-\d+", billing_queue) == [b1.short_id, b3.short_id, b2.short_id]
        assert re.findall(r"T-\d+", support_queue) == [s1.short_id, s2.short_id, moved.short_id]
        assert "⏱ claim due in 9 min (09:19)" in billing_queue

        await h.command(ALICE, "/claim", b1.short_id, channel=BILLING)
        await h.settle()
        await h.command(ALICE, "/claim", "", channel=BILLING)
        await h.settle()
        assert h.ephemerals(ALICE)[-1] == f"You have {b3.short_id}.", "due first, not oldest"
        for call in h.fake.log:
            assert_inert(call.params, groups=frozenset({"S0SUPPORT"}))
