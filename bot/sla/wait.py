"""Time moved by hand (the demo's ``wait``): a clock object, the moment ``wait`` names, and
running every SLA timer due up to it, each at its own due time (nothing is marked late)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.settings.calendar import DAYS, CalendarError, zone
from bot.settings.policy import parse_duration
from bot.sla.loop import TimerLoop

USAGE = (
    "write `wait 20m`, `wait 1h30m`, `wait until 09:00` or `wait until mon 09:00 [Europe/Berlin]`"
)
UTC = ZoneInfo("UTC")
MAX_STOPS = 100_000
"""A bound on the stops of one ``run_until`` (each fires what is due then)."""


class HandClock:
    """A clock that reads ``at`` and moves only forward, only when told."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def move_to(self, at: datetime) -> None:
        self.at = max(self.at, at.astimezone(UTC))


def wait_target(text: str, now: datetime) -> datetime:
    """The moment ``wait <text>`` names: ``20m`` from ``now``, or ``until [day] HH:MM [zone]``,
    the next such wall time after ``now`` (UTC unless a zone is given; the answer is in that
    zone). ValueError says how."""
    words = text.split()
    if not words:
        raise ValueError(f"Say how long: {USAGE}.")
    if words[0].lower() != "until":
        try:
            return now + parse_duration("".join(words))
        except ValueError:
            raise ValueError(f"{text!r} is not a duration; {USAGE}.") from None
    words = words[1:]
    day = None
    if words and words[0].lower()[:3] in DAYS:
        day = DAYS.index(words[0].lower()[:3])
        words = words[1:]
    if not words or len(words) > 2:
        raise ValueError(f"Say when: {USAGE}.")
    try:
        clock = time.fromisoformat(words[0])
        where = zone(words[1]) if len(words) == 2 else UTC
    except (ValueError, CalendarError) as exc:
        raise ValueError(f"{' '.join(words)!r}: {exc}; {USAGE}.") from None
    local = now.astimezone(where)
    for ahead in range(8):
        date = local.date() + timedelta(days=ahead)
        if day is not None and date.weekday() != day:
            continue
        moment = datetime.combine(date, clock, where)
        if moment > local:
            return moment
    raise AssertionError("unreachable: a weekday comes within eight days")


async def run_until(
    target: datetime,
    clock: HandClock,
    loop: TimerLoop | None,
    after_each: Callable[[], Awaitable[object]],
) -> int:
    """Move ``clock`` to ``target``, stopping at each due timer on the way to fire it (and
    run ``after_each``: show what it posted); returns how many timers were taken."""
    taken = 0
    for _ in range(MAX_STOPS if loop is not None else 0):
        assert loop is not None
        due = await loop.timers.next_due()
        if due is None or due > target:
            break
        clock.move_to(due)
        taken += await loop.tick()
        await after_each()
    clock.move_to(target)
    return taken
