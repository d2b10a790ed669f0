"""Issue 10, findings 4 and 5, watched on a redis-server of the test's own with ``MONITOR``.

Claim-next and "my threads" do work that follows the answer, not the number of threads in
the store (4: with 100,000 threads both took over 4 s); a claim, won or lost, is one round
trip from the service to Redis (5: it was a read, then a compare-and-set).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Monitor

from bot.app import Switchboard
from bot.domain import ThreadState
from bot.errors import AlreadyClaimed
from bot.store.redis import RedisStore
from tests.boards import board_for, mention_item, write_items
from tests.clock import eventually
from tests.private_redis import private_redis
from tests.stores.builders import event, ingest, mention, person

alice, bob = person("alice"), person("bob")


@dataclass(frozen=True)
class Command:
    """One command as MONITOR shows it: sent by a client, or run inside a Lua script."""

    text: str
    lua: bool


class Watch:
    """Every command a private redis-server runs, between two markers of our own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._admin = aioredis.from_url(url)
        self._watcher = aioredis.from_url(url)
        self._stack = AsyncExitStack()
        self._seen: list[Command] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        monitor = await self._stack.enter_async_context(self._watcher.monitor())
        self._task = asyncio.create_task(self._read(monitor))

    async def _read(self, monitor: Monitor) -> None:
        while True:
            seen = await monitor.next_command()
            self._seen.append(Command(str(seen["command"]), seen["client_type"] == "lua"))

    async def _mark(self) -> str:
        marker = f"mark-{uuid.uuid4().hex}"
        await self._admin.echo(marker)
        await eventually(lambda: any(marker in c.text for c in self._seen), within=5)
        return marker

    async def during(self, action: Callable[[], Awaitable[object]]) -> list[Command]:
        """The commands Redis ran for ``action`` (markers left out)."""
        start = await self._mark()
        await action()
        end = await self._mark()
        texts = [c.text for c in self._seen]
        first = next(n for n, text in enumerate(texts) if start in text)
        last = next(n for n, text in enumerate(texts) if end in text)
        return self._seen[first + 1 : last]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()
        await self._watcher.aclose()
        await self._admin.aclose()


@pytest.fixture
async def watch(tmp_path: Path) -> AsyncIterator[Watch]:
    async with private_redis(tmp_path) as port:
        watch = Watch(f"redis://127.0.0.1:{port}/0")
        try:
            await watch.start()
            yield watch
        finally:
            await watch.close()


@asynccontextmanager
async def board_with(watch: Watch, tmp_path: Path, others: int) -> AsyncIterator[Switchboard]:
    """A board on its own key prefix: one thread waiting in support, one held by alice, and
    ``others`` threads that answer neither query (waiting in billing, held by bob, resolved)."""
    store = RedisStore.from_url(watch.url, prefix=f"sbwork:{uuid.uuid4().hex[:8]}:")
    board = board_for(store, write_items(tmp_path / f"i{others}.json", [mention_item(1)]))
    try:
        await ingest(store, mention(0), "support")
        mine = (await ingest(store, mention(1), "support")).thread
        assert await store.commit(
            mine.evolve(owner=alice, state=ThreadState.CLAIMED), mine.version, event(mine.id)
        )
        for n in range(2, 2 + others):
            kind = n % 3
            t = (await ingest(store, mention(n), "billing" if kind == 0 else "support")).thread
            if kind == 1:
                changed = t.evolve(owner=bob, state=ThreadState.CLAIMED)
            elif kind == 2:
                changed = t.evolve(state=ThreadState.RESOLVED)
            else:
                continue
            assert await store.commit(changed, t.version, event(t.id))
        yield board
    finally:
        await store.close()


async def query_work(watch: Watch, board: Switchboard) -> tuple[int, int]:
    """Commands Redis runs for claim-next in support and for alice's threads."""
    found: list[object] = []

    async def claim_next() -> None:
        found.append(await board.threads.next_waiting("support"))

    async def mine() -> None:
        found.append([t.short_id for t in await board.threads.held_by(alice)])

    await claim_next()  # the first calls may load scripts
    await mine()
    found.clear()
    work = (len(await watch.during(claim_next)), len(await watch.during(mine)))
    next_one, held = found
    assert next_one is not None and getattr(next_one, "number", None) == 1001
    assert held == ["T-1002"]
    return work


async def test_claim_next_and_my_threads_cost_the_same_with_many_more_threads(
    watch: Watch, tmp_path: Path
) -> None:
    work: dict[int, tuple[int, int]] = {}
    for others in (3, 300):
        async with board_with(watch, tmp_path, others) as board:
            work[others] = await query_work(watch, board)
    assert work[300] == work[3], f"commands run (claim-next, mine) by other threads: {work}"


async def test_a_claim_won_or_lost_is_one_round_trip(watch: Watch, tmp_path: Path) -> None:
    async with board_with(watch, tmp_path, 0) as board:
        warm = (await ingest(board.store, mention(50), "support")).thread
        await board.threads.claim(warm.id, bob, "slack")  # the first call may load scripts
        waiting = await board.threads.next_waiting("support")
        assert waiting is not None

        refused: list[AlreadyClaimed] = []

        async def claim(who: str) -> None:
            actor = {"alice": alice, "bob": bob}[who]
            try:
                await board.threads.claim(waiting.id, actor, "slack")
            except AlreadyClaimed as exc:
                refused.append(exc)

        won = [c.text for c in await watch.during(lambda: claim("alice")) if not c.lua]
        assert refused == []
        lost = [c.text for c in await watch.during(lambda: claim("bob")) if not c.lua]
        assert len(refused) == 1 and "alice" in str(refused[0])
        held = await board.store.get_thread(waiting.id)
        assert held is not None and held.owner == alice
    assert len(won) == 1, won
    assert len(lost) == 1, lost
