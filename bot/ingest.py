"""Ingest: supervise each source, store its mentions, then advance its cursor.

The cursor moves only after every mention of a batch is stored, so a crash re-reads the
batch and deduplication absorbs the repeat. On Redis one replica at a time polls a source
(a lease that lapses if its holder dies). Failures back off with jitter and show in /readyz.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.aio import Sleep, sleep_unless_stopped
from bot.domain import utcnow
from bot.errors import SourceError, SwitchboardError
from bot.naming import about_source
from bot.outage import StoreOutage
from bot.ports import Source
from bot.service import ThreadService
from bot.storage import IngestStatus, IngestStore

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0
FAILING_AFTER = 3


class LoopState(StrEnum):
    """Where a source's polling loop is; only ``dead`` takes the replica out of service."""

    IDLE = "idle"
    """Not started yet (or stopped on request)."""
    RUNNING = "running"
    """Polling, or waiting for its next poll, its backoff or the lease."""
    DEAD = "dead"
    """Ended by an unexpected error; restarted after a backoff."""


@dataclass
class SourceHealth:
    """What one source's loop last did; read by /readyz and /metrics."""

    name: str
    stored: int = 0
    failures: int = 0
    """Consecutive failures other than rate limiting (store, lease, network, platform)."""
    rate_limited: int = 0
    """Consecutive polls the network asked us to slow down (429, Retry-After)."""
    last_error: str = ""
    last_ok: datetime | None = None
    state: LoopState = LoopState.IDLE
    restarts: int = 0
    """How many times the loop ended unexpectedly and was started again."""
    late: int = 0
    """Mentions found only by re-reading the window behind the cursor (the network reordered)."""
    unread: int = 0
    """Items the source could not read (beyond its backfill horizon, no longer served)."""

    @property
    def detail(self) -> str:
        """What /readyz may add after a source's state: the counters that are not zero."""
        parts = [f"{self.late} found late"] if self.late else []
        if self.unread:
            parts.append(f"{self.unread} not read (beyond the backfill horizon)")
        return ", ".join(parts)

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER


@dataclass
class Ingestor:
    """Polls every source in its own supervised loop (``run``)."""

    threads: ThreadService
    sources: Sequence[Source]
    store: IngestStore
    """Cursors, our own posts and the per-source polling lease."""
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    lease_seconds: float = 60.0
    first_backoff: float = 1.0
    health: dict[str, SourceHealth] = field(default_factory=dict)
    sleep: Sleep = asyncio.sleep
    """Waits between polls and after failures (injectable: tests drive time)."""
    outages: dict[str, StoreOutage] = field(default_factory=dict, init=False, repr=False)
    """Per source loop: whether it is in a store outage (logged once, not every attempt)."""

    def __post_init__(self) -> None:
        for source in self.sources:
            self.health[source.name] = SourceHealth(source.name)
            self.outages[source.name] = StoreOutage(log, f"source {source.name}")

    async def poll_once(self, source: Source) -> bool:
        """One fetch-store-advance cycle; returns whether the source has more ready."""
        store = self.store
        cursor = await store.get_cursor(source.name)
        batch = await source.fetch(cursor)
        late = stored = 0
        for mention in batch.mentions:
            outcome = await self.threads.ingest(mention)
            fresh = outcome is not None and outcome.status is not IngestStatus.DUPLICATE
            stored += fresh  # a window read again hands back what is stored already
            late += fresh and mention.external_id in batch.late
        if batch.cursor != cursor:
            await store.set_cursor(source.name, batch.cursor)
        health = self.health[source.name]
        health.stored += stored
        health.late += late
        health.unread += batch.unread
        health.failures = 0
        health.rate_limited = 0
        health.last_error = ""
        health.last_ok = utcnow()
        return batch.more

    async def supervise(self, source: Source, stop: asyncio.Event) -> None:
        """Poll ``source`` until ``stop``; every error (lease, store, network) backs off."""
        lease = f"source:{source.name}"
        backoff = self.first_backoff
        holding = False
        try:
            while not stop.is_set():
                try:
                    holding = await self.store.acquire_lease(lease, self.holder, self.lease_seconds)
                    if not holding:
                        delay = min(self.lease_seconds / 3, source.poll_interval)
                    else:
                        more = await self.poll_once(source)
                        delay = 0.0 if more else source.poll_interval
                    backoff = self.first_backoff
                    self.outages[source.name].recovered()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = self._failed(source, exc, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                await sleep_unless_stopped(stop, delay, self.sleep)
        finally:
            if holding:
                await asyncio.shield(self._release(lease))

    async def _release(self, lease: str) -> None:
        try:
            await self.store.release_lease(lease, self.holder)
        except Exception as exc:  # it lapses by itself after lease_seconds
            log.warning("could not release lease %s (%s); it will lapse", lease, exc)

    def _failed(self, source: Source, exc: Exception, backoff: float) -> float:
        health = self.health[source.name]
        retry_after = exc.retry_after if isinstance(exc, SourceError) else None
        if retry_after is None:
            health.failures += 1
            health.rate_limited = 0
        else:  # the network is pacing us, not failing: slow down without raising alarms
            health.rate_limited += 1
        health.last_error = str(exc) or type(exc).__name__
        delay = retry_after if retry_after is not None else jittered(backoff)
        if not self.outages[source.name].failed(exc, delay):
            _log_failure(source, exc, delay)
        return delay

    async def keep_polling(self, source: Source, stop: asyncio.Event) -> None:
        """``supervise`` ``source``, starting it again whenever it ends before ``stop``."""
        health = self.health[source.name]
        backoff = self.first_backoff
        while not stop.is_set():
            health.state = LoopState.RUNNING
            try:
                await self.supervise(source, stop)
            except asyncio.CancelledError:
                health.state = LoopState.IDLE
                raise
            except Exception as exc:
                health.last_error = f"loop crashed: {exc or type(exc).__name__}"
                log.exception("source %s loop crashed; restarting it", source.name)
            if stop.is_set():
                break
            health.state = LoopState.DEAD
            health.restarts += 1
            await sleep_unless_stopped(stop, jittered(backoff), self.sleep)
            backoff = min(backoff * 2, MAX_BACKOFF)
        health.state = LoopState.IDLE

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every source until ``stop``; one source's trouble never ends another's loop."""
        tasks = [asyncio.create_task(self.keep_polling(s, stop)) for s in self.sources]
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _log_failure(source: Source, exc: Exception, delay: float) -> None:
    """A failed poll, naming the source once; an unexpected error with its traceback."""
    if isinstance(exc, SourceError):
        said = about_source(source.network, source.name, str(exc))
        log.warning("source %s; retrying in %.1fs", said, delay)
    elif isinstance(exc, SwitchboardError):
        log.warning("source %s failed (%s); retrying in %.1fs", source.name, exc, delay)
    else:
        log.exception("source %s crashed; retrying in %.1fs", source.name, delay)


def jittered(seconds: float) -> float:
    """``seconds`` spread by +/-50 % so replicas that failed together retry apart."""
    return seconds * random.uniform(0.5, 1.5)
