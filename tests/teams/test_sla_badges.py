"""The SLA clock on Teams: the card's badge (coloured as it grows urgent), updated once per
threshold event through the fake Bot Connector and not on the ticks between — on both stores."""

from __future__ import annotations

from typing import Any

from bot.config import parse_config
from bot.dispatch import CardDispatcher
from bot.domain import Author, Mention, Person
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.sla.clock import SlaClock
from bot.sla.loop import TimerLoop
from bot.store import Store
from bot.surfaces.teams.connector import Connector
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.teams_config import TeamsSettings
from tests.clock import FakeTime
from tests.teams.fakes import ConnectorFake
from tests.teams.world import SUPPORT, TENANT, content, texts

CONFIG = parse_config(
    {
        "departments": [
            {
                "name": "support",
                "title": "Customer Support",
                "teams_channel": SUPPORT,
                "sla": {"claim": "20m", "first_response": "2h"},
            }
        ]
    }
)
ALICE = Person(surface="teams", id="29:alice", name="Alice Doe")


def badge_run(card: dict[str, Any]) -> dict[str, Any]:
    """The badge: the text run of the block right under the card's head line."""
    block = card["body"][1]
    assert block["type"] == "RichTextBlock", block
    (run,) = block["inlines"]
    assert isinstance(run, dict)
    return run


async def test_the_teams_card_badge_changes_once_per_threshold_event(
    store: Store, connector: ConnectorFake
) -> None:
    time = FakeTime()
    threads = ThreadService(
        store, Directory(CONFIG.departments), Router((), "support"), clock=time.now
    )
    clock = SlaClock(threads, store, CONFIG.sla_policy)
    threads.observers.append(clock)
    loop = TimerLoop(clock, store, "a", now=time.now, sleep=time.sleep)
    settings = TeamsSettings(tenant_id=TENANT, service_url=connector.url + "/")
    teams = TeamsSurface(
        settings, CONFIG.departments, CardLookups(store), Connector(settings, None)
    )
    dispatcher = CardDispatcher(
        store, CONFIG.departments, [teams], {}, clock=time.now, monotonic=time.monotonic
    )
    hostile = "{{DATE(2017-02-14T06:08:39Z)}} [click](https://evil.example) **now**"
    mention = Mention(
        source="m",
        network="mastodon",
        external_id="1",
        conversation_key="1",
        author=Author(id="a", handle="ann@example.social", display_name="[Ann](https://x.test)"),
        text=hostile,
        created_at=time.now(),
    )
    try:
        outcome = await threads.ingest(mention)
        assert outcome is not None
        await dispatcher.drain()
        (root,) = connector.cards(SUPPORT)
        first = badge_run(content(root))
        assert first["text"] == "⏱ Claim due 09:20"
        assert first["color"] == "Default"

        async def step(seconds: float) -> list[dict[str, Any]]:
            before = len(connector.updates)
            await time.advance(seconds)
            while await loop.tick():
                pass
            await dispatcher.drain()
            return [u for u in connector.updates[before:] if u["id"] == root["id"]]

        (half,) = await step(10 * 60)
        assert badge_run(content(half))["text"] == "⏱ Claim due 09:20"
        (last_mark,) = await step(6 * 60)
        warned = badge_run(content(last_mark))
        assert warned["text"] == "⚠ Claim due 09:20 — 4 min left at 09:16"
        assert (warned["color"], warned["weight"]) == ("Warning", "Bolder")
        assert await step(60) == [] and await step(120) == [], "no update between thresholds"
        (breach,) = await step(60)
        overdue = badge_run(content(breach))
        assert overdue["text"] == "⛔ Claim overdue since 09:20"
        assert overdue["color"] == "Attention"
        assert len(connector.chain(root["id"])) == 3, "two reminders and the breach alert"

        await threads.claim(outcome.thread.id, ALICE, "teams")
        await dispatcher.drain()
        claimed = content(connector.updates[-1])
        assert badge_run(claimed)["text"] == "⏱ First reply due 11:00"
        assert "{{DATE(" not in str(claimed) and "[click](https://evil.example)" in texts(claimed)
    finally:
        await teams.close()
