"""What a card (and a queue line) says about a thread's service level: the badge.

Pure: a thread, its events, the departments' policies and ``now`` in; a ``Badge`` (or None)
out. Of the two clocks, the one due first is shown:

- **claim**: runs while the thread waits (``bot.domain.is_waiting``), from the event that
  started the current wait (the claim timers' start, ``bot.sla.clock.HOLDERS``);
- **first response**: runs from the thread's first mention until its first public reply,
  across transfers (business time spent in earlier departments counts, each in its own
  hours); a thread once resolved (or spam) has it stopped: a reopened thread is timed by its
  claim clock.

A badge is ``due`` until the last reminder mark (default 80% of the target), ``warning`` from
there, ``overdue`` from the due time. Cards are re-rendered only when something is recorded
(the clock's reminder and breach events among them), so ``card_text`` says only what stays true
until the next update; ``list_text`` (queues, App Home, asked for by a person) says how long is
left as of asking. Times are wall clock in the department's time zone; amounts are business
time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain import AuditEvent, EventKind, Thread, is_open, is_waiting
from bot.settings.calendar import DAYS, FOREVER, BusinessCalendar
from bot.settings.policy import Clock, SlaPolicy, format_duration
from bot.sla.clock import HOLDERS

Policies = Callable[[str], SlaPolicy | None]
"""The service level of a department by name; None when it is not (or no longer) configured."""
STOPS_FIRST_RESPONSE = frozenset({EventKind.REPLIED, EventKind.RESOLVED, EventKind.SPAM})
LABELS = {Clock.CLAIM: "Claim", Clock.FIRST_RESPONSE: "First reply"}


class Level(StrEnum):
    """How urgent a badge is; each surface styles it (Teams colour, Slack emoji)."""

    DUE = "due"
    """Before the last reminder mark."""
    WARNING = "warning"
    """Past the last reminder mark, not yet due."""
    OVERDUE = "overdue"
    """At or past the due time."""


MARKS = {Level.DUE: "⏱", Level.WARNING: "⚠", Level.OVERDUE: "⛔"}


def when(at: datetime, now: datetime, zone: ZoneInfo) -> str:
    """``14:35`` (the same local day as ``now``), ``Mon 09:10`` (within six days), else
    ``Mon 14 Dec 09:10`` — wall clock in ``zone``."""
    here, moment = now.astimezone(zone), at.astimezone(zone)
    clock = f"{moment:%H:%M}"
    if moment.date() == here.date():
        return clock
    day = DAYS[moment.weekday()].title()
    if abs(moment - here) < timedelta(days=6):
        return f"{day} {clock}"
    return f"{day} {moment.day} {moment:%b} {clock}"


def amount(value: timedelta) -> str:
    """``12 min``, ``1 h 5 min``; under half a minute: ``less than a minute``."""
    rounded = round(abs(value).total_seconds() / 60)
    return format_duration(timedelta(minutes=rounded)) if rounded else "less than a minute"


@dataclass(frozen=True)
class Badge:
    """One clock of a thread as of ``at``: which, how urgent, when due, how much is left."""

    clock: Clock
    level: Level
    due: datetime
    left: timedelta
    """Business time from ``at`` to ``due``; negative: how long it is overdue."""
    at: datetime
    zone: ZoneInfo

    @property
    def label(self) -> str:
        return LABELS[self.clock]

    def card_text(self) -> str:
        """``⏱ Claim due 14:35``, ``⚠ Claim due 14:35 — 3 min left at 14:32``, ``⛔ First reply
        overdue since Mon 09:10``: true until the card's next update."""
        mark, due = MARKS[self.level], when(self.due, self.at, self.zone)
        if self.level is Level.OVERDUE:
            return f"{mark} {self.label} overdue since {due}"
        if self.level is Level.WARNING:
            at = when(self.at, self.at, self.zone)
            return f"{mark} {self.label} due {due} — {amount(self.left)} left at {at}"
        return f"{mark} {self.label} due {due}"

    def list_text(self) -> str:
        """As of asking: ``⏱ claim due in 12 min (14:35)`` (``due Mon 09:10`` when not
        today), ``⚠ claim: 3 min left (due 14:35)``, ``⛔ claim overdue 8 min (since 14:35)``."""
        mark, due = MARKS[self.level], when(self.due, self.at, self.zone)
        name = self.label.lower()
        if self.level is Level.OVERDUE:
            return f"{mark} {name} overdue {amount(self.left)} (since {due})"
        if self.level is Level.WARNING:
            return f"{mark} {name}: {amount(self.left)} left (due {due})"
        same_day = self.due.astimezone(self.zone).date() == self.at.astimezone(self.zone).date()
        if same_day:
            return f"{mark} {name} due in {amount(self.left)} ({due})"
        return f"{mark} {name} due {due}"


def claim_started(thread: Thread, events: Sequence[AuditEvent]) -> datetime | None:
    """When the thread's current wait started; None when it is not waiting."""
    if not is_waiting(thread):
        return None
    last = next((e for e in reversed(events) if e.kind in HOLDERS), None)
    return last.at if last is not None else thread.created_at


def first_response_running(thread: Thread, events: Sequence[AuditEvent]) -> bool:
    if not is_open(thread) or thread.reply_count > 0:
        return False
    return not any(e.kind in STOPS_FIRST_RESPONSE for e in events)


def first_response_start(thread: Thread, policies: Policies) -> tuple[datetime, timedelta]:
    """Where the current department's first-response clock starts (the last move here, or the
    first mention) and the business time already spent in the departments before."""
    start, spent = thread.created_at, timedelta(0)
    for move in thread.transfers:
        earlier = policies(move.from_department)
        calendar = earlier.calendar if earlier else BusinessCalendar()
        spent += max(calendar.elapsed(start, move.at), timedelta(0))
        start = move.at
    return start, spent


def clock_badge(
    policy: SlaPolicy,
    clock: Clock,
    started: datetime,
    now: datetime,
    spent: timedelta = timedelta(0),
) -> Badge | None:
    """The badge of one clock that started at ``started`` here (``spent`` used elsewhere);
    None when the department has no target for it."""
    deadlines = policy.deadlines(clock, started, spent)
    if deadlines is None:
        return None
    calendar = policy.calendar
    if now >= deadlines.due:
        level = Level.OVERDUE
        left = -calendar.elapsed(deadlines.due, now)
    else:
        left = calendar.elapsed(now, deadlines.due)
        # no mark left: every one was used up before (a transfer), or there are none
        marks = deadlines.reminders
        warned = now >= marks[-1] if marks else bool(policy.reminders)
        level = Level.WARNING if warned else Level.DUE
    return Badge(clock, level, deadlines.due, left, now, calendar.zone)


def badges(
    thread: Thread, events: Sequence[AuditEvent], policies: Policies, now: datetime
) -> list[Badge]:
    """Every running clock of ``thread`` with a target, due first."""
    policy = policies(thread.department)
    if policy is None:
        return []
    found: list[Badge] = []
    started = claim_started(thread, events)
    if started is not None:
        claim = clock_badge(policy, Clock.CLAIM, started, now)
        if claim is not None:
            found.append(claim)
    if first_response_running(thread, events):
        start, spent = first_response_start(thread, policies)
        first = clock_badge(policy, Clock.FIRST_RESPONSE, start, now, spent)
        if first is not None:
            found.append(first)
    return sorted(found, key=lambda b: b.due)


def badge(
    thread: Thread, events: Sequence[AuditEvent], policies: Policies, now: datetime
) -> Badge | None:
    """The clock a card shows: of the running ones, the one due first; None when none runs
    (held and replied, resolved, or no target)."""
    found = badges(thread, events, policies, now)
    return found[0] if found else None


def due_first_key(thread: Thread, shown: Badge | None) -> tuple[datetime, datetime, int]:
    """Sort key of a queue: what is due first, then the oldest; threads without a running
    clock after every timed one."""
    return (shown.due if shown else FOREVER, thread.created_at, thread.number)
