"""Flows across surfaces and policies: a thread moving between Teams and another platform,
and the ``members`` reply policy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bot.actions import Verb
from bot.domain import Person
from bot.interaction import Interaction
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from bot.surfaces.cardlog import CardLogSurface
from tests.teams.fakes import ConnectorFake
from tests.teams.world import (
    BOB,
    GUEST,
    LEGAL,
    PRESS,
    SUPPORT,
    card_actions,
    content,
    invoke,
    message,
    texts,
    world,
)


def log_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_thread_moves_from_another_platform_to_teams_and_back(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    other_log = tmp_path / "other-platform.jsonl"
    other = CardLogSurface(other_log)
    async with world(store, connector, tmp_path, others=[other]) as w:
        await w.mention(1, "hello, does anyone read this?")
        [thread] = await w.board.store.list_threads()
        assert thread.department == "social"
        assert connector.cards() == [], "social has no Teams channel"

        sam = Person(surface="cardlog", id="sam", name="Sam")
        moved = await w.board.handle(
            Interaction("cardlog", sam, Verb.TRANSFER, thread.short_id, "support", "over to you")
        )
        assert moved.ok, moved.text
        await w.board.dispatcher.drain()

        [card] = connector.cards(SUPPORT)
        shown = texts(content(card))
        assert "hello, does anyone read this?" in shown
        assert "Transferred to Customer Support by Sam — over to you" in shown
        banners = [e for e in log_entries(other_log) if e["op"] == "update"]
        assert "Transferred to Customer Support by Sam" in banners[-1]["card"]["banner"]

        action = card_actions(content(card))["Transfer/Transfer"]
        status, body = await w.post(
            invoke(
                action,
                card["conversation"]["id"],
                w.service_url,
                inputs={"department": "social", "note": "not for us"},
            )
        )
        assert status == 200
        assert "Transferred to Social team by Alice Doe — not for us" in texts(body["value"])
        await w.board.dispatcher.drain()

        posts = [e for e in log_entries(other_log) if e["op"] == "post"]
        assert [(p["ref"]["department"], p["ref"]["placement"]) for p in posts] == [
            ("social", 0),
            ("support", 1),
            ("social", 2),
        ]
        assert any("Alice Doe" in line for line in posts[-1]["card"]["history"])
        final = content(connector.activities[card["id"]])
        assert [a["type"] for a in final["actions"]] == ["Action.OpenUrl"]
        chain = connector.lines(card["id"])
        assert "Transferred to Social team by Alice Doe — not for us" in chain


async def test_members_policy_allows_replies_only_from_the_departments_channel(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "a journalist asks for a statement")
        [thread] = await w.board.store.list_threads()
        assert thread.department == "press"

        await w.post(message(f"reply {thread.short_id} No comment.", SUPPORT, w.service_url))
        confirm = next(
            a for a in connector.activities.values() if a.get("attachments") and a.get("replyToId")
        )
        post = card_actions(content(confirm))["Post publicly"]
        status, body = await w.post(invoke(post, confirm["conversation"]["id"], w.service_url))
        assert status == 200
        assert "Only members of PR may reply publicly" in texts(body["value"])
        [source] = w.board.sources
        assert source.replies == {}  # type: ignore[attr-defined]

        [card] = connector.cards(PRESS)
        status, body = await w.post(
            invoke(
                card_actions(content(card))["Reply/Post publicly"],
                card["conversation"]["id"],
                w.service_url,
                inputs={"reply_text": "No comment."},
            )
        )
        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        assert [r["text"] for r in source.replies.values()] == ["No comment."]  # type: ignore[attr-defined]


async def test_approval_policy_replies_become_drafts_with_an_approval_card(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "my lawyer will contact you about the contract")
        [thread] = await w.board.store.list_threads()
        assert thread.department == "legal"
        [card] = connector.cards(LEGAL)
        conversation = card["conversation"]["id"]
        status, body = await w.post(
            invoke(
                card_actions(content(card))["Reply/Post publicly"],
                conversation,
                w.service_url,
                inputs={"reply_text": "Please write to legal@example.com."},
            )
        )
        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        [source] = w.board.sources
        assert source.replies == {}  # type: ignore[attr-defined]
        [request] = connector.chain_cards(card["id"])
        shown = texts(content(request))
        assert "Public reply for approval on T-1001" in shown and "Alice Doe" in shown
        assert "Please write to legal@example.com." in shown
        actions = card_actions(content(request))
        approve = actions["Approve and post"]

        _, own = await w.post(invoke(approve, conversation, w.service_url))
        assert "You cannot approve your own draft" in own["value"]
        _, guest = await w.post(invoke(approve, conversation, w.service_url, user=GUEST))
        assert "Guests cannot approve public replies." in guest["value"]
        elsewhere = invoke(approve, f"{SUPPORT};messageid=17161", w.service_url, user=BOB)
        _, outsider = await w.post(elsewhere)
        assert "Only members of Legal may approve" in outsider["value"]
        assert source.replies == {}  # type: ignore[attr-defined]

        status, done = await w.post(invoke(approve, conversation, w.service_url, user=BOB))
        assert status == 200 and done["type"] == "application/vnd.microsoft.card.adaptive"
        assert "Approved by Bob Roe and posted publicly" in texts(done["value"])
        assert [r["text"] for r in source.replies.values()] == [  # type: ignore[attr-defined]
            "Please write to legal@example.com."
        ]
        _, again = await w.post(invoke(approve, conversation, w.service_url, user=BOB))
        assert "already approved" in again["value"]
        _, late = await w.post(invoke(actions["Reject"], conversation, w.service_url, user=BOB))
        assert "already approved" in late["value"]
        assert len(source.replies) == 1  # type: ignore[attr-defined]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def bookkeeping(store: Store) -> tuple[set[str], set[str]]:
    """The names in the store's cursor table and lease table, read from the store itself."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            cursors = {row[0] for row in db.execute("SELECT source FROM cursors")}
            leases = {row[0] for row in db.execute("SELECT name FROM leases")}
        return cursors, leases
    assert isinstance(store, RedisStore)
    cursors = {text(k) for k in await store.client.hkeys(store.keys.cursors)}
    head = store.keys.lease("x")[:-1]
    leases = {text(k)[len(head) :] async for k in store.client.scan_iter(match=head + "*")}
    return cursors, leases


async def test_only_source_cursors_are_in_the_cursor_table(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    """Cards, approvals and card conversations keep their lookups in the key-value port."""
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "my lawyer has a question")
        await w.mention(2, "hello, does the app work offline?")
        await w.board.ingestor.poll_once(w.board.sources[0])
        [card] = connector.cards(LEGAL)
        conversation = card["conversation"]["id"]
        await w.post(message("claim", conversation, w.service_url))
        said = [a.get("text", "") for a in connector.chain(card["id"])]
        assert any("You have T-1001." in text for text in said), said
        await w.post(
            invoke(
                card_actions(content(card))["Reply/Post publicly"],
                conversation,
                w.service_url,
                inputs={"reply_text": "We will write to you."},
            )
        )
        [request] = connector.chain_cards(card["id"])
        approve = card_actions(content(request))["Approve and post"]
        await w.post(invoke(approve, conversation, w.service_url, user=BOB))
        await w.board.dispatcher.drain()
        cursors, leases = await bookkeeping(store)
        assert cursors <= {s.name for s in w.board.sources}, cursors
        assert not any(n.startswith(("teams:", "slack:", "draft:", "approval:")) for n in leases)


async def test_the_same_reply_from_a_second_confirm_card_is_refused_then_posted_again(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    async with world(store, connector, tmp_path) as w:
        await w.mention(1, "the app is down again")
        card = connector.cards(SUPPORT)[0]
        conversation = card["conversation"]["id"]
        root = conversation.partition(";messageid=")[2]
        for text in ("reply We are on it.", "reply  We are on it. "):
            await w.post(message(text, conversation, w.service_url))
        first, second = connector.chain_cards(root)
        post_first = card_actions(content(first))["Post publicly"]
        post_second = card_actions(content(second))["Post publicly"]
        assert post_first["data"]["key"] != post_second["data"]["key"]
        [source] = w.board.sources

        for _ in range(2):
            status, body = await w.post(invoke(post_first, conversation, w.service_url))
            assert status == 200 and "Replied publicly" in texts(body["value"])
        assert len(source.replies) == 1  # type: ignore[attr-defined]
        (url,) = [r["url"] for r in source.replies.values()]  # type: ignore[attr-defined]

        status, body = await w.post(invoke(post_second, conversation, w.service_url))
        warned = texts(body["value"])
        assert "already sent by @Alice Doe just now" in warned and url in warned
        assert len(source.replies) == 1  # type: ignore[attr-defined]
        again = card_actions(body["value"])["Post it again"]
        status, body = await w.post(invoke(again, conversation, w.service_url, user=BOB))
        assert "Only the person who asked" in body["value"]
        for _ in range(2):
            status, body = await w.post(invoke(again, conversation, w.service_url))
            assert status == 200 and "Replied publicly" in texts(body["value"])
        assert len(source.replies) == 2  # type: ignore[attr-defined]
