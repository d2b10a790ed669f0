"""A storm rig: replicas (board + dispatcher + Slack surface) on one store and one fake Slack
that enforces Slack's rates, all on one virtual clock (``FakeTime``; the stores read it too).

    rig = Rig(fake, time)
    replica = rig.replica(store)            # as many as wanted, on one store
    await rig.flood(replica, 120, start=0)  # new threads, hostile samples for text and authors
    await rig.until(lambda: ..., tick=0.25) # run the dispatchers while virtual time passes
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import Switchboard
from bot.config import Config, SlackSettings, parse_config
from bot.dispatch import CardDispatcher
from bot.domain import Author, Mention
from bot.store import Store
from bot.surfaces.slack.blocks import CARD_EVENT
from bot.surfaces.slack.digest import DIGEST_EVENT
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackWebApi
from tests.clock import FakeTime, eventually
from tests.slack.fake_slack import FakeSlack
from tests.slack.hostile import HOSTILE

BILLING = "C0BILLING"
EPOCH = 1_700_000_000.0
SHORT_ID = re.compile(r"`(T-\d+)`")


def store_clock(time: FakeTime) -> Callable[[], float]:
    """Epoch seconds on the virtual clock (leases, turns and expiry in the store)."""
    return lambda: EPOCH + time.seconds


def config(tmp: Path, fake: FakeSlack) -> Config:
    items = tmp / "items.json"
    items.write_text("[]", encoding="utf-8")
    return parse_config(
        {
            "slack": fake.settings(),
            "departments": [{"name": "billing", "title": "Billing", "slack_channel": BILLING}],
            "routing": {"default_department": "billing"},
            "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
        }
    )


@dataclass
class Replica:
    board: Switchboard
    dispatcher: CardDispatcher
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass
class Rig:
    fake: FakeSlack
    time: FakeTime
    config: Config
    replicas: list[Replica] = field(default_factory=list)

    def replica(self, store: Store) -> Replica:
        settings = SlackSettings.model_validate(self.fake.settings())
        api = SlackWebApi(
            settings.bot_token, settings.api_url, clock=self.time.monotonic, sleep=self.time.sleep
        )
        surface = SlackSurface(settings, self.config.departments, api=api)
        board = Switchboard.from_config(self.config, [surface], store=store)
        dispatcher = CardDispatcher(
            store,
            self.config.departments,
            [surface],
            {},
            clock=self.time.now,
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
            storm=self.config.storm,
        )
        replica = Replica(board, dispatcher)
        self.replicas.append(replica)
        return replica

    def start(self) -> None:
        for replica in self.replicas:
            if replica.task is None:
                replica.task = asyncio.create_task(replica.dispatcher.run(replica.stop))

    async def stop(self) -> None:
        """Stop every dispatcher: virtual time goes on until their lanes have let go."""
        for replica in self.replicas:
            replica.stop.set()
        tasks = [r.task for r in self.replicas if r.task is not None]
        for _ in range(200):
            if all(task.done() for task in tasks):
                break
            await self.time.advance(1.0)
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for replica in self.replicas:
            await replica.board.stop()

    async def flood(self, replica: Replica, count: int, *, start: int = 0) -> None:
        for n in range(start, start + count):
            handle = HOSTILE[n % len(HOSTILE)] if n % 3 == 0 else f"user{n % 7}@social.example"
            await replica.board.threads.ingest(
                Mention(
                    source="sample",
                    network="mastodon" if n % 2 else "bluesky",
                    external_id=f"m-{n}",
                    conversation_key=f"m-{n}",
                    author=Author(id=f"a{n}", handle=handle, display_name=f"User {n}"),
                    text=f"{HOSTILE[(n + 5) % len(HOSTILE)]} refund {n}",
                    permalink=f"https://social.example/@u/{n}",
                )
            )

    async def until(
        self, done: Callable[[], bool], *, tick: float = 0.25, within: float = 30.0
    ) -> None:
        self.start()
        await eventually(done, time=self.time, tick=tick, within=within)

    # ---- what Slack shows -----------------------------------------------------------------

    def messages(self, event_type: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.messages_in(BILLING)
            if (m.get("metadata") or {}).get("event_type") == event_type
        ]

    def cards(self) -> list[dict[str, Any]]:
        return self.messages(CARD_EVENT)

    def digests(self) -> list[dict[str, Any]]:
        return self.messages(DIGEST_EVENT)

    def digest_lines(self) -> list[str]:
        """The short id of every digest line shown, in order (duplicates kept)."""
        found: list[str] = []
        for message in self.digests():
            for block in message["blocks"][1:]:
                found += SHORT_ID.findall(block["text"]["text"])
        return found

    def notices(self) -> list[str]:
        return [
            str(m["text"])
            for m in self.fake.messages_in(BILLING)
            if "Storm in" in str(m.get("text", "")) and "thread_ts" not in m
        ]
