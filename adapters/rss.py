"""RSS 2.0 / RSS 1.0 / Atom feeds (Google Alerts, blog comment feeds): read-only mentions.

Each poll is a conditional GET through ``adapters.http.HttpClient`` (``If-None-Match`` with
the stored ETag, ``If-Modified-Since`` with the stored Last-Modified); a 304 is an empty batch.
The body is capped at ``max_bytes`` while it streams in, then parsed by ``adapters.feeds``
(guarded by defusedxml: no entity declarations, nothing external).

Order is not trusted: entries may lack dates, be inserted in the middle or be re-dated, so
every poll reads the whole feed (the feed itself is the window) and an entry is new unless it
was seen before: by its id (``guid`` / Atom ``id``, else the link), then by its link, for a feed
that rewrites ids (the link's earlier id no longer in the feed: two entries in the feed at once
sharing a link stay two). The cursor keeps a bounded list of (id, link) hashes already handed
out, always including every entry still in the feed; the store de-duplicates by id beyond it.
A poll that finds none of the entries it saw before, by id or link, may have missed entries
that left the feed while switchboard was away: that gap is logged and counted as unread.

Redirect links (Google Alerts) are unwrapped to the real URL, and titles and summaries are
reduced to plain text. The conversation is the entry's link without its fragment, so the
comments of one blog post group.
Replies happen on the original site: ``reply`` raises ``ReadOnlySource`` with the link.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from adapters.base import SourceSettings
from adapters.feeds import Feed, FeedEntry, digest, parse_feed, unwrap_redirect, without_fragment
from adapters.http import HttpClient
from adapters.support import coerce_settings, labelled
from adapters.window import Clock
from bot.domain import Author, Mention, ReplyResult, utcnow
from bot.errors import ReadOnlySource, SourceError
from bot.naming import source_label
from bot.ports import Batch, ReplyLimit

__all__ = ["Feed", "FeedEntry", "RssSettings", "RssSource", "parse_feed", "unwrap_redirect"]

log = logging.getLogger(__name__)

MAX_TEXT = 4000
FEED_TYPES = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"


class RssSettings(SourceSettings):
    """``type: rss``: one feed URL, polled politely."""

    url: str = Field(pattern=r"^https?://")
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    seen_limit: int = Field(default=500, ge=10)
    timeout: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=900.0, gt=0)


@dataclass
class _Cursor:
    etag: str = ""
    modified: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)
    """(id hash, link hash or "") of entries handed out, oldest first."""

    @classmethod
    def load(cls, raw: str | None, label: str) -> _Cursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            seen = [(x, "") if isinstance(x, str) else (str(x[0]), str(x[1])) for x in data["seen"]]
            return cls(str(data["etag"]), str(data["modified"]), seen)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise SourceError(f"{label}: stored cursor is not one of ours: {raw[:80]!r}") from exc

    def dump(self) -> str:
        seen = [list(pair) for pair in self.seen]
        return json.dumps({"v": 2, "etag": self.etag, "modified": self.modified, "seen": seen})


class RssSource:
    """A read-only feed of public posts about us."""

    settings_model: ClassVar[type[SourceSettings]] = RssSettings
    network = "rss"

    def __init__(
        self, settings: RssSettings, http: HttpClient | None = None, *, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.label = source_label(self.network, settings.name)
        self.http = http or HttpClient(
            settings.url,
            label=self.label,
            timeout=settings.timeout,
            max_bytes=settings.max_bytes,
        )

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
        await self.http.close()

    async def fetch(self, cursor: str | None) -> Batch:
        """New entries since the last poll, oldest first (empty on 304 Not Modified)."""
        state = _Cursor.load(cursor, self.label)
        answer = await self._get(state.etag, state.modified)
        if answer is None:
            return Batch(mentions=[], cursor=state.dump())
        body, etag, modified = answer
        feed = self._parse(body)
        if feed.skipped:
            log.warning("%s: skipped %d malformed entries", self.label, feed.skipped)
        keys = [(digest(e.id), digest(e.link) if e.link else "") for e in feed.entries]
        in_feed = {key for key, _ in keys}
        ids = {key for key, _ in state.seen}
        links = {link: key for key, link in state.seen if link}
        fetched_at = self.clock()
        mentions: list[Mention] = []
        matched = False
        for entry, (key, link) in reversed(list(zip(feed.entries, keys, strict=True))):
            rewritten = link in links and links[link] != key and links[link] not in in_feed
            if key in ids or rewritten:
                matched = True
                continue
            ids.add(key)
            mentions.append(self._mention(entry, fetched_at))
        unread = 0
        if state.seen and feed.entries and not matched:
            unread = 1
            log.warning(
                "%s: none of the %d entries in the feed was seen before; entries published "
                "while switchboard was away may have left the feed unread",
                self.label,
                len(feed.entries),
            )
        mentions.sort(key=lambda m: m.created_at)
        current = list(reversed(keys))
        keep = max(self.settings.seen_limit, len(current))
        recent = [pair for pair in state.seen if pair[0] not in in_feed] + current
        after = _Cursor(etag, modified, recent[-keep:]).dump()
        return Batch(mentions=mentions, cursor=after, unread=unread)

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
            conversation_key=without_fragment(entry.link) or entry.id,
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
            raise SourceError(f"{self.label}: {self.settings.url} answered 304 unasked")
        feed = self._parse(answer[0])
        return (
            f"{feed.kind} feed {feed.title!r} at {self.settings.url}: {len(feed.entries)} entries"
        )

    def _parse(self, body: bytes) -> Feed:
        try:
            return parse_feed(body, self.settings.url)
        except SourceError as exc:
            raise labelled(exc, self.label) from exc

    async def _get(self, etag: str, modified: str) -> tuple[bytes, str, str] | None:
        answer = await self.http.get_if_changed(
            self.settings.url, etag=etag, modified=modified, headers={"Accept": FEED_TYPES}
        )
        if answer is None:
            return None
        headers = {k.lower(): v for k, v in answer.headers.items()}
        return answer.body, headers.get("etag", ""), headers.get("last-modified", "")
