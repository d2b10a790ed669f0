"""Bluesky (atproto): mentions, replies and quotes from notifications, replies as posts.

* Session: ``com.atproto.server.createSession`` (handle + app password) once; then
  ``com.atproto.server.refreshSession`` with the refresh JWT, ahead of the access JWT's ``exp``
  (read without verifying) or when a call answers ``ExpiredToken``; logging in again only when
  the refresh is refused (login is tightly rate-limited). Tokens are never logged.
* Fetch: ``app.bsky.notification.listNotifications`` pages backwards by sort time, which the
  AppView reports as ``indexedAt``: min(indexed, created). A post whose author's clock is behind
  sorts behind items already read, so each poll re-reads ``overlap`` (15 min) behind the newest
  sort time seen and the store de-duplicates (``adapters/window.py``). After a long stop the walk
  goes on over several polls (``max_pages`` each, its place kept in the cursor) down to the
  window, never past ``backfill`` (7 days; older items are logged and counted as unread).
  Reasons read: ``reasons`` (mention, reply, quote). The first poll takes the newest page only.
* Conversation key: the thread root uri (``record.reply.root``, else the post itself).
* Reply: ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with ``reply.root`` and
  ``reply.parent`` strong refs and facets (mentions resolved to DIDs, links) at UTF-8 byte
  offsets. The record key is a TID derived from the idempotency key; before posting, and after
  any failed attempt, ``com.atproto.repo.getRecord`` tells whether that post already exists.
* Length: 300 graphemes (and at most 3000 bytes of UTF-8, the lexicon's maxLength).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from adapters.atproto import (
    facet,
    post_text,
    record_key,
    sort_time,
    token_expiry,
)
from adapters.base import SourceSettings
from adapters.graphemes import grapheme_count
from adapters.http import HttpClient, HttpStatusError, NetworkError, Params
from adapters.links import find_links, utf8_span
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

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
LIMIT = 300
MAX_BYTES = 3000
REFRESH_AHEAD = timedelta(minutes=5)
"""The session is refreshed this long before its access JWT expires."""
Reason = Literal["mention", "reply", "quote"]
REASONS: tuple[Reason, ...] = ("mention", "reply", "quote")
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9])")
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$")


class BlueskySettings(WindowSettings):
    """``type: bluesky``: the account handle and an app password (Settings > App passwords)."""

    base_url: str = "https://bsky.social"
    handle: str = Field(min_length=1)
    app_password: str = Field(min_length=1)
    page_size: int = Field(default=50, ge=1, le=100)
    max_pages: int = Field(default=10, ge=1)
    langs: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = Field(default=REASONS, min_length=1)
    """The notification reasons read: a mention, a reply to our post, a quote of our post."""


class BlueskySource:
    """Mentions of and replies to one Bluesky account."""

    settings_model: ClassVar[type[SourceSettings]] = BlueskySettings
    network = "bluesky"

    def __init__(
        self, settings: BlueskySettings, *, http: HttpClient | None = None, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.base_url = settings.base_url.rstrip("/")
        self.label = source_label(self.network, settings.name)
        self.http = http or HttpClient(self.base_url, label=self.label)
        self.session: dict[str, Any] | None = None
        self._session_lock = asyncio.Lock()
        self._malformed: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Any) -> BlueskySource:
        return cls(coerce_settings(BlueskySettings, settings))

    def reply_limit(self) -> ReplyLimit:
        return ReplyLimit(LIMIT, "graphemes")

    def measure(self, text: str) -> int:
        return grapheme_count(text)

    # ------------------------------------------------------------ session

    async def _login(self) -> dict[str, Any]:
        body = {"identifier": self.settings.handle, "password": self.settings.app_password}
        session = await self.http.post_json("/xrpc/com.atproto.server.createSession", json=body)
        if not isinstance(session, dict) or not session.get("accessJwt") or not session.get("did"):
            raise SourceError(f"{self.label}: createSession returned no session")
        self.session = session
        return session

    async def _refresh(self, stale: str) -> None:
        """Replace the expired access JWT ``stale`` (once, however many callers saw it)."""
        async with self._session_lock:
            if self.session is None or self.session["accessJwt"] != stale:
                return
            try:
                session = await self.http.post_json(
                    "/xrpc/com.atproto.server.refreshSession",
                    headers={"Authorization": f"Bearer {self.session['refreshJwt']}"},
                )
            except HttpStatusError as exc:
                if exc.status not in (400, 401):
                    raise
                log.info("%s: refresh refused (%s); logging in again", self.label, exc)
                await self._login()
                return
            if not isinstance(session, dict) or not session.get("accessJwt"):
                raise SourceError(f"{self.label}: refreshSession returned no session")
            self.session = {**self.session, **session}

    async def _me(self) -> dict[str, Any]:
        """The session, refreshed ahead of the access JWT's ``exp`` (when it can be read)."""
        if self.session is None:
            async with self._session_lock:
                if self.session is None:
                    await self._login()
        assert self.session is not None
        access = str(self.session["accessJwt"])
        expires = token_expiry(access)
        if expires is not None and expires - self.clock() <= REFRESH_AHEAD:
            await self._refresh(access)
        assert self.session is not None
        return self.session

    async def _xrpc(
        self, method: str, nsid: str, *, params: Params | None = None, json: Any = None
    ) -> Any:
        """Call ``nsid`` with the access JWT, refreshing it once when it has expired."""
        for attempt in (1, 2):
            session = await self._me()
            auth = {"Authorization": f"Bearer {session['accessJwt']}"}
            try:
                response = await self.http.request(
                    method, f"/xrpc/{nsid}", params=params, json=json, headers=auth
                )
            except HttpStatusError as exc:
                expired = exc.error_field("error") in ("ExpiredToken", "InvalidToken")
                if attempt == 1 and exc.status in (400, 401) and expired:
                    await self._refresh(session["accessJwt"])
                    continue
                raise
            return response.json() if response.body.strip() else None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ fetch

    async def fetch(self, cursor: str | None) -> Batch:
        me = await self._me()
        if not cursor:  # the first poll takes the newest page only
            items, _ = await self._page(None)
            raw, uris = newest(items, sort_time, _uri, None, frozenset())
            first = WalkCursor(raw, uris).dump() if raw else None
            return Batch(self._mentions(items, str(me["did"])), first)
        try:
            state = WalkCursor.load(cursor)
        except SourceError as exc:
            raise labelled(exc, self.label) from exc
        window = Window.of(state.at, self.clock(), self.settings)
        walk = await walk_back(
            self._page, state.resume, window, sort_time, self.settings.max_pages, state
        )
        report_walk(log, self.label, walk, self.settings)
        return Batch(
            self._mentions(walk.items, str(me["did"])),
            state.after(walk, sort_time, _uri).dump(),
            walk.resume is not None,
            late=state.late(walk, sort_time, _uri),
            unread=walk.unread,
        )

    async def _page(self, api_cursor: str | None) -> tuple[list[Any], str | None]:
        params: list[tuple[str, str | int]] = [("limit", self.settings.page_size)]
        params += [("reasons", reason) for reason in self.settings.reasons]
        if api_cursor:
            params.append(("cursor", api_cursor))
        page = await self._xrpc("GET", "app.bsky.notification.listNotifications", params=params)
        notifications = page.get("notifications") if isinstance(page, dict) else None
        if not isinstance(notifications, list):
            raise SourceError(f"{self.label}: listNotifications answer has no list")
        following = page.get("cursor")
        return notifications, str(following) if following else None

    def _mentions(self, items: list[Any], my_did: str) -> list[Mention]:
        mentions: dict[str, Mention] = {}
        for item in reversed(items):
            try:
                mention = self._mention(item, my_did)
            except MALFORMED as exc:
                marker = str(item.get("uri") if isinstance(item, dict) else item)[:300]
                if marker not in self._malformed:
                    self._malformed.add(marker)
                    log_malformed(log, self.label, item, exc)
                continue
            if mention is not None:
                mentions.setdefault(mention.external_id, mention)
        return list(mentions.values())

    def _mention(self, item: Any, my_did: str) -> Mention | None:
        if item.get("reason") not in self.settings.reasons:
            return None
        author = item["author"]
        did = text_field(author, "did")
        if did == my_did:
            return None
        uri, cid = text_field(item, "uri"), text_field(item, "cid")
        record = item["record"]
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ValueError("the record has no text")
        root = (record.get("reply") or {}).get("root") or {"uri": uri, "cid": cid}
        root_uri, root_cid = text_field(root, "uri"), text_field(root, "cid")
        handle = clean_text(str(author.get("handle") or did))
        rkey = uri.rsplit("/", 1)[-1]
        return Mention(
            source=self.name,
            network=self.network,
            external_id=uri,
            conversation_key=root_uri,
            author=Author(
                id=did,
                handle=f"@{handle}",
                display_name=clean_text(str(author.get("displayName") or "")),
                profile_url=f"https://bsky.app/profile/{did}",
            ),
            text=post_text(record),
            permalink=f"https://bsky.app/profile/{did}/post/{rkey}",
            created_at=parse_time(item.get("indexedAt") or record["createdAt"]),
            reply_data={"uri": uri, "cid": cid, "root_uri": root_uri, "root_cid": root_cid},
        )

    # ------------------------------------------------------------ reply

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        length = grapheme_count(text)
        if length > LIMIT:
            raise ReplyTooLong(length, LIMIT, "Bluesky")
        size = len(text.encode("utf-8"))
        if size > MAX_BYTES:
            raise SourceError(
                f"Bluesky allows {MAX_BYTES} bytes of text per post and this reply has {size} "
                "(emoji sequences take many bytes); shorten it."
            )
        me = await self._me()
        rkey = record_key(idempotency_key)
        data = mention.reply_data
        if not data.get("uri") or not data.get("cid"):
            raise SourceError(f"{self.label}: {mention.external_id} has no post reference")
        parent = {"uri": str(data["uri"]), "cid": str(data["cid"])}
        root = {
            "uri": str(data.get("root_uri") or parent["uri"]),
            "cid": str(data.get("root_cid") or parent["cid"]),
        }
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": self.clock()
            .astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "reply": {"root": root, "parent": parent},
        }
        facets = await self._facets(text)
        if facets:
            record["facets"] = facets
        if self.settings.langs:
            record["langs"] = list(self.settings.langs)
        body = {"repo": me["did"], "collection": POST, "rkey": rkey, "record": record}
        for attempt in range(3):
            existing = await self._existing(str(me["did"]), rkey)
            if existing is not None:
                return existing
            try:
                created = await self._xrpc("POST", "com.atproto.repo.createRecord", json=body)
                return self._result(str(created["uri"]), rkey)
            except (NetworkError, HttpStatusError) as exc:
                retryable = isinstance(exc, NetworkError) or exc.status >= 500
                if not retryable:
                    if await self._existing(str(me["did"]), rkey) is not None:
                        return self._result(f"at://{me['did']}/{POST}/{rkey}", rkey)
                    raise
                if attempt == 2:
                    raise
                log.warning(
                    "%s: createRecord failed (%s); checking, then retrying", self.label, exc
                )
                await asyncio.sleep(self.http.backoff * 2**attempt)
        raise AssertionError("unreachable")

    async def _existing(self, did: str, rkey: str) -> ReplyResult | None:
        params = {"repo": did, "collection": POST, "rkey": rkey}
        try:
            found = await self._xrpc("GET", "com.atproto.repo.getRecord", params=params)
        except HttpStatusError as exc:
            if exc.status in (400, 404) and exc.error_field("error") in ("RecordNotFound", ""):
                return None
            raise
        return self._result(str(found["uri"]), rkey)

    def _result(self, uri: str, rkey: str) -> ReplyResult:
        handle = (self.session or {}).get("handle") or (self.session or {}).get("did")
        return ReplyResult(external_id=uri, url=f"https://bsky.app/profile/{handle}/post/{rkey}")

    async def _facets(self, text: str) -> list[dict[str, Any]]:
        facets: list[dict[str, Any]] = []
        for match in _MENTION.finditer(text):
            handle = match.group(1).rstrip(".")
            if not _HANDLE.match(handle):
                continue
            try:
                resolved = await self._xrpc(
                    "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
                )
                did = str(resolved["did"])
            except (HttpStatusError, *MALFORMED) as exc:
                log.info("%s: no facet for @%s (%s)", self.label, handle, exc)
                continue
            start, end = utf8_span(text, match.start(), match.start() + 1 + len(handle))
            facets.append(
                facet(start, end, {"$type": "app.bsky.richtext.facet#mention", "did": did})
            )
        for link in find_links(text):
            start, end = utf8_span(text, link.start, link.end)
            facets.append(
                facet(start, end, {"$type": "app.bsky.richtext.facet#link", "uri": link.url})
            )
        return sorted(facets, key=lambda f: int(f["index"]["byteStart"]))

    # ------------------------------------------------------------ check / close

    async def check(self) -> str:
        try:
            session = await self._login()
            await self._xrpc("GET", "app.bsky.notification.listNotifications", params={"limit": 1})
        except SourceError as exc:
            raise explain_check_error(
                exc,
                label=self.label,
                base_url=self.base_url,
                auth_hint="Check handle and app_password (Settings > Privacy and security > "
                "App passwords).",
                scope_hint="the app password cannot read notifications or post; create a new one.",
            ) from exc
        return (
            f"Bluesky @{session.get('handle')} ({session['did']}); replies up to {LIMIT} graphemes"
        )

    async def close(self) -> None:
        await self.http.close()


def _uri(item: Any) -> str:
    return str(item.get("uri", "")) if isinstance(item, dict) else ""
