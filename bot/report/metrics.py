"""Prometheus figures of the clocks as they stop: histograms of time to claim and to first
response per department (business and wall seconds), counters of breaches and rollovers.

``ReportMetrics`` is a ``ThreadService`` observer: after a change this process stored that
can stop a clock, it folds that thread's events (the same ``Fold`` as the report) and counts
only what this event completed. Each change is stored by one replica, so each observation is
made once across replicas: sum the series over instances. Written in the text exposition
format like the rest of ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.domain import AuditEvent, EventKind, Thread
from bot.report.fold import PICK_UPS, Count, Fold, Policies
from bot.settings.policy import Clock

BUCKETS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)
"""Seconds: 1 min to 1 day."""
WATCHED = PICK_UPS | {EventKind.TRANSFERRED, EventKind.SENT_BACK, EventKind.RESOLVED}
WATCHED |= {EventKind.SPAM}
NAMES = {
    Clock.CLAIM: "switchboard_time_to_claim_seconds",
    Clock.FIRST_RESPONSE: "switchboard_time_to_first_response_seconds",
}


class ThreadEvents(Protocol):
    async def events(self, thread_id: str) -> list[AuditEvent]: ...


class Histogram:
    def __init__(self) -> None:
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.buckets[i] += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Live:
    """Passes on what the fold reports only while ``on`` (the event being observed)."""

    def __init__(self, target: ReportMetrics) -> None:
        self.target = target
        self.on = False

    def count(self, what: Count, department: str, actor: str, label: str) -> None:
        if self.on and what is Count.ROLLED_OVER:
            self.target.rollovers[department] = self.target.rollovers.get(department, 0) + 1

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
        if not self.on:
            return
        for kind, value in (("business", business), ("wall", wall)):
            key = (clock, department, kind)
            found = self.target.histograms.get(key)
            if found is None:
                found = self.target.histograms[key] = Histogram()
            found.observe(value)
        if met is False:
            self.breached(clock, department)

    def breached(self, clock: Clock, department: str) -> None:
        if self.on:
            key = (clock, department)
            self.target.breaches[key] = self.target.breaches.get(key, 0) + 1


class ReportMetrics:
    def __init__(self, store: ThreadEvents, policies: Policies) -> None:
        self.store = store
        self.policies = policies
        self.histograms: dict[tuple[Clock, str, str], Histogram] = {}
        self.breaches: dict[tuple[Clock, str], int] = {}
        self.rollovers: dict[str, int] = {}

    async def planned(self, thread: Thread, event: AuditEvent) -> None:
        return None

    async def settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        if not stored or event.kind not in WATCHED:
            return
        live = _Live(self)
        fold = Fold(self.policies, live)
        for past in await self.store.events(thread.id):
            live.on = past.id == event.id
            fold.event(past)
            if live.on:
                return

    def lines(self) -> Iterable[str]:
        for clock, name in NAMES.items():
            what = "claim" if clock is Clock.CLAIM else "the first public reply"
            yield f"# HELP {name} Time a thread waited for {what}, per department."
            yield f"# TYPE {name} histogram"
            for (c, department, kind), h in sorted(self.histograms.items()):
                if c is not clock:
                    continue
                labels = f'department="{_label(department)}",time="{kind}"'
                for bound, n in zip(BUCKETS, h.buckets, strict=True):
                    yield f'{name}_bucket{{{labels},le="{bound:g}"}} {n}'
                yield f'{name}_bucket{{{labels},le="+Inf"}} {h.count}'
                yield f"{name}_sum{{{labels}}} {h.sum:g}"
                yield f"{name}_count{{{labels}}} {h.count}"
        name = "switchboard_sla_breaches_total"
        yield f"# HELP {name} Clocks that stopped (or were left) past their target."
        yield f"# TYPE {name} counter"
        for (clock, department), n in sorted(self.breaches.items()):
            yield f'{name}{{department="{_label(department)}",clock="{clock.value}"}} {n}'
        name = "switchboard_rollovers_total"
        yield f"# HELP {name} Threads rolled over to the escalation department, by where from."
        yield f"# TYPE {name} counter"
        for department, n in sorted(self.rollovers.items()):
            yield f'{name}{{department="{_label(department)}"}} {n}'
