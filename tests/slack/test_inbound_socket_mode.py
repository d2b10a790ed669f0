"""Socket Mode: with ``slack.app_token`` set the same app takes envelopes over a websocket and
acks each one by its ``envelope_id`` (no public URL needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import EventKind
from bot.errors import ConfigError
from bot.surfaces.slack.app import start_socket_mode

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, BILLING, BOB, Harness, running

APP_TOKEN = "xapp-1-A0APP-1-test"


class SocketModeEndpoint:
    """Slack's side of Socket Mode on loopback: ``apps.connections.open`` hands out a
    websocket URL; the socket says hello, carries envelopes and collects the acks."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_post("/api/apps.connections.open", self.open)
        self.app.router.add_get("/link", self.link)
        self.server = TestServer(self.app, host="127.0.0.1")
        self.socket: web.WebSocketResponse | None = None
        self.connected = asyncio.Event()
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.tokens: list[str] = []
        self.error = ""
        """When set, ``apps.connections.open`` answers ``{"ok": false, "error": ...}``..."""
        self.error_times = -1
        """...that many times (negative: always)."""

    async def open(self, request: web.Request) -> web.Response:
        self.tokens.append(request.headers.get("Authorization", ""))
        if self.error and self.error_times != 0:
            self.error_times -= 1
            return web.json_response({"ok": False, "error": self.error})
        url = str(self.server.make_url("/link")).replace("http://", "ws://")
        return web.json_response({"ok": True, "url": url})

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}
        await socket.send_json(hello)
        self.connected.set()
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                await self.acks.put(json.loads(message.data))
        return socket

    async def deliver(self, envelope: dict[str, Any]) -> dict[str, Any]:
        await asyncio.wait_for(self.connected.wait(), 5)
        assert self.socket is not None
        await self.socket.send_json(envelope)
        return await asyncio.wait_for(self.acks.get(), 5)


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path, app_token=APP_TOKEN) as harness:
        yield harness


async def test_no_app_token_means_no_socket(fake_slack: FakeSlack, tmp_path: Path) -> None:
    async with running(fake_slack, tmp_path) as h:
        assert await start_socket_mode(h.client.app) is None


async def test_socket_mode_runs_commands_and_events(h: Harness) -> None:
    await commands_and_events_over_the_socket(h)


async def test_socket_mode_needs_no_signing_secret_and_then_takes_nothing_over_http(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with running(fake_slack, tmp_path, app_token=APP_TOKEN, signed=False) as h:
        assert h.inbound.settings.signing_secret == ""
        body = h.command_body(ALICE, "/claim", "T-1")
        unsigned = await h.client.post(
            "/slack/events",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert unsigned.status == 404
        await commands_and_events_over_the_socket(h)


async def commands_and_events_over_the_socket(h: Harness) -> None:
    endpoint = SocketModeEndpoint()
    await endpoint.server.start_server()
    try:
        client = AsyncWebClient(base_url=str(endpoint.server.make_url("/api/")))
        handler = await start_socket_mode(h.client.app, web_client=client)
        assert handler is not None
        assert endpoint.tokens == [f"Bearer {APP_TOKEN}"] * 2, "the check, then the socket"
        thread = await h.arrive("My card was charged twice")
        command = {
            "token": "legacy-verification-token",
            "team_id": h.fake.team_id,
            "channel_id": BILLING,
            "channel_name": "billing",
            "user_id": ALICE,
            "user_name": "alice",
            "command": "/claim",
            "text": thread.short_id,
            "api_app_id": h.fake.app_id,
            "response_url": "https://hooks.slack.com/commands/T0TEAM/1/x",
            "trigger_id": h.trigger(),
        }
        ack = await endpoint.deliver(
            {
                "envelope_id": "env-command-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": command,
            }
        )
        assert ack == {"envelope_id": "env-command-1"}
        channel, ts = await h.card(thread)
        message = h.said(BOB, channel, "on it", ts)
        ack = await endpoint.deliver(
            {
                "envelope_id": "env-event-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": h.envelope(message),
            }
        )
        assert ack == {"envelope_id": "env-event-1"}
        await h.settle()
        claimed = await h.board.threads.find(thread.id)
        assert claimed.owner is not None and claimed.owner.id == ALICE
        assert h.ephemerals(ALICE) == [f"You have {thread.short_id}."]
        notes = [e for e in await h.board.store.events(thread.id) if e.kind is EventKind.NOTE]
        assert [n.data["text"] for n in notes] == ["on it"]
    finally:
        await h.client.close()
        await endpoint.server.close()


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type", "token_revoked"])
async def test_a_rejected_app_token_fails_at_start_with_one_line(h: Harness, error: str) -> None:
    endpoint = SocketModeEndpoint()
    endpoint.error = error
    await endpoint.server.start_server()
    try:
        client = AsyncWebClient(base_url=str(endpoint.server.make_url("/api/")))
        with pytest.raises(ConfigError) as raised:
            await start_socket_mode(h.client.app, web_client=client)
        message = str(raised.value)
        assert "\n" not in message
        assert "slack.app_token" in message and error in message and "xapp-" in message
        assert endpoint.tokens == [f"Bearer {APP_TOKEN}"], "asked once, no reconnect loop"
        assert h.inbound.socket is None and not endpoint.connected.is_set()
    finally:
        await endpoint.server.close()


async def test_a_transient_failure_is_left_to_the_reconnects(h: Harness) -> None:
    endpoint = SocketModeEndpoint()
    endpoint.error, endpoint.error_times = "ratelimited", 1
    await endpoint.server.start_server()
    try:
        client = AsyncWebClient(base_url=str(endpoint.server.make_url("/api/")))
        task = asyncio.create_task(start_socket_mode(h.client.app, web_client=client))
        handler = await asyncio.wait_for(task, 5)
        assert handler is not None
        await asyncio.wait_for(endpoint.connected.wait(), 5)
    finally:
        await h.client.close()
        await endpoint.server.close()
