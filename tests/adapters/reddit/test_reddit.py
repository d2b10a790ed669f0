"""Reddit adapter against a loopback Reddit speaking the documented wire format."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.reddit import RedditSource
from bot.errors import ConfigError, SourceError
from tests.adapters.fakes.reddit_fake import RedditFake

FIXTURES = Path(__file__).parents[2] / "fixtures" / "reddit"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ids(batch_mentions: Any) -> list[str]:
    return [m.external_id for m in batch_mentions]


async def test_inbox_sample_becomes_mentions_oldest_first(
    fake: RedditFake, source: RedditSource
) -> None:
    for child in fixture("unread_listing.json")["data"]["children"]:
        fake.add(child["kind"], child["data"])

    batch = await source.fetch(None)

    assert ids(batch.mentions) == ["t1_l2xk1b7", "t1_l2xq9a1"]  # the t4 private message is not
    first, second = batch.mentions
    assert first.source == "reddit-main" and first.network == "reddit"
    assert first.conversation_key == "t3_1chh0qv"
    assert second.conversation_key == "t3_1chj2k4"
    assert first.author.handle == "devops_dana"
    assert first.author.id == "t2_3m9xz"
    assert first.author.profile_url == "https://www.reddit.com/user/devops_dana"
    assert first.text == (
        "Has anyone tried Acme (https://acme.example.com)? Asking u/AcmeSupport directly."
    )
    assert first.permalink == (
        "https://www.reddit.com/r/software/comments/1chh0qv/best_csv_tooling_in_2024/l2xk1b7/"
    )
    assert first.created_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert first.reply_data["thing_id"] == "t1_l2xk1b7"
    listing = fake.calls("/message/inbox")[0]
    assert listing.headers["User-Agent"] == "python:social-switchboard:0.1.0 (by /u/AcmeSupport)"
    assert not batch.more


async def test_shared_username_mention_sample(fake: RedditFake, source: RedditSource) -> None:
    for child in fixture("username_mention_listing.json")["data"]["children"]:
        fake.add(child["kind"], child["data"])

    (mention,) = (await source.fetch(None)).mentions

    assert mention.external_id == "t1_da2g9oh"
    assert mention.conversation_key == "t3_5d7tk7"
    assert mention.text == "But seriously, /u/pyapitestuser2, donde esta?"
    assert mention.author.id == "PyAPITestUser3"


async def test_marked_read_only_on_the_next_fetch(fake: RedditFake, source: RedditSource) -> None:
    a = fake.mention("hey u/AcmeSupport", created=1000)
    b = fake.mention("me too u/AcmeSupport", created=1001)

    first = await source.fetch(None)

    assert ids(first.mentions) == [a, b]
    assert fake.unread() == [a, b]
    assert fake.calls("/api/read_message") == []

    second = await source.fetch(first.cursor)

    (read,) = fake.calls("/api/read_message")
    assert sorted(read.body.decode().removeprefix("id=").replace("%2C", ",").split(",")) == [a, b]
    assert fake.unread() == []
    assert second.mentions == []


async def test_a_crash_before_the_cursor_is_stored_loses_nothing(
    fake: RedditFake, make: Callable[..., RedditSource]
) -> None:
    a = fake.mention("hello", created=1000)
    first = make()
    await first.fetch(None)  # batch never stored: the cursor is dropped
    await first.close()

    second = make()
    batch = await second.fetch(None)
    await second.close()

    assert ids(batch.mentions) == [a]


async def test_own_comments_are_skipped_and_marked_read(
    fake: RedditFake, source: RedditSource
) -> None:
    own = fake.mention("our own reply", author="AcmeSupport", type="comment_reply", created=1000)
    theirs = fake.mention("thanks!", type="comment_reply", created=1001)

    batch = await source.fetch(None)
    await source.fetch(batch.cursor)

    assert ids(batch.mentions) == [theirs]
    assert own not in fake.unread()


async def test_malformed_items_are_logged_and_skipped(
    fake: RedditFake, source: RedditSource, caplog: pytest.LogCaptureFixture
) -> None:
    bad = fake.mention("broken", created=1000)
    next(i for i in fake.inbox if i.fullname == bad).data["created_utc"] = "yesterday"
    fake.add("t1", {"type": "username_mention", "created_utc": 1001})  # no name, no body
    good = fake.mention("fine", created=1002)

    with caplog.at_level(logging.WARNING):
        batch = await source.fetch(None)

    assert ids(batch.mentions) == [good]
    assert "skipped a malformed item" in caplog.text
    assert bad in caplog.text


async def test_hostile_text_becomes_plain_text(fake: RedditFake, source: RedditSource) -> None:
    fake.add(
        "t1",
        {
            "name": "t1_evil1",
            "type": "username_mention",
            "author": "mallory",
            "body": "x",
            "body_html": '<div class="md"><p>&lt;!channel&gt; &lt;@U123&gt; '
            '<a href="https://evil.example/steal">https://acme.example.com/login</a>'
            "<script>alert(1)</script></p></div>",
            "created_utc": 1000,
            "context": "//evil.example/r/x/comments/abc/t/evil1/",
        },
    )

    (mention,) = (await source.fetch(None)).mentions

    assert mention.text == "<!channel> <@U123> https://evil.example/steal"
    assert mention.permalink == ""


async def test_reply_lands_under_the_mention_and_is_not_repeated(
    fake: RedditFake, source: RedditSource
) -> None:
    thing = fake.mention("u/AcmeSupport export is broken", created=1000)
    (mention,) = (await source.fetch(None)).mentions

    result = await source.reply(mention, "Sorry! Looking into it.", "reply-1")
    again = await source.reply(mention, "Sorry! Looking into it.", "reply-1")

    (posted,) = fake.calls("/api/comment")
    form = dict(pair.split("=", 1) for pair in posted.body.decode().split("&"))
    assert form["thing_id"] == thing and form["api_type"] == "json"
    assert len(fake.comments) == 1
    assert fake.comments[0]["parent_id"] == thing
    assert again == result
    assert result.external_id == fake.comments[0]["name"]
    assert result.url.startswith("https://www.reddit.com/r/software/comments/1chh0qv/")


async def test_a_reply_whose_answer_was_lost_is_not_posted_twice(
    fake: RedditFake, source: RedditSource
) -> None:
    fake.mention("u/AcmeSupport hello?", created=1000)
    (mention,) = (await source.fetch(None)).mentions
    fake.lose_comment_answers = 1

    with pytest.raises(SourceError):
        await source.reply(mention, "Hi there", "reply-2")
    result = await source.reply(mention, "Hi there", "reply-2")

    assert len(fake.calls("/api/comment")) == 1
    assert [c["name"] for c in fake.comments] == [result.external_id]


async def test_ratelimit_error_in_the_body_gives_retry_after(
    fake: RedditFake, source: RedditSource
) -> None:
    fake.mention("u/AcmeSupport ping", created=1000)
    (mention,) = (await source.fetch(None)).mentions
    fake.canned_answers.append(fixture("comment_ratelimit.json"))

    with pytest.raises(SourceError) as caught:
        await source.reply(mention, "pong", "reply-3")

    assert caught.value.retry_after == 240
    assert "RATELIMIT" in str(caught.value)
    assert fake.comments == []
    await source.reply(mention, "pong", "reply-3")
    assert len(fake.comments) == 1


async def test_the_documented_comment_answer_is_understood(
    fake: RedditFake, source: RedditSource
) -> None:
    fake.add("t1", fixture("unread_listing.json")["data"]["children"][2]["data"])
    (mention,) = (await source.fetch(None)).mentions
    fake.canned_answers.append(fixture("comment_created.json"))

    result = await source.reply(mention, "Hi! Happy to help: what are you trying to export?", "k")

    assert result.external_id == "t1_l2y0c3d"
    assert result.url == (
        "https://www.reddit.com/r/software/comments/1chh0qv/best_csv_tooling_in_2024/l2y0c3d/"
    )


async def test_other_body_errors_are_explained(fake: RedditFake, source: RedditSource) -> None:
    fake.mention("u/AcmeSupport ping", created=1000)
    (mention,) = (await source.fetch(None)).mentions
    fake.canned_answers.append(fixture("comment_thread_locked.json"))

    with pytest.raises(SourceError, match="THREAD_LOCKED: Comments are locked") as caught:
        await source.reply(mention, "pong", "reply-4")
    assert caught.value.retry_after is None


async def test_a_429_storm_raises_retry_after_and_loses_nothing(
    fake: RedditFake, source: RedditSource
) -> None:
    a = fake.mention("first")
    batch = await source.fetch(None)
    fake.now += 1
    b = fake.mention("second")
    fake.fail(
        "/api/read_message",
        429,
        {"message": "Too Many Requests", "error": 429},
        headers={"Retry-After": "7"},
        times=2,
    )
    fake.fail(
        "/message/inbox",
        429,
        {"message": "Too Many Requests", "error": 429},
        headers={"Retry-After": "9"},
        times=2,
    )

    waits = []
    for _ in range(4):
        with pytest.raises(SourceError) as caught:
            await source.fetch(batch.cursor)
        waits.append(caught.value.retry_after)
    after = await source.fetch(batch.cursor)

    assert waits == [7, 7, 9, 9]
    assert ids(batch.mentions) == [a]
    assert b in ids(after.mentions)


async def test_rate_limit_headers_stop_calls_before_the_wall(
    fake: RedditFake, source: RedditSource
) -> None:
    fake.mention("hello", created=1000)
    fake.ratelimit_remaining = 0
    fake.ratelimit_reset = 120
    batch = await source.fetch(None)
    sent = len(fake.requests)

    with pytest.raises(SourceError) as caught:
        await source.fetch(batch.cursor)  # the mark-read call shares the account's window

    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120
    assert len(fake.requests) == sent
    assert len(fake.unread()) == 1


async def test_token_is_reused_then_refreshed_before_expiry(
    fake: RedditFake, make: Callable[..., RedditSource]
) -> None:
    long_lived = make()
    cursor = (await long_lived.fetch(None)).cursor
    await long_lived.fetch(cursor)
    await long_lived.close()
    assert len(fake.calls("/api/v1/access_token")) == 1

    fake.expires_in = 30  # inside the refresh margin: every call logs in again
    short_lived = make()
    await short_lived.fetch(None)
    await short_lived.fetch(None)
    await short_lived.close()
    assert len(fake.calls("/api/v1/access_token")) == 3


async def test_a_revoked_token_is_renewed_once(fake: RedditFake, source: RedditSource) -> None:
    a = fake.mention("hello", created=1000)
    await source.fetch(None)
    fake.revoke_tokens()

    batch = await source.fetch(None)

    assert ids(batch.mentions) == [a]
    assert len(fake.calls("/api/v1/access_token")) == 2


async def test_check_describes_the_account(source: RedditSource) -> None:
    assert (await source.check()).startswith("u/AcmeSupport on http://127.0.0.1:")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_secret": "wrong"}, "app credentials .* were rejected"),
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "SomeoneElse"}, "invalid_grant"),
    ],
)
async def test_check_says_what_is_wrong_with_credentials(
    make: Callable[..., RedditSource], overrides: dict[str, str], expected: str
) -> None:
    source = make(**overrides)
    with pytest.raises(SourceError, match=expected):
        await source.check()
    await source.close()


async def test_check_points_at_a_wrong_base_url(
    fake: RedditFake, make: Callable[..., RedditSource]
) -> None:
    source = make(base_url=f"{fake.url}/not-reddit")
    with pytest.raises(SourceError, match="Check base_url"):
        await source.check()
    await source.close()

    unreachable = make(base_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/token")
    with pytest.raises(SourceError, match="cannot reach the token endpoint"):
        await unreachable.check()
    await unreachable.close()


async def test_check_reports_missing_scopes(
    fake: RedditFake, make: Callable[..., RedditSource]
) -> None:
    fake.scope = "identity read"
    source = make()
    with pytest.raises(SourceError, match="history, privatemessages, submit"):
        await source.check()
    await source.close()


def test_settings_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="client_id"):
        RedditSource.from_settings(
            {"name": "r", "type": "reddit", "username": "u", "password": "p", "client_secret": "s"}
        )


def test_reply_limit_is_ten_thousand_characters() -> None:
    source = RedditSource.from_settings(
        {
            "name": "r",
            "type": "reddit",
            "client_id": "i",
            "client_secret": "s",
            "username": "u",
            "password": "p",
        }
    )
    limit = source.reply_limit()
    assert limit is not None and limit.limit == 10_000
    assert source.measure("héllo") == 5
