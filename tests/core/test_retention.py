"""Issue 10: closed threads leave the hot indexes after ``store.retention_days``.

The retention loop runs in the service process every hour (by the injected clock) under a
lease, survives store errors and shows in ``loops()``; an archived thread is named, not "not
found", and a follow-up in its conversation opens a new thread. Its audit events stay.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.actions import Verb
from bot.app import Switchboard
from bot.config import StoreSettings
from bot.domain import Author, EventKind, Mention
from bot.errors import ThreadArchived, ThreadNotFound
from bot.interaction import Interaction
from bot.store import IngestStatus, Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.boards import REDIS_URL, board_for, mention_item, person, write_items
from tests.clock import FakeTime, eventually
from tests.tcp_proxy import TcpProxy

alice = person("alice")
HOUR = 3600.0
DAY = 24 * HOUR


@asynccontextmanager
async def store_on(
    kind: str, tmp_path: Path, time: FakeTime, url: str = REDIS_URL
) -> AsyncIterator[Store]:
    """A real store whose clock is ``time`` (it dates the tombstones)."""

    def clock() -> float:
        return time.now().timestamp()

    if kind == "sqlite":
        store: Store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 's.sqlite3'}", clock=clock)
        try:
            yield store
        finally:
            await store.close()
        return
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    store = RedisStore.from_url(url, prefix=prefix, clock=clock)
    try:
        yield store
    finally:
        await store.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def board_on(store: Store, tmp_path: Path, time: FakeTime, days: int = 90) -> Switchboard:
    """A board on ``time`` with one mention ingested (T-1001, conversation m-1)."""
    sample = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]))
    config = sample.config.model_copy(update={"store": StoreSettings(retention_days=days)})
    board = Switchboard(
        config, store, sample.sources, sample.surfaces, sleep=time.sleep, clock=time.now
    )
    while await board.ingestor.poll_once(board.sources[0]):
        pass
    return board


def follow_up(time: FakeTime) -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id="m-1-again",
        conversation_key="m-1",
        author=Author(id="a1", handle="user1@example.social"),
        text="@acme me again",
        created_at=time.now(),
    )


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_a_resolved_thread_is_archived_after_the_retention_period(
    kind: str, tmp_path: Path
) -> None:
    time = FakeTime()
    async with store_on(kind, tmp_path, time) as store:
        board = await board_on(store, tmp_path, time)
        thread = await board.threads.find("T-1001")
        await board.threads.claim(thread.id, alice)
        await board.threads.resolve(thread.id, alice)
        await board.start(ingest=False)
        try:
            assert board.loops()["retention"] == "running"
            await eventually(lambda: time.sleeping == 1)  # the first run found nothing due
            await time.advance(89 * DAY)
            await eventually(lambda: time.sleeping == 1)
            assert await store.get_thread(thread.id) is not None, "not yet: 89 days"

            async def archived() -> bool:
                return await store.get_thread(thread.id) is None

            await eventually(archived, time=time, tick=HOUR)
            assert time.seconds <= 90 * DAY + 2 * HOUR, "archived within the hour it was due"

            kinds = [e.kind for e in await store.audit() if e.thread_id == thread.id]
            assert kinds == [EventKind.OPENED, EventKind.CLAIMED, EventKind.RESOLVED]
            told = (
                "T-1001 was resolved on 2024-05-01 and archived after 90 days; "
                "its history is in the audit log."
            )
            with pytest.raises(ThreadArchived) as found:
                await board.threads.find("T-1001")
            assert str(found.value) == told
            with pytest.raises(ThreadArchived):
                await board.threads.find(thread.id)
            with pytest.raises(ThreadNotFound) as missing:
                await board.threads.find("T-1002")
            assert not isinstance(missing.value, ThreadArchived)
            claim = await board.handle(Interaction("shell", alice, Verb.CLAIM, "T-1001"))
            assert (claim.ok, claim.text) == (False, told)
            show = await board.handle(Interaction("shell", alice, Verb.SHOW))  # active thread
            assert (show.ok, show.text) == (False, told)

            outcome = await board.threads.ingest(follow_up(time))
            assert outcome is not None and outcome.status is IngestStatus.CREATED
            assert outcome.thread.short_id == "T-1002" and outcome.thread.id != thread.id
            report = await board.readiness()
            assert report["ready"] is True and report["loops"]["retention"] == "running"  # type: ignore[index]
        finally:
            await asyncio.wait_for(board.stop(), timeout=5)


async def test_zero_days_keeps_closed_threads_and_runs_no_loop(tmp_path: Path) -> None:
    time = FakeTime()
    async with store_on("sqlite", tmp_path, time) as store:
        board = await board_on(store, tmp_path, time, days=0)
        thread = await board.threads.find("T-1001")
        await board.threads.resolve(thread.id, alice)
        await time.advance(3650 * DAY)
        assert await board.retain() == 0
        await board.start(ingest=False)
        try:
            assert "retention" not in board.loops()
            assert await board.threads.find("T-1001") is not None
        finally:
            await asyncio.wait_for(board.stop(), timeout=5)


async def test_an_archived_spam_thread_says_it_was_spam(tmp_path: Path) -> None:
    time = FakeTime()
    async with store_on("sqlite", tmp_path, time) as store:
        board = await board_on(store, tmp_path, time, days=30)
        thread = await board.threads.find("T-1001")
        await board.threads.resolve(thread.id, alice, spam=True)
        await time.advance(30 * DAY - 1)
        assert await board.retain() == 0
        await time.advance(2)
        assert await board.retain() == 1
        with pytest.raises(
            ThreadArchived,
            match="T-1001 was marked as spam on 2024-05-01 and archived after 30 days",
        ):
            await board.threads.find("1001")
        outcome = await board.threads.ingest(follow_up(time))
        assert outcome is not None and outcome.status is IngestStatus.CREATED
        assert not outcome.thread.spam, "a new thread, not the spam one"
        await board.stop()


@pytest.mark.redis
async def test_one_replica_at_a_time_archives(tmp_path: Path) -> None:
    time = FakeTime()
    async with store_on("redis", tmp_path, time) as store:
        first = await board_on(store, tmp_path, time, days=1)
        second = Switchboard(
            first.config, store, [], [], sleep=time.sleep, clock=time.now, replica="second"
        )
        thread = await first.threads.find("T-1001")
        await first.threads.resolve(thread.id, alice)
        await time.advance(DAY + 1)
        assert await second.retain() == 1, "nobody held the lease"
        assert await first.retain() == 0, "the second replica holds it"
        await time.advance(2 * HOUR + 1)  # the second replica stopped renewing: it lapsed
        assert await first.retain() == 0
        assert await second.retain() == 0, "the first replica took it over"


@pytest.mark.redis
async def test_the_loop_survives_a_store_outage(tmp_path: Path) -> None:
    time = FakeTime()
    async with (
        TcpProxy(6379) as proxy,
        store_on("redis", tmp_path, time, proxy.url("redis")) as store,
    ):
        board = await board_on(store, tmp_path, time, days=1)
        thread = await board.threads.find("T-1001")
        await board.threads.resolve(thread.id, alice)
        await board.start(ingest=False)
        try:
            await eventually(lambda: time.sleeping == 1)
            await proxy.cut()
            await time.advance(DAY + HOUR)
            await eventually(lambda: time.sleeping == 1)  # failed, now backing off
            assert time.slept[-1] < HOUR, "a backoff, not the hourly wait"
            assert board.loops()["retention"] == "running"
            await proxy.restore()

            async def archived() -> bool:
                return await store.get_archived(thread.id) is not None

            await eventually(archived, time=time, tick=1.0)
            assert board.loops()["retention"] == "running"
            await eventually(lambda: time.sleeping == 1 and time.slept[-1] == HOUR)
        finally:
            await asyncio.wait_for(board.stop(), timeout=5)
