"""Business hours: a time zone, weekly ranges and holidays, and clock arithmetic on them.

Every method takes aware datetimes (any zone; UTC is usual) and returns UTC. Ranges are wall
clock times in the calendar's zone, so ``09:00-18:00`` stays 09:00 to 18:00 local on the days
daylight saving time starts or ends. A holiday closes its whole date (00:00-24:00 local),
including the part of a range that crossed midnight into it. The arithmetic walks open
intervals day by day, never minute by minute.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 1440
"""Minutes in a week."""
ALWAYS = "24/7"
FOREVER = datetime.max.replace(tzinfo=UTC)
"""The end of an open interval that never closes."""

_TIMES = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class CalendarError(ValueError):
    """A calendar that cannot be built; ``field`` names the part (``timezone``, ``weekly[1]``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, order=True)
class WeeklyRange:
    """Open from ``start`` (minutes after Monday 00:00, wall clock) for ``minutes``."""

    start: int
    minutes: int

    @property
    def day(self) -> int:
        return self.start // 1440

    def contains(self, minute_of_week: int) -> bool:
        return (minute_of_week - self.start) % WEEK < self.minutes


def _days(spec: str, text: str) -> list[int]:
    found: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            hint = (
                '; in a [list] quote a range holding commas: "mon-fri 09:00-12:00, 13:00-17:00"'
                if text[:1].isdigit()
                else ""
            )
            raise CalendarError(
                "", f"{text!r} does not start with days; write e.g. 'mon-fri 09:00-18:00'{hint}"
            )
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        found.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return found


def parse_ranges(text: str) -> list[WeeklyRange]:
    """``mon-fri 09:00-18:00``, ``sat,sun 10:00-14:00``, ``mon-fri 09:00-12:00, 13:00-17:00``,
    ``fri 22:00-02:00`` (across midnight), ``sun 00:00-24:00``; raises CalendarError."""
    days_spec, _, times_spec = text.strip().lower().partition(" ")
    days = _days(days_spec, text)
    pieces = [p for p in re.split(r"[,\s]+", times_spec) if p]
    if not pieces:
        raise CalendarError("", f"{text!r} has no hours; write e.g. 'mon-fri 09:00-18:00'")
    ranges: list[WeeklyRange] = []
    for piece in pieces:
        match = _TIMES.match(piece)
        if not match:
            raise CalendarError("", f"{text!r}: {piece!r} is not HH:MM-HH:MM (e.g. 09:00-18:00)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise CalendarError("", f"{text!r}: {piece!r} is not a time of day (00:00-24:00)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise CalendarError("", f"{text!r}: {piece!r} is empty; a whole day is 00:00-24:00")
        length = end - start if end > start else end + 1440 - start
        ranges.extend(WeeklyRange(day * 1440 + start, length) for day in days)
    return ranges


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def overlap(ranges: Sequence[WeeklyRange]) -> tuple[WeeklyRange, WeeklyRange] | None:
    """Two ranges that share open time, if any (the week wraps: sun 23:00-01:00 meets mon)."""
    spans = sorted((r.start + shift, r) for r in ranges for shift in (0, WEEK))
    for (start, r), (next_start, other) in pairwise(spans):
        if start + r.minutes > next_start:
            return r, other
    return None


def describe_range(r: WeeklyRange) -> str:
    start = r.start % 1440
    end = (start + r.minutes) % 1440
    return f"{DAYS[r.day]} {_clock(start)}-{_clock(end) if end else '24:00'}"


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; CalendarError naming the closest real zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(_zones()), n=1, cutoff=0.6)
        hint = close[0] if close else "Europe/Berlin or UTC"
        raise CalendarError("timezone", f"{name!r} is not a time zone; e.g. {hint}") from None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass an aware datetime (UTC)")
    return at.astimezone(UTC)


class BusinessCalendar:
    """When a department counts time: weekly ranges in a zone, minus holidays; or 24/7."""

    def __init__(
        self,
        tz: ZoneInfo | str = "UTC",
        ranges: Iterable[WeeklyRange] | None = None,
        holidays: Iterable[date] = (),
        *,
        labels: Sequence[str] = (),
    ) -> None:
        self.zone = tz if isinstance(tz, ZoneInfo) else zone(tz)
        self.always = ranges is None
        self.ranges = tuple(sorted(ranges or ()))
        self.holidays = frozenset(holidays)
        if not self.always and not self.ranges:
            raise CalendarError("weekly", "has no open hours; add a range or write 24/7")
        clash = overlap(self.ranges)
        if clash:
            a, b = (describe_range(r) for r in clash)
            raise CalendarError("weekly", f"ranges {a} and {b} overlap; merge them into one")
        self._full_week = self.always or sum(r.minutes for r in self.ranges) == WEEK
        self._last_holiday = max(self.holidays, default=date.min)
        shown = (ALWAYS,) if self.always else tuple(describe_range(r) for r in self.ranges)
        self.labels = tuple(labels) or shown

    def _key(self) -> tuple[object, ...]:
        return (self.zone.key, self.always, self.ranges, self.holidays)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BusinessCalendar) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.describe()!r})"

    @classmethod
    def parse(
        cls, tz: str, weekly: str | Sequence[str], holidays: Iterable[date] = ()
    ) -> BusinessCalendar:
        """Build from config text; CalendarError says which part is wrong and how to fix it."""
        if isinstance(weekly, str):
            if weekly.strip() != ALWAYS:
                raise CalendarError("weekly", f"{weekly!r} is neither 24/7 nor a list of ranges")
            return cls(tz, None, holidays)
        ranges: list[WeeklyRange] = []
        for i, text in enumerate(weekly):
            try:
                ranges.extend(parse_ranges(text))
            except CalendarError as exc:
                raise CalendarError(f"weekly[{i}]", exc.message) from None
        return cls(tz, ranges, holidays, labels=[" ".join(t.lower().split()) for t in weekly])

    def describe(self) -> str:
        """``mon-fri 09:00-18:00 Europe/Berlin`` (``24/7`` when always open)."""
        if self.always and not self.holidays:
            return ALWAYS
        count = len(self.holidays)
        closed = f", closed on {count} holiday{'s' if count > 1 else ''}" if count else ""
        return f"{'; '.join(self.labels)} {self.zone.key}{closed}"

    # open intervals -------------------------------------------------------------------------
    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), self.zone).astimezone(UTC)

    def _day(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals of ranges starting on local date ``day``, holidays removed."""
        if self.always:
            if day not in self.holidays:
                yield self._local_midnight(day), self._local_midnight(day + timedelta(days=1))
            return
        for r in self.ranges:
            if r.day != day.weekday():
                continue
            offset = r.start % 1440 + r.minutes
            start = datetime.combine(day, time(*divmod(r.start % 1440, 60)), self.zone)
            end_day = day + timedelta(days=offset // 1440)
            end = datetime.combine(end_day, time(*divmod(offset % 1440, 60)), self.zone)
            s, e = start.astimezone(UTC), end.astimezone(UTC)
            midnight = self._local_midnight(day + timedelta(days=1))
            if day in self.holidays:
                s = max(s, midnight)
            if day + timedelta(days=1) in self.holidays:
                e = min(e, midnight)
            if s < e:
                yield s, e

    def intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC, merged where they touch) ending after ``since``, in order;
        the last one of a calendar open for good ends at ``FOREVER``."""
        since = _utc(since)
        day = since.astimezone(self.zone).date() - timedelta(days=1)
        pending: tuple[datetime, datetime] | None = None
        while True:
            for s, e in self._day(day):
                if pending is not None and s <= pending[1]:
                    pending = (pending[0], max(pending[1], e))
                    continue
                if pending is not None and pending[1] > since:
                    yield pending
                pending = (s, e)
            if self._full_week and day > self._last_holiday and pending is not None:
                # every moment from this (open) day on is open: the interval never closes
                yield pending[0], FOREVER
                return
            day += timedelta(days=1)

    # queries --------------------------------------------------------------------------------
    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the moment the calendar next opens."""
        at = _utc(at)
        s, _ = next(self.intervals(at))
        return max(s, at)

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == _utc(at)

    def next_close(self, at: datetime) -> datetime | None:
        """When the open period holding (or next after) ``at`` ends; None: never."""
        _, e = next(self.intervals(at))
        return None if e == FOREVER else e

    def add(self, start: datetime, business: timedelta) -> datetime:
        """The moment ``business`` of open time has elapsed after ``start``
        (``add(t, 0)`` is ``next_open(t)``: nothing is due while closed)."""
        if business < timedelta(0):
            raise ValueError(f"business time must not be negative (got {business})")
        start = _utc(start)
        left = business
        for s, e in self.intervals(start):
            s = max(s, start)
            if e == FOREVER or e - s >= left:
                return s + left
            left -= e - s
        raise AssertionError("unreachable: open intervals never end")

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        """Open time between ``a`` and ``b`` (negative when ``b`` is before ``a``)."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.elapsed(b, a)
        total = timedelta(0)
        for s, e in self.intervals(a):
            if s >= b:
                break
            total += min(e, b) - max(s, a)
        return total

    def describe_next(self, at: datetime) -> str:
        """``open now until 18:00``, ``open now until Sat 02:00``, ``open now (24/7)`` or
        ``opens Mon 09:00`` — in the calendar's zone."""
        at = _utc(at)
        s, e = next(self.intervals(at))
        here = at.astimezone(self.zone)
        if s <= at:
            if e == FOREVER:
                return "open now (24/7)"
            until = e.astimezone(self.zone)
            return f"open now until {_when(until, here, same_day=True)}"
        return f"opens {_when(s.astimezone(self.zone), here, same_day=False)}"


def _when(moment: datetime, now: datetime, *, same_day: bool) -> str:
    if same_day and moment.date() == now.date():
        return f"{moment:%H:%M}"
    if moment - now < timedelta(days=6):
        return f"{DAYS[moment.weekday()].title()} {moment:%H:%M}"
    return f"{DAYS[moment.weekday()].title()} {moment.day} {moment:%b %H:%M}"


def elapsed_across(legs: Iterable[tuple[BusinessCalendar, datetime, datetime]]) -> timedelta:
    """Business time of a clock that ran through several departments: each leg
    ``(calendar, since, until)`` counts in the calendar of the department holding it."""
    return sum((cal.elapsed(a, b) for cal, a, b in legs), timedelta(0))
