"""Scenarios on Slack: a mention arrives, is claimed in a race, noted, transferred, handled
from the App Home; hostile text never pings anyone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.actions import Action, Verb
from bot.domain import EventKind, ThreadState

from .fake_slack import FakeSlack
from .hostile import HOSTILE, assert_inert
from .inbound_harness import ALICE, BILLING, BOB, SUPPORT, Harness, running


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


async def test_a_mention_arrives_as_a_card_in_its_department(h: Harness) -> None:
    thread = await h.arrive("I was charged twice for my subscription")
    (card,) = h.fake.messages_in(BILLING)
    assert card["metadata"]["event_payload"]["thread_id"] == thread.id
    buttons = [
        e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert {"sb_claim", "sb_reply", "sb_transfer", "sb_resolve"} <= set(buttons)
    assert h.fake.messages_in(SUPPORT) == []


async def test_two_people_claim_at_once_one_wins_the_other_is_told(h: Harness) -> None:
    thread = await h.arrive("I was charged twice")
    channel, ts = await h.card(thread)
    value = Action(Verb.CLAIM, thread.id).encode()
    responses = await asyncio.gather(
        h.click(ALICE, "sb_claim", value, channel=channel, message_ts=ts),
        h.click(BOB, "sb_claim", value, channel=channel, message_ts=ts),
    )
    assert [r.status for r in responses] == [200, 200]
    await h.settle()
    claimed = await h.board.threads.find(thread.id)
    assert claimed.state is ThreadState.CLAIMED and claimed.owner is not None
    winner = claimed.owner.id
    loser = BOB if winner == ALICE else ALICE
    assert h.ephemerals(winner) == []
    assert h.ephemerals(loser) == [
        f"{thread.short_id} is already claimed by {claimed.owner.label}."
    ]
    claims = [e for e in await h.board.store.events(thread.id) if e.kind is EventKind.CLAIMED]
    assert len(claims) == 1
    card = h.fake.message(channel, ts)
    assert "sb_release" in str(card["blocks"]) and "sb_claim" not in str(card["blocks"])
    assert any(f"Claimed by {claimed.owner.label}" in m["text"] for m in h.fake.thread(channel, ts))


async def test_claim_without_id_picks_the_oldest_in_this_channels_queue(h: Harness) -> None:
    first = await h.arrive("first: refund please")
    await h.arrive("second: invoice address")
    await h.command(ALICE, "/claim", "", channel=BILLING)
    await h.settle()
    assert (await h.board.threads.find(first.id)).owner is not None
    assert h.ephemerals(ALICE) == [f"You have {first.short_id}."]


async def test_transfer_by_slash_command_moves_the_card(h: Harness) -> None:
    thread = await h.arrive("Can I get my money back?")
    old_channel, old_ts = await h.card(thread)
    await h.command(ALICE, "/claim", thread.short_id)
    await h.settle()
    response = await h.command(ALICE, "/transfer", "support refund question")
    assert response.status == 200
    await h.settle()
    moved = await h.board.threads.find(thread.id)
    assert moved.department == "support" and moved.state is ThreadState.TRANSFERRED
    (new_card,) = h.fake.messages_in(SUPPORT)
    assert new_card["metadata"]["event_payload"]["thread_id"] == thread.id
    assert "refund question" in str(new_card["blocks"])
    old = h.fake.message(old_channel, old_ts)
    assert "Transferred to Support by alice — refund question" in str(old["blocks"])
    assert not [b for b in old["blocks"] if b["type"] == "actions"]
    assert h.ephemerals(ALICE)[-1] == f"Transferred {thread.short_id} to Support."


async def test_transfer_to_a_misspelt_department_suggests_the_right_one(h: Harness) -> None:
    thread = await h.arrive("Can I get my money back?")
    await h.command(ALICE, "/transfer", f"{thread.short_id} suport")
    await h.settle()
    (told,) = h.ephemerals(ALICE)
    assert "Unknown department" in told and "Did you mean support?" in told
    assert "billing, press, support" in told
    assert (await h.board.threads.find(thread.id)).department == "billing"
    assert h.fake.messages_in(SUPPORT) == []


async def test_transfer_from_the_card_opens_a_dialog_with_a_note(h: Harness) -> None:
    thread = await h.arrive("Where is my parcel?")
    channel, ts = await h.card(thread)
    await h.click(
        BOB,
        "sb_transfer",
        Action(Verb.TRANSFER, thread.id).encode(),
        channel=channel,
        message_ts=ts,
    )
    await h.settle()
    (view,) = h.opened("sb_transfer_modal")
    options = view["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == ["support", "press"]
    values = {
        "department": {"department": {"type": "static_select", "selected_option": options[0]}},
        "person": {"person": {"type": "users_select", "selected_user": ALICE}},
        "note": {"note": {"type": "plain_text_input", "value": "shipping, not billing"}},
    }
    response = await h.submit(BOB, view, values)
    assert response.status == 200 and await response.text() == ""
    await h.settle()
    moved = await h.board.threads.find(thread.id)
    assert moved.department == "support" and moved.owner is not None
    assert moved.owner.id == ALICE
    assert moved.transfers[-1].note == "shipping, not billing"
    assert len(h.fake.messages_in(SUPPORT)) == 1


async def test_messages_in_the_cards_thread_are_internal_notes(h: Harness) -> None:
    thread = await h.arrive("My card was charged twice")
    channel, ts = await h.card(thread)
    await h.event(h.said(BOB, channel, "I &amp; <@U0ALICE> are on it", ts))
    elsewhere = await h.arrive("unrelated")
    await h.event(h.said(BOB, channel, "not under a card"))
    await h.event(h.said(BOB, channel, "<@U0BOT> claim", ts))
    bot_line = {"bot_id": "B0OTHER", "subtype": "bot_message"}
    await h.event(h.said(BOB, channel, "from another bot", ts) | bot_line)
    await h.settle()
    notes = [e for e in await h.board.store.events(thread.id) if e.kind is EventKind.NOTE]
    assert [n.data["text"] for n in notes] == ["I & @U0ALICE are on it"]
    assert not [e for e in await h.board.store.events(elsewhere.id) if e.kind is EventKind.NOTE]
    assert h.source.replies == {}


async def test_overflow_take_over_and_resolve(h: Harness) -> None:
    thread = await h.arrive("Refund?")
    channel, ts = await h.card(thread)
    await h.command(ALICE, "/claim", thread.short_id)
    await h.settle()
    take = Action(Verb.TAKE_OVER, thread.id).encode()
    await h.click(BOB, "sb_more", take, channel=channel, message_ts=ts, overflow=True)
    await h.settle()
    taken = await h.board.threads.find(thread.id)
    assert taken.owner is not None and taken.owner.id == BOB
    await h.command(ALICE, "/resolve", thread.short_id)
    await h.settle()
    assert h.ephemerals(ALICE)[-1] == "Only the owner (bob) can do that; use take over first."
    await h.command(BOB, "/resolve", "")
    await h.settle()
    assert (await h.board.threads.find(thread.id)).state is ThreadState.RESOLVED


async def test_switchboard_directory_and_queue(h: Harness) -> None:
    await h.arrive("Refund?")
    for text in ("directory", "queue", "claim T-1"):
        await h.command(ALICE, "/switchboard", text)
        await h.settle()
    directory, queue, refused = h.ephemerals(ALICE)
    assert directory.startswith("```") and "support" in directory and "press" in directory
    assert "Refund?" in queue and "[billing]" in queue
    assert refused.startswith("Usage: /switchboard")


async def test_app_home_shows_my_threads_and_my_queues_with_buttons(h: Harness) -> None:
    mine = await h.arrive("Mine: refund")
    waiting = await h.arrive("Waiting: invoice")
    await h.command(ALICE, "/claim", mine.short_id)
    await h.settle()
    home_event = {
        "type": "app_home_opened",
        "user": ALICE,
        "channel": "D0ALICE",
        "tab": "home",
        "event_ts": "1",
    }
    await h.event(home_event)
    await h.settle()
    home = h.fake.home[ALICE]
    text = str(home["blocks"])
    assert "Your open threads" in text and mine.short_id in text
    assert "Waiting in Billing" in text and waiting.short_id in text
    assert "Waiting in Support" not in text
    claim = Action(Verb.CLAIM, waiting.id).encode()
    assert claim in text
    await h.click(ALICE, "sb_claim", claim, home=True)
    await h.settle()
    assert (await h.board.threads.find(waiting.id)).owner is not None
    assert "Nothing waiting." in str(h.fake.home[ALICE]["blocks"])
    await h.click(BOB, "sb_claim", claim, home=True)
    await h.settle()
    assert "already claimed by alice" in str(h.fake.home[BOB]["blocks"])


async def test_hostile_mentions_ping_nobody_anywhere(h: Harness) -> None:
    text = "\n".join(HOSTILE)
    thread = await h.arrive(text, handle="<!channel>", name="<!here|here> <@U0ALICE>")
    channel, ts = await h.card(thread)
    await h.command(ALICE, "/switchboard", "queue")
    await h.command(ALICE, "/switchboard", f"show {thread.short_id}")
    await h.settle()
    await h.event(
        {
            "type": "app_home_opened",
            "user": ALICE,
            "channel": "D0ALICE",
            "tab": "home",
            "event_ts": "1",
        }
    )
    await h.click(
        ALICE, "sb_reply", Action(Verb.REPLY, thread.id).encode(), channel=channel, message_ts=ts
    )
    await h.settle()
    await h.command(ALICE, "/claim", thread.short_id)
    await h.settle()
    assert h.opened("sb_reply_modal") and h.fake.home[ALICE] and len(h.ephemerals(ALICE)) == 3
    for call in h.fake.log:
        assert_inert(call.params)
        for raw in (
            "<!channel>",
            "<!here",
            "<@U0ALICE>",
            "<@U024BE7LH>",
            "<!subteam",
            "<!everyone>",
        ):
            assert raw not in str(call.params), (call.method, raw)
