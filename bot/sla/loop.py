"""The timer loop: takes due SLA timers (leased to this replica), fires each, finishes it.

A store error backs off and tries again; a timer whose firing failed comes back when its lease
lapses (and is dropped, logged, after ``MAX_ATTEMPTS``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.aio import Sleep, sleep_unless_stopped
from bot.ingest import MAX_BACKOFF, jittered
from bot.outage import StoreOutage
from bot.sla.clock import SlaClock
from bot.storage import Timers

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class TimerLoop:
    def __init__(
        self,
        clock: SlaClock,
        timers: Timers,
        holder: str,
        *,
        now: Callable[[], datetime],
        sleep: Sleep = asyncio.sleep,
        lease_seconds: float = 60.0,
        interval: float = 5.0,
        batch: int = 100,
    ) -> None:
        self.clock = clock
        self.timers = timers
        self.holder = holder
        self.now = now
        self.sleep = sleep
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.batch = batch

    async def tick(self) -> int:
        """Take and fire what is due now; returns how many timers were taken."""
        now = self.now()
        taken = await self.timers.take_due(now, self.batch, self.lease_seconds, self.holder)
        for timer in taken:
            try:
                await self.clock.fire(timer, now)
            except Exception as exc:
                if timer.attempts < MAX_ATTEMPTS:
                    log.warning("timer %s failed (%s); it comes back", timer.key, exc)
                    continue
                log.error("timer %s failed %d times (%s); dropped", timer.key, timer.attempts, exc)
            await self.timers.finish(timer.key, self.holder, timer.generation)
        return len(taken)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        outage = StoreOutage(log, "sla timers")
        while not stop.is_set():
            try:
                taken = await self.tick()
                outage.recovered()
                backoff = 1.0
                delay = 0.0 if taken >= self.batch else self.interval
            except Exception as exc:
                delay = jittered(backoff)
                if not outage.failed(exc, delay):
                    log.warning("sla timers failed (%s); retrying in %.0fs", exc, delay)
                backoff = min(backoff * 2, MAX_BACKOFF)
            await sleep_unless_stopped(stop, delay, self.sleep)
