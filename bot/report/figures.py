"""Figures per department and per person: counts, times (kept as compact arrays of seconds
for exact percentiles) and how many clocks met or broke their target."""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import Person
from bot.report.fold import Count
from bot.settings.policy import Clock

KINDS = ("business", "wall")


def percentile(values: array[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least ``p`` percent of the values at or below
    it (the median of 4 values is the 2nd smallest). None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class Row:
    """One department's or one person's figures."""

    key: str
    name: str
    counts: dict[Count, int] = field(default_factory=lambda: dict.fromkeys(Count, 0))
    times: dict[tuple[Clock, str], array[float]] = field(
        default_factory=lambda: {(c, k): array("d") for c in Clock for k in KINDS}
    )
    met: dict[Clock, int] = field(default_factory=lambda: dict.fromkeys(Clock, 0))
    breached: dict[Clock, int] = field(default_factory=lambda: dict.fromkeys(Clock, 0))

    def attainment(self, clock: Clock) -> float | None:
        """Percent of the clocks with a target that stopped within it."""
        total = self.met[clock] + self.breached[clock]
        return None if total == 0 else 100.0 * self.met[clock] / total

    def flat(self) -> dict[str, Any]:
        """The row as one flat mapping: the columns of the CSV and of each JSON row."""
        out: dict[str, Any] = {"key": self.key, "name": self.name}
        out.update({c.value: n for c, n in self.counts.items()})
        for clock, label in ((Clock.CLAIM, "claim"), (Clock.FIRST_RESPONSE, "first_reply")):
            for kind in KINDS:
                values = self.times[(clock, kind)]
                out[f"{label}_median_{kind}_s"] = _round(percentile(values, 50))
                out[f"{label}_p90_{kind}_s"] = _round(percentile(values, 90))
            out[f"{label}_timed"] = len(self.times[(clock, "wall")])
            out[f"{label}_within_target"] = self.met[clock]
            out[f"{label}_breaches"] = self.breached[clock]
            out[f"{label}_attainment_pct"] = _round(self.attainment(clock), 1)
        return out


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


class Figures:
    """The ``Sink`` that builds the rows; ``departments`` (None: all) limits what is kept."""

    def __init__(self, departments: Collection[str] | None = None) -> None:
        self.only = None if departments is None else frozenset(departments)
        self.departments: dict[str, Row] = {}
        self.people: dict[str, Row] = {}

    def _rows(self, department: str, person: Person | None) -> tuple[Row, ...]:
        if self.only is not None and department not in self.only:
            return ()
        row = self.departments.get(department) or self._new(self.departments, department)
        if person is None:
            return (row,)
        return row, self.people.get(person.key) or self._add_person(person)

    @staticmethod
    def _new(table: dict[str, Row], key: str, name: str = "") -> Row:
        row = table[key] = Row(key, name or key)
        return row

    def _add_person(self, person: Person) -> Row:
        return self._new(self.people, person.key, person.label)

    def count(self, what: Count, department: str, person: Person | None) -> None:
        for row in self._rows(department, person):
            row.counts[what] += 1

    def timed(
        self,
        clock: Clock,
        department: str,
        person: Person | None,
        wall: float,
        business: float,
        met: bool | None,
    ) -> None:
        for row in self._rows(department, person):
            row.times[(clock, "wall")].append(wall)
            row.times[(clock, "business")].append(business)
            if met is not None:
                (row.met if met else row.breached)[clock] += 1

    def breached(self, clock: Clock, department: str) -> None:
        for row in self._rows(department, None):
            row.breached[clock] += 1


@dataclass(frozen=True)
class Report:
    since: datetime | None
    until: datetime
    departments: list[Row]
    """By department name."""
    people: list[Row]
    """By name."""
