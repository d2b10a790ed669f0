"""Replay source: feeds recorded mentions from a JSON file and records replies.

Used by ``switchboard demo`` (the bundled sample of realistic mentions) and by tests and
dry runs. Each item is a Mention's fields, with ``minutes_ago`` instead of ``created_at``
allowed. The cursor is the index of the next item. Replies are kept per idempotency key
(and appended to ``replies_path`` when set, so a restart never posts twice).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from adapters.base import SourceSettings
from adapters.bluesky import LIMIT as BLUESKY_LIMIT
from adapters.graphemes import grapheme_count
from adapters.mastodon import mastodon_length
from adapters.reddit import REPLY_LIMIT as REDDIT_LIMIT
from adapters.x import LIMIT as X_LIMIT
from adapters.x_length import x_weighted_length
from bot.domain import Author, Mention, ReplyResult, utcnow
from bot.errors import ReplyTooLong, SourceError
from bot.ports import Batch, ReplyLimit


class ReplaySettings(SourceSettings):
    path: str = ""
    """A JSON list of mentions; empty means the bundled sample."""
    batch_size: int = Field(default=10, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    replies_path: str = ""
    reply_limit: int = Field(default=500, gt=0)
    delay: float = Field(default=0.0, ge=0)
    """Seconds each fetch takes, to play a slow network."""
    plays: Literal["", "mastodon", "bluesky", "reddit", "x", "rss"] = ""
    """Play this network: only its items are fed, and replies are measured and limited as it
    does (X 280 weighted characters, Bluesky 300 graphemes, Mastodon 500, Reddit 10,000; RSS
    read-only). Empty: every item, ``reply_limit`` characters."""


PLAYED: dict[str, tuple[ReplyLimit | None, Callable[[str], int]]] = {
    "mastodon": (ReplyLimit(500, "characters"), mastodon_length),
    "bluesky": (ReplyLimit(BLUESKY_LIMIT, "graphemes"), grapheme_count),
    "reddit": (ReplyLimit(REDDIT_LIMIT), len),
    "x": (ReplyLimit(X_LIMIT, "weighted characters"), x_weighted_length),
    "rss": (None, len),
}
"""What each played network allows and how it counts, as its real source does."""


def load_items(path: str) -> list[dict[str, Any]]:
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("adapters").joinpath("data/sample_mentions.json").read_text("utf-8")
    items = json.loads(text)
    if not isinstance(items, list):
        raise SourceError(f"replay file {path or 'sample'} must hold a JSON list")
    return items


class ReplaySource:
    settings_model: ClassVar[type[SourceSettings]] = ReplaySettings
    network = "replay"

    def __init__(self, settings: ReplaySettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        items = load_items(settings.path)
        if settings.plays:
            items = [i for i in items if i.get("network") == settings.plays]
            self.network = settings.plays
        self._items = items
        self._loaded_at = utcnow()
        self.replies: dict[str, dict[str, str]] = {}
        if settings.replies_path and Path(settings.replies_path).exists():
            for line in Path(settings.replies_path).read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.replies[record["key"]] = record

    @classmethod
    def from_settings(cls, settings: Any) -> ReplaySource:
        return cls(ReplaySettings.model_validate(settings))

    def reply_limit(self) -> ReplyLimit | None:
        if self.settings.plays:
            return PLAYED[self.settings.plays][0]
        return ReplyLimit(self.settings.reply_limit)

    def measure(self, text: str) -> int:
        if self.settings.plays:
            return PLAYED[self.settings.plays][1](text)
        return len(text)

    def mention_from(self, item: dict[str, Any]) -> Mention:
        """One sample item as the ``Mention`` this source yields for it."""
        fields = dict(item)
        minutes = fields.pop("minutes_ago", None)
        if minutes is not None:
            fields["created_at"] = self._loaded_at - timedelta(minutes=float(minutes))
        fields.setdefault("network", self.network)
        fields["author"] = Author.model_validate(fields["author"])
        return Mention(source=self.name, **fields)

    def upcoming(self, cursor: str | None) -> datetime | None:
        """When the next item to fetch after ``cursor`` was posted; None when none is left."""
        start = int(cursor or 0)
        if start >= len(self._items):
            return None
        return self.mention_from(self._items[start]).created_at

    async def fetch(self, cursor: str | None) -> Batch:
        if self.settings.delay:
            await asyncio.sleep(self.settings.delay)
        start = int(cursor or 0)
        end = min(start + self.settings.batch_size, len(self._items))
        mentions = [self.mention_from(item) for item in self._items[start:end]]
        return Batch(mentions, str(end), more=end < len(self._items))

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        limit = self.reply_limit()
        if limit is None:
            raise SourceError(f"{self.name}: a feed is read-only; reply on the original site")
        if self.measure(text) > limit.limit:
            raise ReplyTooLong(self.measure(text), limit.limit, self.network)
        known = self.replies.get(idempotency_key)
        if known is None:
            number = len(self.replies) + 1
            known = {
                "key": idempotency_key,
                "id": f"{self.name}-reply-{number}",
                "url": f"{mention.permalink}#reply-{number}",
                "in_reply_to": mention.external_id,
                "text": text,
            }
            self.replies[idempotency_key] = known
            if self.settings.replies_path:
                with Path(self.settings.replies_path).open("a", encoding="utf-8") as out:
                    out.write(json.dumps(known) + "\n")
        return ReplyResult(external_id=known["id"], url=known["url"])

    async def check(self) -> str:
        return f"replay of {len(self._items)} recorded mentions"

    async def close(self) -> None:
        return None
