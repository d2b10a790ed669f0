"""RSS/Atom adapter against a loopback feed server with ETag/Last-Modified."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.rss import RssSource, parse_feed, unwrap_redirect
from bot.domain import Author
from bot.errors import ReadOnlySource, SourceError
from tests.adapters.fakes.rss_fake import RssFake, atom
from tests.adapters.rss.conftest import sample


def entry(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"tag:example.com,2024:{n}",
        "title": f"Post {n} about Acme",
        "link": f"https://site{n}.example.com/post",
        "published": f"2024-05-01T{n % 24:02d}:00:00Z",
        **extra,
    }


async def test_google_alerts_sample(fake: RssFake, make: Callable[..., RssSource]) -> None:
    source = make(fake.publish("/alerts", sample("google_alerts.atom")))

    batch = await source.fetch(None)

    pricing, export = batch.mentions
    assert pricing.permalink == "https://news.example.com/tech/acme-pricing?ref=rss"
    assert export.permalink == "https://blog.example.net/2024/05/acme-export-failing/"
    assert export.external_id == "tag:google.com,2013:googlealerts/feed:9931468713526911302"
    assert export.conversation_key == export.permalink
    assert export.text == (
        "Why Acme export keeps failing for teams & how to fix it\n\n"
        "Since the April update, Acme export times out on large workspaces. Support told us\xa0..."
    )
    assert export.author == Author(
        id="blog.example.net",
        handle="blog.example.net",
        display_name="blog.example.net",
        profile_url="https://blog.example.net/",
    )
    assert export.created_at == datetime(2024, 5, 1, 10, 12, 9, tzinfo=UTC)
    assert export.network == "rss" and export.source == "alerts"
    assert export.reply_data == {"url": export.permalink}
    assert not batch.more


async def test_blog_comment_feed_groups_comments_of_one_post(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/comments", sample("blog_comments.rss"), content_type="application/rss+xml")

    tomas, priya = (await make(url).fetch(None)).mentions

    assert tomas.external_id == "https://devblog.example.org/?p=1187#comment-409"
    assert tomas.author.handle == "Tomás"
    assert tomas.text == (
        "By: Tomás\n\nGreat write-up. Acme’s export docs (https://acme.example.com/docs/export) "
        "helped us too."
    )
    assert priya.permalink == "https://devblog.example.org/2024/04/migrating-to-acme/#comment-412"
    assert (
        tomas.conversation_key
        == priya.conversation_key
        == ("https://devblog.example.org/2024/04/migrating-to-acme/")
    )
    assert priya.created_at == datetime(2024, 5, 1, 11, 2, 17, tzinfo=UTC)


async def test_conditional_polls_and_new_entries(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/feed", atom([entry(1), entry(2)]))
    source = make(url)

    first = await source.fetch(None)
    second = await source.fetch(first.cursor)
    fake.publish("/feed", atom([entry(3), entry(2), entry(1)]))
    third = await source.fetch(second.cursor)

    assert [m.external_id for m in first.mentions] == [
        "tag:example.com,2024:1",
        "tag:example.com,2024:2",
    ]
    conditional = fake.calls("/feed")[1]
    assert conditional.headers["If-None-Match"] == json.loads(first.cursor or "")["etag"]
    assert "If-Modified-Since" in conditional.headers
    assert second.mentions == [] and second.cursor == first.cursor
    assert [m.external_id for m in third.mentions] == ["tag:example.com,2024:3"]


async def test_without_conditional_support_entries_are_not_repeated(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    fake.use_etag = fake.use_last_modified = False
    source = make(fake.publish("/feed", atom([entry(1)])))

    first = await source.fetch(None)
    second = await source.fetch(first.cursor)

    assert len(first.mentions) == 1 and second.mentions == []
    assert "If-None-Match" not in fake.calls("/feed")[1].headers


async def test_a_sliding_feed_yields_every_entry_once_with_a_bounded_cursor(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/feed", atom([]))
    source = make(url, seen_limit=10)
    got: list[str] = []
    cursor = None
    for newest in range(1, 31):
        window = [entry(n) for n in range(newest, max(newest - 5, 0), -1)]
        fake.publish("/feed", atom(window))
        batch = await source.fetch(cursor)
        got += [m.external_id for m in batch.mentions]
        cursor = batch.cursor

    assert got == [f"tag:example.com,2024:{n}" for n in range(1, 31)]
    assert len(json.loads(cursor or "")["seen"]) == 10


async def test_restart_resumes_from_the_stored_cursor(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/feed", atom([entry(1)]))
    stored = (await make(url).fetch(None)).cursor
    fake.publish("/feed", atom([entry(2), entry(1)]))

    batch = await make(url).fetch(stored)

    assert [m.external_id for m in batch.mentions] == ["tag:example.com,2024:2"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("entity_bomb.xml", "declares the XML entity 'lol'"),
        ("external_entity.xml", "declares the XML entity 'secret'"),
        ("parameter_entity.xml", "declares the XML entity 'remote'"),
        ("not_a_feed.html", "not an RSS or Atom feed"),
    ],
)
async def test_hostile_or_wrong_documents_are_refused(
    fake: RssFake, make: Callable[..., RssSource], name: str, expected: str
) -> None:
    source = make(fake.publish("/feed", sample(name)))
    with pytest.raises(SourceError, match=expected):
        await source.fetch(None)


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_feed_is_refused(
    fake: RssFake, make: Callable[..., RssSource], chunked: bool
) -> None:
    fake.chunked = chunked
    big = atom([entry(n, content="x" * 500) for n in range(40)])
    source = make(fake.publish("/feed", big), max_bytes=4096)
    with pytest.raises(SourceError, match="larger than max_bytes"):
        await source.fetch(None)


async def test_malformed_entries_are_logged_and_skipped(
    fake: RssFake, make: Callable[..., RssSource], caplog: pytest.LogCaptureFixture
) -> None:
    entries = [
        {"title": "no id and no link"},
        {"id": "tag:x,2024:empty", "title": ""},
        {"id": "tag:x,2024:badlink", "title": "odd link", "link": "http://[oops/"},
        entry(7, published="last tuesday"),
    ]
    source = make(fake.publish("/feed", atom(entries)))

    with caplog.at_level(logging.WARNING):
        batch = await source.fetch(None)

    by_id = {m.external_id: m for m in batch.mentions}
    assert sorted(by_id) == ["tag:example.com,2024:7", "tag:x,2024:badlink"]
    assert by_id["tag:x,2024:badlink"].permalink == ""
    assert by_id["tag:example.com,2024:7"].created_at.tzinfo is UTC
    assert "skipped 2 malformed entries" in caplog.text


async def test_hostile_text_and_links_become_plain_text(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    hostile = {
        "id": "tag:x,2024:evil",
        "title": "&lt;!channel&gt; <@U123> <b>urgent</b>",
        "link": "javascript:alert(1)",
        "content": '<p>Log in at <a href="https://evil.example/steal">https://acme.example.com/'
        "login</a></p><script>alert(1)</script><img src=x onerror=alert(1)>",
    }
    (mention,) = (await make(fake.publish("/feed", atom([hostile]))).fetch(None)).mentions

    assert mention.text == "<!channel> <@U123> urgent\n\nLog in at https://evil.example/steal"
    assert mention.permalink == ""
    assert mention.conversation_key == "tag:x,2024:evil"


async def test_rate_limits_and_errors_lose_nothing(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    source = make(fake.publish("/feed", atom([entry(1)])))
    fake.fail("/feed", 429, "slow down", headers={"Retry-After": "120"})
    fake.fail("/feed", 500, "oops")

    with pytest.raises(SourceError) as limited:
        await source.fetch(None)
    with pytest.raises(SourceError, match="HTTP 500"):
        await source.fetch(None)
    batch = await source.fetch(None)

    assert limited.value.retry_after == 120
    assert [m.external_id for m in batch.mentions] == ["tag:example.com,2024:1"]


async def test_replies_happen_on_the_original_site(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    source = make(fake.publish("/feed", atom([entry(1)])))
    (mention,) = (await source.fetch(None)).mentions

    assert source.reply_limit() is None
    with pytest.raises(ReadOnlySource, match=re.escape("https://site1.example.com/post")):
        await source.reply(mention, "thanks", "key")


async def test_check_describes_the_feed_or_says_what_is_wrong(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    good = make(fake.publish("/alerts", sample("google_alerts.atom")))
    assert await good.check() == (
        f"Atom feed 'Google Alert - \"acme export\"' at {fake.url}/alerts: 2 entries"
    )
    with pytest.raises(SourceError, match="HTTP 404"):
        await make(f"{fake.url}/missing").check()
    page = make(fake.publish("/blog", sample("not_a_feed.html"), content_type="text/html"))
    with pytest.raises(SourceError, match="rather than a web page"):
        await page.check()
    with pytest.raises(SourceError, match="could not reach"):
        await make("http://127.0.0.1:9/feed").check()


def test_rss_1_0_is_understood() -> None:
    rdf = b"""<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://news.example.com/"><title>Example News</title></channel>
      <item rdf:about="https://news.example.com/1"><title>Acme &amp; friends</title>
        <link>https://news.example.com/1</link><dc:creator>Kim</dc:creator>
        <dc:date>2024-05-01T12:00:00+02:00</dc:date></item>
    </rdf:RDF>"""

    feed = parse_feed(rdf)

    (item,) = feed.entries
    assert (feed.kind, feed.title) == ("RSS 1.0", "Example News")
    assert (item.id, item.title, item.author_name) == (
        "https://news.example.com/1",
        "Acme & friends",
        "Kim",
    )
    assert item.published == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_redirect_links_are_unwrapped_to_the_real_url() -> None:
    nested = (
        "https://www.google.com/url?rct=j&url="
        "https%3A%2F%2Fwww.google.com%2Furl%3Fq%3Dhttps%253A%252F%252Freal.example.com%252Fa"
    )
    assert unwrap_redirect(nested) == "https://real.example.com/a"
    assert unwrap_redirect("https://www.google.com/url?url=javascript:alert(1)") == (
        "https://www.google.com/url?url=javascript:alert(1)"
    )
    assert unwrap_redirect("https://example.com/url?url=https://x.example") == (
        "https://example.com/url?url=https://x.example"
    )
