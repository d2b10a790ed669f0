"""A real switchboard with the Teams endpoint, and activities shaped exactly as Teams sends them."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.hosting.core import AnonymousTokenProvider

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Author, Mention
from bot.ports import Surface
from bot.store import Store
from bot.surfaces.teams.app import TeamsEndpoint
from bot.teams_config import TeamsSettings
from tests.teams.fakes import ConnectorFake

TENANT = "8d7c6b5a-1111-2222-3333-444455556666"
APP_ID = "0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff"
TEAM = "19:team-general@thread.tacv2"
TEAM_GROUP = "5f4e3d2c-7777-4888-9999-aaaabbbbcccc"
"""The team's Microsoft 365 group id (``channelData.team.aadGroupId``), what Graph needs."""
SUPPORT = "19:support-channel@thread.tacv2"
BILLING = "19:billing-channel@thread.tacv2"
PRESS = "19:press-channel@thread.tacv2"
LEGAL = "19:legal-channel@thread.tacv2"
BOT = {"id": "28:switchboard", "name": "Switchboard"}
ALICE = {"id": "29:alice", "name": "Alice Doe", "aadObjectId": "aad-alice"}
BOB = {"id": "29:bob", "name": "Bob Roe", "aadObjectId": "aad-bob"}
GUEST = {"id": "29:guest", "name": "Gus Guest", "aadObjectId": "aad-guest"}
DEPARTMENTS: list[dict[str, Any]] = [
    {"name": "social", "title": "Social team"},
    {"name": "support", "title": "Customer Support", "teams_channel": SUPPORT},
    {"name": "billing", "title": "Billing", "teams_channel": BILLING},
    {"name": "press", "title": "PR", "teams_channel": PRESS, "reply_policy": "members"},
    {"name": "legal", "title": "Legal", "teams_channel": LEGAL, "reply_policy": "approval"},
]
_ids = itertools.count(1)


def add_people(connector: ConnectorFake) -> None:
    connector.channels.update({TEAM, SUPPORT, BILLING, PRESS, LEGAL})
    for who, role in ((ALICE, "user"), (BOB, "user"), (GUEST, "guest")):
        connector.add_member(who["id"], who["name"], who["aadObjectId"], role)


class StaticTokens(AnonymousTokenProvider):
    """Stands in for MSAL (Entra ID is not reachable from tests): hands out one token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.requests: list[tuple[str, list[str]]] = []

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.requests.append((resource_url, list(scopes)))
        return self.token

    def get_token_credential(self) -> Any:
        raise NotImplementedError


@dataclass
class World:
    board: Switchboard
    endpoint: TeamsEndpoint
    client: TestClient[web.Request, web.Application]
    connector: ConnectorFake
    service_url: str

    async def mention(self, n: int, text: str, **fields: Any) -> None:
        """A public post arrives and the dispatcher shows it on the surfaces."""
        author = Author(
            id=f"a{n}",
            handle=f"user{n}@example.social",
            display_name=f"User {n}",
            profile_url=f"https://example.social/@user{n}",
        )
        mention = Mention(
            source="sample",
            network="replay",
            external_id=f"m-{n}",
            conversation_key=f"m-{n}",
            author=author,
            text=text,
            permalink=f"https://example.social/@user{n}/m-{n}",
            **fields,
        )
        await self.board.threads.ingest(mention)
        await self.board.dispatcher.drain()

    async def post(self, activity: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await self.client.post("/api/messages", json=activity, headers=headers)
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


@asynccontextmanager
async def world(
    store: Store,
    connector: ConnectorFake,
    tmp_path: Path,
    *,
    token_provider: Any = None,
    others: Sequence[Surface] = (),
    **settings: Any,
) -> AsyncIterator[World]:
    items = tmp_path / "items.json"
    items.write_text("[]", encoding="utf-8")
    config = parse_config(
        {
            "departments": DEPARTMENTS,
            "routing": {
                "default_department": "support",
                "rules": [
                    {"department": "billing", "keywords": ["refund"]},
                    {"department": "social", "keywords": ["hello"]},
                    {"department": "press", "keywords": ["journalist"]},
                    {"department": "legal", "keywords": ["lawyer"]},
                ],
            },
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )
    teams = TeamsSettings(tenant_id=TENANT, service_url=connector.url + "/", **settings)
    board = Switchboard.from_config(config, others, store=store)
    endpoint = TeamsEndpoint(teams, board.desk, token_provider)
    board.add_surface(endpoint.surface)
    app = web.Application()
    endpoint.add_routes(app)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield World(board, endpoint, client, connector, connector.url + "/")
    finally:
        await client.close()
        await endpoint.close()
        for source in board.sources:
            await source.close()


def _base(kind: str, user: dict[str, str], conversation: str, service_url: str) -> dict[str, Any]:
    channel = conversation.partition(";messageid=")[0]
    n = next(_ids)
    return {
        "type": kind,
        "id": f"1716100000{n:03d}",
        "timestamp": "2024-05-20T09:00:00.000Z",
        "localTimestamp": "2024-05-20T11:00:00.000+02:00",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": dict(user),
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": conversation,
        },
        "recipient": dict(BOT),
        "channelData": {
            "teamsChannelId": channel,
            "teamsTeamId": TEAM,
            "channel": {"id": channel},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
        "locale": "en-US",
        "localTimezone": "Europe/Berlin",
    }


def message(
    command: str, conversation: str, service_url: str, *, user: dict[str, str] = ALICE
) -> dict[str, Any]:
    """``@Switchboard <command>`` posted in ``conversation`` (a channel or a card's chain)."""
    activity = _base("message", user, conversation, service_url)
    mention = f"<at>{BOT['name']}</at>"
    activity.update(
        text=f"{mention} {command}\n",
        textFormat="plain",
        entities=[
            {"type": "mention", "mentioned": dict(BOT), "text": mention},
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"},
        ],
    )
    return activity


def invoke(
    action: dict[str, Any],
    conversation: str,
    service_url: str,
    *,
    user: dict[str, str] = ALICE,
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A click on an ``Action.Execute`` button of the card at the root of ``conversation``."""
    activity = _base("invoke", user, conversation, service_url)
    root = conversation.partition(";messageid=")[2]
    activity.update(
        name="adaptiveCard/action",
        replyToId=root,
        value={
            "action": {
                "type": "Action.Execute",
                "title": action.get("title", ""),
                "verb": action["verb"],
                "data": {**action["data"], **(inputs or {})},
            },
            "trigger": "manual",
        },
    )
    activity["channelData"]["source"] = {"name": "message"}
    activity["channelData"]["legacy"] = {"replyToId": root}
    return activity


def bot_added(conversation: str, service_url: str) -> dict[str, Any]:
    """The app added to the team: Teams names the team's group id here."""
    activity = _base("conversationUpdate", ALICE, conversation, service_url)
    activity["membersAdded"] = [dict(BOT)]
    activity["channelData"]["eventType"] = "teamMemberAdded"
    activity["channelData"]["team"].update(name="Acme", aadGroupId=TEAM_GROUP)
    return activity


def card_actions(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Action.Execute of an Adaptive Card (also inside ShowCards), by title."""
    found: dict[str, dict[str, Any]] = {}

    def walk(actions: list[dict[str, Any]], prefix: str) -> None:
        for action in actions:
            if action["type"] == "Action.Execute":
                found[prefix + action["title"]] = action
            elif action["type"] == "Action.ShowCard":
                walk(action["card"].get("actions", []), action["title"] + "/")

    walk(card.get("actions", []), "")
    return found


def content(activity: dict[str, Any]) -> dict[str, Any]:
    attachment: dict[str, Any] = activity["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachment["content"]
    return card


def texts(card: dict[str, Any]) -> str:
    """All text runs of a card, joined: what a person reads."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextRun":
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body", []))
    return "".join(out)
