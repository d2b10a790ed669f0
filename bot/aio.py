"""Small asyncio helpers shared by the long-running loops.

Loops take a ``Sleep`` (``asyncio.sleep`` in production) and a ``Clock`` (``time.monotonic``)
so tests can drive time without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


async def sleep_or_event(
    seconds: float | None, *events: asyncio.Event, sleep: Sleep = asyncio.sleep
) -> None:
    """Sleep ``seconds`` (None: as long as it takes) or until one of ``events`` is set."""
    if any(e.is_set() for e in events) or (seconds is not None and seconds <= 0):
        return
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(e.wait()) for e in events]
    if seconds is not None:
        waiters.append(asyncio.ensure_future(sleep(seconds)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def sleep_unless_stopped(
    stop: asyncio.Event, seconds: float, sleep: Sleep = asyncio.sleep
) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    await sleep_or_event(seconds, stop, sleep=sleep)
