"""The full store: every role port of ``bot.storage`` plus ``close``.

Two real implementations: SQLite (embedded) and Redis (replicas). Consumers should ask for the
narrow port they use (``bot.storage``); the composition root owns a ``Store`` and closes it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from bot.storage import (
    CardOutbox,
    Coordination,
    Health,
    IngestOutcome,
    IngestStatus,
    KeyValue,
    Presence,
    ReplyLedger,
    Retention,
    SourceState,
    ThreadRepository,
    Timers,
    UpgradeProgress,
)

__all__ = ["Clock", "IngestOutcome", "IngestStatus", "Store"]

Clock = Callable[[], float]
"""Epoch seconds, like ``time.time``; stores take one so tests can drive expiry."""


class Store(
    ThreadRepository,
    Retention,
    CardOutbox,
    Coordination,
    SourceState,
    ReplyLedger,
    Presence,
    KeyValue,
    Timers,
    Health,
    ABC,
):
    """Persistent state shared by every part of the bot (and every replica on Redis)."""

    @staticmethod
    def from_url(url: str, *, clock: Clock | None = None) -> Store:
        from bot.store import open_store

        return open_store(url, clock=clock)

    @property
    def upgrade_progress(self) -> UpgradeProgress | None:
        """The schema upgrade this store is running now (the first command of a store opened
        on data of an older release runs it), or None."""
        return None

    @abstractmethod
    async def close(self) -> None: ...
