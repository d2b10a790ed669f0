"""Virtual time for the loops under test, and a bounded poll for conditions.

    time = FakeTime()
    dispatcher = CardDispatcher(..., clock=time.now, monotonic=time.monotonic, sleep=time.sleep)
    await time.advance(30)                    # wakes every sleeper whose deadline passed
    api = SlackWebApi(..., sleep=time.leap)   # or: every sleep jumps the clock at once
    await eventually(lambda: done(), time=time, tick=1.0)   # advance 1 s per poll until done

Nothing here waits for real longer than ``step`` (10 ms) at a time.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


class FakeTime:
    """A clock that moves only when told: ``monotonic()``/``now()`` read it and ``sleep()``
    parks the caller until ``advance`` moves past its deadline."""

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self.seconds = 0.0
        self.slept: list[float] = []
        """Every duration passed to ``sleep``, in call order."""
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.seconds + seconds, next(self._order), future))
        await future

    async def leap(self, seconds: float) -> None:
        """A ``sleep`` for code run straight through (``drain``): time jumps at once."""
        self.slept.append(seconds)
        await self.advance(max(0.0, seconds))

    @property
    def sleeping(self) -> int:
        """How many callers are parked in ``sleep``."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order."""
        target = self.seconds + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.seconds = max(self.seconds, deadline)
            if not future.done():
                future.set_result(None)
                await asyncio.sleep(0)
        self.seconds = target
        await asyncio.sleep(0)


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    within: float = 10.0,
    step: float = 0.01,
    time: FakeTime | None = None,
    tick: float = 0.0,
    message: str = "condition never came true",
) -> None:
    """Poll ``predicate`` every ``step`` real seconds (advancing ``time`` by ``tick`` each
    round) until it holds; fail after ``within`` real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(message)
        if time is not None and tick:
            await time.advance(tick)
        await asyncio.sleep(step)
