"""Issue 10: /readyz is 503 while Teams gives us no token, and names ``teams token``.

The bot is wired as ``switchboard serve`` wires it (``install_platforms``, ``start_platforms``)
with a client secret; tokens come from a loopback Entra ID token endpoint (``LoginFake``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Switchboard
from bot.config import Config, parse_config
from bot.platforms import install_platforms, start_platforms
from bot.server import build_app
from tests.boards import mention_item, real_store, write_items
from tests.clock import FakeTime, eventually
from tests.teams.fake_graph import GraphFake
from tests.teams.fakes import ConnectorFake, LoginFake
from tests.teams.test_surface import make_card
from tests.teams.world import APP_ID, DEPARTMENTS, SUPPORT, TEAM_GROUP, TENANT

SECRET = "the-client-secret"
TOKEN = "eyJ0eXAiOi.bot-framework-token"


@dataclass
class Served:
    board: Switchboard
    app: web.Application
    config: Config
    client: TestClient[web.Request, web.Application]
    time: FakeTime

    async def ready(self) -> tuple[int, dict[str, Any]]:
        response = await self.client.get("/readyz")
        body: dict[str, Any] = await response.json()
        return response.status, body


@pytest.fixture
async def login() -> AsyncIterator[LoginFake]:
    fake = LoginFake(tenant=TENANT, client_id=APP_ID, secret=SECRET, token=TOKEN)
    await fake.start()
    yield fake
    await fake.close()


@asynccontextmanager
async def served(
    tmp_path: Path,
    connector: ConnectorFake,
    authority: str,
    secret: str = SECRET,
    **more: str,
) -> AsyncIterator[Served]:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    teams = {
        "app_id": APP_ID,
        "app_password": secret,
        "tenant_id": TENANT,
        "auth_authority": authority,
        "service_url": connector.url + "/",
        **more,
    }
    config = parse_config(
        {
            "departments": DEPARTMENTS,
            "teams": teams,
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
            "routing": {"default_department": "support"},
        }
    )
    time = FakeTime()
    async with real_store("sqlite", tmp_path) as store:
        board = Switchboard.from_config(config, [], store=store)
        app = build_app(board)
        closers = install_platforms(board, app, config, clock=time.monotonic)
        try:
            async with TestClient(TestServer(app)) as client:
                await start_platforms(app, config)
                yield Served(board, app, config, client, time)
        finally:
            for close in closers:
                await close()


async def test_a_refused_client_secret_is_not_ready_until_the_login_endpoint_gives_a_token(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    login.refuse = True
    async with served(tmp_path, connector, login.authority) as s:
        assert login.requests_made() == 1, "a first token is asked for at start"
        form = login.calls(login.path)[0].body.decode()
        assert "grant_type=client_credentials" in form and f"client_id={APP_ID}" in form

        status, body = await s.ready()
        assert status == 503 and body["ready"] is False
        assert body["broken"] == ["teams token"]
        state = body["platforms"]["teams token"]
        assert state.startswith("failing: ")
        assert "HTTP 401" in state and "invalid_client" in state and "AADSTS7000215" in state
        assert SECRET not in state

        login.refuse = False
        status, body = await s.ready()
        assert status == 503, "the answer is kept for a minute: probes do not hammer the login"
        assert login.requests_made() == 1

        await s.time.advance(60)
        status, body = await s.ready()
        assert status == 200, body
        assert body["platforms"]["teams token"] == "ok" and body["broken"] == []
        assert login.requests_made() == 2

        await s.time.advance(60)
        status, _ = await s.ready()
        assert status == 200 and login.requests_made() == 2, "a held token is not asked again"


async def test_a_token_that_expires_and_cannot_be_renewed_is_not_ready(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    login.expires_in = 400  # renewed 300 s before it ends: fresh for 100 s
    async with served(tmp_path, connector, login.authority) as s:
        status, body = await s.ready()
        assert status == 200 and body["platforms"]["teams token"] == "ok"
        login.refuse = True
        await s.time.advance(60)
        status, _ = await s.ready()
        assert status == 200 and login.requests_made() == 1, "still fresh: no request"
        await s.time.advance(60)
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["teams token"]
        assert login.requests_made() == 2


async def test_a_wrong_secret_from_the_config_is_named(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    async with served(tmp_path, connector, login.authority, secret="an-old-secret") as s:
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["teams token"]
        assert "invalid_client" in body["platforms"]["teams token"]


async def test_an_unreachable_login_endpoint_is_not_ready(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    authority = login.authority
    await login.close()
    async with served(tmp_path, connector, authority) as s:
        status, body = await s.ready()
        assert status == 503 and body["broken"] == ["teams token"]
        assert "cannot reach the login endpoint" in body["platforms"]["teams token"]


async def test_the_token_is_the_one_the_connector_is_called_with(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    connector.token = TOKEN
    async with served(tmp_path, connector, login.authority) as s:
        surface = s.board.surfaces[0]
        await s.board.start()
        try:
            status, _ = await s.ready()
            assert status == 200
            await eventually(lambda: bool(connector.cards()), message="no card was posted")
            assert surface.name == "teams"
        finally:
            await s.board.stop()


async def test_graph_refusing_look_ups_is_said_in_readyz_without_taking_the_bot_out(
    tmp_path: Path, connector: ConnectorFake, login: LoginFake
) -> None:
    """Cards still post without Graph, so a refusal is a detail, not a 503; it names why."""
    graph = GraphFake(connector, token=TOKEN, app_id=APP_ID)
    graph.teams[TEAM_GROUP] = {SUPPORT}
    graph.refuse = True
    await graph.start()
    try:
        async with served(
            tmp_path, connector, login.authority, graph_url=graph.base, team_id=TEAM_GROUP
        ) as s:
            status, body = await s.ready()
            assert status == 200 and body["platforms"]["teams graph"] == "ok (not needed yet)"
            [teams] = s.board.surfaces
            assert await teams.find_card(SUPPORT, make_card(), "th1:0:teams") is None  # type: ignore[attr-defined]
            assert len(graph.calls(graph.messages_path(TEAM_GROUP, SUPPORT))) == 1
            status, body = await s.ready()
            assert status == 200 and body["broken"] == []
            state = body["platforms"]["teams graph"]
            assert state.startswith("falling back to posting again (at least once)")
            assert "HTTP 403" in state and "ChannelMessage.Read.Group" in state

            graph.refuse = False
            assert await teams.find_card(SUPPORT, make_card(), "th1:0:teams") is None  # type: ignore[attr-defined]
            status, body = await s.ready()
            assert body["platforms"]["teams graph"] == "ok"
    finally:
        await graph.close()
