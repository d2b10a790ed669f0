"""Issue 12: everything stays claimable in a storm. A pick in a digest's Claim menu goes the
card buttons' way (signed ``block_actions`` to ``POST /slack/events``); the thread gets its
full card and its digest line says "→ card". ``/claim T-n`` takes a digest thread too, and the
queue lists digest threads like any other. Both stores, virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.actions import Action
from bot.server import build_app
from bot.surfaces.slack.app import install_slack
from bot.surfaces.slack.surface import SlackSurface
from tests.clock import FakeTime
from tests.slack.fake_slack import FakeSlack
from tests.slack.inbound_harness import ALICE, BOB, Harness, workspace
from tests.stores.conftest import Backend

from .rig import BILLING, Rig, config, store_clock


@pytest.fixture
async def rig(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[Rig, Harness]]:
    time = FakeTime()
    fake = FakeSlack(clock=time.monotonic)
    await fake.start()
    workspace(fake)
    fake.enforce_rates()
    rig = Rig(fake, time, config(tmp_path, fake))
    replica = rig.replica(backend.open(clock=store_clock(time)))
    (surface,) = replica.dispatcher.surfaces
    assert isinstance(surface, SlackSurface) and rig.config.slack is not None
    app = build_app(replica.board)
    inbound = install_slack(replica.board.desk, app, rig.config.slack, surface)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield rig, Harness(fake, replica.board, surface, inbound, client)
    finally:
        await client.close()
        await rig.stop()
        await fake.close()


def pick(harness: Harness, digest: dict[str, Any], option: dict[str, Any]) -> dict[str, Any]:
    """The ``block_actions`` payload Slack sends for a pick in a digest's static select."""
    payload = harness.click_payload(
        ALICE, "sb_claim", option["value"], channel=BILLING, message_ts=digest["ts"]
    )
    (action,) = payload["actions"]
    for name in ("value", "text"):
        action.pop(name)
    action |= {
        "type": "static_select",
        "selected_option": option,
        "placeholder": {"type": "plain_text", "text": "Claim…"},
    }
    return payload


def card_of(rig: Rig, thread_id: str) -> dict[str, Any] | None:
    found = [m for m in rig.cards() if m["metadata"]["event_payload"]["thread_id"] == thread_id]
    return found[0] if found else None


async def test_a_digest_thread_is_claimed_from_the_digest_and_gets_its_card(
    rig: tuple[Rig, Harness],
) -> None:
    storm, harness = rig
    (replica,) = storm.replicas
    await storm.flood(replica, 60)
    await storm.until(lambda: len(storm.cards()) + len(storm.digest_lines()) == 60, tick=0.05)
    cards_before = len(storm.cards())
    waiting = await replica.board.desk.waiting("billing")
    assert len(waiting) == 60, "digest threads wait in the queue like any other"

    digest = storm.digests()[0]
    option = digest["blocks"][1]["accessory"]["options"][2]
    thread_id = Action.decode(option["value"]).thread_id
    short_id = option["text"]["text"].split(" · ")[0]
    answer = await harness.interact(pick(harness, digest, option))
    assert answer.status == 200
    await harness.inbound.settle()

    def activity() -> list[str]:
        card = card_of(storm, thread_id)
        return [m["text"] for m in harness.fake.thread(BILLING, card["ts"])] if card else []

    await storm.until(lambda: activity() == ["Claimed by alice"])
    card = card_of(storm, thread_id)
    assert card is not None and "Claimed · alice" in str(card["blocks"])

    def marked() -> bool:
        shown = harness.fake.message(BILLING, digest["ts"])
        text = "\n".join(b["text"]["text"] for b in shown["blocks"][1:])
        line = next(x for x in text.splitlines() if f"`{short_id}`" in x)
        values = [
            o["value"]
            for b in shown["blocks"]
            if "accessory" in b
            for o in b["accessory"]["options"]
        ]
        return "→ card" in line and option["value"] not in values

    await storm.until(marked)

    other = storm.digests()[-1]["blocks"][1]["accessory"]["options"][0]
    other_id = Action.decode(other["value"]).thread_id
    answer = await harness.command(BOB, "/claim", other["text"]["text"].split(" · ")[0])
    assert answer.status == 200
    await harness.inbound.settle()
    await storm.until(lambda: card_of(storm, other_id) is not None)
    assert "Claimed · bob" in str(card_of(storm, other_id))
    assert len(storm.cards()) == cards_before + 2, "only the threads people acted on"
    assert storm.fake.limited == []
