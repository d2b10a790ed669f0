"""Backpressure at the webhook: 202 only after storing; while the store cannot keep up (here: a
SQLite file another process holds locked) deliveries beyond ``server.hooks_in_flight`` get 503
with ``Retry-After`` at once instead of piling up; once the store answers, every delivery the
sender retries is stored, once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import sign
from bot.app import Switchboard
from bot.config import parse_config
from bot.server import HOOKS_KEY, build_app
from tests.clock import eventually

SECRET = "0123456789abcdef0123456789abcdef"


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": f"p-{n}", "author": {"id": f"u{n}", "handle": f"u{n}"}, "text": f"hi {n}"}
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Switchboard-Timestamp": ts,
        "X-Switchboard-Signature": sign(SECRET, ts, body),
    }
    return body, headers


async def test_a_store_that_cannot_keep_up_gets_503_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    config = parse_config(
        {
            "store": {"url": f"sqlite:///{path}"},
            "server": {"hooks_in_flight": 2},
            "departments": [{"name": "social"}],
            "sources": [{"name": "forum", "type": "webhook", "secret": SECRET}],
        }
    )
    board = Switchboard.from_config(config)
    await board.store.ping()  # the file exists, with its schema
    async with TestClient(TestServer(build_app(board))) as client:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            waiting = [
                asyncio.create_task(client.post("/hooks/forum", data=b, headers=h))
                for b, h in map(signed, (1, 2))
            ]
            gate = client.app[HOOKS_KEY]
            await eventually(lambda: gate.busy == 2, within=5)
            body, headers = signed(3)
            busy = await client.post("/hooks/forum", data=body, headers=headers)
            assert busy.status == 503 and busy.headers["Retry-After"] == "1"
            assert "retry later" in (await busy.json())["error"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [r.status for r in await asyncio.gather(*waiting)] == [202, 202]
        body, headers = signed(3)  # the sender retries after Retry-After
        assert (await client.post("/hooks/forum", data=body, headers=headers)).status == 202
        metrics = await (await client.get("/metrics")).text()
        assert 'switchboard_webhook_requests_total{outcome="accepted"} 3' in metrics
        assert 'switchboard_webhook_requests_total{outcome="busy"} 1' in metrics
    threads = await board.store.list_threads()
    assert len(threads) == 3
    await board.stop()
