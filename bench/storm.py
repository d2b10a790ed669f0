"""Storm benchmark: real ``switchboard serve`` processes against the fake Slack (which enforces
one ``chat.postMessage`` a second per channel and 50 ``chat.update`` a minute, 429 +
``Retry-After`` above), fed signed webhook mentions for one department.

    .venv/bin/python bench/storm.py                       # 5,000 mentions in 60 s, SQLite
    .venv/bin/python bench/storm.py --store redis --mentions 2000 --seconds 30

Each mode (storm mode, then ``storm.enabled: false``: one card per mention) runs on a fresh
store. Measured per mention: arrival -> stored (the webhook's 202) and arrival -> visible (its
text seen in a card or a digest line on the fake Slack). Mentions not visible by the end of
the run count as not visible. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.slack.fake_slack import FakeSlack  # noqa: E402

SECRET = "bench-storm-secret-0123456789"
CHANNEL = "C0BILLING"
TOKEN = re.compile(r"zq(\d+)zq")
REDIS_URL = os.environ.get("SWITCHBOARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, fake: FakeSlack, store: str, port: int, storm: bool) -> Path:
    url = f"sqlite:///{tmp}/s.sqlite3" if store == "sqlite" else REDIS_URL
    data: dict[str, Any] = {
        "store": {"url": url, "retention_days": 0}
        | ({"prefix": f"bench{uuid.uuid4().hex[:8]}:"} if store == "redis" else {}),
        "server": {"host": "127.0.0.1", "port": port},
        "slack": fake.settings(),
        "storm": {"enabled": storm},
        "departments": [{"name": "billing", "title": "Billing", "slack_channel": CHANNEL}],
        "routing": {"default_department": "billing"},
        "sources": [{"name": "hooks", "type": "webhook", "secret": SECRET}],
    }
    path = tmp / "switchboard.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Switchboard-Timestamp": ts,
        "X-Switchboard-Signature": f"sha256={mac}",
    }


def seen_in(fake: FakeSlack) -> set[int]:
    found: set[int] = set()
    for message in fake.messages_in(CHANNEL):
        found.update(int(n) for n in TOKEN.findall(json.dumps(message.get("blocks") or [])))
    return found


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_mode(
    store: str, mentions: int, seconds: float, grace: float, storm: bool
) -> dict[str, Any]:
    fake = FakeSlack()
    await fake.start()
    fake.add_channel(CHANNEL, "billing")
    fake.enforce_rates()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), fake, store, port, storm)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            str(config),
            cwd=str(ROOT),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        arrived: dict[int, float] = {}
        stored: dict[int, float] = {}
        visible: dict[int, float] = {}
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(base + "/healthz") as answer:
                            if answer.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)

                async def send(n: int) -> None:
                    body = json.dumps(
                        {
                            "id": f"m{n}",
                            "author": {"id": f"u{n % 97}", "handle": f"user{n % 97}"},
                            "text": f"zq{n}zq the export is broken again",
                            "url": f"https://forum.example.com/t/{n}",
                        }
                    ).encode()
                    arrived[n] = time.monotonic()
                    async with http.post(
                        base + "/hooks/hooks", data=body, headers=signed(body)
                    ) as r:
                        if r.status == 202:
                            stored[n] = time.monotonic()

                async def watch(stop: asyncio.Event) -> None:
                    while not stop.is_set():
                        now = time.monotonic()
                        for n in seen_in(fake):
                            visible.setdefault(n, now)
                        if len(visible) >= mentions:
                            everything.set()
                        await asyncio.sleep(0.2)

                stop = asyncio.Event()
                everything = asyncio.Event()
                watcher = asyncio.create_task(watch(stop))
                start = time.monotonic()
                sends = []
                for n in range(mentions):
                    delay = start + n * seconds / mentions - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sends.append(asyncio.create_task(send(n)))
                await asyncio.gather(*sends)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(everything.wait(), grace)
                stop.set()
                await watcher
        finally:
            proc.terminate()
            await proc.wait()
            limited = len(fake.limited)
            posts = len(fake.calls("chat.postMessage"))
            updates = len(fake.calls("chat.update"))
            await fake.close()
    store_lat = [stored[n] - arrived[n] for n in stored]
    seen_lat = [visible[n] - arrived[n] for n in visible if n in arrived]
    missing = mentions - len(seen_lat)
    return {
        "mode": "storm" if storm else "naive",
        "stored": len(stored),
        "stored_p99_ms": p(store_lat, 0.99) * 1000,
        "visible": len(seen_lat),
        "visible_p50_s": p(seen_lat, 0.50),
        "visible_p99_s": p(seen_lat + [float("inf")] * missing, 0.99),
        "posts": posts,
        "updates": updates,
        "429s": limited,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--mentions", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to wait after the last")
    parser.add_argument("--modes", default="storm,naive")
    args = parser.parse_args()
    print(
        "| store | mode | stored | stored p99 ms | visible | visible p50 s | visible p99 s "
        "| chat.postMessage | chat.update | 429s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        r = await run_mode(args.store, args.mentions, args.seconds, args.grace, mode == "storm")
        print(
            f"| {args.store} | {r['mode']} | {r['stored']} | {r['stored_p99_ms']:.1f} "
            f"| {r['visible']} | {r['visible_p50_s']:.1f} | {r['visible_p99_s']:.1f} "
            f"| {r['posts']} | {r['updates']} | {r['429s']} |",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
