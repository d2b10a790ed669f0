"""Scenarios on Slack: public replies from the composer, a message shortcut and a chat
command; exactly once; refused for guests, non-members, too-long text; approval flow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.actions import Action, Verb
from bot.domain import EventKind, Thread

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, BOB, CAROL, GUS, PRESS, SUPPORT, Harness, running


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


def typed(text: str) -> dict[str, Any]:
    return {"reply": {"text": {"type": "plain_text_input", "value": text}}}


async def open_composer(h: Harness, user: str, thread: Thread) -> dict[str, Any]:
    channel, ts = await h.card(thread)
    reply = Action(Verb.REPLY, thread.id).encode()
    await h.click(user, "sb_reply", reply, channel=channel, message_ts=ts)
    await h.settle()
    views = h.opened("sb_reply_modal")
    assert views, f"no composer opened; told: {h.ephemerals(user)}"
    return views[-1]


async def test_reply_from_the_composer_posts_once_even_on_a_double_submit(h: Harness) -> None:
    thread = await h.arrive("Why was I charged twice?", handle="dana@social.example")
    view = await open_composer(h, ALICE, thread)
    field = view["blocks"][2]
    assert field["element"]["initial_value"] == "@dana@social.example "
    assert "Mastodon allows 500 characters" in field["hint"]["text"]
    text = "@dana@social.example Sorry about that, the second charge is refunded today."
    first, second = await asyncio.gather(
        h.submit(ALICE, view, typed(text)), h.submit(ALICE, view, typed(text))
    )
    assert (first.status, second.status) == (200, 200)
    assert await first.text() == ""
    await h.settle()
    (sent,) = h.source.replies.values()
    assert sent["key"] == f"slack:view:{view['id']}"
    assert sent["text"] == text and sent["in_reply_to"] == "post-" + thread.conversation[-1]
    replied = await h.board.threads.find(thread.id)
    assert replied.owner is not None and replied.owner.id == ALICE and replied.reply_count == 1
    channel, ts = await h.card(thread)
    lines = [m["text"] for m in h.fake.thread(channel, ts)]
    assert any("Replied publicly by alice" in line and sent["url"] in line for line in lines)


async def test_too_long_text_is_refused_inside_the_composer(h: Harness) -> None:
    thread = await h.arrive("Why was I charged twice?")
    view = await open_composer(h, ALICE, thread)
    response = await h.submit(ALICE, view, typed("x" * 612))
    assert response.status == 200
    answer = await response.json()
    assert answer["response_action"] == "errors"
    assert answer["errors"]["reply"] == (
        "That reply is 612 characters; mastodon allows 500. Shorten it by 112."
    )
    await h.settle()
    assert h.source.replies == {}


async def test_a_guest_cannot_reply(h: Harness) -> None:
    thread = await h.arrive("Why was I charged twice?")
    channel, ts = await h.card(thread)
    await h.click(
        GUS, "sb_reply", Action(Verb.REPLY, thread.id).encode(), channel=channel, message_ts=ts
    )
    await h.settle()
    assert h.opened("sb_reply_modal") == []
    assert h.ephemerals(GUS) == ["Guests cannot reply publicly; ask a colleague to send it."]
    view = await open_composer(h, ALICE, thread)
    forged = await h.submit(GUS, view, typed("I can post as the brand"))
    assert (await forged.json())["errors"]["reply"].startswith("Guests cannot reply publicly")
    await h.settle()
    assert h.source.replies == {}


async def test_members_policy_lets_only_the_departments_people_reply(h: Harness) -> None:
    thread = await h.arrive("Where is my parcel?")
    await h.command(ALICE, "/transfer", f"{thread.short_id} support")
    await h.settle()
    channel, ts = await h.card(thread)
    assert channel == SUPPORT
    reply = Action(Verb.REPLY, thread.id).encode()
    await h.click(ALICE, "sb_reply", reply, channel=channel, message_ts=ts)
    await h.settle()
    assert h.opened("sb_reply_modal") == []
    assert h.ephemerals(ALICE)[-1].startswith("Only members of Support may reply publicly")
    view = await open_composer(h, BOB, thread)
    await h.submit(BOB, view, typed("On its way!"))
    await h.settle()
    assert [r["text"] for r in h.source.replies.values()] == ["On its way!"]


async def approval_request(h: Harness, thread: Thread, text: str) -> tuple[str, str]:
    view = await open_composer(h, ALICE, thread)
    assert view["submit"]["text"] == "Send for approval"
    await h.submit(ALICE, view, typed(text))
    await h.settle()
    channel, ts = await h.card(thread)
    (request,) = [m for m in h.fake.thread(channel, ts) if "sb_approve" in str(m.get("blocks"))]
    return request["ts"], request["blocks"][-1]["elements"][0]["value"]


async def test_approval_posts_exactly_once_after_another_member_approves(h: Harness) -> None:
    thread = await h.arrive("As a journalist, may I quote your CEO?")
    assert thread.department == "press"
    text = "Please write to press@example.com and we will get back to you today."
    request_ts, draft = await approval_request(h, thread, text)
    assert h.source.replies == {}
    assert (
        h.ephemerals(ALICE)[-1]
        == f"Your reply on {thread.short_id} is waiting for approval by Press."
    )
    request = h.fake.message(PRESS, request_ts)
    assert "<!subteam^S0PRESS>" in request["blocks"][0]["text"]["text"]
    assert text in request["blocks"][1]["text"]["text"]
    await h.click(ALICE, "sb_approve", draft, channel=PRESS, message_ts=request_ts)
    await h.click(GUS, "sb_approve", draft, channel=PRESS, message_ts=request_ts)
    await h.settle()
    assert h.source.replies == {}
    assert h.ephemerals(ALICE)[-1] == "You cannot approve your own draft; another member has to."
    assert h.ephemerals(GUS)[-1] == "Guests cannot approve public replies."
    await asyncio.gather(
        h.click(CAROL, "sb_approve", draft, channel=PRESS, message_ts=request_ts),
        h.click(CAROL, "sb_approve", draft, channel=PRESS, message_ts=request_ts),
    )
    await h.settle()
    await h.click(BOB, "sb_approve", draft, channel=PRESS, message_ts=request_ts)
    await h.settle()
    (sent,) = h.source.replies.values()
    assert sent["key"] == f"approval:{draft}" and sent["text"] == text
    assert h.ephemerals(BOB)[-1] == "That draft was already approved; it was posted once."
    updated = h.fake.message(PRESS, request_ts)
    assert "Approved by carol" in updated["text"] and "sb_approve" not in str(updated["blocks"])
    assert sent["url"] in updated["text"]
    decisions = [e for e in await h.board.store.events(thread.id) if e.data.get("draft") == draft]
    assert [e.data["decision"] for e in decisions] == ["approved"]
    await h.click(CAROL, "sb_reject", draft, channel=PRESS, message_ts=request_ts)
    await h.settle()
    assert h.ephemerals(CAROL)[-1] == "That draft was already approved."


async def test_a_rejected_draft_can_never_be_posted(h: Harness) -> None:
    thread = await h.arrive("journalist here: comment on the outage?")
    request_ts, draft = await approval_request(h, thread, "No comment.")
    await h.click(CAROL, "sb_reject", draft, channel=PRESS, message_ts=request_ts)
    await h.settle()
    assert "Rejected by carol" in h.fake.message(PRESS, request_ts)["text"]
    await h.click(BOB, "sb_approve", draft, channel=PRESS, message_ts=request_ts)
    await h.settle()
    assert h.source.replies == {}
    assert h.ephemerals(BOB)[-1] == "That draft was already rejected."
    kinds = [e.kind for e in await h.board.store.events(thread.id)]
    assert EventKind.REPLY_REQUESTED in kinds and EventKind.REPLIED not in kinds


async def test_send_as_public_reply_shortcut_drafts_from_a_thread_message(h: Harness) -> None:
    thread = await h.arrive("Is the app down?")
    channel, ts = await h.card(thread)
    message = h.said(
        BOB, channel, "We are back up &amp; running &lt;3 <https://status.example>", ts
    )
    await h.event(message)
    await h.shortcut(ALICE, channel, message)
    await h.settle()
    (view,) = h.opened("sb_reply_modal")
    assert (
        view["blocks"][2]["element"]["initial_value"]
        == "We are back up & running <3 https://status.example"
    )
    assert json.loads(view["private_metadata"])["t"] == thread.id
    outside = h.said(BOB, channel, "not under a card")
    await h.shortcut(ALICE, channel, outside)
    await h.settle()
    assert "card's thread" in h.ephemerals(ALICE)[-1]
    assert len(h.opened("sb_reply_modal")) == 1


async def test_mention_reply_waits_for_its_authors_confirmation(h: Harness) -> None:
    thread = await h.arrive("Is the app down?")
    channel, ts = await h.card(thread)
    mention = h.said(ALICE, channel, "<@U0BOT> reply We are back up, sorry!", ts)
    await h.event(mention | {"type": "app_mention"})
    await h.event(mention)
    await h.settle()
    assert h.source.replies == {}
    notes = [e for e in await h.board.store.events(thread.id) if e.kind is EventKind.NOTE]
    assert notes == []
    (confirm,) = [e for e in h.fake.ephemerals if e["user"] == ALICE and "blocks" in e]
    assert confirm["thread_ts"] == ts
    send = confirm["blocks"][-1]["elements"][0]
    assert send["action_id"] == "sb_send_draft"
    await h.click(BOB, "sb_send_draft", send["value"], channel=channel, message_ts=ts)
    await h.settle()
    assert h.source.replies == {} and h.ephemerals(BOB)[-1] == "Only alice can send this draft."
    await asyncio.gather(
        h.click(ALICE, "sb_send_draft", send["value"], channel=channel, message_ts=ts),
        h.click(ALICE, "sb_send_draft", send["value"], channel=channel, message_ts=ts),
    )
    await h.settle()
    (sent,) = h.source.replies.values()
    assert sent["text"] == "We are back up, sorry!" and sent["key"] == f"draft:{send['value']}"


def ticked(text: str) -> dict[str, Any]:
    again = {"type": "checkboxes", "selected_options": [{"value": "again"}]}
    return typed(text) | {"again": {"again": again}}


async def test_a_second_composer_with_the_same_text_is_warned_and_may_send_again(
    h: Harness,
) -> None:
    thread = await h.arrive("Why was I charged twice?", handle="dana@social.example")
    text = "@dana@social.example Refunded, sorry!"
    first = await open_composer(h, ALICE, thread)
    await h.submit(ALICE, first, typed(text))
    await h.settle()
    (sent,) = h.source.replies.values()
    second = await open_composer(h, ALICE, thread)
    assert second["id"] != first["id"]
    answer = await (
        await h.submit(ALICE, second, typed("  @Dana@Social.Example  Refunded, sorry!"))
    ).json()
    await h.settle()
    assert answer["response_action"] == "update" and len(h.source.replies) == 1
    warning = answer["view"]["blocks"][3]["text"]["text"]
    assert "already sent by @alice just now" in warning and sent["url"] in warning
    assert answer["view"]["blocks"][4]["block_id"] == "again"
    warned = second | {"blocks": answer["view"]["blocks"]}
    assert await (await h.submit(ALICE, warned, ticked(text))).text() == ""
    await h.settle()
    assert len(h.source.replies) == 2
    assert f"again:slack:view:{second['id']}" in [r["key"] for r in h.source.replies.values()]


async def test_fifty_composers_past_the_warning_post_once(h: Harness) -> None:
    thread = await h.arrive("Why was I charged twice?")
    views = []
    for _ in range(50):
        views.append(await open_composer(h, ALICE, thread))
    assert len({v["id"] for v in views}) == 50
    text = "@dana@social.example On it."
    answers = await asyncio.gather(*(h.submit(ALICE, v, typed(text)) for v in views))
    assert {a.status for a in answers} == {200}
    await h.settle()
    assert len(h.source.replies) == 1
    told = [t for t in h.ephemerals(ALICE) if "already" in t and "by @alice" in t]
    warned = [a for a in answers if a.content_type == "application/json"]
    assert len(told) + len(warned) == 49


async def test_a_typed_reply_already_sent_offers_to_send_it_again(h: Harness) -> None:
    thread = await h.arrive("Is the app down?")
    channel, ts = await h.card(thread)
    view = await open_composer(h, ALICE, thread)
    await h.submit(ALICE, view, typed("We are back up, sorry!"))
    await h.settle()
    (first,) = h.source.replies.values()
    typed_reply = h.said(ALICE, channel, "<@U0BOT> reply We are  back up, sorry!", ts)
    await h.event(typed_reply | {"type": "app_mention"})
    await h.settle()
    (confirm,) = [e for e in h.fake.ephemerals if e["user"] == ALICE and "blocks" in e]
    send = confirm["blocks"][-1]["elements"][0]
    await h.click(ALICE, "sb_send_draft", send["value"], channel=channel, message_ts=ts)
    await h.settle()
    assert len(h.source.replies) == 1
    offer = [e for e in h.fake.ephemerals if e["user"] == ALICE and "blocks" in e][-1]
    heading = offer["blocks"][0]["text"]["text"]
    assert "already sent by @alice just now" in heading and first["url"] in heading
    again = offer["blocks"][-1]["elements"][0]
    assert again["action_id"] == "sb_send_draft_again"
    await h.click(ALICE, "sb_send_draft_again", again["value"], channel=channel, message_ts=ts)
    await h.settle()
    assert len(h.source.replies) == 2
    assert h.ephemerals(ALICE)[-1].startswith("Replied publicly")
    assert f"again:draft:{send['value']}" in [r["key"] for r in h.source.replies.values()]
