"""The Teams surface against the fake Bot Connector: post, update, notify, failures."""

from __future__ import annotations

import pytest

from bot.config import Department
from bot.ports import Card, CardAction
from bot.storage import TEAMS_POSTED
from bot.store import Store
from bot.surfaces.teams.connector import Connector, TeamsApiError
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.teams_config import TeamsSettings
from tests.teams.fakes import ConnectorFake
from tests.teams.world import APP_ID, BILLING, SUPPORT, TENANT, StaticTokens, content, texts

DEPARTMENTS = (
    Department(name="support", title="Customer Support", teams_channel=SUPPORT),
    Department(name="billing", title="Billing", teams_channel=BILLING),
    Department(name="social", title="Social team", slack_channel="#social"),
)


def make_card(**changes: object) -> Card:
    fields: dict[str, object] = {
        "thread_id": "th1",
        "short_id": "T-7",
        "network": "mastodon",
        "source": "masto",
        "author_name": "Ann",
        "author_handle": "ann@example.social",
        "author_url": "https://example.social/@ann",
        "text": "my order never arrived",
        "permalink": "https://example.social/@ann/1",
        "age": "2 min ago",
        "state": "new",
        "owner": "",
        "department": "support",
        "department_title": "Customer Support",
        "actions": (CardAction("Claim", "v1:claim:th1", "primary"),),
    }
    fields.update(changes)
    return Card(**fields)  # type: ignore[arg-type]


def surface(store: Store, connector: ConnectorFake, **settings: object) -> TeamsSurface:
    teams = TeamsSettings(tenant_id=TENANT, service_url=connector.url, **settings)
    tokens = StaticTokens("outgoing-token") if settings.get("app_id") else None
    return TeamsSurface(teams, DEPARTMENTS, CardLookups(store), Connector(teams, tokens))


def test_channel_for_maps_departments_to_teams_channels(store: Store) -> None:
    teams = TeamsSurface(TeamsSettings(), DEPARTMENTS, CardLookups(store))
    assert teams.channel_for("support") == SUPPORT
    assert teams.channel_for("social") is None
    assert teams.channel_for("nope") is None


async def test_post_card_starts_a_new_conversation_in_the_channel(
    store: Store, connector: ConnectorFake
) -> None:
    teams = surface(store, connector)
    ref = await teams.post_card(SUPPORT, make_card(placement=2), "th1:2:teams")

    [call] = connector.calls("/v3/conversations", "POST")
    assert call.json["isGroup"] is True
    assert call.json["channelData"] == {"channel": {"id": SUPPORT}, "tenant": {"id": TENANT}}
    assert call.json["tenantId"] == TENANT
    assert call.json["activity"]["type"] == "message"
    assert "Authorization" not in call.headers
    [card] = connector.cards(SUPPORT)
    assert ref.surface == "teams"
    assert ref.channel == card["conversation"]["id"] == f"{SUPPORT};messageid={card['id']}"
    assert ref.message_id == card["id"]
    assert (ref.department, ref.placement) == ("support", 2)
    assert "my order never arrived" in texts(content(card))
    assert await CardLookups(store).thread_for(ref.channel) == "th1"
    await teams.close()


async def test_a_new_replica_finds_the_card_posted_per_key(
    store: Store, connector: ConnectorFake
) -> None:
    first = surface(store, connector)
    ref = await first.post_card(SUPPORT, make_card(), "th1:0:teams")
    await first.close()
    replica = surface(store, connector)
    again = await replica.find_card(SUPPORT, make_card(), "th1:0:teams")
    assert await replica.find_card(SUPPORT, make_card(), "th1:1:teams") is None
    assert not await replica.find_line(ref, "ev-1:teams")
    await replica.close()

    assert again == ref
    assert len(connector.calls("/v3/conversations", "POST")) == 1


async def test_update_card_replaces_the_activity(store: Store, connector: ConnectorFake) -> None:
    teams = surface(store, connector)
    ref = await teams.post_card(SUPPORT, make_card(), "k")
    await teams.update_card(ref, make_card(state="claimed", owner="Alice Doe", actions=()))

    [update] = connector.updates
    assert update["id"] == ref.message_id
    path = f"/v3/conversations/{ref.channel}/activities/{ref.message_id}"
    assert len(connector.calls(path, "PUT")) == 1
    card = content(connector.activities[ref.message_id])
    assert "CLAIMED" in texts(card) and "Alice Doe" in texts(card)
    assert "actions" not in card or all(a["type"] == "Action.OpenUrl" for a in card["actions"])
    await teams.close()


async def test_notify_replies_in_the_cards_chain_verbatim_and_marked_with_its_key(
    store: Store, connector: ConnectorFake
) -> None:
    teams = surface(store, connector)
    ref = await teams.post_card(SUPPORT, make_card(), "k")
    await teams.notify(ref, "Claimed by <at>Alice</at> **now**", "event-1:teams")

    [line] = connector.chain(ref.message_id)
    assert line["replyToId"] == ref.message_id
    assert "text" not in line and "entities" not in line
    [block] = content(line)["body"]
    assert block["id"] == "switchboard.line:event-1:teams"
    assert block["type"] == "RichTextBlock", "text runs show markup verbatim"
    assert [run["type"] for run in block["inlines"]] == ["TextRun"]
    assert connector.lines(ref.message_id) == ["Claimed by <at>Alice</at> **now**"]
    await teams.close()


async def test_calls_carry_the_bot_token_when_an_app_id_is_set(
    store: Store, connector: ConnectorFake
) -> None:
    connector.token = "outgoing-token"
    teams = surface(store, connector, app_id=APP_ID, app_password="secret")
    ref = await teams.post_card(SUPPORT, make_card(), "k")
    await teams.notify(ref, "hello", "e")

    create = connector.calls("/v3/conversations", "POST")[0]
    assert create.headers["Authorization"] == "Bearer outgoing-token"
    assert create.json["bot"] == {"id": f"28:{APP_ID}"}
    assert len(connector.chain(ref.message_id)) == 1
    await teams.close()


async def test_a_missing_token_is_refused_by_the_connector(
    store: Store, connector: ConnectorFake
) -> None:
    connector.token = "outgoing-token"
    teams = surface(store, connector)
    with pytest.raises(TeamsApiError) as caught:
        await teams.post_card(SUPPORT, make_card(), "k")
    assert caught.value.status == 401
    assert connector.cards() == []
    assert await store.kv_get(TEAMS_POSTED, "k") is None
    await teams.close()


async def test_rate_limit_is_reported_with_retry_after(
    store: Store, connector: ConnectorFake
) -> None:
    teams = surface(store, connector)
    connector.fail(
        "/v3/conversations",
        429,
        {"error": {"code": "TooManyRequests", "message": "slow down"}},
        headers={"Retry-After": "7"},
    )
    with pytest.raises(TeamsApiError) as caught:
        await teams.post_card(SUPPORT, make_card(), "k")
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)
    assert "rate limited" in caught.value.user_text()

    ref = await teams.post_card(SUPPORT, make_card(), "k")
    assert len(connector.cards(SUPPORT)) == 1
    assert ref.message_id == connector.cards(SUPPORT)[0]["id"]
    await teams.close()


async def test_unknown_channel_is_an_error_but_a_deleted_card_is_skipped(
    store: Store, connector: ConnectorFake
) -> None:
    teams = surface(store, connector)
    with pytest.raises(TeamsApiError, match="HTTP 404"):
        await teams.post_card("19:gone@thread.tacv2", make_card(), "k1")
    ref = await teams.post_card(SUPPORT, make_card(), "k2")
    gone = ref.model_copy(update={"message_id": "999"})
    await teams.update_card(gone, make_card(state="claimed"))
    assert connector.updates == []

    path = f"/v3/conversations/{ref.channel}/activities/{ref.message_id}"
    connector.fail(path, 500, {"error": {"code": "ServiceError", "message": "oops"}})
    with pytest.raises(TeamsApiError, match="update a card: HTTP 500"):
        await teams.update_card(ref, make_card(state="claimed"))
    await teams.close()


async def test_unreachable_connector_is_a_clear_error(store: Store) -> None:
    settings = TeamsSettings(tenant_id=TENANT, service_url="http://127.0.0.1:9/")
    teams = TeamsSurface(settings, DEPARTMENTS, CardLookups(store))
    with pytest.raises(TeamsApiError, match="could not be reached"):
        await teams.post_card(SUPPORT, make_card(), "k")
    await teams.close()
