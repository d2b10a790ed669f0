"""The card dispatcher driving the Slack surface: a mention becomes a card; a transfer updates
the old card (banner + activity line) and posts a new card in the target department's channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Person
from bot.surfaces.slack.surface import SlackSurface
from tests.boards import mention_item, write_items

from .fake_slack import FakeSlack
from .hostile import assert_inert

ALICE = Person(surface="slack", id="U0ALICE", name="alice")


@pytest.fixture
async def board(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Switchboard]:
    fake_slack.add_channel("C0BILLING", "billing")
    fake_slack.add_channel("C0SUPPORT", "support")
    items = [
        mention_item(
            1,
            "refund please <!channel> <https://evil.example|https://bank.example>",
            author={"id": "a1", "handle": "dana@social.example", "display_name": "<!here> Dana"},
        )
    ]
    config = parse_config(
        {
            "store": {"url": f"sqlite:///{tmp_path / 's.sqlite3'}"},
            "slack": fake_slack.settings(),
            "departments": [
                {"name": "social", "title": "Social team"},
                {"name": "billing", "title": "Billing", "slack_channel": "C0BILLING"},
                {
                    "name": "support",
                    "title": "Support",
                    "slack_channel": "#support",
                    "slack_usergroup": "S0SUPPORT",
                },
            ],
            "routing": {
                "default_department": "social",
                "rules": [{"department": "billing", "keywords": ["refund"]}],
            },
            "sources": [
                {
                    "name": "sample",
                    "type": "replay",
                    "path": str(write_items(tmp_path / "m.json", items)),
                }
            ],
        }
    )
    surface = SlackSurface.from_config(config, per_channel_interval=0.05)
    switchboard = Switchboard.from_config(config, surfaces=[surface])
    try:
        yield switchboard
    finally:
        await switchboard.stop()


def card_text(message: dict[str, Any]) -> str:
    return str(message["blocks"])


async def test_mention_to_card_to_transfer(board: Switchboard, fake_slack: FakeSlack) -> None:
    await board.ingestor.poll_once(board.sources[0])
    await board.dispatcher.drain()
    (card,) = fake_slack.messages_in("C0BILLING")
    assert not fake_slack.messages_in("C0SUPPORT")
    payload = card["metadata"]["event_payload"]
    thread_id = payload["thread_id"]
    assert payload["key"] == f"{thread_id}:0:slack"
    assert "refund please &lt;!channel&gt;" in card_text(card)
    assert_inert([c.params for c in fake_slack.calls()])

    await board.threads.claim(thread_id, ALICE, "slack")
    await board.dispatcher.drain()
    card = fake_slack.message("C0BILLING", card["ts"])
    assert "Claimed · alice" in card_text(card) and "sb_release" in card_text(card)
    assert [m["text"] for m in fake_slack.thread("C0BILLING", card["ts"])] == ["Claimed by alice"]

    await board.threads.transfer(
        thread_id, ALICE, "support", "refund question <!here>", surface="slack"
    )
    await board.dispatcher.drain()
    old = fake_slack.message("C0BILLING", card["ts"])
    banner = old["blocks"][0]["text"]["text"]
    assert "Transferred to Support by alice — refund question &lt;!here&gt;" in banner
    assert "now in <#C0SUPPORT>" in banner
    assert not [b for b in old["blocks"] if b["type"] == "actions"]
    lines = [m["text"] for m in fake_slack.thread("C0BILLING", card["ts"])]
    assert lines[-1] == "Transferred to Support by alice — refund question &lt;!here&gt;"

    (new,) = fake_slack.messages_in("C0SUPPORT")
    assert new["metadata"]["event_payload"]["key"] == f"{thread_id}:1:slack"
    assert new["text"].startswith("<!subteam^S0SUPPORT>")
    assert "sb_claim" in card_text(new) and "Claimed by alice" in card_text(new)
    assert len(fake_slack.messages_in("C0BILLING")) == 1
    assert_inert([c.params for c in fake_slack.calls()], groups=frozenset({"S0SUPPORT"}))

    posts = len(fake_slack.calls("chat.postMessage"))
    assert await board.dispatcher.drain() == 0
    assert len(fake_slack.calls("chat.postMessage")) == posts
