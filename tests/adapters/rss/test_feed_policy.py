"""RSS feeds as real servers publish them (DOCTYPEs, ``&nbsp;``), hostile XML refused, and the
shared HTTP policy (conditional GET, Retry-After as an HTTP date)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from adapters.feeds import parse_feed
from adapters.rss import RssSource
from bot.errors import SourceError
from tests.adapters.fakes.rss_fake import RssFake, atom
from tests.adapters.rss.conftest import sample


async def test_rss_091_with_the_netscape_dtd_and_html_entities_is_read(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/rss091", sample("rss091_netscape.xml"), content_type="text/xml")

    pricing, export = (await make(url).fetch(None)).mentions  # undated: oldest (last) first

    assert export.external_id == export.permalink == "https://watch.example.com/2024/05/export"
    assert export.text == (
        "Acme export — still broken?\n\nCafé owners report the export fails again\xa0…"
    )
    assert pricing.text == "Acme pricing & you\n\nWhat changes for small teams."
    assert [call.path for call in fake.requests] == ["/rss091"]


async def test_undeclared_nbsp_in_an_rss_2_feed_is_read(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    url = fake.publish("/digest", sample("nbsp.rss"), content_type="application/rss+xml")

    (post,) = (await make(url).fetch(None)).mentions

    assert post.external_id == "forum-311"
    assert post.permalink == "https://forum.example.com/t/311"
    assert post.text == "Export timeouts on Acme 3.2\n\nSame here\xa0– since Tuesday."
    assert post.author.handle == "Ada"
    assert post.created_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


async def test_a_doctype_pointing_at_a_server_is_never_fetched(fake: RssFake) -> None:
    fake.publish("/evil.dtd", '<!ENTITY exfil SYSTEM "file:///etc/passwd">')
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{fake.url}/evil.dtd">'
        "<rss><channel><title>t</title><item><title>hello</title><guid>1</guid></item>"
        "</channel></rss>"
    ).encode()

    (item,) = parse_feed(body).entries

    assert item.title == "hello"
    assert fake.calls("/evil.dtd") == []


def test_an_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        "<rss><channel><title>&x;</title><item><title>&x;</title><guid>1</guid></item>"
        "</channel></rss>"
    ).encode()

    with pytest.raises(SourceError, match="declares the XML entity 'x'") as refused:
        parse_feed(body, "https://feeds.example.com/x")

    assert "TOP-SECRET-MARKER" not in str(refused.value)
    assert str(refused.value).startswith("https://feeds.example.com/x: refused")


def test_an_entity_bomb_is_refused_before_it_expands() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="entity declarations can expand"):
            parse_feed(sample("entity_bomb.xml"))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 2 * 1024 * 1024


def test_an_undeclared_unknown_entity_is_malformed_xml() -> None:
    with pytest.raises(SourceError, match="not well-formed XML"):
        parse_feed(b"<rss><channel><title>&bogus;</title></channel></rss>")


async def test_a_second_poll_is_a_304_and_yields_nothing(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    source = make(fake.publish("/feed", atom([{"id": "tag:x,2024:1", "title": "Acme"}])))

    first = await source.fetch(None)
    second = await source.fetch(first.cursor)

    assert len(first.mentions) == 1
    assert second.mentions == [] and second.cursor == first.cursor
    assert fake.not_modified == 1
    polled = fake.calls("/feed")[1].headers
    assert polled["If-None-Match"].startswith('"') and polled["If-Modified-Since"].endswith("GMT")


async def test_a_429_with_an_http_date_retry_after(
    fake: RssFake, make: Callable[..., RssSource]
) -> None:
    source = make(fake.publish("/feed", atom([{"id": "tag:x,2024:1", "title": "Acme"}])))
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    fake.fail("/feed", 429, "slow down", headers={"Retry-After": later})

    with pytest.raises(SourceError, match="rate limited") as limited:
        await source.fetch(None)

    assert limited.value.retry_after is not None and 85 <= limited.value.retry_after <= 90
    assert len((await source.fetch(None)).mentions) == 1
