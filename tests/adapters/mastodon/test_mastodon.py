"""The Mastodon adapter against a loopback Mastodon fake."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from adapters.mastodon import MastodonSettings, MastodonSource
from bot.errors import ReplyTooLong, SourceError
from tests.adapters.fakes.mastodon_fake import MastodonFake

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mastodon"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def customer(fake: MastodonFake, n: int = 7) -> dict[str, Any]:
    return fake.account(str(1000 + n), f"cust{n}", f"Customer {n}", domain="other.example")


async def test_real_payloads_become_mentions(fake: MastodonFake, make: Any) -> None:
    for name in ("mention_reply.json", "mention_remote_link.json", "mention_direct_cw.json"):
        fake.add_notification(fixture(name))
    reply, remote, direct = (await make().fetch(None)).mentions

    assert reply.external_id == "103186126728896492"
    assert reply.conversation_key == "103186038209478945"
    assert reply.text == "@trwnh sup!"
    assert reply.author.handle == "@zsc@social.example"
    assert reply.permalink == "https://mastodon.social/@zsc/103186126728896492"
    assert reply.created_at.utcoffset() is not None
    assert reply.created_at.isoformat().startswith("2019-11-23T07:49:01.940")

    assert remote.author.handle == "@kim@fosstodon.org"
    assert remote.author.display_name == "Kim 🌻 Nguyễn"
    assert remote.conversation_key == remote.external_id
    assert remote.text == (
        "@brand my invoice is wrong again & support won't answer.\n"
        "Details: https://fosstodon.org/media/invoices/2024-05-long-file-name.pdf\n\n#billing"
    )
    assert remote.reply_data == {
        "status_id": "112372041870271340",
        "acct": "kim@fosstodon.org",
        "visibility": "unlisted",
    }
    assert direct.text.startswith("CW: account details\n\n@brand kundenummer 4411")
    assert direct.reply_data["visibility"] == "direct"
    json.dumps(direct.reply_data)


async def test_hostile_html_becomes_plain_text_with_the_real_url(
    fake: MastodonFake, make: Any
) -> None:
    fake.add_mention(
        customer(fake),
        '<p>&lt;!channel&gt; &lt;@U123&gt; <script>alert("x")</script>'
        '<a href="https://evil.example/login">https://bank.example</a> '
        '<a href="javascript:alert(1)">click</a>\u202e</p>',
    )
    (mention,) = (await make().fetch(None)).mentions
    assert mention.text == "<!channel> <@U123> https://evil.example/login click"
    assert "bank.example" not in mention.text and "alert" not in mention.text


async def test_follow_up_to_our_reply_joins_the_original_conversation(
    fake: MastodonFake, make: Any
) -> None:
    source = make()
    who = customer(fake)
    first = fake.add_mention(who, "<p>@brand help</p>")
    (mention,) = (await source.fetch(None)).mentions
    ours = await source.reply(mention, "On it!", "reply-1")
    fake.add_mention(who, "<p>@brand thanks, still broken</p>", in_reply_to_id=ours.external_id)

    batch = await source.fetch(None)
    assert [m.conversation_key for m in batch.mentions] == [first["id"], first["id"]]


async def test_own_posts_are_not_mentions(fake: MastodonFake, make: Any) -> None:
    fake.add_mention(fake.me, "<p>@brand talking to myself</p>")
    theirs = fake.add_mention(customer(fake), "<p>@brand hi</p>")
    batch = await make().fetch(None)
    assert [m.external_id for m in batch.mentions] == [theirs["id"]]


@pytest.mark.parametrize(
    ("visibility", "expected"),
    [("public", "public"), ("private", "private"), ("direct", "direct"), ("limited", "direct")],
)
async def test_reply_threads_under_the_mention_with_its_visibility(
    fake: MastodonFake, make: Any, visibility: str, expected: str
) -> None:
    source = make()
    status = fake.add_mention(customer(fake), "<p>@brand hi</p>", visibility=visibility)
    (mention,) = (await source.fetch(None)).mentions

    result = await source.reply(mention, "We're looking into it.", "key-1")

    (posted,) = fake.posted
    assert result.external_id == posted["id"]
    assert result.url == posted["url"]
    call = fake.calls("/api/v1/statuses", "POST")[-1]
    assert call.headers["Idempotency-Key"] == "key-1"
    assert call.json == {
        "status": "@cust7@other.example We're looking into it.",
        "in_reply_to_id": status["id"],
        "visibility": expected,
    }


async def test_reply_keeps_an_acct_already_present(fake: MastodonFake, make: Any) -> None:
    source = make()
    fake.add_mention(customer(fake), "<p>@brand hi</p>")
    (mention,) = (await source.fetch(None)).mentions
    await source.reply(mention, "Hi @cust7@other.example, fixed.", "k")
    assert fake.posted[0]["text"] == "Hi @cust7@other.example, fixed."


async def test_same_key_twice_posts_once(fake: MastodonFake, make: Any) -> None:
    source = make()
    fake.add_mention(customer(fake), "<p>@brand hi</p>")
    (mention,) = (await source.fetch(None)).mentions
    fake.fail("/api/v1/statuses", 502, {"error": "Bad gateway"})

    first = await source.reply(mention, "Hello", "same-key")
    second = await make().reply(mention, "Hello", "same-key")

    assert first == second
    assert len(fake.posted) == 1
    keys = {c.headers["Idempotency-Key"] for c in fake.calls("/api/v1/statuses", "POST")}
    assert keys == {"same-key"}


async def test_reply_limit_comes_from_the_instance(fake: MastodonFake, make: Any) -> None:
    fake.max_characters = 1000
    source = make()
    assert source.reply_limit().limit == 500
    await source.check()
    assert source.reply_limit().limit == 1000
    assert source.measure("see https://example.com/" + "x" * 100) == 4 + 23
    assert source.measure("@kim@fosstodon.org 👩‍👩‍👧 ok") == len("@kim") + 1 + 1 + 3


async def test_without_v2_instance_the_limit_is_500_and_long_replies_are_refused(
    fake: MastodonFake, make: Any
) -> None:
    fake.max_characters = None
    source = make()
    fake.add_mention(customer(fake), "<p>@brand hi</p>")
    (mention,) = (await source.fetch(None)).mentions
    assert source.reply_limit().limit == 500
    with pytest.raises(ReplyTooLong):
        await source.reply(mention, "y" * 494, "k")
    assert fake.posted == []
    await source.reply(mention, "y" * 493, "k")
    assert len(fake.posted) == 1


async def test_429_becomes_retry_after_and_nothing_is_lost(fake: MastodonFake, make: Any) -> None:
    source = make()
    fake.add_mention(customer(fake), "<p>@brand first</p>")
    cursor = (await source.fetch(None)).cursor
    assert cursor is not None
    waiting = fake.add_mention(customer(fake), "<p>@brand queued</p>")["id"]
    fake.fail(
        "/api/v1/notifications", 429, {"error": "Too many requests"}, headers={"Retry-After": "42"}
    )
    with pytest.raises(SourceError) as caught:
        await source.fetch(cursor)
    assert caught.value.retry_after == 42
    assert waiting in [m.external_id for m in (await source.fetch(cursor)).mentions]


async def test_exhausted_rate_limit_waits_for_the_reset_without_calling(
    fake: MastodonFake, make: Any
) -> None:
    source = make()
    await source.fetch(None)
    fake.rate_remaining = 0
    await source.fetch(None)
    before = len(fake.requests)
    with pytest.raises(SourceError) as caught:
        await source.fetch(None)
    assert len(fake.requests) == before
    assert caught.value.retry_after is not None and 200 < caught.value.retry_after <= 300


async def test_a_malformed_item_is_logged_and_skipped(
    fake: MastodonFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    who = customer(fake)
    good1 = fake.add_mention(who, "<p>one</p>")["id"]
    fake.add_notification({"id": "110000000000000500", "type": "mention", "status": {"id": 5}})
    good2 = fake.add_mention(who, "<p>two</p>")["id"]
    with caplog.at_level(logging.WARNING):
        batch = await make(page_size=10).fetch(None)
    assert [m.external_id for m in batch.mentions] == [good1, good2]
    assert "malformed" in caplog.text and "110000000000000500" in caplog.text


async def test_check_describes_the_account(fake: MastodonFake, make: Any) -> None:
    text = await make().check()
    assert "@brand@social.example" in text and "Brand Inc." in text


async def test_check_explains_a_bad_token(make: Any) -> None:
    with pytest.raises(SourceError, match=r"rejected \(HTTP 401\).*access token"):
        await make(token="wrong").check()


async def test_check_explains_a_missing_scope(fake: MastodonFake, make: Any) -> None:
    fake.scopes = {"read:accounts"}
    with pytest.raises(SourceError, match=r"403.*read:notifications"):
        await make().check()


async def test_check_explains_a_wrong_base_url(fake: MastodonFake, make: Any) -> None:
    with pytest.raises(SourceError, match="does not answer like this network's API"):
        await make(base_url=fake.url + "/wrong").check()
    with pytest.raises(SourceError, match="cannot reach"):
        await make(base_url="http://127.0.0.1:9").check()


REMOTE = "@grace@example.social Thanks, it is fixed."
LOCAL = "@grace Thanks, it is fixed."


@pytest.mark.parametrize(
    ("domain", "typed", "expected"),
    [
        ("example.social", "@grace Thanks, it is fixed.", REMOTE),
        ("example.social", "@grace@example.social Thanks, it is fixed.", REMOTE),
        ("example.social", "@Grace@Example.Social Thanks, it is fixed.", REMOTE),
        ("example.social", "Thanks, it is fixed.", REMOTE),
        ("example.social", "  @grace@example.social\n@Grace  Thanks, it is fixed.", REMOTE),
        ("example.social", "@grace@example.social, Thanks, it is fixed.", REMOTE),
        (
            "example.social",
            "@kim@fosstodon.org @GRACE Thanks, it is fixed.",
            "@grace@example.social @kim@fosstodon.org Thanks, it is fixed.",
        ),
        (
            "example.social",
            "@gracey Thanks, it is fixed.",
            "@grace@example.social @gracey Thanks, it is fixed.",
        ),
        (
            "example.social",
            "Thanks @Grace@Example.Social, it is fixed.",
            "Thanks @grace@example.social, it is fixed.",
        ),
        ("", "@grace@social.example Thanks, it is fixed.", LOCAL),
        ("", "@GRACE Thanks, it is fixed.", LOCAL),
        ("", "Thanks, it is fixed.", LOCAL),
        ("", "@grace@social.example @grace Thanks, it is fixed.", LOCAL),
    ],
)
async def test_a_reply_mentions_the_author_exactly_once_whatever_the_prefill(
    fake: MastodonFake, make: Any, domain: str, typed: str, expected: str
) -> None:
    source = make()
    grace = fake.account("2000", "grace", "Grace", domain=domain)
    fake.add_mention(grace, "<p>@brand the app crashes</p>")
    (mention,) = (await source.fetch(None)).mentions
    await source.reply(mention, typed, "k")
    assert fake.posted[-1]["text"] == expected


@pytest.mark.parametrize(
    ("name", "said"), [("mastodon-main", "mastodon-main: "), ("brand", "mastodon brand: ")]
)
async def test_errors_name_the_source_once(fake: MastodonFake, name: str, said: str) -> None:
    settings = MastodonSettings(
        name=name, type="mastodon", base_url=fake.url, access_token="wrong-token"
    )
    source = MastodonSource(settings)
    try:
        with pytest.raises(SourceError) as failed:
            await source.fetch(None)
    finally:
        await source.close()
    message = str(failed.value)
    assert message.startswith(said) and message.count("mastodon") == 1, message
