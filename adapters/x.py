"""X (API v2): mentions of the account, replies as posts.

* Auth: ``bearer_token`` reads (app-only or user context); posting and ``/2/users/me`` need an
  OAuth 2.0 user-context access token with tweet.read, tweet.write and users.read
  (``user_token``; the bearer token is used when it is one). ``user_id`` saves a lookup. With
  ``refresh_token`` (the authorization had ``offline.access``) and ``client_id`` the user token
  is kept valid by ``adapters.x_auth`` (refreshed before it expires and once after a 401, the
  call then retried once), its rotating pair shared with every replica through the store
  (``attach``, the ``bot.ports.NeedsKeyValue`` hook) and shown in ``/readyz`` (``health``).
* Fetch: ``GET /2/users/:id/mentions`` with ``since_id`` (the cursor: the highest post id seen),
  ``expansions=author_id`` and the fields for grouping. Pages run newest to oldest down to
  ``since_id``; all of them (up to ``max_pages``) are read before answering, oldest first. The
  first poll takes the newest page only. t.co links are shown as their expanded URL.
* Conversation key: ``conversation_id`` (the id of the post that started the conversation).
* Reply: ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``. X has no idempotency key, so
  before every attempt our recent posts (``GET /2/users/:id/tweets``) are searched for one that
  replies to the same post with the same text; if found it is returned instead of posting.
  A 403 duplicate-content answer is reported as such.
* Length: 280 weighted characters (twitter-text v3: URLs 23, CJK and emoji 2).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from adapters.base import SourceSettings
from adapters.http import HttpClient, HttpStatusError, NetworkError
from adapters.links import find_links
from adapters.plain_text import clean_text
from adapters.support import (
    MALFORMED,
    coerce_settings,
    explain_check_error,
    log_malformed,
    parse_time,
    text_field,
)
from adapters.window import WalkCursor, Window, WindowSettings, newest, report_walk, walk_back
from adapters.x_auth import XTokenRefused, XUserAuth
from adapters.x_length import x_weighted_length
from adapters.x_quotes import recent_quotes
from bot.domain import Author, Mention, ReplyResult
from bot.errors import ReplyTooLong, SourceError
from bot.naming import source_label
from bot.ports import Batch, PartHealth, ReplyLimit
from bot.settings.sla import Duration
from bot.storage import KeyValue
from bot.untrusted import safe_url

log = logging.getLogger(__name__)

LIMIT = 280
WEB = "https://x.com"
SNOWFLAKE_EPOCH_MS = 1288834974657
"""X ids count milliseconds from here (2010-11-04), shifted left 22 bits."""
TWEET_FIELDS = "created_at,conversation_id,author_id,in_reply_to_user_id,referenced_tweets,entities"
DUPLICATE = "X refused this reply as a duplicate of an earlier post"
NOT_TRIED = (
    "the refresh token was not tried: it rotates, and this check has no store to keep the "
    "new one in"
)
T = TypeVar("T")


class XSettings(WindowSettings):
    """``type: x``."""

    base_url: str = "https://api.x.com"
    bearer_token: str = Field(min_length=1)
    user_token: str = ""
    user_id: str = Field(default="", pattern=r"^[0-9]*$")
    page_size: int = Field(default=100, ge=5, le=100)
    max_pages: int = Field(default=5, ge=1)
    quotes: bool = True
    """Read quote posts of our own posts as mentions (also those that do not name us)."""
    quote_posts: int = Field(default=3, ge=1, le=20)
    """How many of our newest posts are checked for quotes."""
    quotes_every: Duration = timedelta(minutes=5)
    """How often they are checked (each check costs 1 + ``quote_posts`` requests)."""
    refresh_token: SecretStr = SecretStr("")
    """From an authorization with ``offline.access``; only the first of a rotating chain."""
    client_id: str = Field(default="", validate_default=True)
    """The app's OAuth 2.0 Client ID (needed with ``refresh_token``)."""
    client_secret: SecretStr = SecretStr("")
    """Only for a confidential client (Web App, Automated App or Bot)."""

    @field_validator("client_id")
    @classmethod
    def _needed_with_a_refresh_token(cls, value: str, info: ValidationInfo) -> str:
        refresh = info.data.get("refresh_token")
        if isinstance(refresh, SecretStr) and refresh.get_secret_value() and not value:
            raise ValueError(
                "required with refresh_token: the OAuth 2.0 Client ID from the app's Keys and "
                "tokens page"
            )
        return value


class XSource:
    """Mentions of one X account."""

    settings_model: ClassVar[type[SourceSettings]] = XSettings
    network = "x"

    def __init__(
        self,
        settings: XSettings,
        *,
        http: HttpClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.clock = clock
        self._quotes_at: float | None = None
        """When this process last read quotes of our posts."""
        self.base_url = settings.base_url.rstrip("/")
        self.label = source_label(self.network, settings.name)
        self.http = http or HttpClient(self.base_url, label=self.label)
        self.user_id = settings.user_id
        self.username = ""
        self._read = {"Authorization": f"Bearer {settings.bearer_token}"}
        self._write = {"Authorization": f"Bearer {settings.user_token or settings.bearer_token}"}
        self.auth: XUserAuth | None = None
        if settings.refresh_token.get_secret_value():
            self.auth = XUserAuth(
                label=self.label,
                source=self.name,
                http=self.http,
                client_id=settings.client_id,
                refresh_token=settings.refresh_token,
                client_secret=settings.client_secret,
                clock=clock,
                sleep=sleep,
            )

    @classmethod
    def from_settings(cls, settings: Any) -> XSource:
        return cls(coerce_settings(XSettings, settings))

    def attach(self, kv: KeyValue) -> None:
        """Keep the rotating user token pair in the store, where every replica finds it."""
        if self.auth is not None:
            self.auth.attach(kv)

    async def health(self) -> Mapping[str, PartHealth]:
        """The user token, for ``/readyz`` (nothing without a refresh token)."""
        if self.auth is None:
            return {}
        return {f"{self.label} user token": await self.auth.health()}

    async def _as_user(self, send: Callable[[dict[str, str]], Awaitable[T]]) -> T:
        """``send`` with the user token (renewed once after a 401 when it can be)."""
        return await (self.auth.call(send) if self.auth else send(self._write))

    def reply_limit(self) -> ReplyLimit:
        return ReplyLimit(LIMIT, "weighted characters")

    def measure(self, text: str) -> int:
        return x_weighted_length(text)

    async def _whoami(self) -> dict[str, Any]:
        answer = await self._as_user(
            lambda headers: self.http.get_json(
                "/2/users/me", params={"user.fields": "username,name"}, headers=headers
            )
        )
        user = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(user, dict) or not user.get("id"):
            raise SourceError(f"{self.label}: /2/users/me returned no user")
        self.user_id, self.username = str(user["id"]), str(user.get("username") or "")
        return user

    async def _me(self) -> str:
        if not self.user_id:
            await self._whoami()
        return self.user_id

    async def fetch(self, cursor: str | None) -> Batch:
        """Mentions newest first, read down to ``overlap`` behind the newest already read (X
        lists by id, and a post can become visible after a newer one was read), after a long
        stop page by page over several polls, never past the backfill horizon."""
        if self.auth is not None:
            await self.auth.keep_fresh()
        me = await self._me()
        users: dict[str, dict[str, Any]] = {}

        async def page(token: str | None) -> tuple[list[Any], str | None]:
            return await self._page(me, token, users)

        if not cursor:  # the first poll takes the newest page only
            tweets, _ = await page(None)
            raw, ids = newest(tweets, _created, _id, None, frozenset())
            first = WalkCursor(raw, ids).dump() if raw else None
            quotes = await self._quotes(me, users)
            return Batch(self._mentions(tweets + quotes, users, me), first)
        state = self._state(cursor)
        now = datetime.fromtimestamp(self.clock(), UTC)
        window = Window.of(state.at, now, self.settings)
        walk = await walk_back(page, state.resume, window, _created, self.settings.max_pages, state)
        report_walk(log, self.label, walk, self.settings)
        quotes = await self._quotes(me, users)
        return Batch(
            self._mentions(walk.items + quotes, users, me),
            state.after(walk, _created, _id).dump(),
            walk.resume is not None,
            late=state.late(walk, _created, _id),
            unread=walk.unread,
        )

    async def _quotes(self, me: str, users: dict[str, dict[str, Any]]) -> list[Any]:
        """Quote posts of our newest posts, when a check is due (``quotes_every``)."""
        now = self.clock()
        due = (
            self._quotes_at is None
            or now - self._quotes_at >= self.settings.quotes_every.total_seconds()
        )
        if not self.settings.quotes or not due:
            return []
        found = await recent_quotes(
            self.http, self._read, me, self.settings.quote_posts, TWEET_FIELDS, users, self.label
        )
        self._quotes_at = now
        return found

    def _state(self, cursor: str) -> WalkCursor:
        """The stored cursor; an older release's bare ``since_id`` becomes a window at the time
        that id was made (X ids are snowflakes: milliseconds since X's epoch, shifted 22 bits)."""
        if cursor.startswith("{"):
            try:
                return WalkCursor.load(cursor)
            except SourceError as exc:
                raise SourceError(f"{self.label}: {exc}") from exc
        if not cursor.isdigit():
            raise SourceError(f"{self.label}: stored cursor {cursor[:40]!r} is not ours")
        made = datetime.fromtimestamp(((int(cursor) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)
        return WalkCursor(made.isoformat(), frozenset({cursor}))

    async def _page(
        self, me: str, token: str | None, users: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], str | None]:
        """One page of mentions, newest first, at ``token``; its authors go into ``users``."""
        params: dict[str, str | int] = {
            "max_results": self.settings.page_size,
            "expansions": "author_id",
            "tweet.fields": TWEET_FIELDS,
            "user.fields": "username,name",
        }
        if token:
            params["pagination_token"] = token
        answer = await self.http.get_json(
            f"/2/users/{me}/mentions", params=params, headers=self._read
        )
        if not isinstance(answer, dict):
            raise SourceError(f"{self.label}: mentions answer is not an object")
        data = answer.get("data") or []
        tweets = [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []
        for user in (answer.get("includes") or {}).get("users") or []:
            if isinstance(user, dict) and user.get("id"):
                users[str(user["id"])] = user
        following = (answer.get("meta") or {}).get("next_token")
        return tweets, str(following) if following and tweets else None

    def _mentions(
        self, tweets: list[Any], users: dict[str, dict[str, Any]], me: str
    ) -> list[Mention]:
        mentions: dict[str, Mention] = {}
        for tweet in sorted(tweets, key=_order):
            try:
                mention = self._mention(tweet, users, me)
            except MALFORMED as exc:
                log_malformed(log, self.label, tweet, exc)
                continue
            if mention is not None:
                mentions.setdefault(mention.external_id, mention)
        return list(mentions.values())

    def _mention(self, tweet: Any, users: dict[str, dict[str, Any]], me: str) -> Mention | None:
        tweet_id = text_field(tweet, "id")
        author_id = text_field(tweet, "author_id")
        refs = tweet.get("referenced_tweets") or []
        if author_id == me or any(r.get("type") == "retweeted" for r in refs):
            return None
        user = users.get(author_id, {})
        username = clean_text(str(user.get("username") or ""))
        profile = f"{WEB}/{username}" if username else f"{WEB}/i/user/{author_id}"
        return Mention(
            source=self.name,
            network=self.network,
            external_id=tweet_id,
            conversation_key=str(tweet.get("conversation_id") or tweet_id),
            author=Author(
                id=author_id,
                handle=f"@{username}" if username else author_id,
                display_name=clean_text(str(user.get("name") or "")),
                profile_url=profile,
            ),
            text=_tweet_text(tweet),
            permalink=f"{WEB}/{username or 'i/web'}/status/{tweet_id}",
            created_at=parse_time(tweet["created_at"]),
            reply_data={"tweet_id": tweet_id, "username": username},
        )

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        length = x_weighted_length(text)
        if length > LIMIT:
            raise ReplyTooLong(length, LIMIT, "X")
        target = str(mention.reply_data.get("tweet_id") or mention.external_id)
        body = {"text": text, "reply": {"in_reply_to_tweet_id": target}}
        for attempt in range(3):
            earlier = await self._find_reply(target, text)
            if earlier is not None:
                log.info(
                    "%s: reply %s already posted as %s",
                    self.label,
                    idempotency_key,
                    earlier.external_id,
                )
                return earlier
            try:
                posted = await self._as_user(
                    lambda headers: self.http.post_json("/2/tweets", json=body, headers=headers)
                )
                return self._result(str(posted["data"]["id"]))
            except NetworkError as exc:
                error: SourceError = exc
            except HttpStatusError as exc:
                if exc.status == 403 and "duplicate" in exc.body.lower():
                    earlier = await self._find_reply(target, text)
                    if earlier is not None:
                        return earlier
                    raise SourceError(f"{DUPLICATE}; change the wording.") from exc
                if exc.status < 500 or exc.retry_after is not None:
                    raise
                error = exc
            if attempt == 2:
                raise error
            log.warning("%s: posting failed (%s); checking, then retrying", self.label, error)
            await asyncio.sleep(self.http.backoff * 2**attempt)
        raise AssertionError("unreachable")

    async def _find_reply(self, target: str, text: str) -> ReplyResult | None:
        me = await self._me()
        params: dict[str, str | int] = {
            "max_results": 20,
            "tweet.fields": "referenced_tweets,conversation_id,created_at",
        }
        page = await self.http.get_json(f"/2/users/{me}/tweets", params=params, headers=self._read)
        wanted = _comparable(text)
        for tweet in (page.get("data") if isinstance(page, dict) else None) or []:
            try:
                refs = tweet.get("referenced_tweets") or []
                replies_to = any(r["type"] == "replied_to" and str(r["id"]) == target for r in refs)
                if replies_to and _comparable(tweet["text"]) == wanted:
                    return self._result(str(tweet["id"]))
            except MALFORMED:
                continue
        return None

    def _result(self, tweet_id: str) -> ReplyResult:
        who = self.username or "i/web"
        return ReplyResult(external_id=tweet_id, url=f"{WEB}/{who}/status/{tweet_id}")

    async def check(self) -> str:
        """The account and both tokens; with a refresh token, the user token is taken from
        the store or refreshed (the rotated pair stored), never refreshed without a store."""
        if self.auth is not None and not self.auth.shared:
            return await self._check_reading()
        try:
            user = await self._whoami()
            await self.http.get_json(
                f"/2/users/{self.user_id}/mentions", params={"max_results": 5}, headers=self._read
            )
        except XTokenRefused:
            raise
        except SourceError as exc:
            raise explain_check_error(
                exc,
                label=self.label,
                base_url=self.base_url,
                auth_hint="Set bearer_token (and user_token, an OAuth 2.0 user-context access "
                "token, or refresh_token) to valid tokens for the brand account.",
                scope_hint="posting and /2/users/me need an OAuth 2.0 user-context token "
                "(user_token) with tweet.read, tweet.write and users.read, from an app attached "
                f"to a Project. The answer: {_detail(exc)}",
            ) from exc
        described = (
            f"X @{user.get('username')} ({clean_text(str(user.get('name') or ''))}), "
            f"id {user['id']}; replies up to {LIMIT} weighted characters"
        )
        if self.auth is not None:
            state = (await self.auth.health()).state.removeprefix("ok: ")
            described += f"; the refresh token keeps the user token valid ({state})"
        return described

    async def _check_reading(self) -> str:
        """A check that must not use the refresh token: the bearer token reads mentions."""
        if not self.user_id:
            return f"X: {NOT_TRIED}; set user_id to have the bearer token checked too"
        try:
            await self.http.get_json(
                f"/2/users/{self.user_id}/mentions", params={"max_results": 5}, headers=self._read
            )
        except SourceError as exc:
            raise explain_check_error(
                exc,
                label=self.label,
                base_url=self.base_url,
                auth_hint="Set bearer_token to the app's valid Bearer Token.",
                scope_hint=f"the bearer token cannot read mentions. The answer: {_detail(exc)}",
            ) from exc
        return f"X id {self.user_id}: the bearer token reads mentions; {NOT_TRIED}"

    async def close(self) -> None:
        await self.http.close()


def _created(tweet: Any) -> datetime | None:
    try:
        return parse_time(tweet["created_at"])
    except MALFORMED:
        return None


def _id(tweet: Any) -> str:
    return str(tweet.get("id", "")) if isinstance(tweet, dict) else ""


def _order(tweet: Any) -> int:
    try:
        return int(tweet["id"])
    except MALFORMED:
        return 0


def _tweet_text(tweet: dict[str, Any]) -> str:
    text = tweet["text"]
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    urls = ((tweet.get("entities") or {}).get("urls")) or []
    for entity in urls:
        if not isinstance(entity, dict):
            continue
        short, expanded = entity.get("url"), entity.get("expanded_url") or entity.get("unwound_url")
        if isinstance(short, str) and isinstance(expanded, str) and safe_url(expanded):
            text = text.replace(short, expanded)
    return clean_text(html.unescape(text))


def _comparable(text: str) -> str:
    """Text as X would echo it back: entities unescaped, leading reply @mentions and link
    targets (t.co wraps them) ignored, whitespace collapsed."""
    text = html.unescape(text)
    text = re.sub(r"^(?:@\w+\s+)+", "", text.strip())
    for link in reversed(find_links(text)):
        text = text[: link.start] + "<link>" + text[link.end :]
    return " ".join(text.split())


def _detail(error: SourceError) -> str:
    if isinstance(error, HttpStatusError):
        return error.error_field("detail", "title", "reason") or str(error)
    return str(error)
