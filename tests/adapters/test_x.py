"""The X adapter against a loopback X API v2 fake."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.http import HttpClient
from adapters.x import XSettings, XSource
from bot.domain import Mention
from bot.errors import ReplyTooLong, SourceError
from tests.adapters.fakes.x_fake import XFake

FIXTURES = Path(__file__).parents[1] / "fixtures" / "x"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@pytest.fixture
async def fake() -> AsyncIterator[XFake]:
    server = XFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(fake: XFake) -> AsyncIterator[Any]:
    opened: list[XSource] = []

    def build(
        bearer: str = "app-bearer", user_token: str = "user-token", page_size: int = 5, **kw: Any
    ) -> XSource:
        settings = XSettings(
            name="x-main",
            type="x",
            base_url=kw.pop("base_url", fake.url),
            bearer_token=bearer,
            user_token=user_token,
            page_size=page_size,
            **kw,
        )
        http = HttpClient(settings.base_url, label="x test", backoff=0.01, timeout=5)
        source = XSource(settings, http=http)
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()


async def one(source: XSource) -> Mention:
    (mention,) = (await source.fetch(None)).mentions
    return mention


async def test_first_and_incremental_polls_have_no_gaps_or_repeats(fake: XFake, make: Any) -> None:
    who = fake.user(1)
    source = make()
    first = [fake.add_tweet(who, f"@brand q{i}")["id"] for i in range(2)]
    batch = await source.fetch(None)
    assert [m.external_id for m in batch.mentions] == first

    again = await source.fetch(batch.cursor)  # the overlap is read again; the store dedupes
    assert [m.external_id for m in again.mentions] == first and again.cursor == batch.cursor

    later = [fake.add_tweet(who, f"@brand more {i}")["id"] for i in range(12)]
    incremental = await source.fetch(batch.cursor)
    assert [m.external_id for m in incremental.mentions] == first + later
    assert json.loads(incremental.cursor or "")["ids"] == [later[-1]]
    calls = fake.calls(f"/2/users/{fake.me['id']}/mentions")[-3:]
    assert [c.param("pagination_token") for c in calls] == [None, "5", "10"]
    assert {c.param("since_id") for c in calls} == {None}, "no since_id: it would skip late posts"
    assert calls[0].param("expansions") == "author_id"
    assert "conversation_id" in (calls[0].param("tweet.fields") or "")


async def test_restart_resumes_from_the_stored_cursor(fake: XFake, make: Any) -> None:
    who = fake.user(1)
    fake.add_tweet(who, "@brand one")
    stored = (await make(user_id="783214").fetch(None)).cursor
    new = fake.add_tweet(who, "@brand two")["id"]
    batch = await make(user_id="783214").fetch(stored)
    assert [m.external_id for m in batch.mentions][-1] == new
    assert fake.calls("/2/users/me") == []


async def test_real_payloads_become_mentions(fake: XFake, make: Any) -> None:
    fake.add_page(fixture("mentions_page.json"))
    fake.add_page(fixture("mention_with_links_cjk.json"))
    fake.add_page(fixture("mentions_partial_error.json"))
    plain, cjk, orphan = (await make(page_size=10).fetch(None)).mentions

    assert plain.external_id == "1578516295611748353"
    assert plain.conversation_key == "1578516295611748353"
    assert plain.author.handle == "@example_user"
    assert plain.author.profile_url == "https://x.com/example_user"
    assert plain.permalink == "https://x.com/example_user/status/1578516295611748353"
    assert plain.created_at.isoformat() == "2022-10-07T22:40:26+00:00"

    assert cjk.conversation_key == "1787990000000000000"
    assert cjk.author.display_name == "山田 太郎 🍣"
    assert cjk.text == (
        "@brand 返金はいつですか？ 注文 & 請求書: "
        "https://shop.example.jp/orders/8812?lang=ja <!channel>"
    )
    assert cjk.reply_data == {"tweet_id": "1788012345678901234", "username": "yamada_t"}

    assert orphan.author.id == "99887766"
    assert orphan.author.profile_url == "https://x.com/i/user/99887766"


async def test_follow_ups_share_the_conversation(fake: XFake, make: Any) -> None:
    who = fake.user(1)
    source = make()
    start = fake.add_tweet(who, "@brand my order is late")
    first = await source.fetch(None)
    (mention,) = first.mentions
    ours = await source.reply(mention, "Sorry! Checking now.", "k1")
    follow = fake.add_tweet(who, "@brand still nothing", reply_to=fake.tweets[ours.external_id])
    batch = await source.fetch(first.cursor)
    assert {m.external_id: m.conversation_key for m in batch.mentions}[follow["id"]] == start["id"]


async def test_own_posts_and_reposts_are_not_mentions(fake: XFake, make: Any) -> None:
    fake.add_tweet(fake.me, "@brand note to self")
    repost = fake.add_tweet(fake.user(2), "RT @cust1: @brand hi")
    repost["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
    theirs = fake.add_tweet(fake.user(1), "@brand hi")["id"]
    batch = await make().fetch(None)
    assert [m.external_id for m in batch.mentions] == [theirs]


async def test_reply_lands_in_reply_to_the_mention(fake: XFake, make: Any) -> None:
    tweet = fake.add_tweet(fake.user(1), "@brand hi")
    source = make()
    mention = await one(source)
    result = await source.reply(mention, "Hello & welcome", "k1")
    call = fake.calls("/2/tweets", "POST")[-1]
    assert call.json == {"text": "Hello & welcome", "reply": {"in_reply_to_tweet_id": tweet["id"]}}
    assert call.headers["Authorization"] == "Bearer user-token"
    assert result.external_id == fake.posted[0]["id"]
    assert result.url == f"https://x.com/brand/status/{result.external_id}"


async def test_same_reply_twice_posts_once(fake: XFake, make: Any) -> None:
    fake.add_tweet(fake.user(1), "@brand hi")
    source = make()
    mention = await one(source)
    first = await source.reply(mention, "See https://example.com/help & more", "same-key")
    second = await make().reply(mention, "See https://example.com/help & more", "same-key")
    assert first == second
    assert len(fake.posted) == 1


async def test_a_lost_answer_is_not_posted_again(fake: XFake, make: Any) -> None:
    fake.add_tweet(fake.user(1), "@brand hi")
    source = make()
    mention = await one(source)
    fake.lose_next_post_answer = True
    result = await source.reply(mention, "Fixed now.", "k-lost")
    assert [p["id"] for p in fake.posted] == [result.external_id]
    assert len(fake.calls("/2/tweets", "POST")) == 1


async def test_duplicate_content_is_reported_clearly(fake: XFake, make: Any) -> None:
    who = fake.user(1)
    fake.add_tweet(who, "@brand a")
    fake.add_tweet(who, "@brand b")
    source = make()
    first, second = (await source.fetch(None)).mentions
    await source.reply(first, "Thanks for reaching out!", "k1")
    with pytest.raises(SourceError, match="X refused this reply as a duplicate of an earlier post"):
        await source.reply(second, "Thanks for reaching out!", "k2")
    assert len(fake.posted) == 1


async def test_weighted_length(fake: XFake, make: Any) -> None:
    fake.add_tweet(fake.user(1), "@brand hi")
    source = make()
    mention = await one(source)
    assert source.reply_limit().limit == 280
    assert source.measure("a" * 280) == 280
    assert source.measure("日本語") == 6
    assert source.measure("see https://example.com/" + "x" * 200) == 4 + 23
    assert source.measure("👩‍👩‍👧‍👦 ok") == 2 + 3
    assert source.measure("café — “quotes”") == 15
    with pytest.raises(ReplyTooLong):
        await source.reply(mention, "漢" * 141, "too-long")
    assert fake.posted == []
    await source.reply(mention, "漢" * 140, "fits")
    assert len(fake.posted) == 1


async def test_429_uses_the_rate_limit_reset(fake: XFake, make: Any) -> None:
    source = make()
    await source.fetch(None)
    fake.fail(
        f"/2/users/{fake.me['id']}/mentions",
        429,
        {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 60)},
    )
    with pytest.raises(SourceError) as caught:
        await source.fetch(None)
    assert caught.value.retry_after is not None and 55 <= caught.value.retry_after <= 61


async def test_a_malformed_item_is_logged_and_skipped(
    fake: XFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    who = fake.user(1)
    good1 = fake.add_tweet(who, "@brand one")["id"]
    fake.add_raw_mention({"id": "1790000000000000500", "text": "@brand no author, no date"})
    good2 = fake.add_tweet(who, "@brand two")["id"]
    with caplog.at_level(logging.WARNING):
        batch = await make(page_size=10).fetch(None)
    assert [m.external_id for m in batch.mentions] == [good1, good2]
    assert json.loads(batch.cursor or "")["ids"] == [good2]
    assert "malformed" in caplog.text and "1790000000000000500" in caplog.text


async def test_check_describes_the_account(make: Any) -> None:
    assert "@brand" in await make().check()


async def test_check_explains_a_bad_token(make: Any) -> None:
    with pytest.raises(SourceError, match=r"rejected \(HTTP 401\).*user_token"):
        await make(bearer="nope", user_token="nope").check()


async def test_check_explains_an_app_only_token(make: Any) -> None:
    with pytest.raises(SourceError, match=r"403.*user-context.*Application-Only"):
        await make(user_token="").check()
