"""Mastodon: mentions from the notifications API, replies as statuses.

* Fetch: ``GET /api/v1/notifications?types[]=mention&types[]=quote&limit=N``, newest first,
  paging down with the ``max_id`` of the ``Link: rel="next"`` URL. Notification ids are
  snowflakes taken when the server makes the notification, but they become visible when their
  transaction commits, so a lower id can appear after a higher one was read. Each poll therefore
  walks back to ``overlap`` behind the newest ``created_at`` read (``adapters/window.py``) and the
  store de-duplicates; a long stop is read back over several polls (``max_pages`` each), never
  past ``backfill``. The first poll takes the newest page only. A bare ``min_id`` cursor of an
  older release is read once the old way to find where the window starts.
* Conversation key: the root of the status's reply chain. A status that replies to nothing is
  its own root; for a reply the root is the first ancestor from
  ``GET /api/v1/statuses/:id/context`` (falling back to ``in_reply_to_id`` when that fails), so
  a follow-up to our own reply lands in the thread of the original mention.
* Reply: ``POST /api/v1/statuses`` addressed to the author exactly once (``address``: every
  leading mention of the author, ``@grace``, ``@grace@example.social`` in any case, is dropped
  and the account's ``@acct`` put first, unless the text names the author further on),
  ``in_reply_to_id``,
  the original's visibility (an unknown visibility becomes ``direct``: never more public) and an
  ``Idempotency-Key`` header, which Mastodon honours for an hour.
* Length: graphemes, with every URL counting ``characters_reserved_per_url`` (23) and a remote
  mention counting only its ``@user`` part; the limit is ``configuration.statuses
  .max_characters`` from ``GET /api/v2/instance``, else 500.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from adapters.base import SourceSettings
from adapters.graphemes import grapheme_count
from adapters.html_text import html_to_text
from adapters.http import HttpClient
from adapters.links import find_links
from adapters.plain_text import clean_text
from adapters.support import (
    MALFORMED,
    coerce_settings,
    explain_check_error,
    labelled,
    log_malformed,
    parse_time,
    text_field,
)
from adapters.window import (
    Clock,
    WalkCursor,
    Window,
    WindowSettings,
    newest,
    report_walk,
    walk_back,
)
from bot.domain import Author, Mention, ReplyResult, utcnow
from bot.errors import ReplyTooLong, SourceError
from bot.naming import source_label
from bot.ports import Batch, ReplyLimit
from bot.untrusted import safe_url

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")
Kind = Literal["mention", "quote"]
KINDS: tuple[Kind, ...] = ("mention", "quote")
DEFAULT_LIMIT = 500
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@[a-z0-9_]+)@[a-z0-9.-]+\.[a-z]{2,}", re.I)
_LEADING_MENTIONS = re.compile(r"\s*(?:@[^\s@]+(?:@[^\s@]+)?\s+)*")


def address(text: str, acct: str, local_domain: str) -> str:
    """``text`` mentioning the author once, as ``@<acct>``: the author's leading mentions in
    any form (``@user``, ``@user@domain``, any case) give way to one ``@acct`` in front; a text
    that names the author further on keeps that mention (normalised) and gets none in front."""
    user, _, domain = acct.partition("@")
    forms = rf"@{re.escape(user)}(?:@{re.escape(domain or local_domain)})?"
    author = re.compile(rf"(?<![\w@]){forms}(?![\w@-]|\.\w)", re.I)
    lead = _LEADING_MENTIONS.match(text)
    end = lead.end() if lead else 0
    head, rest = text[:end].split(), text[end:]
    others = [token for token in head if not author.fullmatch(token.rstrip(",:"))]
    canonical = f"@{acct}"
    if author.search(rest):
        return " ".join([*others, author.sub(canonical, rest)])
    return " ".join(part for part in (canonical, *others, rest) if part)


def label(name: str) -> str:
    """The source named in messages: ``mastodon-main``, or ``mastodon brand`` (said once)."""
    return source_label("mastodon", name)


class MastodonSettings(WindowSettings):
    """``type: mastodon``: an access token with read:accounts, read:notifications,
    read:statuses and write:statuses for the brand account."""

    base_url: str = "https://mastodon.social"
    access_token: str = Field(min_length=1)
    page_size: int = Field(default=40, ge=1, le=80)
    max_pages: int = Field(default=10, ge=1)
    types: tuple[Kind, ...] = Field(default=KINDS, min_length=1)
    """Notification types read: ``mention``, and ``quote`` (a post quoting ours, Mastodon
    4.5+; a server without quote posts never sends one)."""


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Length as Mastodon counts it: graphemes, every link as ``url_length``, a remote
    mention as its local part."""
    text = _REMOTE_MENTION.sub(r"\1", text)
    total, position = 0, 0
    for link in find_links(text):
        total += grapheme_count(text[position : link.start]) + url_length
        position = link.end
    return total + grapheme_count(text[position:])


class MastodonSource:
    """Mentions of one Mastodon account."""

    settings_model: ClassVar[type[SourceSettings]] = MastodonSettings
    network = "mastodon"

    def __init__(
        self, settings: MastodonSettings, *, http: HttpClient | None = None, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.base_url = settings.base_url.rstrip("/")
        self.label = label(settings.name)
        self.http = http or HttpClient(self.base_url, label=self.label)
        self.http.headers["Authorization"] = f"Bearer {settings.access_token}"
        self.max_characters = DEFAULT_LIMIT
        self.url_length = 23
        self.account: dict[str, Any] | None = None
        self.domain = _host(self.base_url)
        self._instance_read = False

    @classmethod
    def from_settings(cls, settings: Any) -> MastodonSource:
        return cls(coerce_settings(MastodonSettings, settings))

    def reply_limit(self) -> ReplyLimit:
        return ReplyLimit(self.max_characters, "characters")

    def measure(self, text: str) -> int:
        return mastodon_length(text, self.url_length)

    async def _me(self) -> dict[str, Any]:
        if self.account is None:
            account = await self.http.get_json("/api/v1/accounts/verify_credentials")
            if not isinstance(account, dict) or not account.get("id"):
                raise SourceError(f"{self.label}: verify_credentials returned no account")
            self.account = account
            self.domain = _host(str(account.get("url") or "")) or self.domain
        if not self._instance_read:
            self._instance_read = True
            await self._read_instance()
        return self.account

    async def _read_instance(self) -> None:
        try:
            instance = await self.http.get_json("/api/v2/instance")
            statuses = instance["configuration"]["statuses"]
            self.max_characters = int(statuses.get("max_characters", DEFAULT_LIMIT))
            self.url_length = int(statuses.get("characters_reserved_per_url", 23))
        except (SourceError, *MALFORMED) as exc:
            log.info("%s: no /api/v2/instance limits (%s); using 500", self.label, exc)

    async def fetch(self, cursor: str | None) -> Batch:
        me = await self._me()
        if not cursor:  # the first poll takes the newest page only
            page, _ = await self._page(None)
            raw, ids = newest(page, _created, _id, None, frozenset())
            first = WalkCursor(raw, ids).dump() if raw else None
            return Batch(await self._mentions(page, str(me["id"])), first)
        state = await self._state(cursor)
        window = Window.of(state.at, self.clock(), self.settings)
        walk = await walk_back(
            self._page, state.resume, window, _created, self.settings.max_pages, state
        )
        report_walk(log, self.label, walk, self.settings)
        late = state.late(walk, _created, _id)
        statuses = {str(i["status"]["id"]) for i in walk.items if _id(i) in late and _status(i)}
        return Batch(
            await self._mentions(walk.items, str(me["id"])),
            state.after(walk, _created, _id).dump(),
            walk.resume is not None,
            late=frozenset(statuses),
            unread=walk.unread,
        )

    async def _state(self, cursor: str) -> WalkCursor:
        """The stored cursor; an older release's bare ``min_id`` becomes a window at the time
        of the first notification after it (or now, when there is none yet)."""
        if cursor.startswith("{"):
            try:
                return WalkCursor.load(cursor)
            except SourceError as exc:
                raise labelled(exc, self.label) from exc
        params = [*self._types(), ("limit", self.settings.page_size), ("min_id", cursor)]
        after = await self.http.get_json("/api/v1/notifications", params=params)
        stamps = [t for t in map(_created, after if isinstance(after, list) else []) if t]
        start = min(stamps) - timedelta(milliseconds=1) if stamps else self.clock()
        return WalkCursor(start.isoformat())

    def _types(self) -> list[tuple[str, str | int]]:
        return [("types[]", kind) for kind in self.settings.types]

    async def _page(self, max_id: str | None) -> tuple[list[Any], str | None]:
        """One page newest first, below ``max_id``; the next one's ``max_id`` from ``Link``."""
        params = [*self._types(), ("limit", self.settings.page_size)]
        if max_id:
            params.append(("max_id", max_id))
        response = await self.http.request("GET", "/api/v1/notifications", params=params)
        page = response.json()
        if not isinstance(page, list):
            raise SourceError(f"{self.label}: notifications answer is not a list")
        following = _query_param(response.links.get("next", ""), "max_id")
        return page, following if page and len(page) >= self.settings.page_size else None

    async def _mentions(self, page: list[Any], my_id: str) -> list[Mention]:
        mentions = []
        for item in sorted(page, key=lambda i: _id_order(_id(i))):
            try:
                mention = await self._mention(item, my_id)
            except MALFORMED as exc:
                log_malformed(log, self.label, item, exc)
                continue
            if mention is not None:
                mentions.append(mention)
        return mentions

    async def _mention(self, item: Any, my_id: str) -> Mention | None:
        if item.get("type") not in self.settings.types or not item.get("status"):
            return None
        status = item["status"]
        account = status.get("account") or item["account"]
        if str(account["id"]) == my_id:
            return None
        status_id = text_field(status, "id")
        acct = text_field(account, "acct")
        handle = acct if "@" in acct else f"{acct}@{self.domain}"
        text = html_to_text(status.get("content") or "")
        warning = clean_text(status.get("spoiler_text") or "")
        if warning:
            text = f"CW: {warning}\n\n{text}"
        visibility = status.get("visibility")
        return Mention(
            source=self.name,
            network=self.network,
            external_id=status_id,
            conversation_key=await self._root(status),
            author=Author(
                id=text_field(account, "id"),
                handle=f"@{clean_text(handle)}",
                display_name=clean_text(account.get("display_name") or ""),
                profile_url=_safe_url(account.get("url")),
            ),
            text=text,
            permalink=_safe_url(status.get("url") or status.get("uri")),
            created_at=parse_time(status["created_at"]),
            reply_data={
                "status_id": status_id,
                "acct": acct,
                "visibility": visibility if visibility in VISIBILITIES else "direct",
            },
        )

    async def _root(self, status: dict[str, Any]) -> str:
        parent = status.get("in_reply_to_id")
        if not parent:
            return str(status["id"])
        try:
            context = await self.http.get_json(f"/api/v1/statuses/{status['id']}/context")
            ancestors = context["ancestors"]
            if ancestors and ancestors[0].get("id"):
                return str(ancestors[0]["id"])
        except (SourceError, *MALFORMED) as exc:
            log.info("%s: no context for %s (%s)", self.label, status["id"], exc)
        return str(parent)

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        data = mention.reply_data
        acct = str(data.get("acct") or mention.author.handle.lstrip("@"))
        text = address(text, acct, self.domain)
        length = self.measure(text)
        if length > self.max_characters:
            raise ReplyTooLong(length, self.max_characters, "Mastodon")
        visibility = data.get("visibility")
        body = {
            "status": text,
            "in_reply_to_id": str(data.get("status_id") or mention.external_id),
            "visibility": visibility if visibility in VISIBILITIES else "direct",
        }
        posted = await self.http.post_json(
            "/api/v1/statuses",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            retries=2,
        )
        if not isinstance(posted, dict) or not posted.get("id"):
            raise SourceError(f"{self.label}: the status answer had no id")
        return ReplyResult(external_id=str(posted["id"]), url=_safe_url(posted.get("url")))

    async def check(self) -> str:
        try:
            self.account = None
            me = await self._me()
            await self.http.get_json("/api/v1/notifications", params={"limit": 1})
        except SourceError as exc:
            raise explain_check_error(
                exc,
                label=self.label,
                base_url=self.base_url,
                auth_hint="Create a new access token (Preferences > Development) and set "
                "access_token.",
                scope_hint="the access token lacks a scope; it needs read:accounts, "
                "read:notifications, read:statuses and write:statuses.",
            ) from exc
        return (
            f"Mastodon @{me.get('acct')}@{self.domain} "
            f"({clean_text(str(me.get('display_name') or ''))}), id {me['id']}; "
            f"replies up to {self.max_characters} characters"
        )

    async def close(self) -> None:
        await self.http.close()


def _id_order(value: Any) -> tuple[int, str]:
    text = str(value or "")
    return (len(text), text)


def _id(item: Any) -> str:
    return str(item.get("id", "")) if isinstance(item, dict) else ""


def _status(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("status"), dict)


def _created(item: Any) -> datetime | None:
    """When the server made the notification: its ids and its order follow this time."""
    try:
        return parse_time(item["created_at"])
    except MALFORMED:
        return None


def _query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _safe_url(value: Any) -> str:
    return safe_url(value) if isinstance(value, str) else ""
