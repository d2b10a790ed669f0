"""One public reply per intent: many composers, one post; on SQLite and across Redis replicas."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.actions import Verb
from bot.app import Switchboard
from bot.domain import ReplyRecord
from bot.errors import AlreadySent
from bot.intent import again_key, intent_key, normalise
from bot.interaction import Interaction
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.boards import REDIS_URL, board_for, mention_item, person, write_items
from tests.clock import FakeTime

alice, bob = person("alice"), person("bob")
TEXT = "@user1@example.social your refund is on its way"


@asynccontextmanager
async def clocked_stores(
    kind: str, tmp_path: Path, clock: Callable[[], float], replicas: int
) -> AsyncIterator[list[Store]]:
    """``replicas`` stores on one database, every one on the same injected clock."""
    if kind == "sqlite":
        store = SQLiteStore(str(tmp_path / "switchboard.sqlite3"), clock=clock)
        try:
            yield [store]
        finally:
            await store.close()
        return
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    stores: list[Store] = [
        RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock) for _ in range(replicas)
    ]
    try:
        yield stores
    finally:
        for s in stores:
            await s.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture(params=["sqlite", "redis"])
async def boards(
    request: pytest.FixtureRequest, tmp_path: Path, time: FakeTime
) -> AsyncIterator[list[Switchboard]]:
    """Two replicas on Redis (one on SQLite), their threads and stores on one fake clock."""
    items = write_items(tmp_path / "items.json", [mention_item(1, "@acme where is my refund")])

    def epoch() -> float:
        return time.now().timestamp()

    async with clocked_stores(request.param, tmp_path, epoch, replicas=2) as stores:
        made = [board_for(s, items, replies_path=str(tmp_path / "replies.jsonl")) for s in stores]
        for board in made:
            board.threads.clock = time.now
        await made[0].ingestor.poll_once(made[0].sources[0])
        yield made
        for board in made:
            for src in board.sources:
                await src.close()


def posted(tmp_path: Path) -> list[str]:
    path = tmp_path / "replies.jsonl"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


async def test_fifty_composers_of_one_person_post_once(
    boards: list[Switchboard], tmp_path: Path
) -> None:
    thread = await boards[0].threads.find("T-1001")
    variants = [TEXT, f"  {TEXT}  ", TEXT.replace(" ", "\n  "), "@User1@Example.Social" + TEXT[21:]]

    async def compose(n: int) -> ReplyRecord | BaseException:
        board = boards[n % len(boards)]
        text = variants[n % len(variants)]
        try:
            return await board.replies.reply(thread.id, alice, text, f"slack:view:V{n}", "slack")
        except AlreadySent as exc:
            return exc

    results = await asyncio.gather(*(compose(n) for n in range(50)))
    sent = [r for r in results if isinstance(r, ReplyRecord)]
    refused = [r for r in results if isinstance(r, AlreadySent)]
    assert len(sent) == 1 and len(refused) == 49
    assert all("by @alice" in str(r) for r in refused)
    assert len(posted(tmp_path)) == 1


async def test_refusal_says_who_when_and_links_the_post(
    boards: list[Switchboard], time: FakeTime, tmp_path: Path
) -> None:
    thread = await boards[0].threads.find("T-1001")
    first = await boards[0].replies.reply(thread.id, alice, TEXT, "slack:view:A", "slack")
    await time.advance(125)
    with pytest.raises(AlreadySent) as refused:
        await boards[-1].replies.reply(thread.id, bob, TEXT.upper()[:21] + TEXT[21:], "teams:1")
    assert str(refused.value) == f"That reply was already sent by @alice 2 min ago — {first.url}."
    assert first.url and len(posted(tmp_path)) == 1


async def test_different_text_is_another_reply(boards: list[Switchboard], tmp_path: Path) -> None:
    thread = await boards[0].threads.find("T-1001")
    await boards[0].replies.reply(thread.id, alice, TEXT, "k1")
    await boards[-1].replies.reply(thread.id, alice, TEXT + " today", "k2")
    assert len(posted(tmp_path)) == 2


async def test_after_ten_minutes_the_same_text_posts_again(
    boards: list[Switchboard], time: FakeTime, tmp_path: Path
) -> None:
    thread = await boards[0].threads.find("T-1001")
    await boards[0].replies.reply(thread.id, alice, TEXT, "k1")
    await time.advance(599)
    with pytest.raises(AlreadySent):
        await boards[-1].replies.reply(thread.id, alice, TEXT, "k2")
    await time.advance(2)
    again = await boards[-1].replies.reply(thread.id, alice, TEXT, "k3")
    assert again.key == "k3" and len(posted(tmp_path)) == 2


async def test_an_explicit_send_again_posts_and_a_retry_of_it_does_not(
    boards: list[Switchboard], tmp_path: Path
) -> None:
    thread = await boards[0].threads.find("T-1001")
    await boards[0].replies.reply(thread.id, alice, TEXT, "slack:view:V1")
    confirmed = await boards[-1].replies.reply(thread.id, alice, TEXT, again_key("slack:view:V2"))
    retried = await boards[0].replies.reply(thread.id, alice, TEXT, again_key("slack:view:V2"))
    assert retried.external_id == confirmed.external_id
    assert len(posted(tmp_path)) == 2
    with pytest.raises(AlreadySent):
        await boards[0].replies.reply(thread.id, alice, TEXT, "slack:view:V3")


async def test_a_retry_of_the_same_composer_is_the_same_reply(
    boards: list[Switchboard], tmp_path: Path
) -> None:
    thread = await boards[0].threads.find("T-1001")
    first = await boards[0].replies.reply(thread.id, alice, TEXT, "slack:view:V1")
    retry = await boards[-1].replies.reply(thread.id, alice, TEXT, "slack:view:V1")
    assert retry.external_id == first.external_id and len(posted(tmp_path)) == 1


async def test_a_refused_attempt_leaves_no_intent_behind(boards: list[Switchboard]) -> None:
    thread = await boards[0].threads.find("T-1001")
    await boards[0].threads.claim(thread.id, bob)
    interaction = Interaction("shell", alice, Verb.REPLY, "T-1001", text=TEXT)
    refused = await boards[0].handle(interaction)
    assert not refused.ok and "already claimed" in refused.text
    await boards[0].threads.release(thread.id, bob)
    assert (await boards[-1].handle(interaction)).ok


async def test_a_repeated_command_is_one_reply_and_another_person_is_refused(
    boards: list[Switchboard], tmp_path: Path
) -> None:
    command = Interaction("shell", alice, Verb.REPLY, "T-1001", text=TEXT)
    first, repeated = await boards[0].handle(command), await boards[-1].handle(command)
    assert first.ok and repeated.ok and first.reply and repeated.reply
    assert repeated.reply.external_id == first.reply.external_id
    assert len(posted(tmp_path)) == 1
    other = await boards[-1].handle(Interaction("shell", bob, Verb.REPLY, "T-1001", text=TEXT))
    assert not other.ok and other.text.startswith("That reply was already sent by @alice")
    again = Interaction("shell", alice, Verb.REPLY, "T-1001", text=TEXT, key=again_key("c2"))
    assert (await boards[-1].handle(again)).ok
    assert len(posted(tmp_path)) == 2


def test_normalising_an_intent() -> None:
    assert normalise("  @Grace@Example.Social   Thanks!\n\nSee  you ") == (
        "@grace@example.social Thanks! See you"
    )
    assert normalise("@Ann @Bob Hi Bob") == "@ann @bob Hi Bob"
    assert normalise("Hi @Bob") == "Hi @Bob"
    assert normalise("@Bob") == "@bob"
    assert intent_key("t", "@Bob  hi") == intent_key("t", "@bob hi")
    assert intent_key("t", "hi") != intent_key("t", "Hi")
    assert intent_key("t1", "hi") != intent_key("t2", "hi")
