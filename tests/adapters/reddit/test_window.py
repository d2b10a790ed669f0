"""Reddit: no mention missed. Inbox items sorted behind the cursor, long stops, deleted items
where a walk stood, the backfill horizon and an older release's cursor, through the real store
(issue 15)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.reddit import RedditSource
from tests.adapters.fakes.reddit_fake import RedditFake
from tests.adapters.ingesting import Ingesting
from tests.stores.conftest import Backend

INBOX = "/message/inbox"
Make = Callable[..., RedditSource]


def ingesting(backend: Backend, fake: RedditFake, source: RedditSource) -> Ingesting:
    return Ingesting(backend.open(), source, lambda: datetime.fromtimestamp(fake.now, UTC))


def mentions(fake: RedditFake, count: int, text: str = "u/AcmeSupport help") -> list[str]:
    names = []
    for n in range(count):
        fake.now += 30
        names.append(fake.mention(f"{text} {n}"))
    return names


async def test_polls_store_every_mention_once_and_mark_it_read_after(
    backend: Backend, fake: RedditFake, make: Make
) -> None:
    bot = ingesting(backend, fake, make(page_size=3))
    first = mentions(fake, 2)
    await bot.poll()
    assert fake.unread() == first, "read only once stored"
    await bot.poll()
    later = mentions(fake, 5)
    await bot.drain()
    await bot.poll()
    assert await bot.stored() == dict.fromkeys(first + later, 1)
    assert fake.unread() == []
    afters = [c.param("after") for c in fake.calls(INBOX)[-3:]]
    assert afters[0] is None and all(afters[1:])
    assert bot.health.late == 0


async def test_a_comment_sorted_behind_the_newest_read_is_stored_exactly_once(
    backend: Backend, fake: RedditFake, make: Make
) -> None:
    bot = ingesting(backend, fake, make())
    (newest,) = mentions(fake, 1)
    read_at = fake.now
    await bot.poll()
    fake.now += 120
    one_second = fake.mention("u/AcmeSupport slow inbox", created=read_at - 1)
    ten_minutes = fake.mention("u/AcmeSupport approved by a mod", created=read_at - 600)
    await bot.drain()
    await bot.drain()
    assert await bot.stored() == dict.fromkeys([newest, one_second, ten_minutes], 1)
    assert bot.health.late == 2


async def test_the_newest_item_read_being_deleted_loses_nothing(
    backend: Backend, fake: RedditFake, make: Make
) -> None:
    """With a ``before=<that item>`` cursor Reddit would answer an empty list for good."""
    bot = ingesting(backend, fake, make())
    old = mentions(fake, 2)
    await bot.poll()
    fake.delete(old[-1])
    new = mentions(fake, 2)
    await bot.poll()
    stored = await bot.stored()
    assert all(stored[n] == 1 for n in new) and set(stored.values()) == {1}
    assert all(c.param("before") is None for c in fake.calls(INBOX))


async def test_a_long_stop_goes_on_after_the_item_it_stood_at_was_deleted(
    backend: Backend, fake: RedditFake, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ingesting(backend, fake, make(page_size=3, max_pages=2, overlap="1m"))
    (before,) = mentions(fake, 1)
    await bot.poll()
    fake.now += 6 * 3600
    missed = mentions(fake, 14)
    assert await bot.poll() is True
    state = json.loads(await bot.store.get_cursor("reddit-main") or "{}")
    places = state["walk"]["resume"].split(",")
    assert places[0] == missed[-6]
    fake.delete(places[0])
    assert await bot.poll() is True
    assert fake.calls(INBOX)[-2].param("after") == places[1], "went on after the next place"

    fake.delete(missed[2])
    fake.delete(missed[3])
    fake.delete(missed[4])
    with caplog.at_level(logging.INFO):
        await bot.drain()
        await bot.drain()
    assert "the inbox item the walk stood at was deleted" in caplog.text
    assert await bot.stored() == dict.fromkeys([before, *missed], 1)


async def test_beyond_the_backfill_horizon_is_logged_and_counted(
    backend: Backend, fake: RedditFake, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ingesting(backend, fake, make(page_size=25, backfill="1d"))
    mentions(fake, 1)
    await bot.poll()
    old = mentions(fake, 3)
    fake.now += 2 * 86400
    recent = mentions(fake, 2)
    with caplog.at_level(logging.WARNING):
        await bot.drain()
    stored = await bot.stored()
    assert all(stored[n] == 1 for n in recent) and not any(n in stored for n in old)
    assert bot.health.unread == 3
    assert "3 item(s) not read: older than the backfill horizon (1d)" in caplog.text


async def test_a_stop_longer_than_the_inbox_lists_is_reported(
    backend: Backend, fake: RedditFake, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ingesting(backend, fake, make(page_size=5))
    mentions(fake, 1)
    await bot.poll()
    fake.now += 3600
    buried = mentions(fake, 12)
    fake.listing_cap = 8
    with caplog.at_level(logging.WARNING):
        await bot.drain()
    stored = await bot.stored()
    assert all(stored[n] == 1 for n in buried[-8:]) and not any(n in stored for n in buried[:4])
    assert bot.health.unread == 1
    assert "the network's list ends before the last item read" in caplog.text


async def test_an_older_release_cursor_reads_back_the_backfill_once(
    backend: Backend, fake: RedditFake, make: Make
) -> None:
    bot = ingesting(backend, fake, make(page_size=5))
    done = mentions(fake, 2)
    waiting = mentions(fake, 3)
    legacy = json.dumps({"v": 1, "ack": done, "seen": []})
    await bot.store.set_cursor("reddit-main", legacy)
    await bot.drain()
    await bot.poll()
    assert await bot.stored() == dict.fromkeys(done + waiting, 1)
    assert fake.unread() == []
    assert bot.health.unread == 0
