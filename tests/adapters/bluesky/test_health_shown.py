"""A mention found only by re-reading the window shows in /readyz (as detail, still ready) and
in /metrics (``switchboard_source_late_total``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import Switchboard
from bot.config import parse_config
from bot.server import build_app
from tests.adapters.fakes.bluesky_fake import BlueskyFake
from tests.stores.conftest import Backend


async def test_late_mentions_are_shown_in_readiness_and_metrics(
    backend: Backend, fake: BlueskyFake, make: Any
) -> None:
    ana, kim = fake.user("ana"), fake.user("kim")
    source = make(page_size=2)
    config = parse_config({"departments": [{"name": "social"}]})
    board = Switchboard(config, backend.open(), [source], [], clock=lambda: fake.clock)
    fake.add_post(ana, "@brand.bsky.social newest")
    read_at = fake.clock
    await board.ingestor.poll_once(source)
    fake.clock += timedelta(seconds=40)
    fake.add_post(kim, "@brand.bsky.social behind", created_at=read_at - timedelta(minutes=10))
    while await board.ingestor.poll_once(source):
        pass
    await board.ingestor.poll_once(source)

    async with TestClient(TestServer(build_app(board))) as client:
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["sources"]["bsky-main"] == "ok (1 found late)"
        metrics = await (await client.get("/metrics")).text()
        assert 'switchboard_source_late_total{source="bsky-main"} 1' in metrics
        assert 'switchboard_source_unread_total{source="bsky-main"} 0' in metrics
        polled = board.ingestor.health["bsky-main"].last_ok
        assert polled is not None
        last = 'switchboard_source_last_success_timestamp_seconds{source="bsky-main"}'
        assert f"{last} {polled.timestamp():.3f}" in metrics
    await board.store.close()
