"""The overlap window every polled source re-reads behind its cursor, and its backfill horizon.

A network that does not guarantee the order it lists items in (a post whose author's clock is
behind, a post that reaches the index late) can put a new item behind the newest one already
read. Each poll therefore reads down to ``cursor - overlap`` instead of stopping at the first
item that looks old; the store's de-duplication by (source, external id) absorbs the repeats.
After a long stop, paging goes on until the window is reached, never further back than
``backfill`` (what lies beyond is reported, never skipped silently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.base import SourceSettings
from bot.sla.settings import Duration

Clock = Callable[[], datetime]

OVERLAP = timedelta(minutes=15)
BACKFILL = timedelta(days=7)


class WindowSettings(SourceSettings):
    """The keys every time-windowed source adds: ``overlap: 15m``, ``backfill: 7d``."""

    overlap: Duration = OVERLAP
    """How far behind the newest item already read each poll reads again."""
    backfill: Duration = BACKFILL
    """After a long stop, how far back paging may go (older items are reported as unread)."""


@dataclass(frozen=True)
class Window:
    """The oldest time one poll reads down to, from the cursor's newest time and ``now``."""

    newest: datetime
    """The newest time the cursor has seen."""
    floor: datetime
    """``newest - overlap``: the oldest time the window covers."""
    horizon: datetime
    """``now - backfill``: nothing older is read."""

    @classmethod
    def of(cls, newest: datetime, now: datetime, settings: WindowSettings) -> Window:
        return cls(newest, newest - settings.overlap, now - settings.backfill)

    @property
    def limit(self) -> datetime:
        """Paging stops at the first item older than this."""
        return max(self.floor, self.horizon)

    def beyond_horizon(self, at: datetime) -> bool:
        """An item at ``at``, newer than the cursor (so never read), that the backfill horizon
        refuses. One in the overlap may have been read before: it is not counted."""
        return self.newest < at < self.horizon

    def behind(self, at: datetime) -> bool:
        """An item at ``at`` older than the newest already read: found only by the overlap."""
        return at < self.newest


def spoken(span: timedelta) -> str:
    """``span`` as the config writes it: ``7d``, ``15m``, ``1h30m``."""
    seconds, out = int(span.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0s"


def report_unread(log: logging.Logger, label: str, count: int, why: str) -> None:
    """The one warning for items a poll could not read (they are also counted in health)."""
    if count:
        log.warning("%s: %d item(s) not read: %s", label, count, why)
