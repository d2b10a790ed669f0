"""The overlap window every polled source re-reads behind its cursor, and its backfill horizon.

A network that does not guarantee the order it lists items in (a post whose author's clock is
behind, a post that reaches the index late) can put a new item behind the newest one already
read. Each poll therefore reads down to ``cursor - overlap`` instead of stopping at the first
item that looks old; the store's de-duplication by (source, external id) absorbs the repeats.
After a long stop, paging goes on until the window is reached, never further back than
``backfill`` (what lies beyond is reported, never skipped silently).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.base import SourceSettings
from adapters.support import MALFORMED, parse_time
from bot.errors import SourceError
from bot.settings.sla import Duration

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


@dataclass(frozen=True)
class WalkCursor:
    """A cursor over a list read newest first: the newest time read, the ids read at that
    instant, and, while a long stop is read back over several polls, where that walk stands."""

    newest: str
    ids: frozenset[str] = frozenset()
    resume: str | None = None
    """The network's paging token the unfinished walk goes on from (None: no walk)."""
    top: str | None = None
    """The newest time the unfinished walk read; the cursor's ``newest`` once it ends."""
    top_ids: frozenset[str] = frozenset()
    """The ids the unfinished walk read at ``top``."""

    @property
    def at(self) -> datetime:
        return parse_time(self.newest)

    def dump(self) -> str:
        data: dict[str, Any] = {"t": self.newest, "ids": sorted(self.ids)}
        if self.resume is not None:
            data |= {"resume": self.resume, "top": self.top, "top_ids": sorted(self.top_ids)}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, cursor: str) -> WalkCursor:
        """A stored cursor (``uris`` is the name older Bluesky cursors gave ``ids``)."""
        try:
            data = json.loads(cursor)
            parse_time(data["t"])
            resume, top = data.get("resume"), data.get("top")
            if resume:
                parse_time(top)
            ids = data.get("ids", data.get("uris", []))
            return cls(
                str(data["t"]),
                frozenset(str(i) for i in ids),
                str(resume) if resume else None,
                str(top) if resume else None,
                frozenset(str(i) for i in data.get("top_ids", [])) if resume else frozenset(),
            )
        except (*MALFORMED, json.JSONDecodeError) as exc:
            raise SourceError(f"stored cursor {cursor[:80]!r} is not ours: {exc}") from exc

    def after(self, walk: Walk, stamp: Stamp, key: Key) -> WalkCursor:
        """The cursor once ``walk`` is stored: its newest item, or the walk's place."""
        start, start_ids = (self.top, self.top_ids) if self.top else (self.newest, self.ids)
        top, ids = newest(walk.items, stamp, key, start, start_ids)
        if walk.resume is None:
            return WalkCursor(top, ids)
        return WalkCursor(self.newest, self.ids, walk.resume, top, ids)

    def late(self, walk: Walk, stamp: Stamp, key: Key) -> frozenset[str]:
        """Ids of ``walk`` at or behind the newest already read, that were not read then."""
        at = self.at
        found = set()
        for item in walk.items:
            when = stamp(item)
            if when is not None and (when < at or (when == at and key(item) not in self.ids)):
                found.add(key(item))
        return frozenset(found)


Stamp = Callable[[Any], datetime | None]
"""An item's time in the list's order (None when it has none)."""
Key = Callable[[Any], str]
"""An item's id."""
ReadPage = Callable[[str | None], Awaitable[tuple[list[Any], str | None]]]
"""Reads one page at a paging token (None: the newest), giving it and the next token."""


def newest(
    items: list[Any], stamp: Stamp, key: Key, start: str | None, ids: frozenset[str]
) -> tuple[str, frozenset[str]]:
    """The newest time among ``items`` and ``start`` (as written), and the ids at it."""
    best = parse_time(start) if start else None
    raw, found = start or "", set(ids)
    for item in items:
        when = stamp(item)
        if when is None:
            continue
        if best is None or when > best:
            best, raw, found = when, when.isoformat(), set()
        if when == best:
            found.add(key(item))
    return raw, frozenset(found)


@dataclass(frozen=True)
class Walk:
    """What one poll read walking back from the newest item (or from ``resume``)."""

    items: list[Any]
    resume: str | None
    """Where the walk goes on next poll; None when it reached the window or the list's end."""
    unread: int
    """Items newer than the cursor refused by the backfill horizon."""
    cut: bool = False
    """The list ended before reaching back to the cursor: the network no longer serves what
    lies between (a list capped at so many items, or older items deleted)."""


async def walk_back(
    read_page: ReadPage,
    start: str | None,
    window: Window,
    stamp: Stamp,
    max_pages: int,
    cursor: WalkCursor,
) -> Walk:
    """Read pages from ``start`` until an item is older than the window's limit. A list that
    ends first, all of it newer than the item ``cursor`` names, is ``cut`` (a cursor that
    names no item, only a time, never is)."""
    items: list[Any] = []
    unread, token = 0, start
    for _ in range(max_pages):
        page, token = await read_page(token)
        reached = False
        for item in page:
            when = stamp(item)
            if when is not None and when < window.limit:
                reached = True
                unread += window.beyond_horizon(when)
            else:
                items.append(item)
        if reached or not token or not page:
            stamps = [when for when in map(stamp, items) if when is not None]
            anchored = bool(cursor.ids) and bool(stamps)
            cut = not reached and anchored and min(stamps) > window.newest
            return Walk(items, None, unread + cut, cut)
    return Walk(items, token, unread)


def report_walk(log: logging.Logger, label: str, walk: Walk, settings: WindowSettings) -> None:
    """The warnings for what a walk could not read (also counted in ``walk.unread``)."""
    beyond = walk.unread - walk.cut
    horizon = f"older than the backfill horizon ({spoken(settings.backfill)})"
    report_unread(log, label, beyond, horizon)
    if walk.cut:
        log.warning(
            "%s: the network's list ends before the last item read; what was posted in "
            "between is no longer served and was not read (counted as one unread gap)",
            label,
        )
