"""Contract: public replies are recorded before posting, so none is ever posted twice."""

from __future__ import annotations

import pytest

from bot.domain import ReplyRecord, ReplyStatus
from bot.errors import StoreError
from bot.store import Store

from .builders import person
from .conftest import FakeClock


def record(
    key: str = "th-1:click-1", name: str = "alice", text: str = "Sorry! DM us."
) -> ReplyRecord:
    return ReplyRecord(
        key=key,
        thread_id="th-1",
        mention_key="mastodon-main\x1fpost-1",
        text=text,
        actor=person(name),
    )


async def test_first_attempt_owns_the_reply(store: Store) -> None:
    mine = record()
    stored, owned = await store.reply_begin(mine, 30)
    assert owned
    assert stored == mine
    assert await store.get_reply(mine.key) == mine
    assert await store.pending_replies() == [mine]
    assert await store.get_reply("th-1:other") is None


async def test_double_click_in_flight_is_refused(store: Store) -> None:
    mine = record()
    await store.reply_begin(mine, 30)
    stored, owned = await store.reply_begin(record(name="bob", text="other"), 30)
    assert not owned
    assert stored == mine


async def test_sent_reply_is_final(store: Store) -> None:
    mine = record()
    await store.reply_begin(mine, 30)
    done = await store.reply_finish(
        mine.key, ReplyStatus.SENT, external_id="110", url="https://example.social/@acme/110"
    )
    assert done == mine.model_copy(
        update={
            "status": ReplyStatus.SENT,
            "external_id": "110",
            "url": "https://example.social/@acme/110",
        }
    )
    assert await store.get_reply(mine.key) == done
    assert await store.pending_replies() == []
    assert await store.reply_begin(record(), 30) == (done, False)


async def test_failed_reply_can_be_retried(store: Store) -> None:
    await store.reply_begin(record(), 30)
    failed = await store.reply_finish(record().key, ReplyStatus.FAILED, error="HTTP 503")
    assert (failed.status, failed.error) == (ReplyStatus.FAILED, "HTTP 503")
    assert await store.pending_replies() == []

    retry = record(name="bob")
    stored, owned = await store.reply_begin(retry, 30)
    assert owned
    assert stored == retry
    assert (stored.status, stored.error) == (ReplyStatus.PENDING, "")
    assert await store.pending_replies() == [retry]
    assert not (await store.reply_begin(record(name="carol"), 30))[1]


async def test_attempt_of_a_dead_holder_is_taken_over(store: Store, clock: FakeClock) -> None:
    await store.reply_begin(record(), 60)
    clock.advance(59)
    assert not (await store.reply_begin(record(name="bob"), 60))[1]
    clock.advance(1)
    stored, owned = await store.reply_begin(record(name="bob"), 30)
    assert owned
    assert stored.actor == person("bob")
    assert await store.pending_replies() == [stored]


async def test_pending_replies_lists_only_pending(store: Store) -> None:
    one, two, three = record("k1"), record("k2"), record("k3")
    for r in (one, two, three):
        await store.reply_begin(r, 30)
    await store.reply_finish("k2", ReplyStatus.SENT, external_id="9")
    assert {r.key for r in await store.pending_replies()} == {"k1", "k3"}


async def test_finishing_an_unknown_reply_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no reply recorded"):
        await store.reply_finish("never-begun", ReplyStatus.SENT)
