"""Public replies are exactly-once: double clicks, retries and restarts never post twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.replay import ReplaySource
from bot.actions import Verb
from bot.app import Switchboard
from bot.domain import EventKind, ReplyRecord, ReplyStatus, ThreadState
from bot.errors import AlreadyClaimed, NotAllowed, ReplyInProgress, ReplyTooLong
from bot.interaction import Interaction
from bot.replies import ReplyService
from tests.boards import board_for, mention_item, person, real_store, write_items
from tests.clock import eventually

alice, bob = person("alice"), person("bob")


def replay(board: Switchboard) -> ReplaySource:
    source = board.sources[0]
    assert isinstance(source, ReplaySource)
    return source


async def test_reply_posts_once_and_records_the_link(board: Switchboard) -> None:
    thread = await board.threads.find("T-1001")
    record = await board.replies.reply(thread.id, alice, "@user1 refund sent", "k1")
    assert record.status is ReplyStatus.SENT and record.url.endswith("#reply-1")
    again = await board.replies.reply(thread.id, alice, "@user1 refund sent", "k1")
    assert again.external_id == record.external_id
    assert len(replay(board).replies) == 1
    after = await board.threads.find("T-1001")
    assert after.state is ThreadState.REPLIED and after.owner == alice
    assert after.reply_count == 1
    replied = [e for e in await board.store.events(thread.id) if e.kind is EventKind.REPLIED]
    assert len(replied) == 1 and replied[0].data["url"] == record.url
    assert await board.store.is_own_post("sample", record.external_id)


async def test_double_click_posts_once(board: Switchboard) -> None:
    thread = await board.threads.find("T-1002")
    results = await asyncio.gather(
        *(board.replies.reply(thread.id, alice, "on it", "click") for _ in range(5)),
        return_exceptions=True,
    )
    sent = [r for r in results if isinstance(r, ReplyRecord)]
    in_flight = [r for r in results if isinstance(r, ReplyInProgress)]
    assert len(sent) + len(in_flight) == 5 and sent
    assert len(replay(board).replies) == 1


async def test_reply_rules(board: Switchboard) -> None:
    thread = await board.threads.find("T-1001")
    with pytest.raises(ReplyTooLong, match="501"):
        await board.replies.reply(thread.id, alice, "x" * 501, "long")
    with pytest.raises(NotAllowed, match="Guests"):
        await board.replies.reply(thread.id, person("gina", guest=True), "hi", "guest")
    await board.threads.claim(thread.id, bob)
    with pytest.raises(AlreadyClaimed):
        await board.replies.reply(thread.id, alice, "hi", "taken")
    assert replay(board).replies == {}


async def test_members_policy_is_enforced_by_the_reply_handler(board: Switchboard) -> None:
    thread = await board.threads.find("T-1003")
    await board.threads.transfer(thread.id, alice, "press")
    outsider = Interaction("shell", bob, Verb.REPLY, "T-1003", text="hello", is_member=False)
    response = await board.handle(outsider)
    assert not response.ok and "Only members of PR" in response.text
    member = Interaction("shell", bob, Verb.REPLY, "T-1003", text="hello", is_member=True)
    assert (await board.handle(member)).ok
    assert len(replay(board).replies) == 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("posted_before_crash", [False, True])
async def test_restart_finishes_a_pending_reply_without_posting_twice(
    kind: str, posted_before_crash: bool, tmp_path: Path
) -> None:
    items = write_items(tmp_path / "items.json", [mention_item(1)])
    replies_file = tmp_path / "replies.jsonl"
    async with real_store(kind, tmp_path) as store:
        first = board_for(store, items, replies_path=str(replies_file))
        await first.ingestor.poll_once(first.sources[0])
        thread = await first.threads.find("T-1001")
        mention = (await store.mentions(thread.id))[0]
        record = ReplyRecord(
            key="crash-1", thread_id=thread.id, mention_key=mention.key, text="hi", actor=alice
        )
        await store.reply_begin(record, lease_seconds=0.2)
        if posted_before_crash:  # the network got it, then the process died
            await replay(first).reply(mention, "hi", "crash-1")
        # the process dies here; a new one starts on the same store and replies file
        second = board_for(store, items, replies_path=str(replies_file))
        assert await ReplyService(second.threads, second.store).recover() == 0  # lease still live
        finished: list[int] = []

        async def recovered_once_the_lease_ran_out() -> bool:
            finished.append(await ReplyService(second.threads, second.store).recover())
            return sum(finished) > 0

        await eventually(recovered_once_the_lease_ran_out)  # the store's lease is wall-clock
        assert sum(finished) == 1
        done = await store.get_reply("crash-1")
        assert done is not None and done.status is ReplyStatus.SENT
        lines = replies_file.read_text().splitlines()
        assert len(lines) == 1
        assert await ReplyService(second.threads, second.store).recover() == 0
