"""Mastodon: no mention missed. Ids that commit out of order, Link paging, long stops, the
backfill horizon, quotes and an older release's cursor, through the real store (issue 15)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from adapters.mastodon import MastodonSource
from tests.adapters.fakes.mastodon_fake import MastodonFake
from tests.adapters.ingesting import Ingesting
from tests.stores.conftest import Backend

LIST = "/api/v1/notifications"


def customer(fake: MastodonFake, n: int = 7) -> dict[str, Any]:
    return fake.account(str(1000 + n), f"cust{n}", f"Customer {n}", domain="other.example")


def ingesting(backend: Backend, fake: MastodonFake, source: MastodonSource) -> Ingesting:
    return Ingesting(backend.open(), source, lambda: fake.clock)


async def test_polls_store_every_mention_once_paging_by_the_link_header(
    backend: Backend, fake: MastodonFake, make: Any
) -> None:
    who = customer(fake)
    bot = ingesting(backend, fake, make(page_size=3))
    first = [fake.add_mention(who, f"<p>@brand hello {i}</p>")["id"] for i in range(2)]
    await bot.poll()
    await bot.poll()
    assert await bot.stored() == dict.fromkeys(first, 1)

    later = [fake.add_mention(who, f"<p>@brand more {i}</p>")["id"] for i in range(5)]
    await bot.drain()
    assert await bot.stored() == dict.fromkeys(first + later, 1)
    assert bot.health.late == 0
    last = fake.calls(LIST)[-3:]
    assert [c.param("max_id") is None for c in last] == [True, False, False]
    assert last[-1].query.count(("types[]", "mention")) == 1
    assert last[-1].query.count(("types[]", "quote")) == 1


async def test_a_notification_committed_after_a_higher_id_was_read_is_stored_once(
    backend: Backend, fake: MastodonFake, make: Any
) -> None:
    bot = ingesting(backend, fake, make())
    newest = fake.add_mention(customer(fake), "<p>@brand newest</p>")["id"]
    read_at = fake.clock
    await bot.poll()
    one_second = fake.add_mention(
        customer(fake, 8), "<p>@brand slow commit</p>", made_at=read_at - timedelta(seconds=1)
    )["id"]
    ten_minutes = fake.add_mention(
        customer(fake, 9), "<p>@brand very late</p>", made_at=read_at - timedelta(minutes=10)
    )["id"]
    assert int(one_second) < int(newest) and int(ten_minutes) < int(newest)
    await bot.drain()
    await bot.drain()
    assert await bot.stored() == dict.fromkeys([newest, one_second, ten_minutes], 1)
    assert bot.health.late == 2


async def test_a_long_stop_is_read_back_over_several_polls(
    backend: Backend, fake: MastodonFake, make: Any
) -> None:
    who = customer(fake)
    bot = ingesting(backend, fake, make(page_size=3, max_pages=2, overlap="1m"))
    before = fake.add_mention(who, "<p>@brand before</p>")["id"]
    await bot.poll()
    fake.clock += timedelta(hours=6)
    missed = [fake.add_mention(who, f"<p>@brand down {i}</p>")["id"] for i in range(14)]
    assert await bot.poll() is True
    assert len(await bot.stored()) == 1 + 6
    during = fake.add_mention(who, "<p>@brand during the walk</p>")["id"]
    await bot.drain()
    await bot.drain()
    assert await bot.stored() == dict.fromkeys([before, *missed, during], 1)
    assert bot.health.late == 0, "nothing read back after the stop came out of order"
    assert bot.health.unread == 0


async def test_beyond_the_backfill_horizon_is_logged_and_counted(
    backend: Backend, fake: MastodonFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    who = customer(fake)
    bot = ingesting(backend, fake, make(page_size=10, backfill="2d"))
    fake.add_mention(who, "<p>@brand before</p>")
    await bot.poll()
    old = [fake.add_mention(who, f"<p>@brand old {i}</p>")["id"] for i in range(4)]
    fake.clock += timedelta(days=3)
    recent = fake.add_mention(who, "<p>@brand recent</p>")["id"]
    with caplog.at_level(logging.WARNING):
        await bot.drain()
    stored = await bot.stored()
    assert stored[recent] == 1 and not any(i in stored for i in old)
    assert bot.health.unread == 4
    assert "4 item(s) not read: older than the backfill horizon (2d)" in caplog.text


async def test_a_quote_of_our_post_is_a_mention_unless_quotes_are_off(
    backend: Backend, fake: MastodonFake, make: Any
) -> None:
    ours = fake.add_status(fake.me, "<p>Our launch</p>")
    quote = fake.add_mention(
        customer(fake), "<p>this broke my setup</p>", kind="quote", quote_of=ours
    )["id"]
    bot = ingesting(backend, fake, make())
    await bot.poll()
    assert await bot.stored() == {quote: 1}
    only = make(types=["mention"])
    assert (await only.fetch(None)).mentions == []
    assert [v for k, v in fake.calls(LIST)[-1].query if k == "types[]"] == ["mention"]


async def test_a_cursor_of_an_older_release_loses_nothing(
    backend: Backend, fake: MastodonFake, make: Any
) -> None:
    who = customer(fake)
    seen = fake.add_mention(who, "<p>@brand seen</p>")["id"]
    bot = ingesting(backend, fake, make())
    await bot.store.set_cursor("mastodon-main", seen)
    new = [fake.add_mention(who, f"<p>@brand new {i}</p>")["id"] for i in range(5)]
    await bot.drain()
    stored = await bot.stored()
    assert all(stored[i] == 1 for i in new) and set(stored.values()) == {1}
    assert (await bot.store.get_cursor("mastodon-main") or "").startswith("{")
