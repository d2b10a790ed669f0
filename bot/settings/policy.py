"""A department's service level: targets, its calendar, reminders, who to alert, where a thread
rolls over to, and who is on duty when. Pure values; the timers read them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.settings.calendar import (
    ALWAYS,
    BusinessCalendar,
    CalendarError,
    WeeklyRange,
    parse_ranges,
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DEFAULT_REMINDERS = (0.5, 0.8)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``10m``, ``1h30m``, ``2d``; ValueError says how to write one."""
    match = _DURATION.match(text.strip().replace(" ", "")) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 10m, 1h30m or 2d")
    d, h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def format_duration(value: timedelta) -> str:
    """``10 min``, ``1 h``, ``1 h 30 min``, ``2 d``, ``1 min 30 s``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


class Clock(StrEnum):
    """The two SLA clocks of a thread."""

    CLAIM = "claim"
    """Starts when the thread waits in a department (new, transferred, released, reopened);
    stops at claim."""
    FIRST_RESPONSE = "first_response"
    """Starts at the first mention; stops at the first public reply, across transfers."""


@dataclass(frozen=True)
class NotifyTarget:
    """Who a breach alert mentions, as config gives it: ``<!subteam^S123>``, ``<#C123>`` or
    ``#channel`` on Slack; ``#channel`` (a channel mention) on Teams. Empty: nobody."""

    slack: str = ""
    teams: str = ""

    def __bool__(self) -> bool:
        return bool(self.slack or self.teams)


_SLACK_TARGET = re.compile(
    r"^(<!subteam\^[A-Z0-9]+(\|[^<>]+)?>|<#[A-Z0-9]+(\|[^<>]*)?>|<@[A-Z0-9]+>|<!here>|<!channel>"
    r"|#[a-z0-9][a-z0-9_-]{0,79})$"
)
_TEAMS_TARGET = re.compile(r"^#\S.{0,79}$")


def check_slack_target(value: str) -> str:
    if not _SLACK_TARGET.match(value):
        raise ValueError(
            f"{value!r} is not a Slack notify target; write a user group <!subteam^S0123ABC>, "
            "a channel <#C0123ABC> or #channel-name"
        )
    return value


def check_teams_target(value: str) -> str:
    if not _TEAMS_TARGET.match(value):
        raise ValueError(f"{value!r} is not a Teams notify target; write #Channel name")
    return value


def notify_target(value: str) -> NotifyTarget:
    """One string for every platform: ``#name`` is a channel on Slack and Teams alike, a Slack
    mention (``<!subteam^…>``, ``<#C…>``, ``<@U…>``) is for Slack only."""
    check_slack_target(value)
    return NotifyTarget(value, value if value.startswith("#") else "")


@dataclass(frozen=True)
class Shift:
    """People on duty during ``ranges`` (wall clock in the rota's zone); no ranges: always."""

    people: tuple[str, ...]
    ranges: tuple[WeeklyRange, ...] = ()
    label: str = ALWAYS

    def covers(self, minute_of_week: int) -> bool:
        return not self.ranges or any(r.contains(minute_of_week) for r in self.ranges)


@dataclass(frozen=True)
class Rota:
    """Who is on duty by weekday and hours; a plain list is on duty always."""

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    """Only its zone is used: shifts are wall clock there (holidays do not stop a shift)."""
    shifts: tuple[Shift, ...] = ()

    @classmethod
    def always(cls, people: Iterable[str], calendar: BusinessCalendar | None = None) -> Rota:
        found = tuple(people)
        shifts = (Shift(found),) if found else ()
        return cls(calendar or BusinessCalendar(), shifts)

    @classmethod
    def parse(cls, entries: Mapping[str, Sequence[str]], calendar: BusinessCalendar) -> Rota:
        """``{"mon-fri 09:00-17:00": [alice, bob], "24/7": [dora]}``; CalendarError names
        the entry that does not parse."""
        shifts = []
        for text, people in entries.items():
            if text.strip() == ALWAYS:
                shifts.append(Shift(tuple(people)))
                continue
            try:
                ranges = tuple(parse_ranges(text))
            except CalendarError as exc:
                raise CalendarError(f"[{text}]", exc.message) from None
            shifts.append(Shift(tuple(people), ranges, " ".join(text.lower().split())))
        return cls(calendar, tuple(shifts))

    @property
    def people(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for s in self.shifts for p in s.people))

    def on_duty(self, at: datetime) -> tuple[str, ...]:
        """Everyone whose shift covers ``at``, in config order, once each."""
        local = at.astimezone(self.calendar.zone)
        minute = local.weekday() * 1440 + local.hour * 60 + local.minute
        return tuple(dict.fromkeys(p for s in self.shifts if s.covers(minute) for p in s.people))


@dataclass(frozen=True)
class Deadlines:
    """The moments of one clock: reminders, the due time (breach) and the rollover."""

    reminders: tuple[datetime, ...]
    due: datetime
    rollover: datetime | None


@dataclass(frozen=True)
class SlaPolicy:
    """The service level of one department."""

    department: str
    first_response: timedelta
    claim: timedelta | None = None
    """None: claiming has no target (only the first reply is timed)."""
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    reminders: tuple[float, ...] = DEFAULT_REMINDERS
    """Fractions of the target at which a reminder goes out, ascending, each in (0, 1)."""
    notify: NotifyTarget = NotifyTarget()
    rollover_to: str = ""
    """The escalation department a breached thread moves to; empty: it stays."""
    rollover_after: timedelta = timedelta(minutes=15)
    """Business time after the breach before the rollover."""
    rota: Rota = field(default_factory=Rota)
    first_response_timed: bool = True
    """False when the first-response target is only the built-in default (nothing in the
    config set one): ``directory`` shows it, no timer runs for it."""

    def target(self, clock: Clock) -> timedelta | None:
        """The target of ``clock`` here; None when that clock is not timed."""
        if clock is Clock.CLAIM:
            return self.claim
        return self.first_response if self.first_response_timed else None

    @property
    def timed(self) -> bool:
        """Whether any clock of this department runs timers."""
        return any(self.target(c) is not None for c in Clock)

    def deadlines(
        self, clock: Clock, started: datetime, spent: timedelta = timedelta(0)
    ) -> Deadlines | None:
        """When this department's clock rings for a clock that started at ``started`` here,
        with ``spent`` business time already used elsewhere (a transfer keeps the customer's
        first-response wait); None when the clock has no target."""
        target = self.target(clock)
        if target is None:
            return None
        marks = [
            self.calendar.add(started, max(target * f - spent, timedelta(0)))
            for f in self.reminders
            if target * f > spent
        ]
        due = self.calendar.add(started, max(target - spent, timedelta(0)))
        rollover = None
        if self.rollover_to:
            rollover = self.calendar.add(due, self.rollover_after)
        return Deadlines(tuple(marks), due, rollover)

    def describe_targets(self) -> str:
        """``claim 10 min · first reply 1 h, business hours mon-fri 09:00-18:00 Europe/Berlin``
        (no hours part when the calendar is 24/7); only the clocks that are timed, or ``no
        service-level targets``."""
        parts = [f"claim {format_duration(self.claim)}"] if self.claim else []
        if self.first_response_timed:
            parts.append(f"first reply {format_duration(self.first_response)}")
        hours = self.calendar.describe()
        if not parts:
            return "no service-level targets" if hours == ALWAYS else f"business hours {hours}"
        return " · ".join(parts) + ("" if hours == ALWAYS else f", business hours {hours}")
