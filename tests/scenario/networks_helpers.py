"""Drivers for the end-to-end network scenarios: one per network, over that network's fake.

A driver knows how a customer posts on its network (``post``), what landed on the fake when we
replied (``landed``), how the network would hand our own reply back to us (``echo``), and the
``sources:`` entry that connects a real Switchboard to the fake.
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from adapters.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.app import Switchboard
from bot.config import parse_config
from bot.store import Store
from bot.surfaces.cardlog import CardLogSurface
from tests.adapters.fakes import FakeServer, json_error
from tests.adapters.fakes.bluesky_fake import BlueskyFake, stamp
from tests.adapters.fakes.mastodon_fake import MastodonFake
from tests.adapters.fakes.reddit_fake import RedditFake
from tests.adapters.fakes.x_fake import XFake
from tests.boards import DEPARTMENTS, ROUTING

FAST = 0.05
ROUTES: dict[str, Any] = {
    **ROUTING,
    "rules": [{"department": "press", "network": "rss"}, *ROUTING["rules"]],
}


def board_for(store: Store, cards: Path, entries: Sequence[dict[str, Any]]) -> Switchboard:
    """A real Switchboard from a config whose ``sources:`` are ``entries``; cards to a file."""
    config = parse_config(
        {"departments": DEPARTMENTS, "routing": ROUTES, "sources": list(entries)}, "test config"
    )
    return Switchboard.from_config(config, [CardLogSurface(cards)], store=store)


@asynccontextmanager
async def connected(
    store: Store, cards: Path, entries: Sequence[dict[str, Any]]
) -> AsyncIterator[Switchboard]:
    board = board_for(store, cards, entries)
    try:
        yield board
    finally:
        for source in board.sources:
            await source.close()


async def poll(board: Switchboard) -> None:
    """One ingest round over every source, the way the supervise loop does it."""
    for source in board.sources:
        while await board.ingestor.poll_once(source):
            pass


def card_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cards_of(path: Path, thread_id: str) -> list[dict[str, Any]]:
    """Every post/update of the thread's cards, in order; each with its ``card`` dict."""
    return [
        e
        for e in card_log(path)
        if e["op"] in ("post", "update") and e["card"]["thread_id"] == thread_id
    ]


@dataclass(frozen=True)
class Landed:
    """A reply as the network received it."""

    in_reply_to: str
    root: str
    text: str
    external_id: str
    url: str


class Network(Protocol):
    network: str
    department: str
    """Where the first mention's text routes it."""
    limit: int
    first_text: str

    @property
    def fake(self) -> FakeServer: ...

    def entry(self, name: str) -> dict[str, Any]: ...

    def post(self, text: str, *, reply_to: str | None = None) -> str:
        """The customer posts ``text`` (mentioning us, or answering ``reply_to``); its id."""

    def landed(self) -> list[Landed]: ...

    def writes(self) -> int:
        """How many write requests reached the network's posting endpoint."""

    def echo(self, external_id: str) -> None:
        """The network hands our own post ``external_id`` back as a notification."""

    def break_next_write(self) -> None:
        """The next reply fails in transit; where the fake can, after the post was made."""


class MastodonNetwork:
    network = "mastodon"
    department = "billing"
    limit = 500
    first_text = "I was charged twice, I need a refund"

    def __init__(self) -> None:
        self.fake = MastodonFake()
        self.customer = self.fake.account("77", "dana", "Dana <b>Ops</b>", domain="remote.example")

    def entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "mastodon",
            "base_url": self.fake.url,
            "access_token": "good-token",
            "poll_interval": FAST,
        }

    def post(self, text: str, *, reply_to: str | None = None) -> str:
        mention = (
            '<span class="h-card" translate="no"><a href="https://social.example/@brand" '
            'class="u-url mention">@<span>brand</span></a></span>'
        )
        content = f"<p>{mention} {html.escape(text)}</p>"
        return str(self.fake.add_mention(self.customer, content, in_reply_to_id=reply_to)["id"])

    def landed(self) -> list[Landed]:
        return [
            Landed(p["in_reply_to_id"], p["in_reply_to_id"], p["text"], p["id"], p["url"])
            for p in self.fake.posted
        ]

    def writes(self) -> int:
        return len(self.fake.calls("/api/v1/statuses", "POST"))

    def echo(self, external_id: str) -> None:
        status = self.fake.statuses[external_id]
        self.fake.add_notification(
            {
                "id": self.fake._next_id(),
                "type": "mention",
                "created_at": status["created_at"],
                "account": self.fake.me,
                "status": status,
            }
        )

    def break_next_write(self) -> None:
        self.fake.fail("/api/v1/statuses", 502, {"error": "bad gateway"}, method="POST")


class BlueskyNetwork:
    network = "bluesky"
    department = "support"
    limit = 300
    first_text = "is the app down? Nothing loads since 9:00 ☕"

    def __init__(self) -> None:
        self.fake = BlueskyFake()
        self.customer = self.fake.user("dana", "Dana 🌻")

    def entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "bluesky",
            "base_url": self.fake.url,
            "handle": self.fake.me["handle"],
            "app_password": "app-pass",
            "poll_interval": FAST,
        }

    def post(self, text: str, *, reply_to: str | None = None) -> str:
        parent = self.fake.records[reply_to] if reply_to else None
        post = self.fake.add_post(
            self.customer,
            f"@{self.fake.me['handle']} {text}",
            reply_to=parent,
            reason="reply" if parent else "mention",
        )
        return str(post["uri"])

    def landed(self) -> list[Landed]:
        handle = self.fake.me["handle"]
        return [
            Landed(
                p["value"]["reply"]["parent"]["uri"],
                p["value"]["reply"]["root"]["uri"],
                p["value"]["text"],
                p["uri"],
                f"https://bsky.app/profile/{handle}/post/{p['uri'].rsplit('/', 1)[-1]}",
            )
            for p in self.fake.posted
        ]

    def writes(self) -> int:
        return len(self.fake.calls("/xrpc/com.atproto.repo.createRecord", "POST"))

    def echo(self, external_id: str) -> None:
        stored = self.fake.records[external_id]
        self.fake.clock += timedelta(seconds=1)
        self.fake.add_notification(
            {
                "uri": stored["uri"],
                "cid": stored["cid"],
                "author": {"did": self.fake.me["did"], "handle": self.fake.me["handle"]},
                "reason": "reply",
                "record": stored["value"],
                "isRead": False,
                "indexedAt": stamp(self.fake.clock),
                "labels": [],
            }
        )

    def break_next_write(self) -> None:
        self.fake.lose_next_create_answer = True


class RedditNetwork:
    network = "reddit"
    department = "billing"
    limit = 10_000
    first_text = "Has anyone had a refund from Acme? Asking u/AcmeSupport directly."

    def __init__(self) -> None:
        self.fake = RedditFake()

    def entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "reddit",
            "base_url": self.fake.url,
            "token_url": f"{self.fake.url}/api/v1/access_token",
            "client_id": "app-id",
            "client_secret": "app-secret",
            "username": "AcmeSupport",
            "password": "hunter2",
            "poll_interval": FAST,
        }

    def post(self, text: str, *, reply_to: str | None = None) -> str:
        kind = "comment_reply" if reply_to else "username_mention"
        return self.fake.mention(text, type=kind, parent=reply_to)

    def landed(self) -> list[Landed]:
        web_url = "https://www.reddit.com"
        return [
            Landed(c["parent_id"], c["link_id"], c["body"], c["name"], web_url + c["permalink"])
            for c in reversed(self.fake.comments)
        ]

    def writes(self) -> int:
        return len(self.fake.calls("/api/comment", "POST"))

    def echo(self, external_id: str) -> None:
        ours = next(c for c in self.fake.comments if c["name"] == external_id)
        self.fake.add(
            "t1",
            {
                **ours,
                "type": "comment_reply",
                "subject": "comment reply",
                "was_comment": True,
                "context": f"{ours['permalink']}?context=3",
            },
        )

    def break_next_write(self) -> None:
        self.fake.lose_comment_answers = 1


class XNetwork:
    network = "x"
    department = "support"
    limit = 280
    first_text = "outage in the EU? checkout fails with error 503"

    def __init__(self) -> None:
        self.fake = XFake()
        self.customer = self.fake.user(1)

    def entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "x",
            "base_url": self.fake.url,
            "bearer_token": self.fake.app_token,
            "user_token": self.fake.user_token,
            "poll_interval": FAST,
        }

    def post(self, text: str, *, reply_to: str | None = None) -> str:
        parent = self.fake.tweets[reply_to] if reply_to else None
        return str(self.fake.add_tweet(self.customer, f"@brand {text}", reply_to=parent)["id"])

    def landed(self) -> list[Landed]:
        found = []
        for p in self.fake.posted:
            target = next(r["id"] for r in p["referenced_tweets"] if r["type"] == "replied_to")
            url = f"https://x.com/{self.fake.me['username']}/status/{p['id']}"
            found.append(Landed(target, p["conversation_id"], p["sent_text"], p["id"], url))
        return found

    def writes(self) -> int:
        return len(self.fake.calls("/2/tweets", "POST"))

    def echo(self, external_id: str) -> None:
        self.fake.add_raw_mention(self.fake.tweets[external_id])

    def break_next_write(self) -> None:
        self.fake.lose_next_post_answer = True


NETWORKS: dict[str, type[Network]] = {
    "mastodon": MastodonNetwork,
    "bluesky": BlueskyNetwork,
    "reddit": RedditNetwork,
    "x": XNetwork,
}


class ReplyReceiver(FakeServer):
    """The listening tool behind a webhook source's ``reply_url``: it checks our signature and
    answers a repeated ``idempotency_key`` with the reply it already posted."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.replies: dict[str, dict[str, Any]] = {}
        self.app.router.add_post("/replies", self._reply)

    async def _reply(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp_header = request.headers.get(TIMESTAMP_HEADER, "")
        if request.headers.get(SIGNATURE_HEADER) != sign(self.secret, stamp_header, body):
            return json_error(401, {"error": "bad signature"})
        data = json.loads(body)
        known = self.replies.get(data["idempotency_key"])
        if known is None:
            number = len(self.replies) + 1
            known = {
                "id": f"reply-{number}",
                "url": f"https://forum.example.com/t/9#reply-{number}",
                "in_reply_to": data["in_reply_to"],
                "text": data["text"],
            }
            self.replies[data["idempotency_key"]] = known
        return web.json_response({"id": known["id"], "url": known["url"]}, status=201)
