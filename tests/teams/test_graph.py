"""Finding our own Teams posts through Microsoft Graph: pages, tokens, refusals, team ids.

Real HTTP to the loopback Graph (``GraphFake``) over what the loopback connector holds, tokens
from the loopback Entra ID (``LoginFake``), team ids in the real stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from bot.domain import CardRef
from bot.store import Store
from bot.surfaces.teams.card import CARD_MARK, card_marker
from bot.surfaces.teams.connector import (
    Connector,
    TeamsApiError,
    auth_configuration,
    graph_token_provider,
)
from bot.surfaces.teams.graph import GRAPH_SCOPE, GraphClient
from bot.surfaces.teams.history import ChannelHistory, TeamDirectory
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.surfaces.teams.tokens import ClientSecretTokens
from bot.teams_config import TeamsSettings
from tests.teams.conftest import GRAPH_TOKEN, SECRET
from tests.teams.fake_graph import GraphFake
from tests.teams.fakes import ConnectorFake, LoginFake
from tests.teams.test_surface import DEPARTMENTS, make_card
from tests.teams.world import APP_ID, BILLING, SUPPORT, TEAM, TEAM_GROUP, TENANT, bot_added, world


def settings(
    connector: ConnectorFake, graph: GraphFake, entra: LoginFake, **more: str
) -> TeamsSettings:
    fields: dict[str, str] = {
        "app_id": APP_ID,
        "app_password": SECRET,
        "tenant_id": TENANT,
        "auth_authority": entra.authority,
        "service_url": connector.url + "/",
        "graph_url": graph.base,
        **more,
    }
    return TeamsSettings.model_validate(fields)


def marker_of(activity: dict[str, Any]) -> str:
    return str(activity["attachments"][0]["content"]["body"][0]["id"])


def tokens(teams: TeamsSettings) -> ClientSecretTokens:
    return ClientSecretTokens(teams, auth_configuration(teams))


@pytest.fixture
async def posted(
    store: Store, connector: ConnectorFake, graph: GraphFake, entra: LoginFake
) -> AsyncIterator[TeamsSurface]:
    """A surface that posted five cards (threads th0..th4) into the billing channel."""
    teams = settings(connector, graph, entra, team_id=TEAM_GROUP)
    provider = tokens(teams)
    history = ChannelHistory(
        GraphClient(teams.graph_url, provider, page=2), TeamDirectory(store, teams.team_id)
    )
    surface = TeamsSurface(
        teams, DEPARTMENTS, CardLookups(store), Connector(teams, provider), history
    )
    for n in range(5):
        card = make_card(thread_id=f"th{n}", department="billing")
        await surface.post_card(BILLING, card, f"th{n}:0:teams")
    yield surface
    await surface.close()


async def test_a_card_is_found_pages_back_by_its_marker_with_a_graph_token(
    posted: TeamsSurface, graph: GraphFake, entra: LoginFake, connector: ConnectorFake
) -> None:
    oldest = make_card(thread_id="th0", department="billing")
    ref = await posted.find_card(BILLING, oldest, "not-in-the-lookups")
    (card,) = [c for c in connector.cards(BILLING) if marker_of(c) == card_marker("th0", 0)]
    assert ref is not None and ref.message_id == card["id"]
    assert ref.channel == card["conversation"]["id"] and ref.placement == 0
    pages = graph.calls(graph.messages_path(TEAM_GROUP, BILLING), "GET")
    assert len(pages) == 3, "newest first, two a page: th0 is on the third"
    assert pages[0].param("$top") == "2" and pages[1].param("$skiptoken")
    scopes = [parse_qs(r.body.decode())["scope"] for r in entra.calls(entra.path)]
    assert [GRAPH_SCOPE] in scopes, "an application token for Graph"
    assert all(r.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}" for r in pages)


async def test_pages_are_bounded_and_a_card_beyond_them_is_not_found(
    store: Store, posted: TeamsSurface, graph: GraphFake
) -> None:
    graph_client = posted.history.graph
    assert graph_client is not None
    bounded = GraphClient(graph_client.base_url, graph_client.tokens, page=1, max_pages=2)
    history = ChannelHistory(bounded, TeamDirectory(store, TEAM_GROUP))
    try:
        assert await history.find_card(BILLING, card_marker("th0", 0)) is None
        assert await history.find_card(BILLING, card_marker("th3", 0)) is not None
        assert await history.find_card(BILLING, f"{CARD_MARK}nothing:0") is None
    finally:
        await history.close()
    assert len(graph.calls(graph.messages_path(TEAM_GROUP, BILLING))) == 2 + 2 + 2


async def test_a_line_is_found_in_the_cards_reply_chain(
    posted: TeamsSurface, graph: GraphFake
) -> None:
    ref = await posted.find_card(BILLING, make_card(thread_id="th4", department="billing"), "k")
    assert ref is not None
    assert await posted.find_line(ref, "e1:teams") is False
    await posted.notify(ref, "Claimed by Alice", "e1:teams")
    await posted.notify(ref, "Released by Alice", "e2:teams")
    assert await posted.find_line(ref, "e1:teams") is True
    assert await posted.find_line(ref, "e3:teams") is False
    other = CardRef(
        surface="teams",
        channel=f"{BILLING};messageid=1",
        message_id="1",
        department="billing",
        placement=0,
    )
    assert await posted.find_line(other, "e1:teams") is False  # 404: no such card


async def test_a_rate_limited_graph_pauses_the_lane_for_its_retry_after(
    posted: TeamsSurface, graph: GraphFake
) -> None:
    graph.throttle(graph.messages_path(TEAM_GROUP, BILLING), 7)
    with pytest.raises(TeamsApiError) as caught:
        await posted.find_card(BILLING, make_card(thread_id="th0"), "k")
    assert caught.value.retry_after == 7
    assert posted.history.health()["teams graph"].state.startswith("ok")
    assert await posted.find_card(BILLING, make_card(thread_id="th4"), "k") is not None


async def test_an_expired_token_is_renewed_once_and_a_refused_one_falls_back(
    posted: TeamsSurface, graph: GraphFake, entra: LoginFake
) -> None:
    assert await posted.find_card(BILLING, make_card(thread_id="th4"), "k0") is not None
    asked = entra.requests_made()  # the Graph token is held now
    expired = {"error": {"code": "InvalidAuthenticationToken", "message": "Token expired"}}
    graph.fail(graph.messages_path(TEAM_GROUP, BILLING), 401, expired)
    assert await posted.find_card(BILLING, make_card(thread_id="th4"), "k") is not None
    assert entra.requests_made() == asked + 1, "a fresh token, then the same page again"

    graph.token = "another-token"  # the answer to every token we get is 401
    assert await posted.find_card(BILLING, make_card(thread_id="th4"), "k2") is None
    health = posted.history.health()["teams graph"]
    assert not health.broken and "HTTP 401" in health.state


async def test_an_unknown_team_falls_back_and_says_how_to_fix_it(
    store: Store, connector: ConnectorFake, graph: GraphFake, entra: LoginFake
) -> None:
    teams = settings(connector, graph, entra)
    history = ChannelHistory(GraphClient(teams.graph_url, tokens(teams)), TeamDirectory(store))
    try:
        assert await history.find_card(BILLING, card_marker("th0", 0)) is None
        state = history.health()["teams graph"].state
        assert "team of channel" in state and "teams.team_id" in state
        assert graph.listings() == 0
        graph.teams.clear()  # a configured id that is not the channel's team: 404
        wrong = ChannelHistory(history.graph, TeamDirectory(store, TEAM_GROUP))
        assert await wrong.find_card(BILLING, card_marker("th0", 0)) is None
        assert "HTTP 404" in wrong.health()["teams graph"].state
    finally:
        await history.close()


async def test_the_team_learnt_from_an_installation_is_known_to_every_replica(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    """Teams names the team's group id when the app is added; a replica that never saw that
    activity finds it in the store, for the channel and as the team learnt last."""
    async with world(store, connector, tmp_path) as w:
        status, _ = await w.post(bot_added(TEAM, w.service_url))
        assert status in (200, 202)
    other = TeamDirectory(store)
    assert await other.team_for(TEAM) == TEAM_GROUP
    assert await other.team_for(SUPPORT) == TEAM_GROUP
    assert await TeamDirectory(store, "0e0e0e0e-0000-4000-8000-000000000000").team_for(TEAM) == (
        TEAM_GROUP
    ), "what Teams said wins over the config for that channel"


def test_a_multi_tenant_bot_asks_the_teams_own_tenant_for_graph_tokens() -> None:
    """Bot Framework tokens of a multi-tenant bot come from botframework.com; Graph tokens
    must come from the tenant that holds the team."""
    multi = TeamsSettings(
        app_id=APP_ID, app_password=SECRET, tenant_id=TENANT, app_type="multi_tenant"
    )
    bot = tokens(multi)
    assert bot.url.endswith("/botframework.com/oauth2/v2.0/token")
    graph_tokens = graph_token_provider(multi, bot)
    assert isinstance(graph_tokens, ClientSecretTokens)
    assert graph_tokens.url.endswith(f"/{TENANT}/oauth2/v2.0/token")
    single = TeamsSettings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT)
    same = tokens(single)
    assert graph_token_provider(single, same) is same, "one client, tokens cached per scope"
