"""A signed Slack request sent again inside the 5-minute signature window runs once: slash
commands and interactions alike, on one replica or several sharing the store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.actions import Action, Verb
from bot.domain import EventKind
from bot.storage import SLACK_REQUEST
from bot.store.redis import RedisStore
from bot.surfaces.slack.modals import REPLY_VIEW
from bot.surfaces.slack.replay import request_key

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, FORM, Harness, interaction_body, running, sign


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


async def claims(h: Harness, thread_id: str) -> int:
    events = await h.board.store.events(thread_id)
    return len([e for e in events if e.kind is EventKind.CLAIMED])


@pytest.mark.parametrize("retry", [None, "1"])
async def test_a_replayed_slash_command_runs_once(h: Harness, retry: str | None) -> None:
    thread = await h.arrive("My card was charged twice")
    body, ts = h.command_body(ALICE, "/claim", thread.short_id), int(time.time())
    first = await h.send(body, FORM, ts=ts)
    await h.settle()
    calls = len(h.fake.log)
    headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    again = await h.send(body, FORM, ts=ts, headers=headers)
    await h.settle()

    assert (first.status, again.status) == (200, 200)
    assert await again.text() == ""
    assert len(h.fake.log) == calls, "the repeat reached the Slack API"
    assert h.ephemerals(ALICE) == [f"You have {thread.short_id}."]
    assert await claims(h, thread.id) == 1


async def test_a_replayed_button_click_runs_once(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    channel, ts = await h.card(thread)
    value = Action(Verb.REPLY, thread.id).encode()
    payload = h.click_payload(ALICE, "sb_reply", value, channel=channel, message_ts=ts)
    body, stamp = interaction_body(payload), int(time.time())
    first = await h.send(body, FORM, ts=stamp)
    await h.settle()
    calls = len(h.fake.log)
    again = await h.send(body, FORM, ts=stamp, headers={"X-Slack-Retry-Num": "1"})
    await h.settle()

    assert (first.status, again.status) == (200, 200)
    assert len(h.fake.log) == calls
    assert len(h.opened(REPLY_VIEW)) == 1


async def test_the_same_request_sent_anew_is_not_a_replay(h: Harness) -> None:
    """A new timestamp is a new signature: a person typing /claim twice runs it twice."""
    thread = await h.arrive("My card was charged twice")
    body = h.command_body(ALICE, "/claim", thread.short_id)
    now = int(time.time())
    await h.send(body, FORM, ts=now - 1)
    await h.send(body, FORM, ts=now)
    await h.settle()
    assert len(h.ephemerals(ALICE)) == 2


async def test_a_badly_signed_request_is_refused_and_stores_nothing(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    body, ts = h.command_body(ALICE, "/claim", thread.short_id), int(time.time())
    bad = sign("not-the-secret", body, ts)
    refused = await h.send(body, FORM, ts=ts, secret="not-the-secret")
    unsigned = await h.client.post(
        "/slack/events", data=body.encode(), headers={"Content-Type": FORM}
    )

    assert (refused.status, unsigned.status) == (401, 401)
    assert await h.board.store.kv_get(SLACK_REQUEST, request_key(str(ts), bad)) is None
    good = sign(h.fake.signing_secret, body, ts)
    assert await h.board.store.kv_get(SLACK_REQUEST, request_key(str(ts), good)) is None
    assert (await h.send(body, FORM, ts=ts)).status == 200
    await h.settle()
    assert await claims(h, thread.id) == 1


async def test_two_replicas_run_a_replayed_command_once(
    fake_slack: FakeSlack, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    one = RedisStore.from_url(redis_url, prefix=redis_prefix)
    two = RedisStore.from_url(redis_url, prefix=redis_prefix)
    async with (
        running(fake_slack, tmp_path / "a", store=one) as a,
        running(fake_slack, tmp_path / "b", store=two) as b,
    ):
        thread = await a.arrive("My card was charged twice")
        body, ts = a.command_body(ALICE, "/claim", thread.short_id), int(time.time())
        responses = [await a.send(body, FORM, ts=ts), await b.send(body, FORM, ts=ts)]
        await a.settle()
        await b.settle()

        assert [r.status for r in responses] == [200, 200]
        assert a.ephemerals(ALICE) == [f"You have {thread.short_id}."]
        assert await claims(a, thread.id) == 1
