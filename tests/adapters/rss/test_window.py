"""RSS/Atom: no entry missed or doubled whatever the feed's order. Entries inserted in the
middle, undated entries, a feed that rewrites its ids, and a feed that rolled over while we
were away, through the real store (issue 15)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.rss import RssSettings, RssSource
from adapters.support import coerce_settings
from tests.adapters.fakes.rss_fake import RssFake, atom
from tests.adapters.ingesting import Ingesting
from tests.stores.conftest import Backend

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
Feeds = Callable[[list[dict[str, Any]]], Ingesting]


def entry(n: int, *, at: datetime | None = None, **more: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"tag:news.example,2026:{n}",
        "title": f"Acme story {n}",
        "link": f"https://news.example/{n}",
        **more,
    }
    if at is not None:
        item["published"] = at.isoformat().replace("+00:00", "Z")
    return item


@pytest.fixture
async def feed(backend: Backend, fake: RssFake) -> AsyncIterator[Feeds]:
    """``feed(entries)`` publishes the feed and gives the ingest of one source reading it."""
    sources: list[RssSource] = []
    bots: list[Ingesting] = []

    def publish(entries: list[dict[str, Any]]) -> Ingesting:
        url = fake.publish("/alerts", atom(entries))
        if not bots:
            settings = coerce_settings(RssSettings, {"name": "alerts", "type": "rss", "url": url})
            sources.append(RssSource(settings, clock=lambda: NOW))
            bots.append(Ingesting(backend.open(), sources[0], lambda: NOW))
        return bots[0]

    yield publish
    for source in sources:
        await source.close()


async def test_an_entry_inserted_behind_the_newest_is_stored_exactly_once(feed: Feeds) -> None:
    newest = NOW - timedelta(minutes=1)
    first = [entry(1, at=newest - timedelta(hours=1)), entry(2, at=newest)]
    bot = feed(list(reversed(first)))
    await bot.poll()
    late = [
        entry(3, at=newest - timedelta(seconds=1)),
        entry(4, at=newest - timedelta(minutes=10)),
    ]
    bot = feed([first[1], late[0], late[1], first[0]])  # inserted in the middle
    await bot.poll()
    await bot.poll()
    assert await bot.stored() == dict.fromkeys(
        [f"tag:news.example,2026:{n}" for n in (1, 2, 3, 4)], 1
    )


async def test_undated_entries_are_stored_once_at_the_time_they_were_read(
    feed: Feeds, fake: RssFake
) -> None:
    fake.use_etag = fake.use_last_modified = False  # every poll reads the whole feed again
    bot = feed([entry(1), entry(2)])
    await bot.poll()
    bot = feed([entry(3), entry(1), entry(2)])
    await bot.poll()
    await bot.poll()
    stored = await bot.stored()
    assert stored == dict.fromkeys([f"tag:news.example,2026:{n}" for n in (1, 2, 3)], 1)
    (thread, *_) = await bot.store.list_threads()
    (mention,) = await bot.store.mentions(thread.id)
    assert mention.created_at == NOW


async def test_a_feed_that_rewrites_its_ids_is_deduplicated_by_link(feed: Feeds) -> None:
    bot = feed([entry(1), entry(2)])
    await bot.poll()
    rewritten = [entry(n, id=f"urn:rotated:{n}") for n in (1, 2)]
    bot = feed([entry(3, id="urn:rotated:3"), *rewritten])
    await bot.poll()
    stored = await bot.stored()
    assert sorted(stored) == sorted(
        ["tag:news.example,2026:1", "tag:news.example,2026:2", "urn:rotated:3"]
    )
    assert bot.health.unread == 0


async def test_entries_sharing_a_link_at_once_stay_two(feed: Feeds) -> None:
    bot = feed([entry(1)])
    await bot.poll()
    shared = "https://blog.example/post"
    bot = feed([entry(2, link=shared), entry(3, link=shared), entry(1)])
    await bot.poll()
    assert len(await bot.stored()) == 3


async def test_a_feed_that_rolled_over_while_we_were_away_is_reported(
    feed: Feeds, caplog: pytest.LogCaptureFixture
) -> None:
    bot = feed([entry(1), entry(2)])
    await bot.poll()
    bot = feed([entry(n) for n in range(10, 15)])
    with caplog.at_level(logging.WARNING):
        await bot.poll()
    assert len(await bot.stored()) == 7
    assert bot.health.unread == 1
    assert "none of the 5 entries in the feed was seen before" in caplog.text
