"""The whole Slack app on loopback: board + SQLite store + replay source + SlackSurface on the
fake Slack Web API, with ``POST /slack/events`` served by the real aiohttp app. Requests are
signed and shaped exactly as Slack sends them: urlencoded slash commands, ``payload=``
interactivity, JSON Events API callbacks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.replay import ReplaySource
from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Author, Mention, Thread
from bot.server import build_app
from bot.store import Store
from bot.surfaces.slack.app import install_slack
from bot.surfaces.slack.inbound import SlackInbound
from bot.surfaces.slack.surface import SlackSurface

from .fake_slack import FakeSlack

ALICE, BOB, CAROL, GUS = "U0ALICE", "U0BOB", "U0CAROL", "U0GUEST"
BILLING, SUPPORT, PRESS = "C0BILLING", "C0SUPPORT", "C0PRESS"
EVERYONE = [ALICE, BOB, CAROL, GUS, "U0BOT"]
FORM = "application/x-www-form-urlencoded"


def sign(secret: str, body: str, ts: int) -> str:
    base = f"v0:{ts}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def interaction_body(payload: dict[str, Any]) -> str:
    """An interactivity request's body: ``payload=<json>``, urlencoded."""
    return urlencode({"payload": json.dumps(payload)})


def workspace(fake: FakeSlack) -> None:
    fake.add_user(ALICE, "alice", display_name="alice")
    fake.add_user(BOB, "bob", display_name="bob")
    fake.add_user(CAROL, "carol", display_name="carol")
    fake.add_user(GUS, "gus", display_name="gus", is_restricted=True)
    fake.add_channel(BILLING, "billing", members=EVERYONE)
    fake.add_channel(SUPPORT, "support", members=EVERYONE)
    fake.add_channel(PRESS, "press", members=EVERYONE)
    fake.add_usergroup("S0SUPPORT", "support-team", [BOB])
    fake.add_usergroup("S0PRESS", "press-team", [CAROL, BOB])


def config_for(
    fake: FakeSlack, tmp: Path, app_token: str = "", *, signed: bool = True
) -> dict[str, Any]:
    """``signed``: with the signing secret (Socket Mode may go without)."""
    tmp.mkdir(parents=True, exist_ok=True)
    slack = fake.settings() | ({"app_token": app_token} if app_token else {})
    if not signed:
        del slack["signing_secret"]
    replay = tmp / "mentions.json"
    replay.write_text("[]", encoding="utf-8")
    return {
        "store": {"url": f"sqlite:///{tmp}/s.sqlite3"},
        "slack": slack,
        "departments": [
            {"name": "billing", "title": "Billing", "slack_channel": BILLING},
            {
                "name": "support",
                "title": "Support",
                "slack_channel": "#support",
                "slack_usergroup": "S0SUPPORT",
                "reply_policy": "members",
            },
            {
                "name": "press",
                "title": "Press",
                "slack_channel": PRESS,
                "slack_usergroup": "S0PRESS",
                "reply_policy": "approval",
            },
        ],
        "sources": [{"name": "sample", "type": "replay", "path": str(replay), "reply_limit": 500}],
        "routing": {
            "default_department": "billing",
            "rules": [{"department": "press", "keywords": ["journalist"]}],
        },
    }


@dataclass
class Harness:
    fake: FakeSlack
    board: Switchboard
    surface: SlackSurface
    inbound: SlackInbound
    client: TestClient[Any, Any]
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def source(self) -> ReplaySource:
        source = self.board.sources[0]
        assert isinstance(source, ReplaySource)
        return source

    # ---- requests, as Slack sends them --------------------------------------------------

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        ts: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        stamp = int(time.time()) if ts is None else ts
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(secret or self.fake.signing_secret, body, stamp),
            **(headers or {}),
        }
        return await self.client.post("/slack/events", data=body.encode(), headers=signed)

    async def command(
        self, user: str, command: str, text: str = "", channel: str = BILLING
    ) -> ClientResponse:
        body = self.command_body(user, command, text, channel)
        return await self.send(body, "application/x-www-form-urlencoded")

    def command_body(self, user: str, command: str, text: str = "", channel: str = BILLING) -> str:
        """A slash command's urlencoded body, as Slack sends it."""
        name = self.fake.channels[channel]["name"]
        form = {
            "token": "legacy-verification-token",
            "team_id": self.fake.team_id,
            "team_domain": "switchboard-test",
            "channel_id": channel,
            "channel_name": name,
            "user_id": user,
            "user_name": self.fake.users[user]["name"],
            "command": command,
            "text": text,
            "api_app_id": self.fake.app_id,
            "is_enterprise_install": "false",
            "response_url": f"https://hooks.slack.com/commands/{self.fake.team_id}/1/x",
            "trigger_id": self.trigger(),
        }
        return urlencode(form)

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        return await self.send(interaction_body(payload), "application/x-www-form-urlencoded")

    def trigger(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.trigger"

    def _user(self, user: str) -> dict[str, Any]:
        name = self.fake.users[user]["name"]
        return {"id": user, "username": name, "name": name, "team_id": self.fake.team_id}

    async def click(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str = BILLING,
        message_ts: str = "",
        home: bool = False,
        overflow: bool = False,
    ) -> ClientResponse:
        payload = self.click_payload(
            user,
            action_id,
            value,
            channel=channel,
            message_ts=message_ts,
            home=home,
            overflow=overflow,
        )
        return await self.interact(payload)

    def click_payload(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str = BILLING,
        message_ts: str = "",
        home: bool = False,
        overflow: bool = False,
    ) -> dict[str, Any]:
        """A ``block_actions`` payload for a click on one of our buttons."""
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "sb_card",
            "action_ts": f"{time.time():.6f}",
        }
        if overflow:
            option = {"text": {"type": "plain_text", "text": "x"}, "value": value}
            action |= {"type": "overflow", "selected_option": option}
        else:
            action |= {
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.fake.app_id,
            "token": "legacy-verification-token",
            "trigger_id": self.trigger(),
            "team": {"id": self.fake.team_id, "domain": "switchboard-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
            "state": {"values": {}},
        }
        if home:
            view = self.fake.home.get(user, {"id": "VHOME", "type": "home"})
            payload |= {"container": {"type": "view", "view_id": view["id"]}, "view": view}
        else:
            message = self.fake.message(channel, message_ts) if message_ts else {}
            payload |= {
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                "channel": {"id": channel, "name": self.fake.channels[channel]["name"]},
                "message": message,
                "response_url": f"https://hooks.slack.com/actions/{self.fake.team_id}/1/x",
            }
        return payload

    async def submit(
        self, user: str, view: dict[str, Any], values: dict[str, Any]
    ) -> ClientResponse:
        submitted = dict(view) | {"state": {"values": values}}
        payload = {
            "type": "view_submission",
            "team": {"id": self.fake.team_id, "domain": "switchboard-test"},
            "user": self._user(user),
            "api_app_id": self.fake.app_id,
            "token": "legacy-verification-token",
            "trigger_id": self.trigger(),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return await self.interact(payload)

    async def shortcut(
        self,
        user: str,
        channel: str,
        message: dict[str, Any],
        callback_id: str = "sb_public_reply",
    ) -> ClientResponse:
        payload = {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.fake.team_id, "domain": "switchboard-test"},
            "user": self._user(user),
            "channel": {"id": channel, "name": self.fake.channels[channel]["name"]},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger(),
            "response_url": f"https://hooks.slack.com/app/{self.fake.team_id}/1/x",
            "message_ts": message["ts"],
            "message": message,
        }
        return await self.interact(payload)

    def envelope(self, event: dict[str, Any], event_id: str = "") -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": self.fake.team_id,
            "api_app_id": self.fake.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.fake.team_id,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
        }

    async def event(
        self, event: dict[str, Any], *, event_id: str = "", retry: int | None = None
    ) -> ClientResponse:
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(self.envelope(event, event_id))
        return await self.send(body, "application/json", headers=headers)

    def said(self, user: str, channel: str, text: str, thread_ts: str = "") -> dict[str, Any]:
        """A person's message, stored in the fake, as its ``message`` event."""
        fields: dict[str, Any] = {"user": user, "client_msg_id": f"msg-{next(self._ids)}"}
        if thread_ts:
            fields["thread_ts"] = thread_ts
        message = self.fake.add_message(channel, text, **fields)
        return dict(message) | {
            "channel": channel,
            "event_ts": message["ts"],
            "channel_type": "channel",
        }

    # ---- the product side ---------------------------------------------------------------

    async def settle(self) -> None:
        """Let the acked work finish and the card changes reach Slack."""
        for _ in range(3):
            await self.inbound.settle()
            await self.board.dispatcher.drain()
        await self.inbound.settle()

    async def arrive(
        self,
        text: str,
        *,
        handle: str = "dana@social.example",
        name: str = "Dana Customer",
        number: int | None = None,
    ) -> Thread:
        n = number if number is not None else next(self._ids)
        mention = Mention(
            source="sample",
            network="mastodon",
            external_id=f"post-{n}",
            conversation_key=f"conv-{n}",
            author=Author(
                id=f"acct-{n}",
                handle=handle,
                display_name=name,
                profile_url="https://social.example/@dana",
            ),
            text=text,
            permalink=f"https://social.example/@dana/{n}",
        )
        outcome = await self.board.threads.ingest(mention)
        assert outcome is not None
        await self.settle()
        return await self.board.threads.find(outcome.thread.id)

    async def card(self, thread: Thread) -> tuple[str, str]:
        """(channel, ts) of the thread's current Slack card."""
        ref = await self.inbound.current_card(thread.id)
        assert ref is not None, f"no Slack card for {thread.short_id}"
        return ref.channel, ref.message_id

    def ephemerals(self, user: str) -> list[str]:
        return [e["text"] for e in self.fake.ephemerals if e["user"] == user]

    def opened(self, callback_id: str) -> list[dict[str, Any]]:
        return [v for v in self.fake.views.values() if v.get("callback_id") == callback_id]


@asynccontextmanager
async def running(
    fake: FakeSlack,
    tmp: Path,
    *,
    app_token: str = "",
    store: Store | None = None,
    signed: bool = True,
) -> AsyncIterator[Harness]:
    """One replica; several replicas share ``store`` (its own SQLite file otherwise)."""
    workspace(fake)
    config = parse_config(config_for(fake, tmp, app_token, signed=signed))
    assert config.slack is not None
    surface = SlackSurface.from_config(config, per_channel_interval=0.0)
    board = Switchboard.from_config(config, [surface], store)
    app = build_app(board)
    inbound = install_slack(board.desk, app, config.slack, surface)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Harness(fake, board, surface, inbound, client)
    finally:
        await client.close()
        await board.stop()
