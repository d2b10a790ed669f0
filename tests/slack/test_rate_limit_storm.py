"""A Slack 429 storm pauses only Slack's lane: Teams keeps getting cards of new threads, and
once Slack recovers it gets every card exactly once. Time is virtual (``FakeTime``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Switchboard
from bot.config import SlackSettings, parse_config
from bot.dispatch import CardDispatcher
from bot.domain import Author, Mention
from bot.ports import Surface
from bot.store.sqlite import SQLiteStore
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackWebApi
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.teams_config import TeamsSettings
from tests.clock import FakeTime, eventually
from tests.teams.fakes import ConnectorFake

from .fake_slack import FakeSlack

TENANT = "8d7c6b5a-1111-2222-3333-444455556666"
SLACK_BILLING = "C0BILLING"
TEAMS_BILLING = "19:billing-channel@thread.tacv2"


@dataclass
class Rig:
    board: Switchboard
    dispatcher: CardDispatcher
    time: FakeTime
    slack: FakeSlack
    teams: ConnectorFake

    async def mention(self, n: int) -> None:
        author = Author(id=f"a{n}", handle=f"user{n}@example.social", display_name=f"User {n}")
        await self.board.threads.ingest(
            Mention(
                source="sample",
                network="replay",
                external_id=f"m-{n}",
                conversation_key=f"m-{n}",
                author=author,
                text=f"refund {n} please",
                permalink=f"https://example.social/@user{n}/m-{n}",
            )
        )

    def slack_keys(self) -> list[str]:
        messages = self.slack.messages_in(SLACK_BILLING)
        return [m["metadata"]["event_payload"]["key"] for m in messages]


@pytest.fixture
async def rig(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Rig]:
    fake_slack.add_channel(SLACK_BILLING, "billing")
    teams = ConnectorFake(tenant=TENANT)
    teams.channels.add(TEAMS_BILLING)
    await teams.start()
    items = tmp_path / "items.json"
    items.write_text("[]", encoding="utf-8")
    config = parse_config(
        {
            "departments": [
                {"name": "social", "title": "Social team"},
                {
                    "name": "billing",
                    "title": "Billing",
                    "slack_channel": SLACK_BILLING,
                    "teams_channel": TEAMS_BILLING,
                },
            ],
            "routing": {"default_department": "billing"},
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
    time = FakeTime()
    settings = SlackSettings.model_validate(fake_slack.settings())
    api = SlackWebApi(settings.bot_token, settings.api_url, clock=time.monotonic, sleep=time.sleep)
    teams_surface = TeamsSurface(
        TeamsSettings(tenant_id=TENANT, service_url=teams.url + "/"),
        config.departments,
        CardLookups(store),
    )
    surfaces: list[Surface] = [SlackSurface(settings, config.departments, api=api), teams_surface]
    board = Switchboard.from_config(config, surfaces, store=store)
    dispatcher = CardDispatcher(
        store,
        config.departments,
        surfaces,
        {},
        clock=time.now,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )
    try:
        yield Rig(board, dispatcher, time, fake_slack, teams)
    finally:
        await board.stop()
        await teams_surface.connector.close()
        await teams.close()


async def test_a_slack_429_storm_never_holds_up_teams(rig: Rig) -> None:
    rig.slack.rate_limit("chat.postMessage", times=None, retry_after=30)
    await rig.mention(1)
    await rig.mention(2)
    stop = asyncio.Event()
    runner = asyncio.create_task(rig.dispatcher.run(stop))
    try:
        await eventually(lambda: len(rig.teams.cards(TEAMS_BILLING)) == 2, time=rig.time, tick=0.2)
        await rig.mention(3)  # a new thread in the middle of the storm
        await eventually(lambda: len(rig.teams.cards(TEAMS_BILLING)) == 3, time=rig.time, tick=0.2)
        assert rig.time.monotonic() < 30, "Teams waited for Slack"
        assert rig.slack.messages_in(SLACK_BILLING) == []
        refused = len(rig.slack.calls("chat.postMessage"))
        assert refused == 1, "a 30 s Retry-After is deferred, not retried inline"
        health = rig.dispatcher.health()
        assert health["teams"] == "ok"
        assert health["slack"].startswith("rate limited until 2024-05-01T09:00:30")
        assert "(3 waiting)" in health["slack"]
        assert await rig.board.store.outbox_size() == 3, "acked before Slack had its cards"

        await rig.time.advance(31)  # the storm goes on: Slack is tried once more, then waits
        await eventually(lambda: len(rig.slack.calls("chat.postMessage")) == 2)
        assert rig.slack.messages_in(SLACK_BILLING) == []

        rig.slack.recover("chat.postMessage")

        async def all_done() -> bool:
            return len(rig.slack_keys()) == 3 and await rig.board.store.outbox_size() == 0

        await eventually(all_done, time=rig.time, tick=1.0)
    finally:
        stop.set()
        await runner
    keys = rig.slack_keys()
    assert len(set(keys)) == 3 and all(k.endswith(":0:slack") for k in keys)
    assert len(rig.teams.cards(TEAMS_BILLING)) == 3
    assert rig.dispatcher.health() == {"slack": "ok", "teams": "ok"}
