"""The real Agents SDK adapter driven by activities POSTed to /api/messages as Teams sends them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.desk import Desk
from bot.domain import ThreadState
from bot.interaction import Interaction, Response
from bot.store import Store
from tests.teams.fakes import ConnectorFake
from tests.teams.world import (
    ALICE,
    BILLING,
    BOB,
    GUEST,
    SUPPORT,
    TEAM,
    World,
    bot_added,
    card_actions,
    content,
    invoke,
    message,
    texts,
    world,
)

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
FOREIGN = "99999999-aaaa-bbbb-cccc-dddddddddddd"


@pytest.fixture
async def w(store: Store, connector: ConnectorFake, tmp_path: Path) -> AsyncIterator[World]:
    async with world(store, connector, tmp_path) as built:
        yield built


async def first_card(w: World, channel: str = SUPPORT) -> tuple[str, dict[str, Any]]:
    card = w.connector.cards(channel)[0]
    return card["conversation"]["id"], content(w.connector.activities[card["id"]])


async def click(
    w: World, title: str, *, user: dict[str, str] = ALICE, channel: str = SUPPORT, **inputs: Any
) -> tuple[int, Any]:
    conversation, card = await first_card(w, channel)
    action = card_actions(card)[title]
    return await w.post(invoke(action, conversation, w.service_url, user=user, inputs=inputs))


async def test_a_mention_becomes_a_card_in_the_departments_channel(w: World) -> None:
    await w.mention(1, "the app is down again")

    [card] = w.connector.cards(SUPPORT)
    shown = content(card)
    assert "the app is down again" in texts(shown)
    assert {"Claim", "Reply/Post publicly", "Transfer/Transfer", "Resolve"} <= set(
        card_actions(shown)
    )
    assert w.connector.cards(BILLING) == []


async def test_claim_button_refreshes_the_card_in_the_invoke_response(w: World) -> None:
    await w.mention(1, "the app is down again")
    status, body = await click(w, "Claim")

    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == CARD
    assert "CLAIMED" in texts(body["value"]) and "Alice Doe" in texts(body["value"])
    assert "Release" in card_actions(body["value"])
    [thread] = await w.board.store.list_threads()
    assert thread.state is ThreadState.CLAIMED and thread.owner is not None
    assert (thread.owner.surface, thread.owner.id) == ("teams", "aad-alice")

    await w.board.dispatcher.drain()
    assert len(w.connector.updates) == 1
    assert w.connector.lines(w.connector.cards(SUPPORT)[0]["id"]) == ["Claimed by Alice Doe"]


async def test_two_people_claim_at_once_and_exactly_one_wins(w: World) -> None:
    await w.mention(1, "the app is down again")
    (s1, b1), (s2, b2) = await asyncio.gather(click(w, "Claim"), click(w, "Claim", user=BOB))

    assert s1 == s2 == 200
    kinds = sorted([b1["type"], b2["type"]])
    assert kinds == [MESSAGE, CARD]
    loser = b1 if b1["type"] == MESSAGE else b2
    assert "already claimed by" in loser["value"]


async def test_reply_from_the_card_posts_publicly_exactly_once(w: World) -> None:
    await w.mention(1, "where is my parcel?")
    results = await asyncio.gather(
        click(w, "Reply/Post publicly", reply_text="Sorry! Checking now."),
        click(w, "Reply/Post publicly", reply_text="Sorry! Checking now."),
    )

    assert all(status == 200 for status, _ in results)
    [source] = w.board.sources
    assert [r["text"] for r in source.replies.values()] == ["Sorry! Checking now."]  # type: ignore[attr-defined]
    [thread] = await w.board.store.list_threads()
    replied = [e for e in await w.board.store.events(thread.id) if e.kind == "replied"]
    assert len(replied) == 1


async def test_guests_never_post_publicly(w: World) -> None:
    await w.mention(1, "the app is down again")
    status, body = await click(w, "Reply/Post publicly", user=GUEST, reply_text="hi")

    assert status == 200 and body["type"] == MESSAGE
    assert "Guests cannot reply publicly" in body["value"]
    [source] = w.board.sources
    assert source.replies == {}  # type: ignore[attr-defined]


async def test_reply_command_asks_for_confirmation_first(w: World) -> None:
    await w.mention(1, "the app is down again")
    conversation, _ = await first_card(w)
    root = conversation.partition(";messageid=")[2]
    status, _ = await w.post(
        message("reply **We are on it** [x](https://evil)", conversation, w.service_url)
    )
    assert status == 202

    [source] = w.board.sources
    assert source.replies == {}  # type: ignore[attr-defined]
    [confirm] = w.connector.chain_cards(root)
    card = content(confirm)
    assert "**We are on it** [x](https://evil)" in texts(card)
    post = card_actions(card)["Post publicly"]

    status, body = await w.post(invoke(post, conversation, w.service_url, user=BOB))
    assert body["type"] == MESSAGE and "Only the person who asked" in body["value"]
    assert source.replies == {}  # type: ignore[attr-defined]

    for _ in range(2):
        status, body = await w.post(invoke(post, conversation, w.service_url))
        assert status == 200 and body["type"] == CARD
        assert "Replied publicly" in texts(body["value"])
    assert len(source.replies) == 1  # type: ignore[attr-defined]


async def test_cancel_on_the_confirm_card_posts_nothing(w: World) -> None:
    await w.mention(1, "the app is down again")
    conversation, _ = await first_card(w)
    await w.post(message("reply hello", conversation, w.service_url))
    root = conversation.partition(";messageid=")[2]
    [confirm] = w.connector.chain_cards(root)
    cancel = card_actions(content(confirm))["Cancel"]

    status, body = await w.post(invoke(cancel, conversation, w.service_url))
    assert status == 200 and "Cancelled" in texts(body["value"])
    [source] = w.board.sources
    assert source.replies == {}  # type: ignore[attr-defined]


async def test_transfer_command_in_the_chain_moves_the_card(w: World) -> None:
    await w.mention(1, "the app is down again")
    conversation, _ = await first_card(w)
    root = conversation.partition(";messageid=")[2]
    await w.post(message("transfer billing customer wants a refund", conversation, w.service_url))

    replies = [a["text"] for a in w.connector.chain(root) if a.get("text")]
    assert any("Transferred T-" in r and "Billing" in r for r in replies)
    await w.board.dispatcher.drain()
    [moved] = w.connector.cards(BILLING)
    assert "the app is down again" in texts(content(moved))
    old = content(w.connector.activities[root])
    assert "Transferred to Billing by Alice Doe — customer wants a refund" in texts(old)
    assert [a["type"] for a in old["actions"]] == ["Action.OpenUrl"]


async def test_transfer_from_the_card_menu(w: World) -> None:
    await w.mention(1, "the app is down again")
    status, body = await click(w, "Transfer/Transfer", department="billing", note="refund")

    assert status == 200 and body["type"] == CARD
    assert "Transferred to Billing by Alice Doe — refund" in texts(body["value"])
    [thread] = await w.board.store.list_threads()
    assert thread.department == "billing"


async def test_commands_in_a_channel_and_their_errors(w: World) -> None:
    await w.mention(1, "the app is down again")
    await w.post(message("directory", SUPPORT, w.service_url))
    await w.post(message("frobnicate", SUPPORT, w.service_url))
    await w.post(message("claim", SUPPORT, w.service_url, user=BOB))

    said = [a for a in w.connector.activities.values() if a.get("text")]
    texts_said = [a["text"] for a in said]
    assert any(t.startswith("Departments:") for t in texts_said)
    assert any("Unknown command 'frobnicate'" in t for t in texts_said)
    assert any(t.startswith("You have T-") for t in texts_said)
    assert all(a["textFormat"] == "plain" for a in said)
    [thread] = await w.board.store.list_threads()
    assert thread.owner is not None and thread.owner.id == "aad-bob"


async def test_bot_added_to_a_team_says_how_to_map_the_channel(w: World) -> None:
    status, _ = await w.post(bot_added(TEAM, w.service_url))

    assert status == 202
    [hello] = [a for a in w.connector.activities.values() if a.get("text")]
    assert TEAM in hello["text"] and "teams_channel" in hello["text"]


def foreign(activity: dict[str, Any], tenant: str = FOREIGN, *, both: bool = True) -> None:
    activity["conversation"]["tenantId"] = tenant
    if both:
        activity["channelData"]["tenant"]["id"] = tenant


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda a: foreign(a), "tenant not served by this bot"),
        (lambda a: foreign(a, both=False), "the activity names two different tenants"),
        (lambda a: foreign(a, ""), "the activity names no tenant"),
    ],
    ids=["foreign", "mixed", "missing"],
)
async def test_other_tenants_are_refused_before_the_bot_runs(
    w: World, change: Any, reason: str
) -> None:
    await w.mention(1, "the app is down again")
    posted = len(w.connector.requests)
    activity = message("claim", SUPPORT, w.service_url)
    change(activity)
    status, body = await w.post(activity)

    assert (status, body) == (403, {"error": reason})
    assert len(w.connector.requests) == posted, "the bot answered into a foreign conversation"
    [thread] = await w.board.store.list_threads()
    assert thread.owner is None


async def test_only_the_listed_tenants_are_served(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    partner = "0a0b0c0d-0000-1111-2222-333344445555"
    async with world(store, connector, tmp_path, tenant_ids=(partner.upper(),)) as w:
        assert w.endpoint.settings.tenant_allowed(partner)
        await w.mention(1, "the app is down again")
        conversation, card = await first_card(w)
        posted = len(w.connector.requests)
        click = invoke(card_actions(card)["Claim"], conversation, w.service_url)
        foreign(click)
        status, _ = await w.post(click)

        assert status == 403
        assert len(w.connector.requests) == posted
        [thread] = await w.board.store.list_threads()
        assert thread.owner is None
        status, _ = await w.post(message("help", SUPPORT, w.service_url))
        assert status == 202


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"type": "message", "serviceUrl": "https://evil.example/"}, 401),
        ({"type": "message"}, 401),
    ],
)
async def test_malformed_requests_are_refused(w: World, body: Any, status: int) -> None:
    if isinstance(body, str):
        resp = await w.client.post("/api/messages", data=body)
    else:
        resp = await w.client.post("/api/messages", json=body)
    assert resp.status == status
    assert w.connector.requests == []


async def test_activity_without_conversation_is_a_bad_request(w: World) -> None:
    activity = message("help", SUPPORT, w.service_url)
    del activity["conversation"]
    status, _ = await w.post(activity)
    assert status == 400


async def test_an_unexpected_failure_is_explained_without_internals(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "the app is down again")
        conversation, card = await first_card(w)

        class BrokenDesk(Desk):
            async def handle(self, interaction: Interaction) -> Response:
                raise RuntimeError("database password is hunter2")

        b = w.board
        w.endpoint.bot.desk = BrokenDesk(
            b.threads, b.replies, b.drafts, b.store, b.dispatcher.render, b.store
        )
        status, body = await w.post(
            invoke(card_actions(card)["Claim"], conversation, w.service_url)
        )
        assert status == 200
        assert body["type"] == MESSAGE and "Something went wrong" in body["value"]
        assert "hunter2" not in json.dumps(body)

        await w.post(message("claim", conversation, w.service_url))
        said = [a["text"] for a in connector.activities.values() if a.get("text")]
        assert any("Something went wrong" in t for t in said)
        assert not any("hunter2" in t for t in said)
