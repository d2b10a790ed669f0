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
    fake.fail("chat.update", "message_not_found")  # {"ok": false, "error": ...}
    await fake.close()

Bodies may be form-encoded (JSON-valued fields such as ``blocks`` as strings) or JSON. The
token comes from ``Authorization: Bearer`` (or a form ``token``); a missing one answers
``not_authed`` and a wrong one ``invalid_auth``, with HTTP 200 as Slack does. Blocks are
checked against Slack's limits and refused with ``invalid_blocks`` like Slack.
Import it relatively inside ``tests/slack`` (``from .fake_slack import FakeSlack``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.test_utils import TestServer

from .fake_methods import Params, SlackError, SlackMethods, decoded


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: Params
    headers: dict[str, str]
    at: float
    """``time.monotonic()`` on arrival."""
    content_type: str = ""

    def obj(self, name: str) -> Any:
        """A JSON-valued parameter, decoded whether it came as JSON or as a form string."""
        return decoded(self.params.get(name))


@dataclass
class Injected:
    error: str
    times: int
    status: int = 200
    retry_after: int | None = None
    extra: Params = field(default_factory=dict)


class FakeSlack(SlackMethods):
    """The fake workspace: users, channels, user groups, messages, views; see module doc."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        signing_secret: str = "test-signing-secret",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
    ) -> None:
        super().__init__(team_id=team_id, bot_user_id=bot_user_id)
        self.token = token
        self.signing_secret = signing_secret
        self.log: list[Call] = []
        self.injected: dict[str, list[Injected]] = {}
        self._server: TestServer | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._handle)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        self._server = TestServer(self.app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self.api_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    @property
    def api_url(self) -> str:
        """Base URL for ``slack.api_url`` / slack_sdk ``base_url`` (ends with ``/api/``)."""
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("/api/"))

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

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        self.injected.setdefault(method, []).append(
            Injected("ratelimited", times, status=429, retry_after=retry_after)
        )

    def fail(self, method: str, error: str, *, times: int = 1, **extra: Any) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        self.injected.setdefault(method, []).append(Injected(error, times, extra=extra))

    # ---- what tests look at ----------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self.log if method is None or c.method == method]

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: Params = dict(request.query)
        ctype = request.content_type
        body = await request.read()
        if ctype == "application/json" and body:
            try:
                loaded = json.loads(body)
            except ValueError:
                return web.json_response({"ok": False, "error": "invalid_json"})
            if not isinstance(loaded, dict):
                return web.json_response({"ok": False, "error": "invalid_json"})
            params.update(loaded)
        elif body:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        elif ctype.startswith("multipart/"):
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        self.log.append(Call(method, params, dict(request.headers), time.monotonic(), ctype))
        injected = self._take_injected(method)
        if injected is not None:
            headers = {}
            if injected.retry_after is not None:
                headers["Retry-After"] = str(injected.retry_after)
            return web.json_response(
                {"ok": False, "error": injected.error, **injected.extra},
                status=injected.status,
                headers=headers,
            )
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else str(params.get("token", ""))
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self.handlers.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            answer = handler(params)
        except SlackError as exc:
            return web.json_response({"ok": False, "error": exc.error, **exc.extra})
        return web.json_response({"ok": True, **answer})

    def _take_injected(self, method: str) -> Injected | None:
        queue = self.injected.get(method)
        if not queue:
            return None
        injected = queue[0]
        injected.times -= 1
        if injected.times <= 0:
            queue.pop(0)
        return injected
