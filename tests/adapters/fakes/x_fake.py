"""An X API v2 server on loopback: users/me, mentions, user timeline, posting, and the OAuth 2.0
token endpoint refreshing user tokens (rotating refresh tokens, public and confidential
clients)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.adapters.fakes import FakeServer, json_error

BASE_FIELDS = ("id", "text", "edit_history_tweet_ids")
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
APP_ONLY = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
USED_TOKEN = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}
"""X's answer to a refresh token that was used already or revoked (HTTP 400)."""
NO_BASIC_AUTH = {
    "error": "unauthorized_client",
    "error_description": "Missing valid authorization header",
}
"""X's answer to a confidential client refreshing without its Basic credentials (HTTP 401)."""
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


class XFake(FakeServer):
    def __init__(
        self,
        *,
        app_token: str = "app-bearer",
        user_token: str = "user-token",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.app_token = app_token
        self.user_token = user_token
        self.clock = clock
        """When issued access tokens expire (epoch seconds)."""
        self.client_id = "Y2xpZW50LWlk"
        self.client_secret: str | None = None
        """Set: a confidential client (Basic auth); None: a public client (``client_id``)."""
        self.refresh_tokens: set[str] = set()
        """The refresh tokens that work now; each works once (rotation)."""
        self.access_tokens: dict[str, float] = {}
        """Issued user access tokens and when each expires."""
        self.refused_code = "invalid_request"
        self.token_gate: asyncio.Event | None = None
        """Set to hold every token answer until the event is set."""
        self._issued = itertools.count(1)
        self.me = {"id": "783214", "username": "brand", "name": "Brand Inc."}
        self.users: dict[str, dict[str, Any]] = {self.me["id"]: self.me}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.mention_ids: list[str] = []
        self.posted: list[dict[str, Any]] = []
        self.lose_next_post_answer = False
        self.rate_remaining: int | None = None
        self._ids = itertools.count(1_790_000_000_000_000_000, 1_000)
        self._clock = datetime.fromtimestamp(clock(), UTC) - timedelta(hours=2)
        """When the next post is made (each one 20 s after the one before)."""
        r = self.app.router
        r.add_get("/2/users/me", self._users_me)
        r.add_get("/2/users/{id}/mentions", self._mentions)
        r.add_get("/2/users/{id}/tweets", self._timeline)
        r.add_get("/2/tweets/{id}/quote_tweets", self._quote_tweets)
        r.add_post("/2/tweets", self._post)
        r.add_post("/2/oauth2/token", self._token)

    def authorize(self) -> str:
        """The refresh token an authorization with ``offline.access`` gives."""
        token = f"refresh-{next(self._issued)}"
        self.refresh_tokens.add(token)
        return token

    def revoke(self, access_token: str) -> None:
        """X stops accepting ``access_token`` before its expiry (revoked, or cut short)."""
        self.access_tokens.pop(access_token, None)

    def user(self, n: int) -> dict[str, Any]:
        user = {"id": str(5000 + n), "username": f"cust{n}", "name": f"Customer {n}"}
        self.users[user["id"]] = user
        return user

    def add_tweet(
        self,
        author: dict[str, Any],
        text: str,
        *,
        reply_to: dict[str, Any] | None = None,
        visible: bool = True,
        quoting: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A post (a mention when it names @brand). ``visible=False``: X has made it (its id
        and time are taken now) but its mentions timeline lists it only after ``reveal``."""
        tweet_id = str(next(self._ids))
        self._clock += timedelta(seconds=20)
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "edit_history_tweet_ids": [tweet_id],
            "text": text,
            "author_id": author["id"],
            "conversation_id": reply_to["conversation_id"] if reply_to else tweet_id,
            "created_at": self._clock.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if reply_to is not None:
            tweet["in_reply_to_user_id"] = reply_to["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to["id"]}]
        if quoting is not None:  # a quote post: X lists it under the quoted post
            tweet["referenced_tweets"] = [{"type": "quoted", "id": quoting["id"]}]
        self.tweets[tweet_id] = tweet
        if "@brand" in text and visible:
            self.mention_ids.append(tweet_id)
        return tweet

    def reveal(self, tweet: dict[str, Any]) -> None:
        """A post indexed late: the timeline lists it from now on, by its (older) id."""
        self.mention_ids.append(str(tweet["id"]))

    def add_page(self, page: dict[str, Any]) -> None:
        """Load a recorded mentions response: its posts become mentions of us."""
        for user in (page.get("includes") or {}).get("users", []):
            self.users[user["id"]] = user
        for tweet in page.get("data", []):
            self.tweets[str(tweet.get("id"))] = tweet
            self.mention_ids.append(str(tweet.get("id")))

    def add_raw_mention(self, tweet: dict[str, Any]) -> None:
        self.tweets[str(tweet.get("id"))] = tweet
        self.mention_ids.append(str(tweet.get("id")))

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        if self.rate_remaining is None:
            return {}
        return {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": str(self.rate_remaining),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    def _auth(self, request: web.Request, *, user_context: bool) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.access_tokens.get(token, 0.0) > self.clock():
            return None
        if token not in (self.app_token, self.user_token):
            return json_error(401, UNAUTHORIZED)
        if user_context and token != self.user_token:
            return json_error(403, APP_ONLY)
        return None

    def _view(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in tweet.items() if k in BASE_FIELDS or k in fields}

    def _page(self, request: web.Request, ids: list[str]) -> web.Response:
        q = request.query
        size = int(q.get("max_results", "10"))
        if not 5 <= size <= 100:
            return json_error(
                400,
                {
                    "title": "Invalid Request",
                    "status": 400,
                    "detail": "max_results must be between 5 and 100",
                },
            )
        fields = set(q.get("tweet.fields", "").split(","))
        ordered = sorted(ids, key=lambda i: (len(i), i), reverse=True)
        if "since_id" in q:
            since = q["since_id"]
            ordered = [i for i in ordered if (len(i), i) > (len(since), since)]
        start = int(q.get("pagination_token", "0") or 0)
        chunk = ordered[start : start + size]
        tweets = [self._view(self.tweets[i], fields) for i in chunk]
        body: dict[str, Any] = {"meta": {"result_count": len(tweets)}}
        if tweets:
            body["data"] = tweets
            body["meta"].update(newest_id=chunk[0], oldest_id=chunk[-1])
            if "author_id" in q.get("expansions", ""):
                authors = {t.get("author_id") for t in tweets}
                body["includes"] = {"users": [self.users[a] for a in authors if a in self.users]}
        if start + size < len(ordered):
            body["meta"]["next_token"] = str(start + size)
        return web.json_response(body)

    async def _users_me(self, request: web.Request) -> web.Response:
        denied = self._auth(request, user_context=True)
        return denied or web.json_response({"data": self.me})

    async def _mentions(self, request: web.Request) -> web.Response:
        denied = self._auth(request, user_context=False)
        if denied:
            return denied
        if request.match_info["id"] != self.me["id"]:
            return web.json_response({"meta": {"result_count": 0}})
        return self._page(request, self.mention_ids)

    async def _timeline(self, request: web.Request) -> web.Response:
        denied = self._auth(request, user_context=False)
        if denied:
            return denied
        user_id = request.match_info["id"]
        ids = [i for i, t in self.tweets.items() if t.get("author_id") == user_id]
        return self._page(request, ids)

    async def _quote_tweets(self, request: web.Request) -> web.Response:
        """``GET /2/tweets/:id/quote_tweets``: posts quoting that post, newest first."""
        denied = self._auth(request, user_context=False)
        if denied:
            return denied
        size = int(request.query.get("max_results", "10"))
        if not 10 <= size <= 100:
            return json_error(
                400,
                {
                    "title": "Invalid Request",
                    "status": 400,
                    "detail": "max_results must be between 10 and 100",
                },
            )
        quoted = request.match_info["id"]
        ids = [
            i
            for i, t in self.tweets.items()
            if any(
                r.get("type") == "quoted" and r.get("id") == quoted
                for r in t.get("referenced_tweets") or []
            )
        ]
        return self._page(request, ids)

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return json_error(
                400, {"error": "invalid_request", "error_description": "Invalid content type."}
            )
        form = await request.post()
        if self.client_secret is not None:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if request.headers.get("Authorization", "") != f"Basic {expected.decode()}":
                return json_error(401, NO_BASIC_AUTH)
        elif form.get("client_id") != self.client_id:
            return json_error(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Missing required parameter [client_id].",
                },
            )
        if form.get("grant_type") != "refresh_token":
            return json_error(
                400,
                {"error": "unsupported_grant_type", "error_description": "Grant type invalid"},
            )
        if self.token_gate is not None:
            await self.token_gate.wait()
        old = str(form.get("refresh_token", ""))
        if old not in self.refresh_tokens:
            body = dict(USED_TOKEN, error=self.refused_code)
            return json_error(400, body)
        self.refresh_tokens.discard(old)
        n = next(self._issued)
        access, rotated = f"user-token-{n}", f"refresh-{n}"
        self.refresh_tokens.add(rotated)
        self.access_tokens[access] = self.clock() + 7200
        return web.json_response(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "scope": "tweet.read users.read tweet.write offline.access",
                "refresh_token": rotated,
            }
        )

    async def _post(self, request: web.Request) -> web.Response:
        denied = self._auth(request, user_context=True)
        if denied:
            return denied
        body = await request.json()
        text = body.get("text", "")
        target_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        target = self.tweets.get(str(target_id)) if target_id else None
        if target_id and target is None:
            return json_error(
                400,
                {
                    "title": "Invalid Request",
                    "status": 400,
                    "detail": "The replied-to post does not exist.",
                },
            )
        if any(p["sent_text"] == text for p in self.posted):
            return json_error(403, DUPLICATE)
        shown = re.sub(r"https?://\S+", "https://t.co/Zz9Yy8Xx7W", text)
        if target is not None:
            author = self.users.get(target["author_id"], {}).get("username")
            if author and not shown.startswith(f"@{author}"):
                shown = f"@{author} {shown}"
        tweet = self.add_tweet(self.me, shown.replace("&", "&amp;"), reply_to=target)
        self.posted.append({**tweet, "sent_text": text})
        if self.lose_next_post_answer:
            self.lose_next_post_answer = False
            return json_error(503, {"title": "Service Unavailable", "status": 503})
        return web.json_response({"data": {"id": tweet["id"], "text": tweet["text"]}}, status=201)
