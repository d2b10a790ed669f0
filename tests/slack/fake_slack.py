"""A Slack Web API on loopback, speaking Slack's wire format at ``/api/<method>``.

Use the ``fake_slack`` fixture (``tests/slack/conftest.py``) or::

    fake = FakeSlack()
    api_url = await fake.start()          # "http://127.0.0.1:PORT/api/" -> slack.api_url
    fake.add_channel("C0BILLING", "billing", members=["U0ALICE"])
    fake.add_user("U0ALICE", "alice")
    fake.add_user("U0GUEST", "gus", is_restricted=True)
    fake.add_usergroup("S0BILLING", "billing-team", ["U0ALICE"])
    ...
    fake.calls("chat.postMessage")        # every call, in order: .params, .headers, .at
    fake.messages_in("C0BILLING")         # top-level messages, oldest first
    fake.thread("C0BILLING", ts)          # replies under a message
    fake.rate_limit("chat.postMessage", times=1)   # HTTP 429 + Retry-After: 1
    fake.rate_limit("chat.postMessage", times=None, retry_after=30)  # until fake.recover()
    fake.fail("chat.update", "message_not_found")  # {"ok": false, "error": ...}
    fake.revoked = True                   # every method answers token_revoked (until False)
    fake.enforce_rates()                  # Slack's own limits, on the fake's clock:
                                          # 1 chat.postMessage/s per channel, 50 chat.update/min
    fake.limited                          # the calls those limits refused (429 + Retry-After)
    await fake.close()

``FakeSlack`` is a ``tests.adapters.fakes.LoopbackServer`` like the other fakes: its request
log is ``requests`` (``calls`` reads it as Slack calls) and 429s go through ``throttle``.
Bodies may be form-encoded (JSON-valued fields such as ``blocks`` as strings) or JSON. The
token comes from ``Authorization: Bearer`` (or a form ``token``); a missing one answers
``not_authed`` and a wrong one ``invalid_auth``, with HTTP 200 as Slack does. Blocks are
checked against Slack's limits and refused with ``invalid_blocks`` like Slack, and a message
whose blocks carry more than ``BLOCKS_CHARACTERS`` characters of text, values and URLs with
``msg_blocks_too_long``.
Import it relatively inside ``tests/slack`` (``from .fake_slack import FakeSlack``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.adapters.fakes import Failure, LoopbackServer, Recorded, recorded

from .fake_methods import Params, SlackError, SlackMethods, decoded

API = "/api/"
BLOCKS_CHARACTERS = 12_000
"""Slack refuses a message's blocks past roughly 13,000 characters (``msg_blocks_too_long``)."""


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: Params
    headers: dict[str, str]
    at: float
    """The fake's clock on arrival (``time.monotonic()`` unless injected)."""
    content_type: str = ""

    @classmethod
    def of(cls, request: Recorded) -> Call:
        params: Params = dict(request.query)
        if request.content_type == "application/json":
            if isinstance(request.json, dict):
                params.update(request.json)
        elif request.body:
            params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        method = request.path.removeprefix(API)
        return cls(method, params, request.headers, request.at, request.content_type)

    def obj(self, name: str) -> Any:
        """A JSON-valued parameter, decoded whether it came as JSON or as a form string."""
        return decoded(self.params.get(name))


class FakeSlack(SlackMethods, LoopbackServer):
    """The fake workspace: users, channels, user groups, messages, views; see module doc.
    Built on the shared ``LoopbackServer`` (request log, injected 429s)."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        signing_secret: str = "test-signing-secret",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        SlackMethods.__init__(self, team_id=team_id, bot_user_id=bot_user_id)
        LoopbackServer.__init__(self, clock)
        self.token = token
        self.revoked = False
        """When True the bot token is revoked: every method answers ``token_revoked``."""
        self.signing_secret = signing_secret
        self.app_token = "xapp-1-A0TEST-1-test"
        """The app-level token ``apps.connections.open`` accepts (Socket Mode)."""
        self.post_interval: float | None = None
        """Least seconds between two accepted ``chat.postMessage`` to one channel (None: any)."""
        self.updates_per_minute: int | None = None
        """Most ``chat.update`` calls accepted in any 60 seconds (None: any)."""
        self.limited: list[Call] = []
        """Calls refused by ``enforce_rates`` (HTTP 429), oldest first."""
        self._posted_at: dict[str, float] = {}
        self._updated_at: deque[float] = deque()
        self.app.router.add_route("*", API + "{method}", self._handle)

    async def start(self) -> str:
        await super().start()
        return self.api_url

    @property
    def api_url(self) -> str:
        """Base URL for ``slack.api_url`` / slack_sdk ``base_url`` (ends with ``/api/``)."""
        return self.url + API

    def settings(self) -> dict[str, str]:
        """A ``slack:`` config section pointing at this fake."""
        return {
            "bot_token": self.token,
            "signing_secret": self.signing_secret,
            "api_url": self.api_url,
        }

    # ---- workspace set-up ------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str = "",
        display_name: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> Params:
        real = real_name or name.title()
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "tz": "Europe/Amsterdam",
            "profile": {
                "real_name": real,
                "display_name": name if display_name is None else display_name,
                "real_name_normalized": real,
                "display_name_normalized": name if display_name is None else display_name,
            },
        }
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: list[str] | None = None,
        private: bool = False,
        bot_is_member: bool = True,
    ) -> Params:
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not private,
            "is_group": private,
            "is_private": private,
            "is_archived": False,
            "is_member": bot_is_member,
            "created": 1700000000,
            "members": list(members or []),
        }
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> Params:
        group = {"id": group_id, "team_id": self.team_id, "handle": handle, "users": list(users)}
        self.usergroups[group_id] = group
        return group

    def add_message(self, channel: str, text: str, **fields: Any) -> Params:
        """A message posted by someone else (or by an earlier run of the bot)."""
        message = {"type": "message", "text": text, "ts": self._next_ts(), **fields}
        self.messages.setdefault(channel, []).append(message)
        return message

    # ---- injected failures -----------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int | None = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` (None: every call until ``recover``)
        with HTTP 429, ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``."""
        body = {"ok": False, "error": "ratelimited"}
        self.throttle(API + method, retry_after, times=times, body=body)

    def enforce_rates(self, *, post_interval: float = 1.0, updates_per_minute: int = 50) -> None:
        """Refuse, like Slack, a second ``chat.postMessage`` to a channel within
        ``post_interval`` seconds and ``chat.update`` past ``updates_per_minute`` in any 60
        seconds: HTTP 429 with ``Retry-After``, on the fake's clock (``clock=``)."""
        self.post_interval = post_interval
        self.updates_per_minute = updates_per_minute

    def _rate_limited(self, method: str, params: Params) -> float | None:
        """Seconds to wait when ``enforce_rates`` refuses this call, else None (counted)."""
        now = self.request_clock()
        if method == "chat.postMessage" and self.post_interval is not None:
            channel = self.find_channel(str(params.get("channel") or ""))
            where = channel["id"] if channel else str(params.get("channel"))
            last = self._posted_at.get(where)
            if last is not None and now - last < self.post_interval - 1e-6:
                return last + self.post_interval - now
            self._posted_at[where] = now
        if method == "chat.update" and self.updates_per_minute is not None:
            while self._updated_at and self._updated_at[0] <= now - 60:
                self._updated_at.popleft()
            if len(self._updated_at) >= self.updates_per_minute:
                return self._updated_at[0] + 60 - now
            self._updated_at.append(now)
        return None

    def fail(self, method: str, error: str, *, times: int = 1, **extra: Any) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        body = {"ok": False, "error": error, **extra}
        self.inject(Failure(API + method, 200, body, times=times))

    def recover(self, path: str = "") -> None:
        """Drop the injected failures of Web API method ``path`` (all when empty)."""
        super().recover(API + path if path and not path.startswith("/") else path)

    # ---- what tests look at ----------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API call received (injected answers included), oldest first."""
        calls = [Call.of(r) for r in self.requests if r.path.startswith(API)]
        return [c for c in calls if method is None or c.method == method]

    @property
    def log(self) -> list[Call]:
        return self.calls()

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        entry = recorded(request)
        if (
            entry.content_type == "application/json"
            and entry.body
            and not isinstance(entry.json, dict)
        ):
            return web.json_response({"ok": False, "error": "invalid_json"})
        params = Call.of(entry).params
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else str(params.get("token", ""))
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":  # the one method of the app-level token
            if token != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            url = f"wss://wss-primary.slack.com/link/?ticket={self._next_ts()}"
            return web.json_response({"ok": True, "url": url})
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if self.revoked:
            return web.json_response({"ok": False, "error": "token_revoked"})
        handler = self.handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        wait = self._rate_limited(method, params)
        if wait is not None:
            self.limited.append(Call.of(entry))
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers=headers)
        if blocks_characters(decoded(params.get("blocks"))) > BLOCKS_CHARACTERS:
            return web.json_response({"ok": False, "error": "msg_blocks_too_long"})
        try:
            answer = handler(params)
        except SlackError as exc:
            return web.json_response({"ok": False, "error": exc.error, **exc.extra})
        return web.json_response({"ok": True, **answer})


def blocks_characters(value: Any) -> int:
    """Characters of text, values and URLs in a block structure (Slack's size measure)."""
    if isinstance(value, list):
        return sum(blocks_characters(v) for v in value)
    if isinstance(value, dict):
        own = sum(
            len(v) for k, v in value.items() if k in ("text", "value", "url") and isinstance(v, str)
        )
        return own + sum(blocks_characters(v) for v in value.values() if isinstance(v, dict | list))
    return 0
