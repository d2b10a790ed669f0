"""Issue 10: /readyz is 503 while Slack refuses the bot token or Socket Mode stays down, and
names ``slack auth`` / ``slack socket mode``.

The bot is wired as ``switchboard serve`` wires it (``install_platforms``, then
``start_platforms`` / ``start_slack``) against the loopback Slack Web API; time is a
``FakeTime`` handed to ``install_platforms``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Switchboard
from bot.config import Config, parse_config
from bot.platforms import install_platforms, start_platforms
from bot.server import build_app
from bot.surfaces.slack.app import start_slack
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackCallError
from tests.clock import FakeTime, eventually

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, config_for, workspace
from .test_inbound_socket_mode import APP_TOKEN, SocketModeEndpoint


@dataclass
class Served:
    board: Switchboard
    app: web.Application
    config: Config
    client: TestClient[web.Request, web.Application]
    time: FakeTime
    fake: FakeSlack

    @property
    def surface(self) -> SlackSurface:
        surface = self.board.surfaces[0]
        assert isinstance(surface, SlackSurface)
        return surface

    async def ready(self) -> tuple[int, dict[str, Any]]:
        response = await self.client.get("/readyz")
        body: dict[str, Any] = await response.json()
        return response.status, body

    def auth_tests(self) -> int:
        return len(self.fake.calls("auth.test"))


@asynccontextmanager
async def served(fake: FakeSlack, tmp_path: Path, *, app_token: str = "") -> AsyncIterator[Served]:
    workspace(fake)
    config = parse_config(config_for(fake, tmp_path, app_token=app_token))
    time = FakeTime()
    board = Switchboard.from_config(config, [])
    app = build_app(board)
    install_platforms(board, app, config, clock=time.monotonic)
    try:
        async with TestClient(TestServer(app)) as client:
            yield Served(board, app, config, client, time, fake)
    finally:
        await board.store.close()


async def test_a_revoked_token_is_not_ready_until_slack_accepts_it_again(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with served(fake_slack, tmp_path) as s:
        await start_platforms(s.app, s.config)
        assert s.auth_tests() == 1, "the token is checked once at start"
        status, body = await s.ready()
        assert status == 200 and body["platforms"] == {"slack auth": "ok"}
        for _ in range(5):
            assert (await s.ready())[0] == 200
        assert s.auth_tests() == 1, "probes are answered from what Slack last said"

        fake_slack.revoked = True
        with pytest.raises(SlackCallError):
            await s.surface.api.call("users.info", user=ALICE)
        status, body = await s.ready()
        assert status == 503 and body["ready"] is False
        assert body["broken"] == ["slack auth"]
        assert body["platforms"]["slack auth"] == "failing: users.info refused (token_revoked)"
        assert s.auth_tests() == 1, "any call's answer counts; no auth.test was needed"

        fake_slack.revoked = False
        await s.time.advance(30)
        assert (await s.ready())[0] == 503, "not asked again within the minute"
        assert s.auth_tests() == 1
        await s.time.advance(30)
        status, body = await s.ready()
        assert status == 200, body
        assert body["platforms"]["slack auth"] == "ok" and body["broken"] == []
        assert s.auth_tests() == 2


async def test_any_later_success_clears_a_refusal_without_auth_test(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with served(fake_slack, tmp_path) as s:
        await start_platforms(s.app, s.config)
        fake_slack.fail("chat.postMessage", "account_inactive")
        with pytest.raises(SlackCallError):
            await s.surface.api.post("C0BILLING", text="hello")
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["slack auth"]
        assert "chat.postMessage refused (account_inactive)" in body["platforms"]["slack auth"]
        await s.surface.api.call("users.info", user=ALICE)
        status, _ = await s.ready()
        assert status == 200 and s.auth_tests() == 1


async def test_a_token_refused_at_start_is_named_at_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with served(fake_slack, tmp_path) as s:
        fake_slack.revoked = True
        await start_platforms(s.app, s.config)
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["slack auth"]
        assert body["platforms"]["slack auth"] == "failing: auth.test refused (token_revoked)"


async def test_rate_limits_and_other_errors_do_not_make_auth_broken(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with served(fake_slack, tmp_path) as s:
        fake_slack.rate_limit("auth.test", times=None, retry_after=30)
        await start_platforms(s.app, s.config)
        status, body = await s.ready()
        assert status == 200, body
        assert body["platforms"]["slack auth"].startswith("unknown: auth.test failed (ratelimited)")
        assert s.auth_tests() == 1
        fake_slack.fail("users.info", "user_not_found")
        with pytest.raises(SlackCallError):
            await s.surface.api.call("users.info", user="U0NOBODY")
        assert (await s.ready())[0] == 200
        fake_slack.recover()
        await s.time.advance(60)
        status, body = await s.ready()
        assert status == 200 and body["platforms"]["slack auth"] == "ok"


@pytest.fixture
async def endpoint() -> AsyncIterator[SocketModeEndpoint]:
    socket_mode = SocketModeEndpoint()
    await socket_mode.server.start_server()
    yield socket_mode
    await socket_mode.server.close()


async def test_socket_mode_down_beyond_the_grace_is_not_ready(
    fake_slack: FakeSlack, tmp_path: Path, endpoint: SocketModeEndpoint
) -> None:
    async with served(fake_slack, tmp_path, app_token=APP_TOKEN) as s:
        status, body = await s.ready()
        assert body["platforms"]["slack socket mode"].startswith("connecting for 0 s")
        client = AsyncWebClient(base_url=str(endpoint.server.make_url("/api/")))
        assert await start_slack(s.app, web_client=client) is not None
        status, body = await s.ready()
        assert status == 200, body
        assert body["platforms"] == {"slack auth": "ok", "slack socket mode": "connected"}

        endpoint.error = "ratelimited"  # reconnecting keeps failing
        assert endpoint.socket is not None
        await endpoint.socket.close()

        async def reconnecting() -> bool:
            _, body = await s.ready()
            return str(body["platforms"]["slack socket mode"]).startswith("reconnecting")

        await eventually(reconnecting, within=5)
        await s.time.advance(20)
        status, body = await s.ready()
        assert status == 200, "within the grace it is only reported"
        assert body["platforms"]["slack socket mode"].startswith("reconnecting for 20 s")
        await s.time.advance(11)
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["slack socket mode"]
        assert body["platforms"]["slack socket mode"] == "reconnecting for 31 s"
