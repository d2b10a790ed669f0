"""The SLA keys of the config file, and the policies built from them.

Company-wide defaults live in the top-level ``sla:`` block (targets, ``hours``, ``reminders``,
``rollover_after`` and named ``calendars``); each department may override them. Errors name
the key (``departments[support].hours.timezone``) and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict

from bot.settings.calendar import ALWAYS, BusinessCalendar, CalendarError
from bot.settings.policy import (
    DEFAULT_REMINDERS,
    NotifyTarget,
    Rota,
    SlaPolicy,
    check_slack_target,
    check_teams_target,
    notify_target,
    parse_duration,
)

DEFAULT_FIRST_RESPONSE = timedelta(hours=1)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} needs a unit; write e.g. 90s, 10m, 1h30m or 2d")
    found = parse_duration(value)
    if found <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return found


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration written ``90s``, ``10m``, ``1h30m`` or ``2d``."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSettings(_Section):
    """``{timezone: Europe/Berlin, weekly: [mon-fri 09:00-18:00], holidays: [2026-12-25]}``;
    ``weekly: 24/7`` counts every hour except the holidays."""

    timezone: str = "UTC"
    weekly: str | tuple[str, ...]
    holidays: tuple[date, ...] = ()


Hours = str | CalendarSettings
"""A calendar name from ``sla.calendars``, ``24/7``, or an inline calendar."""


class SlaTargets(_Section):
    claim: Duration | None = None
    first_response: Duration | None = None


class NotifySettings(_Section):
    slack: str = ""
    teams: str = ""


class SlaDefaults(_Section):
    """The top-level ``sla:`` block: what every department gets unless it says otherwise."""

    claim: Duration | None = None
    first_response: Duration | None = None
    hours: Hours = ALWAYS
    reminders: tuple[float, ...] = DEFAULT_REMINDERS
    rollover_after: Duration = timedelta(minutes=15)
    calendars: dict[str, Hours] = {}
    check_every: Duration = timedelta(seconds=5)
    """How often each replica looks for due timers (a tick costs what is due)."""


class DepartmentSla(Protocol):
    """The SLA keys of one department (``bot.config.Department``)."""

    @property
    def name(self) -> str: ...
    @property
    def sla(self) -> SlaTargets | None: ...
    @property
    def sla_minutes(self) -> int | None: ...
    @property
    def hours(self) -> Hours | None: ...
    @property
    def reminders(self) -> tuple[float, ...] | None: ...
    @property
    def notify(self) -> str | NotifySettings: ...
    @property
    def rollover_after(self) -> timedelta | None: ...
    @property
    def escalation(self) -> str: ...
    @property
    def on_duty(self) -> tuple[str, ...] | Mapping[str, tuple[str, ...]]: ...


def _calendar(hours: CalendarSettings, key: str) -> BusinessCalendar:
    try:
        return BusinessCalendar.parse(hours.timezone, hours.weekly, hours.holidays)
    except CalendarError as exc:
        raise ValueError(f"{key}.{exc}") from None


class Calendars:
    """The named calendars of ``sla.calendars``, built once and shared by departments."""

    def __init__(self, defaults: SlaDefaults) -> None:
        self._named: dict[str, BusinessCalendar] = {}
        for name, hours in defaults.calendars.items():
            key = f"sla.calendars.{name}"
            if name == ALWAYS:
                raise ValueError(f"{key}: {ALWAYS} is built in; give the calendar another name")
            if isinstance(hours, str):
                self._named[name] = self.resolve(hours, key)
            else:
                self._named[name] = _calendar(hours, key)
        self.default = self.resolve(defaults.hours, "sla.hours")

    def resolve(self, hours: Hours | None, key: str) -> BusinessCalendar:
        if hours is None:
            return self.default
        if isinstance(hours, CalendarSettings):
            return _calendar(hours, key)
        if hours.strip() == ALWAYS:
            return BusinessCalendar()
        found = self._named.get(hours)
        if found is None:
            known = ", ".join(sorted(self._named)) or "none yet"
            raise ValueError(
                f"{key} {hours!r} is not a calendar; define it under sla.calendars "
                f"(defined: {known}), write 24/7, or give {{timezone, weekly, holidays}} inline"
            )
        return found


def _reminders(values: Sequence[float], key: str) -> tuple[float, ...]:
    for value in values:
        if not 0 < value < 1:
            raise ValueError(
                f"{key} fraction {value} is outside (0, 1); write fractions of the target, "
                "e.g. [0.5, 0.8]"
            )
    return tuple(sorted(set(values)))


def _notify(value: str | NotifySettings, key: str) -> NotifyTarget:
    try:
        if isinstance(value, str):
            return notify_target(value) if value else NotifyTarget()
        slack = check_slack_target(value.slack) if value.slack else ""
        teams = check_teams_target(value.teams) if value.teams else ""
        return NotifyTarget(slack, teams)
    except ValueError as exc:
        raise ValueError(f"{key} {exc}") from None


def _first_response(dept: DepartmentSla, defaults: SlaDefaults, key: str) -> timedelta:
    own = dept.sla.first_response if dept.sla else None
    if own is not None and dept.sla_minutes is not None:
        raise ValueError(
            f"{key}.sla.first_response and {key}.sla_minutes both set the first-response "
            "target; keep sla.first_response"
        )
    if own is not None:
        return own
    if dept.sla_minutes is not None:
        return timedelta(minutes=dept.sla_minutes)
    return defaults.first_response or DEFAULT_FIRST_RESPONSE


def build_policy(
    dept: DepartmentSla, defaults: SlaDefaults, calendars: Calendars | None = None
) -> SlaPolicy:
    """The policy of ``dept``, its unset keys taken from ``defaults``; ValueError names the key."""
    key = f"departments[{dept.name}]"
    calendars = calendars or Calendars(defaults)
    calendar = calendars.resolve(dept.hours, f"{key}.hours")
    if isinstance(dept.on_duty, Mapping):
        try:
            rota = Rota.parse(dept.on_duty, calendar)
        except CalendarError as exc:
            raise ValueError(f"{key}.on_duty{exc}") from None
    else:
        rota = Rota.always(dept.on_duty, calendar)
    reminders = defaults.reminders if dept.reminders is None else dept.reminders
    return SlaPolicy(
        department=dept.name,
        first_response=_first_response(dept, defaults, key),
        claim=(dept.sla.claim if dept.sla else None) or defaults.claim,
        calendar=calendar,
        reminders=_reminders(reminders, f"{key}.reminders" if dept.reminders else "sla.reminders"),
        notify=_notify(dept.notify, f"{key}.notify"),
        rollover_to=dept.escalation,
        rollover_after=dept.rollover_after or defaults.rollover_after,
        rota=rota,
        first_response_timed=(
            (dept.sla is not None and dept.sla.first_response is not None)
            or dept.sla_minutes is not None
            or defaults.first_response is not None
        ),
    )


def escalation_cycle(escalations: Mapping[str, str]) -> list[str] | None:
    """A loop in ``department -> escalation department`` (``[a, b, a]``), if any."""
    for start in escalations:
        path = [start]
        while escalations.get(path[-1]):
            nxt = escalations[path[-1]]
            if nxt in path:
                return [*path[path.index(nxt) :], nxt]
            path.append(nxt)
    return None


def build_policies(departments: Sequence[DepartmentSla], defaults: SlaDefaults) -> list[SlaPolicy]:
    """Every department's policy, or ValueError for the first wrong key (escalation loops
    included: a rollover must end somewhere)."""
    cycle = escalation_cycle({d.name: d.escalation for d in departments})
    if cycle:
        raise ValueError(
            f"departments[{cycle[0]}].escalation forms a cycle {' -> '.join(cycle)}; rollover "
            f"would never end (remove the escalation of one of them)"
        )
    calendars = Calendars(defaults)
    return [build_policy(d, defaults, calendars) for d in departments]
