"""Issue 11: SLA timers on `switchboard serve` replicas sharing one Redis.

500 threads wait in 200 departments, opened at one instant (the test opens them through the
thread service with its clock held at that instant, so every timer of a kind is due at the
same moment); two real replicas fire them on real time with tiny targets (``claim: 12s``,
one reminder at half, ``rollover_after: 3s``: seconds are valid durations), one of them
SIGKILLed while the breaches fire and started again. Every reminder, breach alert and
rollover happens exactly once: counted as events in the store for all 500, and as lines and
cards on the fake Slack for the 100 threads of the departments that have a Slack channel (a
replica posts to Slack through one lane paced per channel: all 500 on Slack would take
minutes). A private ``redis-server`` keeps other tests' keys out of the count.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Author, EventKind, Mention
from bot.sla.rollover import SYSTEM
from bot.store.redis import RedisStore
from bot.surfaces.slack.blocks import ACTIVITY_EVENT, CARD_EVENT
from tests.boards import free_port
from tests.private_redis import private_redis
from tests.scenario.test_replicas import Replica, tails
from tests.slack.fake_slack import FakeSlack

DEPARTMENTS = 100
"""Departments with a Slack channel (and as many without)."""
THREADS = 500
ON_SLACK = DEPARTMENTS
"""Threads 0..99 land in the departments with a channel, one each; the rest in the others."""
CLAIM = 12.0
ROLLOVER_AFTER = 3.0
SETTLE_CAP = 200.0
POSTS = 5 * ON_SLACK
"""Per thread: its card, the reminder, the breach alert, the rollover line, the new card."""
SECRET = "sla-replica-secret-0123456789"


def desk(i: int) -> str:
    """The department of thread ``i``: ``d0NN`` on Slack, ``q0NN`` not."""
    return f"d{i:03d}" if i < ON_SLACK else f"q{i % DEPARTMENTS:03d}"


def escalation(department: str) -> str:
    return ("e" if department[0] == "d" else "f") + department[1:]


def channel(n: int, escalation: bool = False) -> str:
    return f"C0{'E' if escalation else 'D'}{n:03d}"


def leads(n: int) -> str:
    return f"<!subteam^S0L{n:03d}>"


def config_data(port: int, url: str, slack: FakeSlack) -> dict[str, Any]:
    departments: list[dict[str, Any]] = []
    rules = []
    for n in range(DEPARTMENTS):
        for name in (f"d{n:03d}", f"q{n:03d}"):
            slack_channel = channel(n) if name[0] == "d" else ""
            departments.append(
                {
                    "name": name,
                    "slack_channel": slack_channel,
                    "sla": {"claim": f"{CLAIM:.0f}s"},
                    "reminders": [0.5],
                    "rollover_after": f"{ROLLOVER_AFTER:.0f}s",
                    "escalation": escalation(name),
                    "notify": leads(n),
                }
            )
            departments.append(
                {
                    "name": escalation(name),
                    "slack_channel": channel(n, True) if slack_channel else "",
                }
            )
            rules.append({"department": name, "keywords": [f"topic{name}"]})
    return {
        "store": {"url": url},
        "server": {"host": "127.0.0.1", "port": port, "lease_seconds": 5},
        "slack": slack.settings(),
        "sla": {"check_every": "1s"},
        "departments": departments,
        "routing": {"default_department": "d000", "rules": rules},
        "sources": [{"name": "forum", "type": "webhook", "secret": SECRET}],
    }


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    async with private_redis(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    for n in range(DEPARTMENTS):
        for escalation in (False, True):
            fake.add_channel(channel(n, escalation), channel(n, escalation).lower())
    try:
        yield fake
    finally:
        await fake.close()


def mention(i: int, at: datetime) -> Mention:
    return Mention(
        source="forum",
        network="webhook",
        external_id=f"post-{i}",
        conversation_key=f"conv-{i}",
        author=Author(id=f"u{i}", handle=f"user{i}"),
        text=f"<!channel> still waiting about topic{desk(i)}",
        created_at=at,
    )


async def healthy(port: int) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as answer,
        ):
            return answer.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def until(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f}s: {what}")
        await asyncio.sleep(0.2)


def posted(fake: FakeSlack) -> tuple[Counter[str], Counter[str], list[str]]:
    """Card keys and line keys as often as each reached Slack, and every line's text."""
    cards: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    texts: list[str] = []
    for n in range(DEPARTMENTS):
        for escalation in (False, True):
            where = channel(n, escalation)
            for card in fake.messages_in(where):
                for shown in [card, *fake.thread(where, str(card["ts"]))]:
                    meta: dict[str, Any] = shown.get("metadata") or {}
                    key = str((meta.get("event_payload") or {}).get("key", ""))
                    if meta.get("event_type") == CARD_EVENT:
                        cards[key] += 1
                    elif meta.get("event_type") == ACTIVITY_EVENT:
                        lines[key] += 1
                        texts.append(str(shown["text"]))
    return cards, lines, texts


@pytest.mark.timeout(300)
async def test_500_threads_breach_at_once_on_two_replicas_each_step_once(
    slack: FakeSlack, redis_url: str, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    replicas = []
    for name in ("r0", "r1"):
        port = free_port()
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config_data(port, redis_url, slack)), encoding="utf-8")
        replicas.append(Replica(name, path, port, logs))
    store = RedisStore.from_url(redis_url)
    opened_at = datetime.now(UTC)
    opener = Switchboard(
        parse_config(config_data(1, redis_url, slack)), store, [], [], clock=lambda: opened_at
    )
    try:
        for replica in replicas:
            await replica.start()
        for replica in replicas:
            await until(lambda r=replica: healthy(r.port), 30, f"{replica.name} answers")
        ids = []
        for i in range(THREADS):
            outcome = await opener.threads.ingest(mention(i, opened_at))
            assert outcome is not None
            ids.append(outcome.thread.id)
        assert datetime.now(UTC) < opened_at + timedelta(seconds=CLAIM), "opened in time"

        breach_at = opened_at + timedelta(seconds=CLAIM)
        await asyncio.sleep(max(0.0, (breach_at - datetime.now(UTC)).total_seconds()) + 0.3)
        await replicas[0].kill()  # while the breaches fire
        await replicas[0].start()

        async def settled() -> bool:  # cheap: the fake Slack shares this process
            await asyncio.sleep(1.0)
            if len(slack.calls("chat.postMessage")) < POSTS or await store.outbox_size():
                return False
            moved = [t for t in await store.list_threads() if t.department[0] in "ef"]
            return len(moved) == THREADS

        try:
            await until(settled, SETTLE_CAP, "every rollover line posted, outbox empty")
        except AssertionError as exc:
            cards, lines, texts = posted(slack)
            kinds = Counter(t[:14] for t in texts)
            raise AssertionError(f"{exc}: {len(cards)} cards, {kinds}\n{tails(logs)}") from None
        await asyncio.sleep(2 * ROLLOVER_AFTER)  # anything left to fire would fire by now
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))

    try:
        for n, tid in enumerate(ids):
            events = await store.events(tid)
            kinds = Counter(e.kind for e in events)
            assert kinds[EventKind.SLA_REMINDER] == 1, (n, kinds)
            assert kinds[EventKind.SLA_BREACHED] == 1, (n, kinds)
            moves = [e for e in events if e.kind is EventKind.TRANSFERRED]
            assert len(moves) == 1 and moves[0].data.get("rollover") is True, (n, kinds)
            assert len({e.id for e in events}) == len(events)
            thread = await store.get_thread(tid)
            assert thread is not None and thread.department == escalation(desk(n))
            assert thread.transfers[-1].by == SYSTEM
        assert await store.take_due(datetime.now(UTC) + timedelta(days=1), 10, 1, "x") == []
    finally:
        await store.close()

    cards, lines, texts = posted(slack)
    doubled = {key: count for key, count in (cards + lines).items() if count > 1}
    assert doubled == {}
    assert len(cards) == 2 * ON_SLACK, "a card per thread, and one more in its escalation channel"
    said = Counter(t.split(":")[0] if t.startswith("Reminder") else t[:14] for t in texts)
    alerts = [t for t in texts if "SLA breached" in t]
    assert said["Reminder"] == ON_SLACK, said
    assert len(alerts) == ON_SLACK and all(t.startswith("<!subteam^S0L") for t in alerts)
    assert sum(t.startswith("Transferred to") for t in texts) == ON_SLACK
    assert "<!channel>" not in json.dumps(slack.messages), "public text stays escaped"
    print(f"{len(cards)} cards, {len(lines)} lines, {len(slack.calls('chat.postMessage'))} posts")
