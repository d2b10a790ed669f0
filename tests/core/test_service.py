"""The thread service over both real stores: every transition, its rules and its audit trail."""

from __future__ import annotations

import asyncio

import pytest

from adapters.replay import ReplaySource
from bot.app import Switchboard
from bot.domain import EventKind, ThreadState
from bot.errors import (
    AlreadyClaimed,
    InvalidTransition,
    NoActiveThread,
    NothingToSendBack,
    NotOwner,
    ThreadNotFound,
    UnknownDepartment,
)
from tests.boards import person


def replay(board: Switchboard) -> ReplaySource:
    source = board.sources[0]
    assert isinstance(source, ReplaySource)
    return source


alice, bob, carol = person("alice"), person("bob"), person("carol")


async def test_mentions_are_routed_and_numbered(board: Switchboard) -> None:
    threads = await board.store.list_threads()
    assert [t.short_id for t in threads] == ["T-1001", "T-1002", "T-1003"]
    assert [t.department for t in threads] == ["billing", "support", "social"]
    assert all(t.state is ThreadState.NEW and t.owner is None for t in threads)


async def test_claim_release_take_over(board: Switchboard) -> None:
    thread = await board.threads.find("T-1001")
    claimed = await board.threads.claim(thread.id, alice)
    assert claimed.owner == alice and claimed.state is ThreadState.CLAIMED
    with pytest.raises(AlreadyClaimed, match="alice"):
        await board.threads.claim(thread.id, bob)
    with pytest.raises(NotOwner):
        await board.threads.release(thread.id, bob)
    taken = await board.threads.take_over(thread.id, bob)
    assert taken.owner == bob
    released = await board.threads.release(thread.id, bob)
    assert released.owner is None and released.state is ThreadState.NEW
    kinds = [e.kind for e in await board.store.events(thread.id)]
    assert kinds == [
        EventKind.OPENED,
        EventKind.CLAIMED,
        EventKind.TAKEN_OVER,
        EventKind.RELEASED,
    ]


async def test_claim_is_idempotent_for_the_owner(board: Switchboard) -> None:
    thread = await board.threads.find("T-1002")
    first = await board.threads.claim(thread.id, alice)
    again = await board.threads.claim(thread.id, alice)
    assert again.version == first.version


async def test_fifty_concurrent_claimers_exactly_one_wins(board: Switchboard) -> None:
    thread = await board.threads.find("T-1003")
    people = [person(f"p{i}") for i in range(50)]
    results = await asyncio.gather(
        *(board.threads.claim(thread.id, p) for p in people), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == 49
    owner = winners[0].owner
    assert owner is not None
    assert all(loser.owner == owner.label for loser in losers)
    claims = [e for e in await board.store.events(thread.id) if e.kind is EventKind.CLAIMED]
    assert len(claims) == 1


async def test_active_thread_follows_the_last_act(board: Switchboard) -> None:
    with pytest.raises(NoActiveThread):
        await board.threads.find(None, alice)
    t1 = await board.threads.find("T-1001")
    t2 = await board.threads.find("T-1002")
    await board.threads.claim(t1.id, alice)
    assert (await board.threads.find(None, alice)).id == t1.id
    await board.threads.note(t2.id, alice, "looking into it")
    assert (await board.threads.find(None, alice)).id == t2.id


async def test_transfer_chain_and_send_back(board: Switchboard) -> None:
    thread = await board.threads.find("T-1001")
    await board.threads.claim(thread.id, alice)
    moved = await board.threads.transfer(thread.id, alice, "support", "refund question")
    assert moved.department == "support"
    assert moved.state is ThreadState.TRANSFERRED and moved.owner is None
    assert moved.transfers[-1].note == "refund question"
    assert moved.transfers[-1].from_department == "billing"
    await board.threads.claim(thread.id, bob)
    back = await board.threads.send_back(thread.id, bob, "not ours")
    assert back.department == "billing" and back.owner == alice
    assert [t.to_department for t in back.transfers] == ["support", "billing"]
    assert back.transfers[-1].send_back


async def test_transfer_to_a_person(board: Switchboard) -> None:
    thread = await board.threads.find("T-1003")
    moved = await board.threads.transfer(thread.id, alice, "press", to_person=carol)
    assert moved.owner == carol and moved.department == "press"


async def test_transfer_errors(board: Switchboard) -> None:
    thread = await board.threads.find("T-1001")
    with pytest.raises(UnknownDepartment) as err:
        await board.threads.transfer(thread.id, alice, "suport")
    assert err.value.suggestion == "support"
    assert "support" in err.value.user_text()
    with pytest.raises(NothingToSendBack):
        await board.threads.send_back(thread.id, alice)
    await board.threads.claim(thread.id, bob)
    with pytest.raises(NotOwner):
        await board.threads.transfer(thread.id, alice, "support")


async def test_resolve_then_follow_up_reopens(board: Switchboard) -> None:
    from tests.boards import mention_item

    thread = await board.threads.find("T-1001")
    await board.threads.claim(thread.id, alice)
    resolved = await board.threads.resolve(thread.id, alice)
    assert resolved.state is ThreadState.RESOLVED
    with pytest.raises(InvalidTransition):
        await board.threads.claim(thread.id, bob)
    source = replay(board)
    follow = source.mention_from(  # a follow-up in the same conversation, written later
        mention_item(99, "still waiting", conversation_key="m-1", minutes_ago=-1)
    )
    outcome = await board.threads.ingest(follow)
    assert outcome is not None and outcome.thread.id == thread.id
    reopened = await board.threads.find("T-1001")
    assert reopened.state is ThreadState.NEW and reopened.owner is None
    assert reopened.mention_count == 2
    again = await board.threads.ingest(follow)
    assert again is not None and again.status.value == "duplicate"
    kinds = [e.kind for e in await board.store.events(thread.id)]
    assert kinds.count(EventKind.REOPENED) == 1


async def test_spam_does_not_reopen(board: Switchboard) -> None:
    from tests.boards import mention_item

    thread = await board.threads.find("T-1003")
    await board.threads.resolve(thread.id, alice, spam=True)
    follow = replay(board).mention_from(
        mention_item(98, "more spam", conversation_key="m-3", minutes_ago=-1)
    )
    await board.threads.ingest(follow)
    assert (await board.threads.find("T-1003")).state is ThreadState.RESOLVED


async def test_unknown_thread(board: Switchboard) -> None:
    with pytest.raises(ThreadNotFound):
        await board.threads.find("T-9999")


async def test_the_audit_names_the_previous_owner(board: Switchboard) -> None:
    thread = await board.threads.find("T-1002")
    await board.threads.claim(thread.id, alice)
    await board.threads.take_over(thread.id, bob)
    events = await board.store.events(thread.id)
    assert events[-1].kind is EventKind.TAKEN_OVER
    assert events[-1].data["previous_owner"] == "alice"
    assert "previous_owner" not in events[-2].data  # nobody held it before alice


async def test_queues_and_mine_follow_every_change(board: Switchboard) -> None:
    threads = board.threads
    first = await threads.next_waiting("billing")
    assert first is not None and first.short_id == "T-1001"
    assert [t.short_id for t in await threads.waiting()] == ["T-1001", "T-1002", "T-1003"]
    await threads.claim(first.id, alice)
    assert await threads.next_waiting("billing") is None
    assert [t.short_id for t in await threads.waiting(limit=1)] == ["T-1002"]
    assert [t.short_id for t in await threads.held_by(alice)] == ["T-1001"]
    await threads.transfer(first.id, alice, "support")
    assert [t.short_id for t in await threads.waiting("support")] == ["T-1001", "T-1002"]
    assert await threads.held_by(alice) == []
    second = await threads.claim(first.id, bob)
    await threads.resolve(second.id, bob, spam=True)
    assert await threads.held_by(bob) == [] and await threads.held_by(bob, limit=0) == []
    assert [t.short_id for t in await threads.waiting()] == ["T-1002", "T-1003"]
