"""Business time of one calendar by bisection: the open intervals are read once (as epoch
seconds with a running total) and each ``elapsed`` is two lookups, the same answer as
``BusinessCalendar.elapsed`` without walking days again for every thread."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime

from bot.settings.calendar import FOREVER, BusinessCalendar


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Timeline:
    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._always = calendar.always and not calendar.holidays
        self._from = math.inf
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._before: list[float] = []
        """Open seconds between the first interval's start and each interval's start."""
        self._total = 0.0
        self._intervals: Iterator[tuple[datetime, datetime]] = iter(())

    def elapsed(self, a: float, b: float) -> float:
        """Open seconds between epoch seconds ``a`` and ``b`` (negative when b < a)."""
        if self._always:
            return b - a
        if b < a:
            return -self.elapsed(b, a)
        if not self._starts:
            self._from = a - 86_400.0
            self._intervals = self.calendar.intervals(_at(self._from))
        if a < self._from:
            return self.calendar.elapsed(_at(a), _at(b)).total_seconds()
        return self._open_before(b) - self._open_before(a)

    def _open_before(self, t: float) -> float:
        while not self._ends or self._ends[-1] < t:
            s, e = next(self._intervals)
            start = s.timestamp()
            end = math.inf if e == FOREVER else e.timestamp()
            self._before.append(self._total)
            self._starts.append(start)
            self._ends.append(end)
            self._total += end - start
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 0.0
        return self._before[i] + min(t, self._ends[i]) - self._starts[i]
