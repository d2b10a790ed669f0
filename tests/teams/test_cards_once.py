"""Issue 10 on Teams: cards and activity lines exactly once across replicas.

Two replicas are two boards on one real store (one SQLite file, or one Redis prefix), each
with its own ``TeamsSurface`` talking real HTTP to one fake Bot Connector and one fake
Microsoft Graph on loopback; their dispatchers drain concurrently. Cards are counted per card
key (``<thread>:<placement>:teams``, read back from each card's own action data), activity
lines per card and text.

What a replica that takes over (or retries) finds on Teams (``TeamsSurface.find_card`` /
``find_line``):

- a card: the ``CardLookups`` entry the posting replica wrote right after the connector
  answered; else, through Graph, the channel's root message whose card carries the marker
  ``switchboard.card:<thread>:<placement>``: a card whose answer never came back (the replica
  died first, or the connector answered 502) is adopted, not posted again;
- an activity line: through Graph, the card's reply chain holds the line marked with its key;
- when Graph refuses (no consent) nothing can be found: the post is made again (at least
  once, never lost), and the surface's health says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from microsoft_agents.activity import ConversationParameters, ConversationResourceResponse

from bot.actions import Action
from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import CardRef, Person
from bot.ports import Card
from bot.store import Store
from bot.surfaces.teams.connector import Connector, auth_configuration
from bot.surfaces.teams.graph import GraphClient
from bot.surfaces.teams.history import ChannelHistory, TeamDirectory
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.surfaces.teams.tokens import ClientSecretTokens
from bot.teams_config import TeamsSettings
from tests.boards import mention_item, write_items
from tests.slack.test_cards_once import (
    LEASE,
    Clock,
    Died,
    drain_together,
    follow_ups,
    ingest_all,
    two_stores,
)
from tests.teams.conftest import SECRET
from tests.teams.fake_graph import GraphFake
from tests.teams.fakes import ConnectorFake, LoginFake
from tests.teams.world import ALICE, APP_ID, BILLING, SUPPORT, TEAM_GROUP, TENANT, content

ALICE_PERSON = Person(surface="teams", id=ALICE["id"], name=ALICE["name"])
CHANNELS = (SUPPORT, BILLING)


class DiesAfterPosting(TeamsSurface):
    """A Teams surface whose process dies after the connector took the card or line (and,
    for a card, after the lookup entry was written)."""

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        await super().post_card(channel, card, key)
        raise Died(key)

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        await super().notify(ref, text, key)
        raise Died(key)


class Counted(TeamsSurface):
    """A Teams surface that counts the posts it made (to see both replicas at work)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.posts = 0

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        self.posts += 1
        return await super().post_card(channel, card, key)

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        self.posts += 1
        await super().notify(ref, text, key)


class DiesOnAnswer(Connector):
    """A connector client whose process dies as the answer to a new conversation arrives,
    before the surface could write the card's lookup entry."""

    async def create_conversation(
        self, params: ConversationParameters
    ) -> ConversationResourceResponse:
        await super().create_conversation(params)
        raise Died("card")


class Boards:
    """Makes replicas on the fake connector and Graph (tokens from the fake Entra ID);
    ``close`` closes their Teams HTTP sessions."""

    def __init__(self, fake: ConnectorFake, graph: GraphFake, entra: LoginFake) -> None:
        self.fake = fake
        self.graph = graph
        self.entra = entra
        self.surfaces: list[TeamsSurface] = []

    def __call__(
        self,
        store: Store,
        items: Path,
        surface: type[TeamsSurface] = TeamsSurface,
        connector: type[Connector] = Connector,
    ) -> Switchboard:
        config = parse_config(
            {
                "server": {"lease_seconds": LEASE},
                "departments": [
                    {"name": "support", "title": "Support", "teams_channel": SUPPORT},
                    {"name": "billing", "title": "Billing", "teams_channel": BILLING},
                ],
                "routing": {
                    "default_department": "support",
                    "rules": [{"department": "billing", "keywords": ["refund"]}],
                },
                "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
            }
        )
        settings = TeamsSettings(
            app_id=APP_ID,
            app_password=SECRET,
            tenant_id=TENANT,
            auth_authority=self.entra.authority,
            service_url=self.fake.url + "/",
            graph_url=self.graph.base,
            team_id=TEAM_GROUP,
        )
        tokens = ClientSecretTokens(settings, auth_configuration(settings))
        history = ChannelHistory(
            GraphClient(settings.graph_url, tokens), TeamDirectory(store, settings.team_id)
        )
        teams = surface(
            settings, config.departments, CardLookups(store), connector(settings, tokens), history
        )
        self.surfaces.append(teams)
        return Switchboard.from_config(config, surfaces=[teams], store=store)

    async def close(self) -> None:
        for surface in self.surfaces:
            await surface.close()


@pytest.fixture
async def board(
    connector: ConnectorFake, graph: GraphFake, entra: LoginFake
) -> AsyncIterator[Boards]:
    made = Boards(connector, graph, entra)
    yield made
    await made.close()


def card_key(activity: dict[str, Any]) -> str:
    """The dispatcher's key of a card on Teams, read from the card's own button data."""
    card = content(activity)
    data = card["actions"][0]["data"]
    return f"{Action.decode(data['action']).thread_id}:{data['placement']}:teams"


def cards_posted(fake: ConnectorFake) -> Counter[str]:
    """How many conversations Teams holds for each card key."""
    return Counter(card_key(card) for card in fake.cards())


def lines_posted(fake: ConnectorFake) -> Counter[tuple[str, str]]:
    """How often each activity line shows under each card (card key, line text)."""
    lines: Counter[tuple[str, str]] = Counter()
    for card in fake.cards():
        for text, count in fake.line_counts(str(card["id"])).items():
            lines[(card_key(card), text)] += count
    return lines


def thread_of(fake: ConnectorFake, channel: str = BILLING) -> str:
    (card,) = fake.cards(channel)
    return card_key(card).split(":")[0]


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_two_replicas_post_every_card_and_line_once(
    connector: ConnectorFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    clock = Clock()
    items = write_items(tmp_path / "m.json", follow_ups(60))
    async with two_stores(kind, tmp_path, clock) as stores:
        replicas = [board(store, items, Counted) for store in stores]
        await ingest_all(replicas[0])
        await drain_together(replicas)
        cards = cards_posted(connector)
        assert len(cards) == 30 and set(cards.values()) == {1}
        assert {len(connector.cards(c)) for c in CHANNELS} == {15}
        follow = lines_posted(connector)
        assert set(follow) == {(key, "Follow-up received") for key in cards}
        assert set(follow.values()) == {1}

        claimed = sorted(key.split(":")[0] for key in cards)[::2]
        for thread_id in claimed:
            await replicas[1].threads.claim(thread_id, ALICE_PERSON, "teams")
        await drain_together(replicas)
        lines = lines_posted(connector)
        claims = {k for k in lines if k[1] == f"Claimed by {ALICE['name']}"}
        assert {key.split(":")[0] for key, _ in claims} == set(claimed)
        assert len(lines) == 30 + 15 and set(lines.values()) == {1}
        assert set(cards_posted(connector).values()) == {1}
        assert len(connector.calls("/v3/conversations", "POST")) == 30
        assert await stores[0].outbox_size() == 0
        posts = [s.posts for s in board.surfaces if isinstance(s, Counted)]
        assert sum(posts) == 30 + 45  # nothing sent twice (who posted what is up to timing)
        assert board.graph.listings() == 0, "nobody crashed: nothing is looked up"


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_card_posted_by_a_replica_that_died_is_adopted_not_posted_again(
    connector: ConnectorFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        dying = board(stores[1], items, DiesAfterPosting)
        await ingest_all(dying)
        with pytest.raises(Died):
            await dying.dispatcher.drain()
        assert sum(cards_posted(connector).values()) == 1
        clock.now += LEASE + 1
        survivor = board(stores[0], items)
        assert await survivor.dispatcher.drain() == 1
        assert await stores[0].outbox_size() == 0
        (card,) = connector.cards(BILLING)
        refs = await stores[0].card_refs(thread_of(connector))
        assert [ref.message_id for ref in refs.values()] == [card["id"]]
        assert [ref.channel for ref in refs.values()] == [card["conversation"]["id"]]
    assert list(cards_posted(connector).values()) == [1]
    assert len(connector.calls("/v3/conversations", "POST")) == 1
    assert [u["id"] for u in connector.updates] == [card["id"]]  # adopted: brought up to date


async def die_adding_a_line(
    fake: ConnectorFake, board: Boards, tmp_path: Path, kind: str
) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """One card; alice claims it; the replica sending "Claimed by" dies after the connector
    took it; the claim expires and a survivor drains the outbox."""
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        healthy = board(stores[0], items)
        await ingest_all(healthy)
        assert await healthy.dispatcher.drain() == 1
        await healthy.threads.claim(thread_of(fake), ALICE_PERSON, "teams")
        dying = board(stores[1], items, DiesAfterPosting)
        with pytest.raises(Died):
            await dying.dispatcher.drain()
        (card,) = fake.cards(BILLING)
        assert fake.line_counts(str(card["id"])) == {f"Claimed by {ALICE['name']}": 1}
        clock.now += LEASE + 1
        survivor = board(stores[0], items)
        assert await survivor.dispatcher.drain() >= 1
        assert await stores[0].outbox_size() == 0
        return cards_posted(fake), lines_posted(fake)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_line_added_by_a_replica_that_died_is_found_in_the_reply_chain_not_added_again(
    connector: ConnectorFake, graph: GraphFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    cards, lines = await die_adding_a_line(connector, board, tmp_path, kind)
    assert list(cards.values()) == [1]
    (key,) = cards
    assert lines == {(key, f"Claimed by {ALICE['name']}"): 1}
    assert len(connector.calls("/v3/conversations", "POST")) == 1
    (card,) = connector.cards(BILLING)
    replies = f"{graph.messages_path(TEAM_GROUP, BILLING)}/{card['id']}/replies"
    assert len(graph.calls(replies, "GET")) == 1, "the survivor read the card's reply chain"
    assert graph.calls(replies)[0].headers["Authorization"] == "Bearer " + graph.token


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_without_graph_consent_a_line_is_added_again_and_health_says_why(
    connector: ConnectorFake, graph: GraphFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    """The fallback: Graph answers 403, nothing can be found, the line shows twice (a repeat,
    never a loss), and ``teams graph`` says why without taking the bot out of service."""
    graph.refuse = True
    cards, lines = await die_adding_a_line(connector, board, tmp_path, kind)
    (key,) = cards
    assert lines == {(key, f"Claimed by {ALICE['name']}"): 2}
    survivor = board.surfaces[-1]
    [(part, health)] = survivor.history.health().items()
    assert part == "teams graph" and not health.broken
    assert health.state.startswith("falling back to posting again (at least once)")
    assert "HTTP 403" in health.state and "ChannelMessage.Read.Group" in health.state


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_card_whose_lookup_entry_was_never_written_is_found_in_the_channel(
    connector: ConnectorFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    """A replica that dies between the connector's answer and the ``CardLookups`` entry: the
    survivor finds the card in the channel through Graph and adopts it."""
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        dying = board(stores[1], items, connector=DiesOnAnswer)
        await ingest_all(dying)
        with pytest.raises(Died):
            await dying.dispatcher.drain()
        assert sum(cards_posted(connector).values()) == 1
        clock.now += LEASE + 1
        survivor = board(stores[0], items)
        assert await survivor.dispatcher.drain() == 1
        assert await stores[0].outbox_size() == 0
        (card,) = connector.cards(BILLING)
        refs = await stores[0].card_refs(thread_of(connector))
        assert [(r.channel, r.message_id) for r in refs.values()] == [
            (card["conversation"]["id"], card["id"])
        ]
        assert await CardLookups(stores[0]).thread_for(card["conversation"]["id"]) == (
            thread_of(connector)
        ), "commands in the adopted card's chain reach its thread"
    assert list(cards_posted(connector).values()) == [1]
    assert len(connector.calls("/v3/conversations", "POST")) == 1
    assert [u["id"] for u in connector.updates] == [card["id"]]  # adopted: brought up to date
    assert len(board.graph.calls(board.graph.messages_path(TEAM_GROUP, BILLING), "GET")) == 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_card_whose_answer_was_lost_is_found_on_the_retry(
    connector: ConnectorFake, board: Boards, tmp_path: Path, kind: str
) -> None:
    """Without any crash: the connector took the card and answered 502; the same replica
    retries, finds the card in the channel through Graph, and posts nothing more."""
    clock = Clock()
    items = write_items(tmp_path / "m.json", [mention_item(1, "refund please")])
    async with two_stores(kind, tmp_path, clock) as stores:
        replica = board(stores[0], items)
        await ingest_all(replica)
        connector.lose = 1
        with pytest.raises(Exception, match="502"):
            await replica.dispatcher.drain()
        assert sum(cards_posted(connector).values()) == 1
        clock.now += LEASE + 1
        assert await replica.dispatcher.drain() == 1
        assert await stores[0].outbox_size() == 0
        (card,) = connector.cards(BILLING)
        refs = await stores[0].card_refs(thread_of(connector))
        assert [ref.message_id for ref in refs.values()] == [card["id"]]
    assert list(cards_posted(connector).values()) == [1]
    assert len(connector.calls("/v3/conversations", "POST")) == 1
    assert len(board.graph.calls(board.graph.messages_path(TEAM_GROUP, BILLING), "GET")) == 1
