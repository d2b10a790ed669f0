"""The Bluesky adapter against a loopback PDS fake."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.atproto import record_key
from adapters.bluesky import BlueskySource
from bot.domain import Mention
from bot.errors import ReplyTooLong, SourceError
from tests.adapters.fakes.bluesky_fake import BlueskyFake

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bluesky"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


async def one(source: BlueskySource) -> Mention:
    (mention,) = (await source.fetch(None)).mentions
    return mention


async def test_real_payloads_become_mentions(fake: BlueskyFake, make: Any) -> None:
    for name in ("mention_reply.json", "mention_top_level_link.json", "like.json"):
        fake.add_notification(fixture(name))
    reply, top = (await make(page_size=10).fetch(None)).mentions

    assert (
        reply.external_id
        == "at://did:plc:n5o2wksggcs653t3seg5eu6b/app.bsky.feed.post/3kawzq7r4fg2c"
    )
    assert reply.conversation_key.endswith("/app.bsky.feed.post/3kawzppdvec2y")
    assert reply.author.handle == "@user.bsky.social"
    assert reply.text == "@metricbot.bsky.social convert please!"
    assert reply.permalink == (
        "https://bsky.app/profile/did:plc:n5o2wksggcs653t3seg5eu6b/post/3kawzq7r4fg2c"
    )
    assert reply.reply_data["root_cid"].startswith("bafyreib7a5")
    assert reply.created_at.utcoffset() is not None

    assert top.conversation_key == top.external_id
    assert top.author.display_name == "Hana 🌸"
    assert top.text == (
        "@brand.bsky.social 注文がまだ届きません 😢 order status: "
        "https://example.com/orders/12345?ref=bsky"
    )


async def test_disguised_links_and_chat_markup_stay_plain_text(
    fake: BlueskyFake, make: Any
) -> None:
    fake.add_notification(fixture("reply_disguised_link.json"))
    mention = await one(make())
    assert (
        mention.text
        == "Your account is locked, verify here: https://evil.example/steal <!channel> <@U123>"
    )
    assert mention.author.display_name == "Brand Support"


async def test_own_posts_are_not_mentions(fake: BlueskyFake, make: Any) -> None:
    fake.add_post(fake.me | {"displayName": "Brand"}, "@brand.bsky.social echo")
    theirs = fake.add_post(fake.user("ana"), "@brand.bsky.social hi")["uri"]
    batch = await make().fetch(None)
    assert [m.external_id for m in batch.mentions] == [theirs]


async def test_reply_threads_with_strong_refs_and_byte_exact_facets(
    fake: BlueskyFake, make: Any
) -> None:
    ana = fake.user("ana")
    kim = fake.user("kim")
    root = fake.add_post(ana, "I have a question", reason="mention")
    fake.notifications.clear()
    parent = fake.add_post(ana, "@brand.bsky.social order 42?", reply_to=root)
    source = make()
    mention = await one(source)
    text = (
        "こんにちは @ana.bsky.social 👩‍👩‍👧 see https://example.com/ü?q=1, "
        "cc @kim.bsky.social and bsky.app 🇯🇵 @nobody.bsky.social"
    )
    result = await source.reply(mention, text, "reply-key-1")

    (post,) = fake.posted
    assert result.external_id == post["uri"]
    assert post["uri"].endswith("/" + record_key("reply-key-1"))
    assert result.url.startswith("https://bsky.app/profile/brand.bsky.social/post/")
    record = post["value"]
    assert record["reply"] == {
        "root": {"uri": root["uri"], "cid": root["cid"]},
        "parent": {"uri": parent["uri"], "cid": parent["cid"]},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdAt"])
    raw = record["text"].encode("utf-8")
    found = [
        (raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in record["facets"]
    ]
    assert found == [
        ("@ana.bsky.social", {"$type": "app.bsky.richtext.facet#mention", "did": ana["did"]}),
        (
            "https://example.com/ü?q=1",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ü?q=1"},
        ),
        ("@kim.bsky.social", {"$type": "app.bsky.richtext.facet#mention", "did": kim["did"]}),
        ("bsky.app", {"$type": "app.bsky.richtext.facet#link", "uri": "https://bsky.app"}),
    ]


async def test_same_key_twice_posts_once(fake: BlueskyFake, make: Any) -> None:
    fake.add_post(fake.user("ana"), "@brand.bsky.social hi")
    source = make()
    mention = await one(source)
    first = await source.reply(mention, "Hello!", "same-key")
    second = await make().reply(mention, "Hello!", "same-key")
    assert first == second
    assert len(fake.posted) == 1


async def test_a_lost_answer_is_not_posted_again(fake: BlueskyFake, make: Any) -> None:
    fake.add_post(fake.user("ana"), "@brand.bsky.social hi")
    source = make()
    mention = await one(source)
    fake.lose_next_create_answer = True
    result = await source.reply(mention, "Hello!", "k-lost")
    assert len(fake.posted) == 1
    assert result.external_id == fake.posted[0]["uri"]
    assert len(fake.calls("/xrpc/com.atproto.repo.createRecord")) == 1


async def test_length_is_counted_in_graphemes(fake: BlueskyFake, make: Any) -> None:
    fake.add_post(fake.user("ana"), "@brand.bsky.social hi")
    source = make()
    mention = await one(source)
    family = "👩‍👩‍👧‍👦"
    assert source.reply_limit().limit == 300 and source.reply_limit().unit == "graphemes"
    assert source.measure(family * 300) == 300
    assert source.measure("e\u0301" * 10 + "🇳🇴" * 5) == 15
    with pytest.raises(ReplyTooLong):
        await source.reply(mention, family * 301, "too-long")
    assert fake.posted == []
    with pytest.raises(SourceError, match="3000 bytes"):
        await source.reply(mention, family * 121, "too-many-bytes")
    assert fake.posted == []
    await source.reply(mention, family * 120, "fits")
    assert len(fake.posted) == 1


async def test_an_expired_access_token_is_refreshed_not_recreated(
    fake: BlueskyFake, make: Any
) -> None:
    fake.add_post(fake.user("ana"), "@brand.bsky.social hi")
    source = make()
    await source.fetch(None)
    fake.expire_access()
    await source.fetch(None)
    assert len(fake.calls("/xrpc/com.atproto.server.createSession")) == 1
    assert len(fake.calls("/xrpc/com.atproto.server.refreshSession")) == 1

    fake.expire_access()
    await asyncio.gather(source.fetch(None), source.fetch(None), source.fetch(None))
    assert len(fake.calls("/xrpc/com.atproto.server.refreshSession")) == 2

    fake.expire_access(refresh_too=True)
    assert len((await source.fetch(None)).mentions) == 1
    assert len(fake.calls("/xrpc/com.atproto.server.createSession")) == 2


async def test_429_uses_the_rate_limit_reset(fake: BlueskyFake, make: Any) -> None:
    source = make()
    await source.fetch(None)
    reset = str(int(time.time()) + 30)
    fake.fail(
        "/xrpc/app.bsky.notification.listNotifications",
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers={"RateLimit-Remaining": "0", "RateLimit-Reset": reset},
    )
    with pytest.raises(SourceError) as caught:
        await source.fetch(None)
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 31


async def test_a_malformed_item_is_logged_and_skipped(
    fake: BlueskyFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    who = fake.user("ana")
    good1 = fake.add_post(who, "@brand.bsky.social one")["uri"]
    fake.clock = fake.clock.replace(second=fake.clock.second + 1)
    fake.add_notification(
        {
            "uri": "at://broken",
            "reason": "mention",
            "author": {"did": "did:plc:x"},
            "record": {"text": 5},
            "indexedAt": "2024-05-01T12:00:01.500Z",
        }
    )
    good2 = fake.add_post(who, "@brand.bsky.social two")["uri"]
    with caplog.at_level(logging.WARNING):
        batch = await make(page_size=10).fetch(None)
    assert [m.external_id for m in batch.mentions] == [good1, good2]
    assert "malformed" in caplog.text and "at://broken" in caplog.text


async def test_check_describes_the_account(make: Any) -> None:
    assert "@brand.bsky.social" in await make().check()


async def test_check_explains_a_bad_app_password(make: Any) -> None:
    with pytest.raises(SourceError, match=r"rejected \(HTTP 401\).*app_password"):
        await make(password="wrong").check()


async def test_check_explains_a_wrong_base_url(fake: BlueskyFake, make: Any) -> None:
    with pytest.raises(SourceError, match="does not answer like this network's API"):
        await make(base_url=fake.url + "/nope").check()


def test_record_keys_are_valid_stable_tids() -> None:
    keys = {record_key(f"reply-{n}") for n in range(1000)}
    assert len(keys) == 1000
    assert all(re.fullmatch(r"[234567a-j][234567a-z]{12}", k) for k in keys)
    assert record_key("reply-1") == record_key("reply-1")
