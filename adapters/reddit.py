"""Reddit: username mentions and comment replies from the inbox, replies as comments.

Auth is a script app's password grant (``adapters.reddit_auth``): the bearer token is renewed
a minute before it expires and once more when the API answers 401. Every request carries the
User-Agent Reddit asks for, ``<platform>:<app id>:<version> (by /u/<username>)``. The JSON
shapes (inbox comments, Listings, errors in answer bodies) are read in ``adapters.reddit_wire``.

Reading. ``GET /message/inbox`` lists comment replies, username mentions and messages, read or
not, newest first by ``created_utc``, paged with ``after=<fullname>``. Reddit adds an item to the
inbox when it processes the notification (late under load, or when a moderator approves a
comment the spam filter held), sorted by the comment's own time: it can land behind items
already read. So each poll walks back to ``overlap`` behind the newest ``created_utc`` read
(``adapters.window``) and the store de-duplicates. No cursor depends on one item still existing:
``before=<fullname>`` is not used (for a deleted item Reddit answers an empty list, which looks
like "nothing new"), and a long stop read over several polls keeps the last few fullnames of its
page, going on after the oldest that still exists, else from the newest item down to the window.

Mark-read. Mentions are marked read (``POST /api/read_message``) once they are stored: the
cursor carries their fullnames and the next ``fetch`` marks them, so the brand's inbox on
reddit.com shows what is still to do. Private messages are left unread.

Replies go through ``POST /api/comment``. Reddit has no idempotency key, so before posting we
look through our own recent comments (``GET /user/<name>/comments``) for one under the same
parent with the same text and return it instead of posting twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr

from adapters.base import SourceSettings
from adapters.http import HttpClient, HttpStatusError
from adapters.rate_limits import RateLimitState
from adapters.reddit_auth import RedditAuth
from adapters.reddit_wire import api_error, inbox_mention, is_path, listing_children, normal_text
from adapters.support import (
    MALFORMED,
    coerce_settings,
    explain_check_error,
    log_malformed,
)
from adapters.window import (
    Clock,
    Walk,
    WalkCursor,
    Window,
    WindowSettings,
    newest,
    report_walk,
    walk_back,
)
from bot.domain import Mention, ReplyResult, utcnow
from bot.errors import SourceError
from bot.naming import source_label
from bot.ports import Batch, ReplyLimit

log = logging.getLogger(__name__)

APP = "social-switchboard"
VERSION = "0.1.0"
REPLY_LIMIT = 10_000
READ_CHUNK = 25
PLACES = 3
"""Fullnames a walk keeps of its last page, in case the last one is deleted."""
KINDS = ("username_mention", "comment_reply", "post_reply")
NEEDED_SCOPES = frozenset({"identity", "privatemessages", "submit", "history"})


class RedditSettings(WindowSettings):
    """``type: reddit``: a script app acting as one Reddit account."""

    base_url: str = "https://oauth.reddit.com"
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    web_url: str = "https://www.reddit.com"
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    username: str = Field(min_length=1)
    password: SecretStr
    user_agent: str = ""
    """Defaults to ``python:social-switchboard:<version> (by /u/<username>)``."""
    include_replies: bool = True
    """Also bring in replies to our comments and posts, not only username mentions."""
    page_size: int = Field(default=100, ge=1, le=100)
    """Inbox items per request, and mentions per batch."""
    max_pages: int = Field(default=10, ge=1, le=50)
    """Inbox pages read per poll (Reddit lists about 1,000 items at most); a long stop is read
    back over several polls."""


class _RedditHttp(HttpClient):
    """Reddit's ``X-Ratelimit-*`` window covers the whole account, not one endpoint."""

    def rate_limit(self, method: str, path: str) -> RateLimitState:
        return self.rate_limits.setdefault("*", RateLimitState())


@dataclass
class _Cursor:
    walk: WalkCursor | None = None
    ack: list[str] = field(default_factory=list)
    legacy: bool = False
    """Stored by an older release (the unread-queue cursor)."""

    @classmethod
    def load(cls, raw: str | None, label: str) -> _Cursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            ack = [str(x) for x in data["ack"]]
            if data.get("v") == 1:
                return cls(None, ack, legacy=True)
            walk = data["walk"]
            return cls(WalkCursor.load(json.dumps(walk)) if walk else None, ack)
        except (ValueError, KeyError, TypeError, SourceError) as exc:
            raise SourceError(f"{label}: stored cursor is not one of ours: {raw[:80]!r}") from exc

    def dump(self) -> str:
        walk = json.loads(self.walk.dump()) if self.walk else None
        return json.dumps({"v": 2, "walk": walk, "ack": self.ack}, separators=(",", ":"))


class RedditSource:
    """Mentions of one Reddit account; replies as comments."""

    settings_model: ClassVar[type[SourceSettings]] = RedditSettings
    network = "reddit"

    def __init__(self, settings: RedditSettings, *, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.web_url = settings.web_url.rstrip("/")
        ua = {
            "User-Agent": settings.user_agent
            or f"python:{APP}:{VERSION} (by /u/{settings.username})"
        }
        self.label = source_label(self.network, settings.name)
        self._api = _RedditHttp(settings.base_url, label=self.label, headers=ua)
        self.auth = RedditAuth(
            label=self.label,
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            username=settings.username,
            password=settings.password,
            headers=ua,
        )
        self._reported: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Any) -> RedditSource:
        return cls(coerce_settings(RedditSettings, settings))

    def reply_limit(self) -> ReplyLimit | None:
        return ReplyLimit(REPLY_LIMIT)

    def measure(self, text: str) -> int:
        return len(text)

    async def close(self) -> None:
        await self._api.close()
        await self.auth.close()

    # -- calls -------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call with a valid bearer token (renewed once on a 401)."""
        for attempt in (1, 2):
            token = await self.auth.bearer(renew=attempt == 2)
            auth = {"Authorization": f"bearer {token}"}
            try:
                response = await self._api.request(method, path, headers=auth, **kwargs)
            except HttpStatusError as exc:
                if exc.status == 401 and attempt == 1:
                    continue
                if exc.status not in (401, 403):
                    raise
                why = "rejected a fresh token" if exc.status == 401 else "refused access"
                raise SourceError(
                    f"{self.label}: the API {why} on {path} (HTTP {exc.status}); the app "
                    f"needs the scopes {', '.join(sorted(NEEDED_SCOPES))}"
                ) from exc
            return response.json()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- fetch --------------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> Batch:
        """Mark the previous batch read, then walk the inbox back to the window."""
        state = _Cursor.load(cursor, self.label)
        if state.ack:
            await self._mark_read(state.ack)
        if state.walk is None and not state.legacy:  # the first poll: the newest page only
            page, _ = await self._inbox(None)
            walk = Walk(page, None, 0)
            raw, ids = newest(page, _created, _fullname, None, frozenset())
            after = WalkCursor(raw, ids) if raw else None
            late: frozenset[str] = frozenset()
        else:
            start = state.walk or WalkCursor((self.clock() - self.settings.backfill).isoformat())
            window = Window.of(start.at, self.clock(), self.settings)
            walk = await walk_back(
                self._inbox, start.resume, window, _created, self.settings.max_pages, start
            )
            report_walk(log, self.label, walk, self.settings)
            after = start.after(walk, _created, _fullname)
            late = start.late(walk, _created, _fullname)
        mentions: dict[str, Mention] = {}
        ack: list[str] = []
        for item in walk.items:
            fullname, mention = self._convert(item)
            if fullname is not None and item["data"].get("new") and fullname not in ack:
                ack.append(fullname)
            if mention is not None:
                mentions.setdefault(mention.external_id, mention)
        ordered = sorted(mentions.values(), key=lambda m: m.created_at)
        return Batch(
            ordered,
            _Cursor(after, ack).dump(),
            walk.resume is not None,
            late=late,
            unread=walk.unread,
        )

    async def _mark_read(self, fullnames: list[str]) -> None:
        for start in range(0, len(fullnames), READ_CHUNK):
            chunk = ",".join(fullnames[start : start + READ_CHUNK])
            await self._call("POST", "/api/read_message", data={"id": chunk}, retries=2)

    async def _inbox(self, places: str | None) -> tuple[list[Any], str | None]:
        """One inbox page after the first of ``places`` (fullnames, oldest first) that still
        exists; the newest page when none is given or none exists any more."""
        for place in places.split(",") if places else []:
            children, after = await self._listing(place)
            if children:
                return children, _places(children) if after else None
        if places:
            log.info(
                "%s: the inbox item the walk stood at was deleted; reading again from the "
                "newest down to the window",
                self.label,
            )
        children, after = await self._listing(None)
        return children, _places(children) if after else None

    async def _listing(self, after: str | None) -> tuple[list[Any], str]:
        params: dict[str, str | int] = {"limit": self.settings.page_size, "raw_json": 1}
        params |= {"after": after} if after else {}
        listing = await self._call("GET", "/message/inbox", params=params, retries=2)
        return listing_children(listing, "/message/inbox", self.label)

    def _convert(self, item: Any) -> tuple[str | None, Mention | None]:
        """(fullname to mark read, or None to leave the item unread; the mention, or None)."""
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(data, dict) or item.get("kind") != "t1":
            return None, None
        kind = data.get("type") or str(data.get("subject", "")).replace(" ", "_")
        if kind not in (KINDS if self.settings.include_replies else KINDS[:1]):
            return None, None
        fullname = data.get("name")
        if str(data.get("author", "")).lower() == self.settings.username.lower():
            return (fullname if isinstance(fullname, str) else None), None
        try:
            return fullname, inbox_mention(data, self.name, self.web_url)
        except (*MALFORMED, OverflowError) as exc:
            if str(fullname) not in self._reported:
                self._reported.add(str(fullname))
                log_malformed(log, self.label, item, exc)
            return None, None

    # -- reply --------------------------------------------------------------------------------

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        """Comment under the mention, unless our same comment is already there."""
        thing_id = mention.reply_data.get("thing_id")
        if not isinstance(thing_id, str) or not thing_id:
            raise SourceError(f"{self.label}: mention {mention.external_id} has no thing_id")
        earlier = await self._find_reply(thing_id, text)
        if earlier is not None:
            log.info("%s: reply %s already posted", self.label, idempotency_key)
            return earlier
        answer = await self._call(
            "POST",
            "/api/comment",
            data={"api_type": "json", "thing_id": thing_id, "text": text, "raw_json": "1"},
        )
        body: Any = answer.get("json") if isinstance(answer, dict) else None
        if isinstance(body, dict) and body.get("errors"):
            raise api_error(self.label, body["errors"], body.get("ratelimit"))
        try:
            thing = body["data"]["things"][0]["data"]
            return ReplyResult(external_id=str(thing["name"]), url=self._link(thing))
        except (KeyError, IndexError, TypeError) as exc:
            raise SourceError(
                f"{self.label}: unexpected /api/comment answer: {answer!r:.200}"
            ) from exc

    async def _find_reply(self, thing_id: str, text: str) -> ReplyResult | None:
        user = quote(self.settings.username, safe="")
        listing = await self._call(
            "GET",
            f"/user/{user}/comments",
            params={"limit": 100, "sort": "new", "raw_json": 1},
            retries=2,
        )
        children, _ = listing_children(listing, f"/user/{user}/comments", self.label)
        wanted = normal_text(text)
        for child in children:
            data = child.get("data") if isinstance(child, dict) else None
            if (
                isinstance(data, dict)
                and data.get("parent_id") == thing_id
                and isinstance(data.get("body"), str)
                and normal_text(data["body"]) == wanted
                and isinstance(data.get("name"), str)
            ):
                return ReplyResult(external_id=data["name"], url=self._link(data))
        return None

    def _link(self, thing: dict[str, Any]) -> str:
        path = thing.get("permalink")
        return f"{self.web_url}{path}" if isinstance(path, str) and is_path(path) else ""

    # -- check --------------------------------------------------------------------------------

    async def check(self) -> str:
        """Log in, read ``/api/v1/me`` and verify the account and scopes."""
        try:
            me = await self._call("GET", "/api/v1/me")
        except SourceError as exc:
            raise explain_check_error(
                exc,
                label=self.label,
                base_url=self.settings.base_url,
                auth_hint="Check client_id, client_secret, username and password.",
                scope_hint=f"the app needs the scopes {', '.join(sorted(NEEDED_SCOPES))}.",
            ) from exc
        name = me.get("name") if isinstance(me, dict) else None
        if not isinstance(name, str) or name.lower() != self.settings.username.lower():
            raise SourceError(
                f"{self.label}: {self.settings.base_url}/api/v1/me answered {me!r:.80}, "
                f"not u/{self.settings.username}; is base_url the OAuth API (oauth.reddit.com)?"
            )
        scopes = self.auth.scopes
        missing = set() if "*" in scopes else NEEDED_SCOPES - scopes
        if missing:
            raise SourceError(
                f"{self.label}: the token lacks the scopes {', '.join(sorted(missing))}"
            )
        return f"u/{name} on {self.settings.base_url} (scopes: {' '.join(sorted(scopes))})"


def _fullname(item: Any) -> str:
    data = item.get("data") if isinstance(item, dict) else None
    return str(data.get("name", "")) if isinstance(data, dict) else ""


def _created(item: Any) -> datetime | None:
    """An inbox item's time: the list is sorted by it."""
    try:
        return datetime.fromtimestamp(float(item["data"]["created_utc"]), UTC)
    except (*MALFORMED, OverflowError, OSError):
        return None


def _places(children: list[Any]) -> str:
    """The last ``PLACES`` fullnames of a page, oldest first: where the walk goes on."""
    return ",".join(n for n in map(_fullname, reversed(children[-PLACES:])) if n)
