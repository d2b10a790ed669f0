"""``POST /slack/events``: signatures, the URL check, acks, and Slack's retries."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import EventKind

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, BILLING, BOB, Harness, running


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


async def test_url_verification_answers_the_challenge(h: Harness) -> None:
    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await h.send(body, "application/json")
    assert response.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in await response.text()


async def test_bad_signature_is_refused_and_nothing_runs(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    before = len(h.fake.log)
    body = "command=%2Fclaim&text=&user_id=U0ALICE&channel_id=C0BILLING&team_id=T0TEAM"
    response = await h.send(body, "application/x-www-form-urlencoded", secret="not-the-secret")
    assert response.status == 401
    await h.settle()
    assert len(h.fake.log) == before
    assert (await h.board.threads.find(thread.id)).owner is None


async def test_stale_timestamp_is_refused(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    stale = int(time.time()) - 10 * 60
    form = f"command=%2Fclaim&text={thread.short_id}&user_id={ALICE}&channel_id={BILLING}"
    response = await h.send(form, "application/x-www-form-urlencoded", ts=stale)
    assert response.status == 401
    await h.settle()
    assert (await h.board.threads.find(thread.id)).owner is None


async def test_a_slash_command_is_acked_at_once_and_answered_privately(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    response = await h.command(ALICE, "/claim", thread.short_id)
    assert response.status == 200
    assert await response.text() == ""
    await h.settle()
    assert (await h.board.threads.find(thread.id)).owner is not None
    assert h.ephemerals(ALICE) == [f"You have {thread.short_id}."]


async def test_a_retried_event_is_processed_once(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    channel, ts = await h.card(thread)
    message = h.said(BOB, channel, "Looks like a duplicate charge, checking Stripe", ts)
    first = await h.event(message, event_id="Ev0RETRY01")
    again = await h.event(message, event_id="Ev0RETRY01", retry=1)
    later = await h.event(message, event_id="Ev0RETRY01", retry=2)
    assert [first.status, again.status, later.status] == [200, 200, 200]
    await h.settle()
    notes = [e for e in await h.board.store.events(thread.id) if e.kind is EventKind.NOTE]
    assert [n.data["text"] for n in notes] == ["Looks like a duplicate charge, checking Stripe"]
    assert notes[0].actor is not None and notes[0].actor.id == BOB


async def test_unknown_command_is_not_acked(h: Harness) -> None:
    response = await h.command(ALICE, "/nope", "")
    assert response.status == 404
