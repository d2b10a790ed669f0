"""RSS 2.0 / RSS 1.0 / Atom feeds (Google Alerts, blog comment feeds): read-only mentions.

Each poll is a conditional GET (``If-None-Match`` with the stored ETag, ``If-Modified-Since``
with the stored Last-Modified); a 304 is an empty batch. Feeds are parsed with the stdlib expat
parser behind a guard: a DOCTYPE or ENTITY declaration is refused outright (no entity bombs, no
external entities) and the body is capped at ``max_bytes`` while it streams in.

Entries are deduplicated on their id (``guid`` / Atom ``id``, else the link): the cursor keeps a
bounded list of hashes of the ids already handed out, always including every id still in the
feed. Redirect links (Google Alerts' ``https://www.google.com/url?...&url=<real>``) are
unwrapped to the real URL, and titles and summaries are reduced to plain text. The
conversation is the entry's link without its fragment, so the comments of one blog post group.
Replies happen on the original site: ``reply`` raises ``ReadOnlySource`` with the link.
"""

from __future__ import annotations

import hashlib
import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pyexpat import ExpatError, ParserCreate
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
from pydantic import Field

from adapters.base import SourceSettings
from adapters.http import USER_AGENT, excerpt, parse_retry_after
from adapters.support import MALFORMED, coerce_settings
from adapters.text import clean_text, html_to_text
from bot.domain import Author, Mention, ReplyResult
from bot.errors import ReadOnlySource, SourceError
from bot.ports import Batch, ReplyLimit

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/Atom"
MAX_TEXT = 4000
REDIRECTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("www.google.com", "/url"): ("url", "q"),
    ("google.com", "/url"): ("url", "q"),
    ("www.bing.com", "/news/apiclick.aspx"): ("url",),
}
"""(host, path) of known redirectors -> the query parameters that hold the real URL."""


class RssSettings(SourceSettings):
    """``type: rss``: one feed URL, polled politely."""

    url: str = Field(pattern=r"^https?://")
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    seen_limit: int = Field(default=500, ge=10)
    timeout: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=900.0, gt=0)


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


@dataclass
class _Cursor:
    etag: str = ""
    modified: str = ""
    seen: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> _Cursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(str(data["etag"]), str(data["modified"]), [str(x) for x in data["seen"]])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"rss: stored cursor is not one of ours: {raw[:80]!r}") from exc

    def dump(self) -> str:
        return json.dumps({"v": 1, "etag": self.etag, "modified": self.modified, "seen": self.seen})


class RssSource:
    """A read-only feed of public posts about us."""

    settings_model: ClassVar[type[SourceSettings]] = RssSettings
    network = "rss"

    def __init__(self, settings: RssSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> RssSource:
        return cls(coerce_settings(RssSettings, settings))

    def reply_limit(self) -> ReplyLimit | None:
        return None

    def measure(self, text: str) -> int:
        return len(text)

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        raise ReadOnlySource(self.name, mention.permalink or self.settings.url)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def fetch(self, cursor: str | None) -> Batch:
        """New entries since the last poll, oldest first (empty on 304 Not Modified)."""
        state = _Cursor.load(cursor)
        answer = await self._get(state.etag, state.modified)
        if answer is None:
            return Batch(mentions=[], cursor=state.dump())
        body, etag, modified = answer
        feed = parse_feed(body, self.settings.url)
        if feed.skipped:
            log.warning("rss %s: skipped %d malformed entries", self.name, feed.skipped)
        seen = set(state.seen)
        current: list[str] = []
        mentions: list[Mention] = []
        fetched_at = datetime.now(UTC)
        for entry in reversed(feed.entries):
            digest = _digest(entry.id)
            current.append(digest)
            if digest not in seen:
                seen.add(digest)
                mentions.append(self._mention(entry, fetched_at))
        mentions.sort(key=lambda m: m.created_at)
        keep = max(self.settings.seen_limit, len(current))
        in_feed = set(current)
        recent = [d for d in state.seen if d not in in_feed] + current
        return Batch(mentions=mentions, cursor=_Cursor(etag, modified, recent[-keep:]).dump())

    def _mention(self, entry: FeedEntry, fetched_at: datetime) -> Mention:
        host = urlsplit(entry.link).hostname or "" if entry.link else ""
        name = entry.author_name
        text = entry.title if not entry.summary else f"{entry.title}\n\n{entry.summary}".strip()
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        return Mention(
            source=self.name,
            network=self.network,
            external_id=entry.id,
            conversation_key=_without_fragment(entry.link) or entry.id,
            author=Author(
                id=entry.author_uri or name or host or self.settings.url,
                handle=name or host,
                display_name=name or host,
                profile_url=entry.author_uri or (f"https://{host}/" if host else ""),
            ),
            text=text,
            permalink=entry.link,
            created_at=entry.published or fetched_at,
            reply_data={"url": entry.link},
        )

    async def check(self) -> str:
        """Fetch and parse the feed once; describe it."""
        answer = await self._get("", "")
        if answer is None:
            raise SourceError(f"rss {self.name}: {self.settings.url} answered 304 unasked")
        feed = parse_feed(answer[0], self.settings.url)
        return (
            f"{feed.kind} feed {feed.title!r} at {self.settings.url}: {len(feed.entries)} entries"
        )

    async def _get(self, etag: str, modified: str) -> tuple[bytes, str, str] | None:
        url = self.settings.url
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5",
        }
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.get(url, headers=headers) as resp:
                if resp.status == 304:
                    return None
                if resp.status == 429 or resp.status == 503:
                    wait = parse_retry_after(
                        resp.headers.get("Retry-After"), datetime.now(UTC).timestamp()
                    )
                    raise SourceError(
                        f"rss {self.name}: HTTP {resp.status} from {url}; retry later",
                        retry_after=wait if wait is not None else 60.0,
                    )
                if not 200 <= resp.status < 300:
                    text = excerpt((await resp.content.read(2048)).decode("utf-8", "replace"))
                    raise SourceError(f"rss {self.name}: HTTP {resp.status} from {url}: {text}")
                limit, body = self.settings.max_bytes, bytearray()
                if (resp.content_length or 0) <= limit:
                    async for chunk in resp.content.iter_chunked(65536):
                        body += chunk
                        if len(body) > limit:
                            break
                if (resp.content_length or 0) > limit or len(body) > limit:
                    raise SourceError(f"rss {self.name}: {url} is larger than max_bytes ({limit})")
                return (
                    bytes(body),
                    resp.headers.get("ETag", ""),
                    resp.headers.get("Last-Modified", ""),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceError(
                f"rss {self.name}: could not fetch {url}: {exc or 'timed out'}"
            ) from exc


# ------------------------------------------------------------------------------- parsing


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
        id=entry_id if len(entry_id) <= 512 else f"sha256:{_digest(entry_id)}",
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


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment="")) if url else ""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:20]
