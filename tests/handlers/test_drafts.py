"""Drafts and approval as verbs, on the shell like on every surface: a reply in a department
whose replies need approval becomes a draft; another member approves it (posted exactly once)
or rejects it (never posted)."""

from __future__ import annotations

import asyncio

from adapters.replay import ReplaySource
from bot.actions import Verb
from bot.app import Switchboard
from bot.domain import EventKind
from bot.interaction import Interaction
from tests.handlers.conftest import Say, alice, bob, carol, guest


def replies(board: Switchboard) -> dict[str, dict[str, str]]:
    source = board.sources[0]
    assert isinstance(source, ReplaySource)
    return source.replies


async def test_an_approval_reply_is_a_draft_until_a_colleague_approves_it(
    board: Switchboard, say: Say
) -> None:
    drafted = await say(alice, "reply T-1004 Please write to legal@example.com")
    assert drafted.ok and drafted.draft is not None and drafted.draft.needs_approval
    assert drafted.text == "Your reply on T-1004 is waiting for approval by Legal."
    assert replies(board) == {}
    own = await say(alice, "approve T-1004")
    assert not own.ok and "your own draft" in own.text
    assert not (await say(guest, "approve T-1004")).ok
    first, second = await asyncio.gather(say(bob, "approve T-1004"), say(carol, "approve T-1004"))
    assert [first.ok, second.ok].count(True) == 1, (first.text, second.text)
    (sent,) = replies(board).values()
    assert sent["text"] == "Please write to legal@example.com"
    assert sent["key"] == f"approval:{drafted.draft.id}"
    again = await say(bob, "approve T-1004")
    assert not again.ok
    thread = await board.desk.thread("T-1004")
    kinds = [e.kind for e in await board.store.events(thread.id)]
    assert kinds.count(EventKind.REPLY_REQUESTED) == 1
    assert kinds.count(EventKind.DRAFT_APPROVED) == 1 and kinds.count(EventKind.REPLIED) == 1
    approved = [e for e in await board.store.events(thread.id) if e.data.get("draft")]
    assert [(e.actor.id if e.actor else "", e.data["decision"]) for e in approved] in (
        [("bob", "approved")],
        [("carol", "approved")],
    )


async def test_a_rejected_draft_is_never_posted_and_cannot_be_approved_later(
    board: Switchboard, say: Say
) -> None:
    drafted = await say(alice, "reply T-1004 No comment.")
    assert drafted.draft is not None
    draft_id = drafted.draft.id
    rejected = await say(bob, "reject T-1004")
    assert rejected.ok and rejected.text == "Rejected the draft on T-1004; nothing was posted."
    refused = await say(carol, "approve T-1004")
    assert not refused.ok and refused.text == "No draft is waiting on T-1004."
    by_id = await board.desk.handle(Interaction("shell", carol, Verb.APPROVE, draft_id=draft_id))
    assert not by_id.ok and by_id.text == "That draft was already rejected."
    assert replies(board) == {}


async def test_a_draft_is_sent_by_its_author_only_and_once(board: Switchboard, say: Say) -> None:
    drafted = await say(alice, "draft T-1003 We are back up, sorry!")
    assert drafted.ok and drafted.draft is not None and not drafted.draft.needs_approval
    assert drafted.text == "Confirm your public reply on T-1003."
    other = await say(bob, "send T-1003")
    assert not other.ok and other.text == "Only alice can send this draft."
    results = await asyncio.gather(say(alice, "send T-1003"), say(alice, "send T-1003"))
    assert any(r.ok for r in results)
    (sent,) = replies(board).values()
    assert sent["text"] == "We are back up, sorry!"


async def test_the_same_draft_key_twice_makes_one_draft(board: Switchboard, say: Say) -> None:
    first = await say(alice, "draft T-1003 hello", key="slack:mention:abc")
    second = await say(alice, "draft T-1003 hello", key="slack:mention:abc")
    assert first.ok and not second.ok
    assert second.text == "That draft was already recorded; it is not sent twice."


async def test_a_withdrawn_draft_cannot_be_sent(board: Switchboard, say: Say) -> None:
    drafted = await say(alice, "draft T-1002 Refund is on its way")
    assert drafted.draft is not None
    withdrawn = await say(alice, "reject T-1002")
    assert withdrawn.ok
    thread = await board.desk.thread("T-1002")
    events = await board.store.events(thread.id)
    assert [e.data.get("text") for e in events if e.kind is EventKind.DRAFT_REJECTED] == [
        "Withdrew a draft reply"
    ]
    late = await board.desk.handle(
        Interaction("shell", alice, Verb.SEND_DRAFT, draft_id=drafted.draft.id)
    )
    assert not late.ok and late.text == "That draft was already rejected."
    assert replies(board) == {}


async def test_a_sent_draft_cannot_be_withdrawn_afterwards(board: Switchboard, say: Say) -> None:
    drafted = await say(alice, "draft T-1002 Refund is on its way")
    assert drafted.draft is not None
    assert (await say(alice, "send T-1002")).ok
    withdraw = await board.desk.handle(
        Interaction("shell", alice, Verb.REJECT, draft_id=drafted.draft.id)
    )
    assert not withdraw.ok and withdraw.text == "That draft was already sent."
    assert len(replies(board)) == 1
