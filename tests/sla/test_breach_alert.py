"""Breach alerts and rollover on the fake Slack, two replicas on one store (both stores).

A breach line under the card mentions the department's notify target (a real Slack mention,
once) while public text stays escaped; a rollover moves the thread by the system with the
chain and a note, and its card appears in the escalation channel; a rollover back to where
the thread came from (A -> B -> A) is refused and alerts the target instead."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import Switchboard
from bot.cards import history_line
from bot.config import parse_config
from bot.domain import AuditEvent, EventKind, Person
from bot.ports import Alert
from bot.sla.rollover import SYSTEM
from bot.store import Store
from bot.store.sqlite import SQLiteStore
from bot.surfaces.slack.surface import SlackSurface
from tests.clock import FakeTime
from tests.sla.helpers import mention, run_due, sla_events
from tests.slack.conftest import fake_slack  # noqa: F401
from tests.slack.fake_slack import FakeSlack
from tests.stores.conftest import Backend
from tests.teams.conftest import connector  # noqa: F401
from tests.teams.fakes import ConnectorFake
from tests.teams.test_surface import make_card, surface
from tests.teams.world import SUPPORT

ALICE = Person(surface="slack", id="U0ALICE", name="alice")
LEADS = "<!subteam^S0LEADS>"
SOCIAL_LEADS = "<#C0LEADS>"
HOSTILE = "<!channel> refund me <https://evil.example|click> @here"
DEPARTMENTS: list[dict[str, Any]] = [
    {
        "name": "social",
        "title": "Social",
        "slack_channel": "C0SOCIAL",
        "sla": {"claim": "10m"},
        "notify": SOCIAL_LEADS,
    },
    {
        "name": "support",
        "title": "Support",
        "slack_channel": "C0SUPPORT",
        "sla": {"claim": "10m"},
        "escalation": "social",
        "notify": LEADS,
    },
]


def replica(fake: FakeSlack, store: Store, time: FakeTime, name: str) -> Switchboard:
    config = parse_config(
        {
            "slack": fake.settings(),
            "departments": DEPARTMENTS,
            "routing": {
                "default_department": "social",
                "rules": [{"department": "support", "keywords": ["refund"]}],
            },
        }
    )
    slack = SlackSurface.from_config(config, per_channel_interval=0.0)
    return Switchboard(config, store, [], [slack], sleep=time.sleep, clock=time.now, replica=name)


def texts(fake: FakeSlack, channel: str) -> list[str]:
    """Every line under every card of ``channel``."""
    return [
        str(line["text"])
        for card in fake.messages_in(channel)
        for line in fake.thread(channel, str(card["ts"]))
    ]


def everything(fake: FakeSlack) -> str:
    return json.dumps([m for c in ("C0SOCIAL", "C0SUPPORT") for m in fake.messages.get(c, [])])


async def settle(replicas: list[Switchboard]) -> None:
    await run_due(*replicas)
    await asyncio.gather(*(r.dispatcher.drain() for r in replicas))


async def test_breach_alert_rollover_and_refused_rollover_on_slack(
    fake_slack: FakeSlack,  # noqa: F811
    backend: Backend,
) -> None:
    for channel in ("C0SOCIAL", "C0SUPPORT"):
        fake_slack.add_channel(channel, channel[2:].lower())
    time = FakeTime()
    replicas = [replica(fake_slack, backend.open(), time, n) for n in ("a", "b")]
    store = replicas[0].store
    first = await replicas[0].threads.ingest(mention(time, 1).model_copy(update={"text": HOSTILE}))
    back = await replicas[1].threads.ingest(mention(time, 2))
    assert first is not None and back is not None
    rolled, stays = first.thread.id, back.thread.id
    assert first.thread.department == "support"
    await replicas[1].threads.transfer(stays, ALICE, "support", "please look")
    await settle(replicas)

    for minutes in (5, 8, 10, 25):
        await time.advance((time.start + timedelta(minutes=minutes) - time.now()).total_seconds())
        await settle(replicas)

    moved = await store.get_thread(rolled)
    assert moved is not None and moved.department == "social" and moved.owner is None
    move = moved.transfers[-1]
    assert (move.from_department, move.to_department, move.by) == ("support", "social", SYSTEM)
    assert move.note == "no answer within 25 business minutes"
    stayed = await store.get_thread(stays)
    assert stayed is not None and stayed.department == "support"
    assert [k for k, _, _ in await sla_events(store, stays)][-1] is EventKind.SLA_ROLLOVER_REFUSED

    support = texts(fake_slack, "C0SUPPORT")
    breach = f"{LEADS} SLA breached: nobody has claimed this within 10 min"
    refused = f"{LEADS} Not rolled over to Social: it came from there; please pick it up here"
    assert Counter(support)[breach] == 2, support  # one per thread, each once
    assert Counter(support)[refused] == 1, support
    assert "Transferred to Social by switchboard — no answer within 25 business minutes" in support
    social_cards = [m for m in fake_slack.messages_in("C0SOCIAL")]
    rolled_card = [
        c for c in social_cards if c["metadata"]["event_payload"].get("thread_id") == rolled
    ]
    assert len(rolled_card) == 1, "the rollover card is in the escalation channel"
    assert "Transferred to Social by switchboard" in json.dumps(rolled_card[0]["blocks"])

    await time.advance(10 * 60)  # social's own claim clock for the rolled-over thread
    await settle(replicas)
    assert (
        Counter(texts(fake_slack, "C0SOCIAL"))[
            f"{SOCIAL_LEADS} SLA breached: nobody has claimed this within 10 min"
        ]
        == 1
    )
    posted = everything(fake_slack)
    assert posted.count(LEADS) == 3 and posted.count(SOCIAL_LEADS) == 1
    assert "<!channel>" not in posted and "<https://evil" not in posted, "public text escaped"
    await time.advance(24 * 3600)
    await settle(replicas)
    assert everything(fake_slack) == posted, "nothing fired twice"


async def test_on_teams_the_alert_names_the_target_in_plain_text(
    tmp_path: Path,
    connector: ConnectorFake,  # noqa: F811
) -> None:
    event = AuditEvent(
        id="e1",
        thread_id="th1",
        kind=EventKind.SLA_BREACHED,
        data={"target": 600, "notify_teams": "#Escalations", "notify_slack": "<script>"},
    )
    line = history_line(event, {})
    assert isinstance(line, Alert) and line.slack == "", "a malformed Slack target is left out"
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 't.sqlite3'}")
    try:
        teams = surface(store, connector)
        ref = await teams.post_card(SUPPORT, make_card(), "k")
        await teams.notify(ref, line, "e1:teams")
        assert connector.lines(ref.message_id) == [
            "#Escalations SLA breached: nobody has claimed this within 10 min"
        ]
        await teams.close()
    finally:
        await store.close()
