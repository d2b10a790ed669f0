"""Issue 10: `switchboard serve` replicas on one Redis, one killed with SIGKILL every few seconds.

Signed webhooks arrive at a steady rate at whichever replica answers (every second mention a
follow-up of an earlier one); a fake Slack counts what reached it per card key and per
activity line key. At the end nothing is lost and nothing is there twice — with and without
kills. The end is an empty outbox (an item is acked only once its posts are on Slack), waited
for as long as the replicas make progress: on a loaded machine draining takes several times
longer, so a line still queued is told apart from a lost one (which the test names). The
replicas share a private ``redis-server`` on a free port of 127.0.0.1, so that nothing another
test left in the shared Redis is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from adapters.webhook import sign
from bot.storage import POST_CLAIM, POST_TRIED
from bot.store.redis import RedisStore
from bot.surfaces.slack.blocks import ACTIVITY_EVENT, CARD_EVENT
from tests.boards import free_port
from tests.private_redis import private_redis
from tests.slack.fake_slack import FakeSlack

SECRET = "replica-test-secret-0123456789"
CHANNELS = [f"C0D{n:02d}" for n in range(40)]
TOTAL = 240
RATE = 20.0
"""Mentions a second (each channel then gets well under Slack's one post a second)."""
LEASE = 2.0
STALL = 30.0
"""Seconds without progress after the last mention was sent before the run counts as stuck."""
SETTLE_CAP = 120.0
"""The longest wait for the outbox to empty after the last mention, progress or not."""
LAG = 15
"""A follow-up comes ``LAG`` conversations after its first mention (~1.5 s): Slack paces
posts to one channel at one a second, and a card's line goes to the card's channel."""


def order() -> list[int]:
    """Mention numbers in sending order: every second one a follow-up of an earlier one."""
    sent: list[int] = []
    conversations = TOTAL // 2
    for step in range(conversations + LAG):
        if step < conversations:
            sent.append(2 * step)
        if step >= LAG:
            sent.append(2 * (step - LAG) + 1)
    return sent


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """A private, throw-away Redis (no persistence), so the replicas start from an empty one."""
    async with private_redis(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    for channel in CHANNELS:
        fake.add_channel(channel, channel.lower())
    try:
        yield fake
    finally:
        await fake.close()


@dataclass
class Replica:
    """One `switchboard serve` process on its own port; restarted after each kill."""

    name: str
    config: Path
    port: int
    logs: Path
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            str(self.config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        log.close()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            await self.kill()


@dataclass
class Run:
    sent: int = 0
    resent: int = 0
    kills: int = 0
    refused: list[str] = field(default_factory=list)


def config_for(tmp: Path, name: str, port: int, url: str, slack: FakeSlack) -> Path:
    departments = [
        {"name": f"d{n:02d}", "title": f"Desk {n}", "slack_channel": channel}
        for n, channel in enumerate(CHANNELS)
    ]
    rules = [{"department": f"d{n:02d}", "keywords": [f"topic{n:02d}"]} for n in range(40)]
    config = {
        "store": {"url": url},
        "server": {"host": "127.0.0.1", "port": port, "lease_seconds": LEASE},
        "slack": slack.settings(),
        "departments": departments,
        "routing": {"default_department": "d00", "rules": rules},
        "sources": [{"name": "forum", "type": "webhook", "secret": SECRET}],
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def mention(n: int) -> bytes:
    conversation = n - n % 2
    topic = (conversation // 2) % len(CHANNELS)
    body = {
        "id": f"post-{n}",
        "conversation_id": f"conv-{conversation}",
        "author": {"id": f"u-{conversation}", "handle": f"user{conversation}"},
        "text": f"question {n} about topic{topic:02d}",
    }
    return json.dumps(body).encode()


async def deliver(http: aiohttp.ClientSession, replicas: list[Replica], n: int, run: Run) -> None:
    """POST mention ``n`` to the replicas in turn until one stores it (202)."""
    body = mention(n)
    deadline = time.monotonic() + 30
    for attempt in range(10_000):
        replica = replicas[(n + attempt) % len(replicas)]
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Switchboard-Timestamp": ts,
            "X-Switchboard-Signature": sign(SECRET, ts, body),
        }
        url = f"http://127.0.0.1:{replica.port}/hooks/forum"
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.post(url, data=body, headers=headers) as answer:
                if answer.status == 202:
                    run.sent += 1
                    run.resent += attempt > 0
                    return
                if answer.status < 500:
                    run.refused.append(f"{n}: {answer.status} {await answer.text()}")
                    return
        if time.monotonic() > deadline:
            raise AssertionError(f"no replica took mention {n}")
        await asyncio.sleep(0.02)


async def send_all(replicas: list[Replica], run: Run) -> None:
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        started = time.monotonic()
        for sent, n in enumerate(order()):
            await deliver(http, replicas, n, run)
            wait = started + (sent + 1) / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.2))


async def kill_now_and_then(replicas: list[Replica], run: Run, done: asyncio.Event) -> None:
    """SIGKILL one replica every 2-4 s (in turn) and start it again at once."""
    pick = random.Random(10)
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), pick.uniform(2.0, 4.0))
            return
        victim = replicas[run.kills % len(replicas)]
        await victim.kill()
        run.kills += 1
        await victim.start()


def seen(fake: FakeSlack) -> tuple[Counter[str], Counter[str]]:
    """How often each card key and each activity line key reached Slack."""
    cards: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for channel in CHANNELS:
        for message in fake.messages_in(channel):
            for shown in [message, *fake.thread(channel, str(message["ts"]))]:
                meta: dict[str, Any] = shown.get("metadata") or {}
                key = str((meta.get("event_payload") or {}).get("key", ""))
                if meta.get("event_type") == CARD_EVENT:
                    cards[key] += 1
                elif meta.get("event_type") == ACTIVITY_EVENT:
                    lines[key] += 1
    return cards, lines


@dataclass
class Settling:
    seconds: float
    """From the last mention sent until the outbox was empty (or the wait gave up)."""
    outbox: int
    """Items left in the outbox: 0 when every item was acked."""
    longest_stall: float
    """The longest stretch without progress."""


async def settle(fake: FakeSlack, store: RedisStore) -> Settling:
    """Wait until the outbox is empty, for as long as the replicas make progress.

    An item is acked only after its card and line reached Slack (or another replica had
    already posted them), so an empty outbox means nothing more will be posted: what is
    missing then is lost. Progress is a card or line posted or an item acked; the wait gives
    up after ``STALL`` seconds without any, or after ``SETTLE_CAP`` in all."""
    started = time.monotonic()
    progress_at, last, longest = started, (-1, -1, -1), 0.0
    while True:
        cards, lines = seen(fake)
        outbox = await store.outbox_size()
        now = time.monotonic()
        longest = max(longest, now - progress_at)
        if outbox == 0:
            return Settling(now - started, 0, longest)
        state = (len(cards), len(lines), outbox)
        if state != last:
            progress_at, last = now, state
        if now - progress_at > STALL or now - started > SETTLE_CAP:
            return Settling(now - started, outbox, longest)
        await asyncio.sleep(0.1)


async def missing(fake: FakeSlack, store: RedisStore) -> str:
    """What a failure needs: threads without both posts, lines never posted and their claims."""
    _, lines = seen(fake)
    out = []
    for channel in CHANNELS:
        for message in fake.messages_in(channel):
            meta = message.get("metadata") or {}
            if meta.get("event_type") != CARD_EVENT:
                continue
            thread_id = str(meta["event_payload"]["thread_id"])
            posts = sorted(m.external_id for m in await store.mentions(thread_id))
            if len(posts) != 2:
                out.append(f"thread {thread_id} holds {posts}")
            for event in await store.events(thread_id):
                key = f"{event.id}:slack"
                if event.kind == "attached" and key not in lines:
                    claim = await store.kv_get(POST_CLAIM, f"line:{key}")
                    tried = await store.kv_get(POST_TRIED, f"line:{key}")
                    refs = await store.card_refs(thread_id)
                    out.append(
                        f"{key} claim={claim} tried={tried} refs={refs} card={message['ts']}"
                    )
    return "\n".join(out)


async def leftovers(store: RedisStore, replicas: list[Replica]) -> str:
    """The items still in the outbox (with when each is visible again) and each replica's
    ``/readyz`` (its card lane: ok, rate limited or failing)."""
    items: Any = await store.client.zrange(store.keys.outbox, 0, 20, withscores=True)
    now = time.time()
    out = [f"outbox item {item!r} visible in {score / 1000 - now:.1f}s" for item, score in items]
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for replica in replicas:
            url = f"http://127.0.0.1:{replica.port}/readyz"
            try:
                async with http.get(url) as answer:
                    out.append(f"{replica.name} readyz {answer.status}: {await answer.text()}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                out.append(f"{replica.name} readyz unreachable: {exc!r}")
    return "\n".join(out)


def tails(logs: Path) -> str:
    text = []
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        text.append(f"--- {log.name}\n" + "\n".join(lines[-15:]))
    return "\n".join(text)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kills", [False, True], ids=["steady", "sigkill"])
async def test_replicas_post_every_card_and_line_exactly_once(
    slack: FakeSlack, redis_url: str, tmp_path: Path, kills: bool
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    count = 3 if kills else 2
    replicas = []
    for n in range(count):
        port = free_port()
        config = config_for(tmp_path, f"r{n}", port, redis_url, slack)
        replicas.append(Replica(f"r{n}", config, port, logs))
    run = Run()
    store = RedisStore.from_url(redis_url)
    done = asyncio.Event()
    try:
        for replica in replicas:
            await replica.start()
        killer = asyncio.create_task(kill_now_and_then(replicas, run, done)) if kills else None
        try:
            await send_all(replicas, run)
        finally:
            done.set()
            if killer is not None:
                await killer
        settling = await settle(slack, store)
        cards, lines = seen(slack)
        where = (
            f"{len(cards)} cards, {len(lines)} lines, outbox {settling.outbox} "
            f"{settling.seconds:.1f}s after the last mention, longest stretch without progress "
            f"{settling.longest_stall:.1f}s (the wait gives up after {STALL:.0f}s without "
            f"progress or {SETTLE_CAP:.0f}s in all), {run.kills} kills"
        )
        print(where)
        if settling.outbox or len(cards) < TOTAL // 2 or len(lines) < TOTAL // 2:
            verdict = "stuck" if settling.outbox else "lost (every outbox item was acked)"
            found = await missing(slack, store)
            state = await leftovers(store, replicas)
            raise AssertionError(f"{verdict}: {where}\n{found}\n{state}\n{tails(logs)}")
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
        await store.close()

    cards, lines = seen(slack)
    doubled = {key: n for key, n in (cards + lines).items() if n > 1}
    report = (
        f"sent {run.sent} (resent {run.resent}), kills {run.kills}, cards {len(cards)}, "
        f"lines {len(lines)}, posts {len(slack.calls('chat.postMessage'))}, "
        f"history look-ups {len(slack.calls('conversations.history'))}, "
        f"thread look-ups {len(slack.calls('conversations.replies'))}"
    )
    print(report)
    assert run.refused == []
    assert run.sent == TOTAL
    assert len(cards) == TOTAL // 2 and len(lines) == TOTAL // 2, report
    assert doubled == {}, report
    assert (run.kills >= 3) is kills, report
    if not kills:
        assert slack.calls("conversations.history") == [], report
