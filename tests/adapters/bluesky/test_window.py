"""Bluesky: no mention missed. Out-of-order sort times, long stops, the backfill horizon,
quotes and session refresh, ingested through the real store on both backends (issue 15)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from adapters.atproto import token_expiry
from adapters.bluesky import BlueskySource
from tests.adapters.fakes.bluesky_fake import BlueskyFake
from tests.adapters.ingesting import Ingesting
from tests.stores.conftest import Backend

LIST = "/xrpc/app.bsky.notification.listNotifications"


def ingesting(backend: Backend, fake: BlueskyFake, source: BlueskySource) -> Ingesting:
    return Ingesting(backend.open(), source, lambda: fake.clock)


async def test_polls_store_every_mention_once_across_pages(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    who = fake.user("ana")
    bot = ingesting(backend, fake, make(page_size=5))
    first = [fake.add_post(who, f"@brand.bsky.social q{i}")["uri"] for i in range(2)]
    await bot.poll()
    await bot.poll()
    assert await bot.stored() == dict.fromkeys(first, 1)

    later = [fake.add_post(who, f"@brand.bsky.social more {i}")["uri"] for i in range(7)]
    paged = ingesting(backend, fake, make(page_size=3))
    assert await paged.drain() == 1
    assert await bot.stored() == dict.fromkeys(first + later, 1)
    assert paged.health.late == 0, "nothing arrived out of order"
    cursors = [c.param("cursor") for c in fake.calls(LIST)]
    assert cursors[-3:] == [None, cursors[-2], cursors[-1]] and cursors[-1] is not None


async def test_a_mention_sorted_behind_the_cursor_is_stored_exactly_once(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    """The reported bug: the author's clock is 1 s, then 10 min behind the newest item read,
    and the post arrives after that poll; the AppView sorts it behind the cursor."""
    ana, kim = fake.user("ana"), fake.user("kim")
    bot = ingesting(backend, fake, make(page_size=2))
    fake.add_post(ana, "@brand.bsky.social older")
    newest = fake.add_post(ana, "@brand.bsky.social newest")
    read_at = fake.clock
    await bot.poll()

    fake.clock += timedelta(seconds=40)
    one_second = fake.add_post(
        kim, "@brand.bsky.social hi", created_at=read_at - timedelta(seconds=1)
    )
    ten_minutes = fake.add_post(
        kim, "@brand.bsky.social phone clock behind", created_at=read_at - timedelta(minutes=10)
    )
    await bot.drain()
    await bot.drain()

    stored = await bot.stored()
    assert stored[one_second["uri"]] == 1 and stored[ten_minutes["uri"]] == 1
    assert stored[newest["uri"]] == 1 and set(stored.values()) == {1}
    assert bot.health.late == 2
    assert "2 found late" in bot.health.detail


async def test_the_overlap_is_a_setting(backend: Backend, fake: BlueskyFake, make: Any) -> None:
    ana = fake.user("ana")
    narrow = ingesting(backend, fake, make(overlap="5m"))
    wide = ingesting(backend, fake, make(overlap="30m"))
    fake.add_post(ana, "@brand.bsky.social first")
    await narrow.poll()
    await wide.poll()
    skewed = fake.add_post(
        ana, "@brand.bsky.social skewed", created_at=fake.clock - timedelta(minutes=20)
    )
    await narrow.poll()
    assert skewed["uri"] not in await narrow.stored()
    await wide.poll()
    assert (await wide.stored())[skewed["uri"]] == 1


async def test_a_long_stop_is_read_back_over_several_polls(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    ana = fake.user("ana")
    bot = ingesting(backend, fake, make(page_size=3, max_pages=2))
    before = fake.add_post(ana, "@brand.bsky.social before")["uri"]
    await bot.poll()

    fake.clock += timedelta(hours=6)
    missed = [fake.add_post(ana, f"@brand.bsky.social while down {i}")["uri"] for i in range(14)]
    assert await bot.poll() is True, "six read, the walk goes on"
    assert len(await bot.stored()) == 1 + 6
    mid_walk = fake.add_post(ana, "@brand.bsky.social during the walk")["uri"]
    assert await bot.drain() == 2
    await bot.drain()  # the window behind the newest (15 items in 15 min) takes 3 pages

    assert await bot.stored() == dict.fromkeys([before, *missed, mid_walk], 1)
    assert bot.health.late == 0, "nothing read back after the stop came out of order"
    assert bot.health.unread == 0
    resumed = [c.param("cursor") for c in fake.calls(LIST)[2:4]]
    assert all(resumed), "the second poll of the walk went on from the API cursor"
    state = json.loads(await bot.store.get_cursor("bsky-main") or "{}")
    assert "resume" not in state


async def test_beyond_the_backfill_horizon_is_logged_and_counted(
    backend: Backend, fake: BlueskyFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ana = fake.user("ana")
    bot = ingesting(backend, fake, make(page_size=10, backfill="7d"))
    fake.add_post(ana, "@brand.bsky.social before the stop")
    await bot.poll()
    old = [fake.add_post(ana, f"@brand.bsky.social old {i}")["uri"] for i in range(3)]
    fake.clock += timedelta(days=8)
    recent = [fake.add_post(ana, f"@brand.bsky.social recent {i}")["uri"] for i in range(2)]
    with caplog.at_level(logging.WARNING):
        await bot.drain()
    stored = await bot.stored()
    assert all(stored[uri] == 1 for uri in recent)
    assert not any(uri in stored for uri in old)
    assert bot.health.unread == 3
    assert "3 item(s) not read: older than the backfill horizon" in caplog.text
    assert "3 not read" in bot.health.detail


async def test_a_quote_of_our_post_is_a_mention_unless_quotes_are_off(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    ours = fake.add_post(fake.me, "Our launch post")
    fake.notifications.clear()
    quote = fake.add_post(fake.user("ana"), "this broke my setup", reason="quote", quoting=ours)
    fake.add_post(fake.user("kim"), "nice thread", reason="reply", reply_to=ours)

    everything = ingesting(backend, fake, make())
    await everything.poll()
    assert (await everything.stored())[quote["uri"]] == 1
    assert len(await everything.stored()) == 2

    (mention,) = (await make(reasons=["mention", "quote"]).fetch(None)).mentions
    assert mention.external_id == quote["uri"] and mention.text == "this broke my setup"
    assert mention.conversation_key == quote["uri"]
    assert fake.calls(LIST)[-1].query.count(("reasons", "quote")) == 1
    only = make(reasons=["mention"])
    assert (await only.fetch(None)).mentions == []
    assert [v for k, v in fake.calls(LIST)[-1].query if k == "reasons"] == ["mention"]


async def test_the_session_is_refreshed_before_it_expires(
    fake: BlueskyFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_post(fake.user("ana"), "@brand.bsky.social hi")
    source = make()
    caplog.set_level(logging.DEBUG)
    await source.fetch(None)
    fake.clock += timedelta(hours=2) - timedelta(minutes=2)
    await source.fetch(None)
    assert len(fake.calls("/xrpc/com.atproto.server.refreshSession")) == 1
    assert len(fake.calls("/xrpc/com.atproto.server.createSession")) == 1
    assert fake.refused == [], "no call went out with an expired token"

    fake.clock += timedelta(days=91)
    assert len((await source.fetch(None)).mentions) == 1
    assert len(fake.calls("/xrpc/com.atproto.server.refreshSession")) == 2
    assert len(fake.calls("/xrpc/com.atproto.server.createSession")) == 2, "refused: log in"

    tokens = [*fake.access, *fake.refresh]
    assert tokens and not any(token in caplog.text for token in tokens)
    assert not any(token.split(".")[1] in caplog.text for token in tokens)


async def test_a_cursor_of_an_older_release_goes_on_with_the_window(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    ana = fake.user("ana")
    seen = fake.add_post(ana, "@brand.bsky.social seen")
    at = fake.notifications[-1]["indexedAt"]
    bot = ingesting(backend, fake, make())
    await bot.store.set_cursor("bsky-main", json.dumps({"t": at, "uris": [seen["uri"]]}))
    late = fake.add_post(
        ana, "@brand.bsky.social late", created_at=fake.clock - timedelta(minutes=5)
    )
    new = fake.add_post(ana, "@brand.bsky.social new")
    await bot.drain()
    assert await bot.stored() == dict.fromkeys([seen["uri"], late["uri"], new["uri"]], 1)
    assert bot.health.late == 1, "only the post sorted behind the cursor came late"


def test_the_access_token_expiry_is_read_without_verifying() -> None:
    fake = BlueskyFake()
    token = fake._issue()["accessJwt"]
    assert token_expiry(token) == (fake.clock + timedelta(hours=2)).replace(microsecond=0)
    assert token_expiry("not-a-jwt") is None
    assert token_expiry("a.bm90IGpzb24.c") is None
