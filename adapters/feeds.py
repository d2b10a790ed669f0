"""Feed parsing for the RSS source: RSS 2.0, RSS 1.0 (RDF) and Atom as plain ``FeedEntry``s.

Parsed with the stdlib expat parser behind a guard: a DOCTYPE or ENTITY declaration is refused
outright (no entity bombs, no external entities). Titles and summaries become plain text,
redirect links (Google Alerts' ``https://www.google.com/url?...&url=<real>``) are unwrapped
to the real URL, and an entry with no usable id, title or summary is counted as skipped.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pyexpat import ExpatError, ParserCreate
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from adapters.support import MALFORMED
from adapters.text import clean_text, html_to_text
from bot.errors import SourceError

ATOM = "http://www.w3.org/2005/Atom"
REDIRECTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("www.google.com", "/url"): ("url", "q"),
    ("google.com", "/url"): ("url", "q"),
    ("www.bing.com", "/news/apiclick.aspx"): ("url",),
}
"""(host, path) of known redirectors -> the query parameters that hold the real URL."""


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


class _Refused(Exception):
    pass


def parse_xml(body: bytes) -> ET.Element:
    """Parse XML with expat, refusing any DOCTYPE/ENTITY declaration (entity bombs, XXE)."""
    builder = ET.TreeBuilder()
    parser = ParserCreate(namespace_separator="}")

    def refuse(*_: Any) -> Any:
        raise _Refused

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_qname(name), {_qname(k): v for k, v in attrs.items()})

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_qname(name))
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(body, True)
    except _Refused as exc:
        raise SourceError("the feed declares a DOCTYPE or entities; refused") from exc
    except ExpatError as exc:
        raise SourceError(f"the feed is not well-formed XML: {exc}") from exc
    return builder.close()


def parse_feed(body: bytes, url: str = "") -> Feed:
    """An RSS 2.0, RSS 1.0 (RDF) or Atom document as a ``Feed``; malformed entries counted."""
    try:
        root = parse_xml(body)
    except SourceError as exc:
        raise SourceError(f"{url or 'feed'}: {exc}") from exc
    local, channel = _local(root.tag), _child(root, "channel")
    head: ET.Element | None
    if local == "feed":
        kind, container, head, item = "Atom", root, root, "entry"
    elif local == "rss" and channel is not None:
        kind, container, head, item = "RSS", channel, channel, "item"
    elif local == "RDF":
        kind, container, head, item = "RSS 1.0", root, channel, "item"
    else:
        raise SourceError(
            f"{url or 'feed'}: not an RSS or Atom feed (the root element is <{local}>"
            f"{' without <channel>' if local == 'rss' else ''}); is the URL the feed itself "
            "rather than a web page?"
        )
    feed_title = _text_of(_child(head, "title") if head is not None else None, kind == "Atom")
    feed = Feed(kind=kind, title=feed_title, entries=[])
    for node in container:
        if _local(node.tag) != item:
            continue
        try:
            entry = _entry(node, kind == "Atom")
        except MALFORMED:
            entry = None
        if entry is None:
            feed.skipped += 1
        else:
            feed.entries.append(entry)
    return feed


def _entry(node: ET.Element, atom: bool) -> FeedEntry | None:
    link = unwrap_redirect(_link(node, atom))
    title = _text_of(_child(node, "title"), atom)
    summary_node = _child(node, "summary") if atom else _child(node, "description")
    if summary_node is None:
        summary_node = _child(node, "content") if atom else _child(node, "encoded")
    summary = _text_of(summary_node, atom)
    raw_id = _child(node, "id") if atom else _child(node, "guid")
    entry_id = " ".join((raw_id.text or "").split()) if raw_id is not None else ""
    entry_id = entry_id or link
    if not entry_id or not (title or summary):
        return None
    author_name, author_uri = _author(node)
    return FeedEntry(
        id=entry_id if len(entry_id) <= 512 else f"sha256:{digest(entry_id)}",
        title=title,
        summary=summary,
        link=link,
        published=_date(node),
        author_name=author_name,
        author_uri=author_uri,
    )


def _link(node: ET.Element, atom: bool) -> str:
    if not atom:
        link = _child(node, "link")
        guid = _child(node, "guid")
        candidates = [link.text if link is not None else None]
        if guid is not None and guid.get("isPermaLink", "true") != "false":
            candidates.append(guid.text)
        return next((_http(c) for c in candidates if _http(c)), "")
    links = [child for child in node if _local(child.tag) == "link"]
    rel = (link for link in links if link.get("rel", "alternate") == "alternate")
    best = next(rel, links[0] if links else None)
    return _http(best.get("href")) if best is not None else ""


def _author(node: ET.Element) -> tuple[str, str]:
    author = _child(node, "author")
    if author is not None and len(author):
        name = clean_text(_child_text(author, "name"))
        return name, _http(_child_text(author, "uri"))
    raw = author.text if author is not None else _child_text(node, "creator")
    name = clean_text(raw or "")
    if "(" in name and name.endswith(")"):
        name = name[name.index("(") + 1 : -1].strip()
    return ("" if "@" in name else name), ""


def _date(node: ET.Element) -> datetime | None:
    for tag in ("published", "pubDate", "date", "updated"):
        raw = _child_text(node, tag).strip()
        if not raw:
            continue
        try:
            when = datetime.fromisoformat(raw) if tag != "pubDate" else parsedate_to_datetime(raw)
        except (ValueError, TypeError, IndexError):
            continue
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def unwrap_redirect(url: str, depth: int = 3) -> str:
    """The real target of a known redirector link (Google Alerts, Bing News), else ``url``."""
    for _ in range(depth):
        parts = urlsplit(url)
        names = REDIRECTS.get(((parts.hostname or "").lower(), parts.path))
        if not names:
            return url
        query = parse_qs(parts.query)
        target = next((_http(query[n][0]) for n in names if n in query and _http(query[n][0])), "")
        if not target:
            return url
        url = target
    return url


def _text_of(node: ET.Element | None, atom: bool) -> str:
    if node is None:
        return ""
    kind = node.get("type", "text" if atom else "html")
    if "xhtml" in kind:
        return html_to_text(ET.tostring(node, encoding="unicode", method="html"))
    raw = node.text or ""
    return html_to_text(raw) if "html" in kind else clean_text(" ".join(raw.split()))


def _child(node: ET.Element, local: str) -> ET.Element | None:
    return next((c for c in node if _local(c.tag) == local), None)


def _child_text(node: ET.Element, local: str) -> str:
    child = _child(node, local)
    return (child.text or "") if child is not None else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _qname(name: str) -> str:
    return "{" + name if "}" in name else name


def _http(url: str | None) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return ""
    except ValueError:
        return ""
    return "".join(ch for ch in url if ch.isprintable() and not ch.isspace())


def without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment="")) if url else ""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:20]
