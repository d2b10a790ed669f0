"""X: no mention missed. The mentions timeline lists by id, newest first, but a post can be
listed only after newer ones were read; each poll re-reads the overlap and the store keeps
each mention once. A long stop is read back page by page over several polls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.http import HttpClient
from adapters.x import XSettings, XSource
from tests.adapters.fakes.x_fake import XFake
from tests.adapters.ingesting import Ingesting
from tests.stores.conftest import Backend


@pytest.fixture
async def fake() -> AsyncIterator[XFake]:
    server = XFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(fake: XFake) -> AsyncIterator[Any]:
    opened: list[XSource] = []

    def build(**settings: Any) -> XSource:
        chosen = XSettings(
            name="x-main",
            type="x",
            base_url=fake.url,
            bearer_token="app-bearer",
            user_token="user-token",
            user_id="783214",
            **({"page_size": 5} | settings),
        )
        http = HttpClient(chosen.base_url, label="x-main", backoff=0.01, timeout=5)
        source = XSource(chosen, http=http)
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()


def ingesting(backend: Backend, source: XSource) -> Ingesting:
    return Ingesting(backend.open(), source, lambda: datetime.now(UTC))


async def test_a_post_listed_after_newer_ones_were_read_is_stored_exactly_once(
    backend: Backend, fake: XFake, make: Any
) -> None:
    who, other = fake.user(1), fake.user(2)
    bot = ingesting(backend, make())
    late = fake.add_tweet(other, "@brand indexed late", visible=False)
    newest = fake.add_tweet(who, "@brand newest")
    await bot.poll()
    fake.reveal(late)  # listed now, behind the newest already read
    fake.add_tweet(who, "@brand after")
    await bot.drain()
    await bot.drain()
    stored = await bot.stored()
    assert stored[late["id"]] == 1 and stored[newest["id"]] == 1
    assert set(stored.values()) == {1} and len(stored) == 3
    assert bot.health.late == 1 and "1 found late" in bot.health.detail


async def test_a_long_stop_is_read_back_over_several_polls(
    backend: Backend, fake: XFake, make: Any
) -> None:
    who = fake.user(1)
    bot = ingesting(backend, make(max_pages=2))
    fake.add_tweet(who, "@brand before the stop")
    await bot.poll()
    during = [fake.add_tweet(who, f"@brand during the stop {i}")["id"] for i in range(23)]
    polls = await bot.drain()
    assert polls >= 3, "5 a page, 2 pages a poll: the walk goes on over several polls"
    stored = await bot.stored()
    assert all(stored[i] == 1 for i in during) and set(stored.values()) == {1}
    assert bot.health.unread == 0


async def test_an_older_release_s_since_id_cursor_still_reads_what_came_after(
    backend: Backend, fake: XFake, make: Any
) -> None:
    who = fake.user(1)
    old = fake.add_tweet(who, "@brand read by the old release")
    store = backend.open()
    await store.set_cursor("x-main", old["id"])  # the bare since_id an older release kept
    bot = Ingesting(store, make(), lambda: datetime.now(UTC))
    new = fake.add_tweet(who, "@brand new")
    await bot.drain()
    assert (await bot.stored())[new["id"]] == 1
    cursor = await store.get_cursor("x-main")
    assert cursor is not None and json.loads(cursor)["ids"] == [new["id"]]


async def test_a_quote_of_our_post_is_a_mention_even_when_it_does_not_name_us(
    backend: Backend, fake: XFake, make: Any
) -> None:
    ours = fake.add_tweet(fake.me, "We shipped v2 today")
    quote = fake.add_tweet(fake.user(3), "this broke my build", quoting=ours)
    fake.add_tweet(fake.user(4), "unrelated post")
    bot = ingesting(backend, make())
    await bot.poll()
    await bot.poll()  # quotes are checked again only after quotes_every
    stored = await bot.stored()
    assert stored == {quote["id"]: 1}
    assert len(fake.calls(f"/2/tweets/{ours['id']}/quote_tweets")) == 1
    (thread,) = await bot.store.list_threads()
    (mention,) = await bot.store.mentions(thread.id)
    assert mention.text == "this broke my build" and mention.author.handle == "@cust3"


async def test_quotes_can_be_left_out(backend: Backend, fake: XFake, make: Any) -> None:
    ours = fake.add_tweet(fake.me, "We shipped v2 today")
    fake.add_tweet(fake.user(3), "nice", quoting=ours)
    bot = ingesting(backend, make(quotes=False))
    await bot.poll()
    assert await bot.stored() == {}
    assert fake.calls(f"/2/tweets/{ours['id']}/quote_tweets") == []
