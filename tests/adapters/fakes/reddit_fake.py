"""A loopback Reddit: the password-grant token endpoint and the OAuth API the adapter uses.

Speaks the documented wire format: ``POST /api/v1/access_token`` (basic auth, form body; 401 for
bad app credentials, 200 ``{"error": "invalid_grant"}`` for a bad password),
``GET /api/v1/me``, ``GET /message/inbox`` and ``GET /message/unread`` (Listings, newest first by
``created_utc``, ``after``/``before`` paging: an ``after``/``before`` item that no longer exists
gives an empty list, as on Reddit), ``mark``,
``POST /api/read_message``, ``POST /api/comment`` (``api_type=json``: errors in the JSON body)
and ``GET /user/<name>/comments``. Every API answer carries ``X-Ratelimit-*`` headers; a bad or
expired bearer token gets 401.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.adapters.fakes import FakeServer, json_error


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@dataclass
class InboxItem:
    kind: str
    data: dict[str, Any]

    @property
    def fullname(self) -> str:
        return str(self.data.get("name", ""))


@dataclass
class RedditFake(FakeServer):
    client_id: str = "app-id"
    client_secret: str = "app-secret"
    username: str = "AcmeSupport"
    password: str = "hunter2"
    expires_in: int = 3600
    scope: str = "*"
    inbox: list[InboxItem] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    canned_answers: list[dict[str, Any]] = field(default_factory=list)
    """Raw ``/api/comment`` answers (errors, samples) sent instead of posting, in order."""
    lose_comment_answers: int = 0
    """Post the next N comments but answer 502, as if the connection broke after the write."""
    ratelimit_remaining: float = 599.0
    ratelimit_reset: int = 300
    listing_cap: int = 1000
    """Reddit lists about this many items of a listing at most, however far one pages."""
    now: float = field(default_factory=time.time)
    """The server's time (epoch seconds): new comments are created at it (tests move it)."""

    def __post_init__(self) -> None:
        FakeServer.__init__(self)
        self.tokens: dict[str, float] = {}
        self._ids = itertools.count(1_000_000)
        self.app.router.add_post("/api/v1/access_token", self._token)
        self.app.router.add_get("/api/v1/me", self._me)
        self.app.router.add_get("/message/unread", self._unread)
        self.app.router.add_get("/message/inbox", self._inbox)
        self.app.router.add_post("/api/read_message", self._read)
        self.app.router.add_post("/api/comment", self._comment)
        self.app.router.add_get("/user/{name}/comments", self._user_comments)

    # -- test helpers -------------------------------------------------------------------------

    def add(self, kind: str, data: dict[str, Any]) -> str:
        """Put a raw inbox item (``data`` as Reddit sends it) in the inbox, unread."""
        item = InboxItem(kind, {**data, "new": True})
        self.inbox.append(item)
        return item.fullname

    def mention(
        self,
        body: str,
        *,
        author: str = "devops_dana",
        type: str = "username_mention",
        link: str = "1chh0qv",
        subreddit: str = "software",
        created: float | None = None,
        parent: str | None = None,
    ) -> str:
        """A new unread comment notification; returns its fullname."""
        comment_id = _base36(next(self._ids))
        subject = type.replace("_", " ")
        return self.add(
            "t1",
            {
                "id": comment_id,
                "name": f"t1_{comment_id}",
                "author": author,
                "author_fullname": f"t2_{author.lower()[:6]}",
                "subject": subject,
                "type": type,
                "was_comment": True,
                "body": body,
                "subreddit": subreddit,
                "parent_id": parent or f"t3_{link}",
                "link_title": "A thread",
                "dest": self.username,
                "created_utc": created if created is not None else self.now,
                "context": f"/r/{subreddit}/comments/{link}/a_thread/{comment_id}/?context=3",
            },
        )

    def delete(self, fullname: str) -> None:
        """The author deleted the comment: it leaves the inbox."""
        self.inbox = [item for item in self.inbox if item.fullname != fullname]

    def unread(self) -> list[str]:
        return [item.fullname for item in self.inbox if item.data.get("new")]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        if request.path == "/api/v1/access_token":
            return {}
        return {
            "X-Ratelimit-Used": "1",
            "X-Ratelimit-Remaining": f"{self.ratelimit_remaining:.1f}",
            "X-Ratelimit-Reset": str(self.ratelimit_reset),
        }

    # -- handlers -----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return json_error(401, {"message": "Unauthorized", "error": 401})
        form = await request.post()
        if form.get("grant_type") != "password":
            return web.json_response({"error": "unsupported_grant_type"})
        if form.get("username") != self.username or form.get("password") != self.password:
            return web.json_response({"error": "invalid_grant"})
        token = f"tok-{next(self._ids)}"
        self.tokens[token] = time.time() + self.expires_in
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": self.scope,
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.tokens.get(token, 0) > time.time()

    def _unauthorized(self) -> web.Response:
        return json_error(401, {"message": "Unauthorized", "error": 401})

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return web.json_response({"name": self.username, "id": "abc12", "has_mail": True})

    async def _unread(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        items = sorted(
            (i for i in self.inbox if i.data.get("new")),
            key=lambda i: _number(i.data.get("created_utc")),
            reverse=True,
        )
        after = request.query.get("after")
        if after:
            names = [i.fullname for i in items]
            items = items[names.index(after) + 1 :] if after in names else []
        limit = int(request.query.get("limit", "25"))
        page, rest = items[:limit], items[limit:]
        if request.query.get("mark", "true").lower() == "true":
            for item in page:
                item.data["new"] = False
        return web.json_response(_listing([(i.kind, i.data) for i in page], bool(rest)))

    async def _inbox(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        items = sorted(self.inbox, key=lambda i: _number(i.data.get("created_utc")), reverse=True)
        items = items[: self.listing_cap]
        names = [i.fullname for i in items]
        after, before = request.query.get("after"), request.query.get("before")
        if after:
            items = items[names.index(after) + 1 :] if after in names else []
        elif before:
            items = items[: names.index(before)] if before in names else []
        limit = int(request.query.get("limit", "25"))
        page, rest = (items[-limit:], []) if before else (items[:limit], items[limit:])
        return web.json_response(_listing([(i.kind, i.data) for i in page], bool(rest)))

    async def _read(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        ids = str((await request.post()).get("id", "")).split(",")
        if not ids or len(ids) > 25 or not all(ids):
            return json_error(400, {"message": "Bad Request", "error": 400})
        for item in self.inbox:
            if item.fullname in ids:
                item.data["new"] = False
        return web.json_response({})

    async def _comment(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        form = await request.post()
        if form.get("api_type") != "json":
            return json_error(400, {"message": "api_type=json expected"})
        if self.canned_answers:
            return web.json_response(self.canned_answers.pop(0))
        thing_id, text = str(form.get("thing_id", "")), str(form.get("text", ""))
        parent = next((i for i in self.inbox if i.fullname == thing_id), None)
        if parent is None:
            return web.json_response(
                {"json": {"errors": [["NO_THING_ID", "id not specified", "thing_id"]]}}
            )
        if not text.strip():
            return web.json_response(
                {"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}}
            )
        comment_id = _base36(next(self._ids))
        link = str(parent.data["context"]).split("/")[4]
        subreddit = parent.data.get("subreddit")
        data = {
            "id": comment_id,
            "name": f"t1_{comment_id}",
            "author": self.username,
            "parent_id": thing_id,
            "link_id": f"t3_{link}",
            "body": text.rstrip(),
            "subreddit": subreddit,
            "created_utc": time.time(),
            "permalink": f"/r/{subreddit}/comments/{link}/a_thread/{comment_id}/",
        }
        self.comments.insert(0, data)
        if self.lose_comment_answers:
            self.lose_comment_answers -= 1
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        return web.json_response(
            {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}
        )

    async def _user_comments(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if request.match_info["name"].lower() != self.username.lower():
            return web.json_response(_listing([], False))
        limit = int(request.query.get("limit", "25"))
        return web.json_response(_listing([("t1", c) for c in self.comments[:limit]], False))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _listing(children: list[tuple[str, dict[str, Any]]], more: bool) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": children[-1][1]["name"] if more and children else None,
            "before": None,
            "dist": len(children),
            "modhash": None,
            "children": [{"kind": kind, "data": data} for kind, data in children],
        },
    }
