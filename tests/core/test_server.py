"""The HTTP edge: health, readiness, metrics, webhook routing."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_app
from bot.store.redis import RedisStore
from tests.boards import board_for, mention_item, real_store, write_items


async def test_health_ready_and_metrics(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items)
        await board.ingestor.poll_once(board.sources[0])
        async with TestClient(TestServer(build_app(board))) as client:
            assert (await client.get("/healthz")).status == 200
            ready = await client.get("/readyz")
            assert ready.status == 200
            assert await ready.json() == {
                "store": "ok",
                "sources": {"sample": "ok"},
                "surfaces": {"shell": "ok"},
                "loops": {},
                "degraded": False,
                "broken": [],
                "ready": True,
            }
            metrics = await (await client.get("/metrics")).text()
            assert "switchboard_outbox_items 1" in metrics
            assert 'switchboard_source_mentions_total{source="sample"} 1' in metrics
            missing = await client.post("/hooks/nope", json={})
            assert missing.status == 404
            assert "no webhook source" in (await missing.json())["error"]


async def test_not_ready_when_the_store_is_gone(tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    store = RedisStore.from_url("redis://127.0.0.1:1/0", prefix="sbtest:gone:")
    board = board_for(store, items)
    async with TestClient(TestServer(build_app(board))) as client:
        ready = await client.get("/readyz")
        assert ready.status == 503
        body = await ready.json()
        assert body["ready"] is False and body["broken"] == ["store"]
        assert body["store"].startswith("failing: cannot reach Redis")
    await store.close()


async def test_every_answer_names_its_request(tmp_path: Path) -> None:
    """A sane ``X-Request-Id`` is kept, anything else replaced; 404s carry it too."""
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items)
        async with TestClient(TestServer(build_app(board))) as client:
            given = await client.get("/healthz", headers={"X-Request-Id": "lb-123"})
            assert given.headers["X-Request-Id"] == "lb-123"
            fresh = await client.get("/healthz", headers={"X-Request-Id": "x" * 65})
            other = await client.get("/healthz")
            ids = {fresh.headers["X-Request-Id"], other.headers["X-Request-Id"]}
            assert len(ids) == 2 and all(0 < len(i) <= 64 and i != "x" * 65 for i in ids)
            missing = await client.post("/hooks/nope", json={}, headers={"X-Request-Id": "r-9"})
            assert missing.status == 404 and missing.headers["X-Request-Id"] == "r-9"
