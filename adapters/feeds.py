"""Feed parsing for the RSS source: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom as ``FeedEntry``s.

The raw bytes first pass ``adapters.safe_xml.guard_xml`` (no entity declarations, nothing
external, well-formed), then ``feedparser`` reads them (from memory, never fetching, without
its HTML sanitizer: summaries become plain text through ``html_to_text``). Redirect links
(Google Alerts' ``https://www.google.com/url?...&url=<real>``) are unwrapped to the real URL,
and an entry with no usable id, title or summary is counted as skipped.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import feedparser

from adapters.html_text import html_to_text
from adapters.plain_text import clean_text
from adapters.safe_xml import guard_xml
from adapters.support import MALFORMED
from bot.errors import SourceError
from bot.untrusted import safe_url

REDIRECTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("www.google.com", "/url"): ("url", "q"),
    ("google.com", "/url"): ("url", "q"),
    ("www.bing.com", "/news/apiclick.aspx"): ("url",),
}
"""(host, path) of known redirectors -> the query parameters that hold the real URL."""
FEED_ROOTS = {"rss": "RSS", "feed": "Atom", "RDF": "RSS 1.0"}


@dataclass
class FeedEntry:
    """One item of a parsed feed, before it becomes a Mention."""

    id: str
    title: str
    summary: str
    link: str
    published: datetime | None
    author_name: str
    author_uri: str


@dataclass
class Feed:
    kind: str
    title: str
    entries: list[FeedEntry]
    skipped: int = 0


def parse_feed(body: bytes, url: str = "") -> Feed:
    """An RSS or Atom document as a ``Feed``; refused documents raise ``SourceError``."""
    where = url or "feed"
    try:
        root = guard_xml(body)
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from exc
    local = root.tag.rsplit("}", 1)[-1]
    kind = FEED_ROOTS.get(local)
    if kind is None or (local == "rss" and root.find("channel") is None):
        raise SourceError(
            f"{where}: not an RSS or Atom feed (the root element is <{local}>"
            f"{' without <channel>' if local == 'rss' else ''}); is the URL the feed itself "
            "rather than a web page?"
        )
    parsed = _feedparser(body)
    feed = Feed(kind=kind, title=_text(parsed.get("feed", {}).get("title_detail")), entries=[])
    for raw in parsed.get("entries", []):
        try:
            entry = _entry(dict(raw))  # a plain dict: no FeedParserDict key aliasing
        except MALFORMED:
            entry = None
        if entry is None:
            feed.skipped += 1
        else:
            feed.entries.append(entry)
    return feed


def _feedparser(body: bytes) -> dict[str, Any]:
    """``feedparser.parse`` on bytes already guarded: from a stream (a bytes or str argument
    would be tried as a file name or URL), without sanitizing or resolving relative links."""
    result = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    return dict(result)


def _entry(raw: dict[str, Any]) -> FeedEntry | None:
    link = unwrap_redirect(_link(raw))
    title = _text(raw.get("title_detail"))
    detail = raw.get("summary_detail") or next(iter(raw.get("content") or []), None)
    summary = _text(detail)
    entry_id = " ".join(str(raw.get("id") or "").split()) or link
    if not entry_id or not (title or summary):
        return None
    author_name, author_uri = _author(raw)
    return FeedEntry(
        id=entry_id if len(entry_id) <= 512 else f"sha256:{digest(entry_id)}",
        title=title,
        summary=summary,
        link=link,
        published=_date(raw),
        author_name=author_name,
        author_uri=author_uri,
    )


def _link(raw: dict[str, Any]) -> str:
    links = [link for link in raw.get("links") or [] if isinstance(link.get("href"), str)]
    alternate = (link for link in links if link.get("rel", "alternate") == "alternate")
    best = next(alternate, links[0] if links else None)
    href = best["href"] if best is not None else raw.get("link")
    return safe_url(href) if isinstance(href, str) else ""


def _author(raw: dict[str, Any]) -> tuple[str, str]:
    detail = raw.get("author_detail") or {}
    name = clean_text(str(detail.get("name") or raw.get("author") or ""))
    if "(" in name and name.endswith(")"):
        name = name[name.index("(") + 1 : -1].strip()
    uri = detail.get("href")
    return ("" if "@" in name else name), safe_url(uri) if isinstance(uri, str) else ""


def _date(raw: dict[str, Any]) -> datetime | None:
    for key in ("published_parsed", "created_parsed", "updated_parsed"):
        when = raw.get(key)
        if when is not None:
            return datetime.fromtimestamp(calendar.timegm(when), UTC)
    return None


def unwrap_redirect(url: str, depth: int = 3) -> str:
    """The real target of a known redirector link (Google Alerts, Bing News), else ``url``."""
    for _ in range(depth):
        parts = urlsplit(url)
        names = REDIRECTS.get(((parts.hostname or "").lower(), parts.path))
        if not names:
            return url
        query = parse_qs(parts.query)
        target = next(
            (safe_url(query[n][0]) for n in names if n in query and safe_url(query[n][0])), ""
        )
        if not target:
            return url
        url = target
    return url


def _text(detail: Any) -> str:
    """A feedparser text construct (``{"type": ..., "value": ...}``) as plain text."""
    if not detail:
        return ""
    value = str(detail.get("value") or "")
    if "html" in str(detail.get("type") or ""):
        return html_to_text(value)
    return clean_text(" ".join(value.split()))


def without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment="")) if url else ""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:20]
