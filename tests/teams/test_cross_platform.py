"""A thread moves between a Slack department and a Teams department, and back: its card moves
between the two platforms with its history, and both sides show the move."""

from __future__ import annotations

import json
from pathlib import Path

from bot.config import Department, SlackSettings
from bot.domain import Person
from bot.store import Store
from bot.surfaces.slack.surface import SlackSurface
from tests.slack.conftest import fake_slack  # noqa: F401 - the fake Slack Web API fixture
from tests.slack.fake_slack import FakeSlack
from tests.teams.fakes import ConnectorFake
from tests.teams.world import SUPPORT, StaticTokens, message, world

SOCIAL = "C0SOCIAL"


async def test_slack_to_teams_and_back(
    store: Store,
    connector: ConnectorFake,
    fake_slack: FakeSlack,  # noqa: F811
    tmp_path: Path,
) -> None:
    fake_slack.add_user("U0ALICE", "alice")
    fake_slack.add_channel(SOCIAL, "social", members=["U0ALICE"])
    slack = SlackSurface(
        SlackSettings.model_validate(fake_slack.settings()),
        [Department(name="social", title="Social team", slack_channel=SOCIAL)],
        per_channel_interval=0.0,
    )
    async with world(
        store, connector, tmp_path, token_provider=StaticTokens("t"), others=[slack]
    ) as w:
        await w.mention(1, "hello, my invoice is wrong")
        assert len(fake_slack.messages_in(SOCIAL)) == 1
        assert connector.cards() == []
        thread = await w.board.threads.find("T-1001")

        alice = Person(surface="slack", id="U0ALICE", name="alice")
        await w.board.threads.transfer(thread.id, alice, "support", "customer needs support")
        await w.board.dispatcher.drain()

        slack_update = json.dumps(fake_slack.calls("chat.update")[-1].params)
        assert "Transferred to Customer Support by alice" in slack_update
        teams_cards = connector.cards(SUPPORT)
        assert len(teams_cards) == 1
        teams_card = json.dumps(teams_cards[0])
        assert "customer needs support" in teams_card and "hello, my invoice is wrong" in teams_card

        status, _ = await w.post(message("send-back T-1001 not for us", SUPPORT, w.service_url))
        assert status in (200, 202)
        await w.board.dispatcher.drain()

        back = await w.board.threads.find("T-1001")
        assert back.department == "social" and back.owner == alice
        assert [t.to_department for t in back.transfers] == ["support", "social"]
        teams_update = json.dumps(connector.updates[-1])
        assert "Sent back to Social team" in teams_update
        slack_cards = fake_slack.messages_in(SOCIAL)
        assert len(slack_cards) == 2
        newest = json.dumps(slack_cards[-1])
        assert "not for us" in newest and "customer needs support" in newest
