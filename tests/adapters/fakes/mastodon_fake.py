"""A Mastodon server on loopback: notifications, statuses, context, instance, credentials."""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.adapters.fakes import FakeServer, json_error

ALL_SCOPES = frozenset({"read", "write"})


class MastodonFake(FakeServer):
    def __init__(self, *, token: str = "good-token", max_characters: int | None = 500) -> None:
        super().__init__()
        self.token = token
        self.scopes = set(ALL_SCOPES)
        self.max_characters = max_characters
        self.domain = "social.example"
        self.me = self.account("1", "brand", "Brand Inc.")
        self.notifications: list[dict[str, Any]] = []
        self.statuses: dict[str, dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.rate_remaining: int | None = None
        self.rate_reset = datetime.now(UTC) + timedelta(minutes=5)
        self._sequence = itertools.count(1)
        self.clock = datetime.now(UTC).replace(microsecond=0)
        """The server's time: ids and ``created_at`` are taken from it (tests move it)."""
        r = self.app.router
        r.add_get("/api/v1/accounts/verify_credentials", self._verify)
        r.add_get("/api/v2/instance", self._instance)
        r.add_get("/api/v1/notifications", self._notifications)
        r.add_get("/api/v1/statuses/{id}/context", self._context)
        r.add_post("/api/v1/statuses", self._post_status)

    def account(
        self, account_id: str, username: str, name: str, domain: str = ""
    ) -> dict[str, Any]:
        acct = f"{username}@{domain}" if domain else username
        host = domain or self.domain
        return {
            "id": account_id,
            "username": username,
            "acct": acct,
            "display_name": name,
            "url": f"https://{host}/@{username}",
        }

    def _next_id(self, at: datetime | None = None) -> str:
        """A snowflake like Mastodon's: milliseconds since the epoch, then a 16-bit sequence."""
        when = at or self.clock
        return str((int(when.timestamp() * 1000) << 16) | (next(self._sequence) & 0xFFFF))

    def add_status(
        self,
        author: dict[str, Any],
        content: str,
        *,
        in_reply_to_id: str | None = None,
        visibility: str = "public",
        spoiler_text: str = "",
        made_at: datetime | None = None,
        quote_of: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.clock += timedelta(seconds=30)
        at = made_at or self.clock
        status_id = self._next_id(at)
        status: dict[str, Any] = {
            "id": status_id,
            "created_at": _stamp(at),
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": None,
            "visibility": visibility,
            "spoiler_text": spoiler_text,
            "uri": f"https://{self.domain}/users/{author['username']}/statuses/{status_id}",
            "url": f"https://{self.domain}/@{author['username']}/{status_id}",
            "content": content,
            "account": author,
            "mentions": [],
        }
        if quote_of is not None:
            status["quote"] = {"state": "accepted", "quoted_status": quote_of}
        self.statuses[status_id] = status
        return status

    def add_mention(
        self, author: dict[str, Any], content: str, *, kind: str = "mention", **kw: Any
    ) -> dict[str, Any]:
        """A status by ``author`` that mentions (``kind="quote"``: quotes) us, and its
        notification. ``made_at``: when the server made both (default: now); an earlier time
        is a notification whose transaction commits late, its id lower than ids listed."""
        status = self.add_status(author, content, **kw)
        self.add_notification(
            {
                "id": self._next_id(parse_time(status["created_at"])),
                "type": kind,
                "created_at": status["created_at"],
                "account": author,
                "status": status,
            }
        )
        return status

    def add_notification(self, notification: dict[str, Any]) -> None:
        self.notifications.append(notification)

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        if self.rate_remaining is None:
            return {}
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Reset": self.rate_reset.isoformat().replace("+00:00", "Z"),
        }

    def _auth(self, request: web.Request, scope: str) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_error(401, {"error": "The access token is invalid"})
        if scope not in self.scopes and scope.split(":")[0] not in self.scopes:
            return json_error(403, {"error": "This action is outside the authorized scopes"})
        return None

    async def _verify(self, request: web.Request) -> web.Response:
        return self._auth(request, "read:accounts") or web.json_response(self.me)

    async def _instance(self, request: web.Request) -> web.Response:
        if self.max_characters is None:
            return json_error(404, {"error": "Record not found"})
        return web.json_response(
            {
                "domain": self.domain,
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    }
                },
            }
        )

    async def _notifications(self, request: web.Request) -> web.Response:
        denied = self._auth(request, "read:notifications")
        if denied:
            return denied
        types = request.query.getall("types[]", [])
        limit = min(int(request.query.get("limit", "40")), 80)
        items = [n for n in self.notifications if not types or n.get("type") in types]
        items.sort(key=lambda n: (len(str(n.get("id"))), str(n.get("id"))))

        def after(value: str) -> list[dict[str, Any]]:
            key = (len(value), value)
            return [n for n in items if (len(str(n.get("id"))), str(n.get("id"))) > key]

        if "max_id" in request.query:
            bound = request.query["max_id"]
            items = [n for n in items if n not in after(bound) and n.get("id") != bound]
        if "min_id" in request.query:
            page = after(request.query["min_id"])[:limit]
        elif "since_id" in request.query:
            page = after(request.query["since_id"])[-limit:]
        else:
            page = items[-limit:]
        page = list(reversed(page))
        headers = {}
        if page:
            base = f"{request.scheme}://{request.host}{request.path}?types[]=mention"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return web.json_response(page, headers=headers)

    async def _context(self, request: web.Request) -> web.Response:
        denied = self._auth(request, "read:statuses")
        if denied:
            return denied
        status = self.statuses.get(request.match_info["id"])
        if status is None:
            return json_error(404, {"error": "Record not found"})
        ancestors: list[dict[str, Any]] = []
        parent = status.get("in_reply_to_id")
        while parent and parent in self.statuses:
            ancestors.insert(0, self.statuses[parent])
            parent = self.statuses[parent].get("in_reply_to_id")
        return web.json_response({"ancestors": ancestors, "descendants": []})

    async def _post_status(self, request: web.Request) -> web.Response:
        denied = self._auth(request, "write:statuses")
        if denied:
            return denied
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotency:
            return web.json_response(self.idempotency[key])
        body = await request.json()
        text = body.get("status") or ""
        if not text:
            return json_error(422, {"error": "Validation failed: Text can't be blank"})
        limit = self.max_characters or 500
        if len(re.sub(r"(@\w+)@[\w.-]+", r"\1", text)) > limit:
            return json_error(
                422, {"error": f"Validation failed: Text character limit of {limit} exceeded"}
            )
        reply_to = body.get("in_reply_to_id")
        if reply_to and reply_to not in self.statuses:
            return json_error(404, {"error": "Record not found"})
        status = self.add_status(
            self.me,
            f"<p>{html.escape(text)}</p>",
            in_reply_to_id=reply_to,
            visibility=body.get("visibility", "public"),
        )
        self.posted.append({**status, "text": text})
        if key:
            self.idempotency[key] = status
        return web.json_response(status)


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
