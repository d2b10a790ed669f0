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

from bot.aio import Sleep, sleep_unless_stopped
from bot.domain import utcnow
from bot.errors import SourceError
from bot.ports import Source
from bot.service import ThreadService
from bot.storage import IngestStore

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0
FAILING_AFTER = 3


@dataclass
class SourceHealth:
    name: str
    stored: int = 0
    failures: int = 0
    """Consecutive failures other than rate limiting."""
    rate_limited: int = 0
    """Consecutive polls the network asked us to slow down (429, Retry-After)."""
    last_error: str = ""
    last_ok: datetime | None = None

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER


@dataclass
class Ingestor:
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

    def __post_init__(self) -> None:
        for source in self.sources:
            self.health[source.name] = SourceHealth(source.name)

    async def poll_once(self, source: Source) -> bool:
        """One fetch-store-advance cycle; returns whether the source has more ready."""
        store = self.store
        cursor = await store.get_cursor(source.name)
        batch = await source.fetch(cursor)
        for mention in batch.mentions:
            await self.threads.ingest(mention)
        if batch.cursor != cursor:
            await store.set_cursor(source.name, batch.cursor)
        health = self.health[source.name]
        health.stored += len(batch.mentions)
        health.failures = 0
        health.rate_limited = 0
        health.last_error = ""
        health.last_ok = utcnow()
        return batch.more

    async def supervise(self, source: Source, stop: asyncio.Event) -> None:
        store = self.store
        lease = f"source:{source.name}"
        backoff = self.first_backoff
        try:
            while not stop.is_set():
                if not await store.acquire_lease(lease, self.holder, self.lease_seconds):
                    wait = min(self.lease_seconds / 3, source.poll_interval)
                    await sleep_unless_stopped(stop, wait, self.sleep)
                    continue
                try:
                    more = await self.poll_once(source)
                    backoff = self.first_backoff
                    delay = 0.0 if more else source.poll_interval
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = self._failed(source, exc, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                await sleep_unless_stopped(stop, delay, self.sleep)
        finally:
            await asyncio.shield(store.release_lease(lease, self.holder))

    def _failed(self, source: Source, exc: Exception, backoff: float) -> float:
        health = self.health[source.name]
        retry_after = exc.retry_after if isinstance(exc, SourceError) else None
        if retry_after is None:
            health.failures += 1
            health.rate_limited = 0
        else:  # the network is pacing us, not failing: slow down without raising alarms
            health.rate_limited += 1
        health.last_error = str(exc) or type(exc).__name__
        delay = retry_after if retry_after is not None else backoff * random.uniform(0.5, 1.5)
        if isinstance(exc, SourceError):
            log.warning("source %s failed (%s); retrying in %.1fs", source.name, exc, delay)
        else:
            log.exception("source %s crashed; retrying in %.1fs", source.name, delay)
        return delay

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self.supervise(s, stop) for s in self.sources))
