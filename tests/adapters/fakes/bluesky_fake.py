"""A Bluesky PDS on loopback: sessions, notifications, records and handle resolution (XRPC)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.adapters.fakes import FakeServer, json_error

POST = "app.bsky.feed.post"


def cid_for(value: Any) -> str:
    return "bafyrei" + hashlib.sha256(repr(value).encode()).hexdigest()[:52]


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlueskyFake(FakeServer):
    def __init__(self, *, handle: str = "brand.bsky.social", password: str = "app-pass") -> None:
        super().__init__()
        self.me = {"did": "did:plc:brand000000000000000000", "handle": handle}
        self.password = password
        self.handles: dict[str, str] = {handle: self.me["did"]}
        self.access: dict[str, str] = {}
        self.refresh: dict[str, str] = {}
        self.expired: set[str] = set()
        self.refused: list[str] = []
        """Access tokens a call was refused with (expired)."""
        self.access_lifetime = timedelta(hours=2)
        self.notifications: list[dict[str, Any]] = []
        self.records: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        self.lose_next_create_answer = False
        self.rate_remaining: int | None = None
        self._tokens = itertools.count(1)
        self._posts = itertools.count(1)
        self.clock = datetime.now(UTC).replace(microsecond=0)
        """The server's time: posts are indexed and tokens expire by it (tests move it)."""
        x = "/xrpc/"
        r = self.app.router
        r.add_post(x + "com.atproto.server.createSession", self._create_session)
        r.add_post(x + "com.atproto.server.refreshSession", self._refresh_session)
        r.add_get(x + "app.bsky.notification.listNotifications", self._list)
        r.add_post(x + "com.atproto.repo.createRecord", self._create_record)
        r.add_get(x + "com.atproto.repo.getRecord", self._get_record)
        r.add_get(x + "com.atproto.identity.resolveHandle", self._resolve)

    # ---------------------------------------------------------------- test helpers

    def user(self, name: str, display: str = "") -> dict[str, str]:
        handle = f"{name}.bsky.social"
        did = f"did:plc:{name:0<24}"[:32]
        self.handles[handle] = did
        return {"did": did, "handle": handle, "displayName": display or name.title()}

    def add_post(
        self,
        author: dict[str, str],
        text: str,
        *,
        reply_to: dict[str, Any] | None = None,
        facets: list[dict[str, Any]] | None = None,
        reason: str = "mention",
        same_time: bool = False,
        created_at: datetime | None = None,
        quoting: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A post by ``author`` (replying to ``reply_to``, quoting ``quoting``: stored posts)
        and our notification. ``created_at`` is the author's clock (default: the server's);
        like the AppView, the notification is sorted by and reports as ``indexedAt``
        min(indexed, created)."""
        if not same_time:
            self.clock += timedelta(seconds=1)
        created = created_at or self.clock
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": stamp(created)}
        if reply_to is not None:
            parent = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            root = reply_to["value"].get("reply", {}).get("root", parent)
            record["reply"] = {"root": root, "parent": parent}
        if quoting is not None:
            ref = {"uri": quoting["uri"], "cid": quoting["cid"]}
            record["embed"] = {"$type": "app.bsky.embed.record", "record": ref}
        if facets:
            record["facets"] = facets
        post = self._store(author["did"], f"3kfake{next(self._posts):07d}", record)
        self.add_notification(
            {
                "uri": post["uri"],
                "cid": post["cid"],
                "author": author,
                "reason": reason,
                "record": record,
                "isRead": False,
                "indexedAt": stamp(min(self.clock, created)),
                "labels": [],
            }
        )
        return post

    def add_notification(self, notification: dict[str, Any]) -> None:
        self.notifications.append(notification)

    def expire_access(self, *, refresh_too: bool = False) -> None:
        self.expired |= set(self.access)
        if refresh_too:
            self.expired |= set(self.refresh)

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        if self.rate_remaining is None:
            return {}
        return {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": str(self.rate_remaining),
            "RateLimit-Reset": str(int(time.time()) + 300),
            "RateLimit-Policy": "3000;w=300",
        }

    # ---------------------------------------------------------------- internals

    def _store(self, did: str, rkey: str, record: dict[str, Any]) -> dict[str, Any]:
        uri = f"at://{did}/{POST}/{rkey}"
        stored = {"uri": uri, "cid": cid_for(record), "value": record}
        self.records[uri] = stored
        return stored

    def _expired(self, token: str) -> bool:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return token in self.expired or int(claims["exp"]) <= self.clock.timestamp()

    def _session_did(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self.access:
            return None, json_error(
                401, {"error": "AuthenticationRequired", "message": "Authentication Required"}
            )
        if self._expired(token):
            self.refused.append(token)
            return None, json_error(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return self.access[token], None

    def _jwt(self, scope: str, lifetime: timedelta, n: int) -> str:
        """A token shaped like the PDS's (HS256 JWT); the signature is not checked by clients."""
        claims = {
            "scope": scope,
            "sub": self.me["did"],
            "iat": int(self.clock.timestamp()),
            "exp": int((self.clock + lifetime).timestamp()),
            "jti": f"{scope}-{n}",
        }
        parts = [{"typ": "at+jwt", "alg": "HS256"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
        return b".".join([*encoded, b"c2lnbmF0dXJl"]).decode()

    def _issue(self) -> dict[str, Any]:
        n = next(self._tokens)
        access = self._jwt("com.atproto.access", self.access_lifetime, n)
        refresh = self._jwt("com.atproto.refresh", timedelta(days=90), n)
        self.access[access] = self.me["did"]
        self.refresh[refresh] = self.me["did"]
        return {**self.me, "accessJwt": access, "refreshJwt": refresh, "active": True}

    async def _create_session(self, request: web.Request) -> web.Response:
        body = await request.json()
        known = body.get("identifier") in (self.me["handle"], self.me["did"])
        if not known or body.get("password") != self.password:
            return json_error(
                401,
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
            )
        return web.json_response(self._issue())

    async def _refresh_session(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.refresh:
            return json_error(
                400, {"error": "InvalidToken", "message": "Token could not be verified"}
            )
        if self._expired(token):
            return json_error(400, {"error": "ExpiredToken", "message": "Token has expired"})
        del self.refresh[token]
        return web.json_response(self._issue())

    async def _list(self, request: web.Request) -> web.Response:
        _, denied = self._session_did(request)
        if denied:
            return denied
        limit = min(int(request.query.get("limit", "50")), 100)
        reasons = request.query.getall("reasons", [])
        items = [n for n in self.notifications if not reasons or n.get("reason") in reasons]
        items = sorted(items, key=lambda n: (str(n.get("indexedAt")), str(n.get("uri"))))
        items.reverse()
        if "cursor" in request.query:
            at, _, uri = request.query["cursor"].partition("::")
            items = [n for n in items if (str(n.get("indexedAt")), str(n.get("uri"))) < (at, uri)]
        page = items[:limit]
        body: dict[str, Any] = {"notifications": page}
        if len(items) > limit:
            body["cursor"] = f"{page[-1]['indexedAt']}::{page[-1]['uri']}"
        return web.json_response(body)

    async def _create_record(self, request: web.Request) -> web.Response:
        did, denied = self._session_did(request)
        if denied:
            return denied
        body = await request.json()
        if body.get("repo") != did or body.get("collection") != POST:
            return json_error(400, {"error": "InvalidRequest", "message": "Invalid repo"})
        record = body.get("record") or {}
        if len(str(record.get("text", "")).encode()) > 3000 or "createdAt" not in record:
            return json_error(400, {"error": "InvalidRecord", "message": "Invalid post record"})
        for ref in (record.get("reply") or {}).values():
            stored = self.records.get(ref.get("uri"))
            if stored is None or stored["cid"] != ref.get("cid"):
                return json_error(400, {"error": "InvalidRequest", "message": "bad strong ref"})
        rkey = body.get("rkey") or f"3kauto{next(self._posts):07d}"
        if f"at://{did}/{POST}/{rkey}" in self.records:
            return json_error(
                500, {"error": "InternalServerError", "message": "Internal Server Error"}
            )
        stored = self._store(str(did), rkey, record)
        self.posted.append(stored)
        if self.lose_next_create_answer:
            self.lose_next_create_answer = False
            return json_error(502, {"error": "UpstreamFailure", "message": "Bad gateway"})
        return web.json_response(
            {"uri": stored["uri"], "cid": stored["cid"], "validationStatus": "valid"}
        )

    async def _get_record(self, request: web.Request) -> web.Response:
        q = request.query
        uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
        stored = self.records.get(uri)
        if stored is None:
            return json_error(
                400, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}
            )
        return web.json_response(stored)

    async def _resolve(self, request: web.Request) -> web.Response:
        did = self.handles.get(request.query.get("handle", "").lower())
        if did is None:
            return json_error(
                400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
            )
        return web.json_response({"did": did})
