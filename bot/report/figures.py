"""Figures per department and per person: counts, times (``Times``: bounded memory, the
median and 90th percentile within 1 %) and how many clocks met or broke their target."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.report.fold import Count
from bot.report.times import Times
from bot.settings.policy import Clock

KINDS = ("business", "wall")


@dataclass
class Row:
    """One department's or one person's figures."""

    key: str
    name: str
    counts: dict[Count, int] = field(default_factory=lambda: dict.fromkeys(Count, 0))
    times: dict[tuple[Clock, str], Times] = field(
        default_factory=lambda: {(c, k): Times() for c in Clock for k in KINDS}
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
                out[f"{label}_median_{kind}_s"] = _round(values.percentile(50))
                out[f"{label}_p90_{kind}_s"] = _round(values.percentile(90))
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
        self._cache: dict[tuple[str, str], tuple[Row, ...]] = {}
        """The rows a (department, person key) pair counts in."""

    def _rows(self, department: str, actor: str, label: str) -> tuple[Row, ...]:
        found = self._cache.get((department, actor))
        if found is None:
            if self.only is not None and department not in self.only:
                found = ()
            else:
                row = self.departments.get(department) or self._new(self.departments, department)
                if not actor:
                    found = (row,)
                else:
                    person = self.people.get(actor) or self._new(self.people, actor, label)
                    found = (row, person)
            self._cache[(department, actor)] = found
        return found

    @staticmethod
    def _new(table: dict[str, Row], key: str, name: str = "") -> Row:
        row = table[key] = Row(key, name or key)
        return row

    def count(self, what: Count, department: str, actor: str, label: str) -> None:
        for row in self._rows(department, actor, label):
            row.counts[what] += 1

    def timed(
        self,
        clock: Clock,
        department: str,
        actor: str,
        label: str,
        wall: float,
        business: float,
        met: bool | None,
    ) -> None:
        for row in self._rows(department, actor, label):
            row.times[(clock, "wall")].add(wall)
            row.times[(clock, "business")].add(business)
            if met is not None:
                (row.met if met else row.breached)[clock] += 1

    def breached(self, clock: Clock, department: str) -> None:
        for row in self._rows(department, "", ""):
            row.breached[clock] += 1


@dataclass(frozen=True)
class Report:
    since: datetime | None
    until: datetime
    departments: list[Row]
    """By department name."""
    people: list[Row]
    """By name."""
