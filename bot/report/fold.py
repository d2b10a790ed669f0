"""The audit log folded into figures: one small track per thread received in the period.

Events come oldest first. A thread's track knows its department (and the one it came from,
for a send-back), when its current wait in a queue started, and its first-response clock
(business time spent in earlier departments and when the current leg started). Each event
tells the ``Sink`` what it completes: a count, a timed pick-up or first reply, or a wait that
ran past its target without one. The rules are written in docs/USER_GUIDE.md ("Reports").
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from bot.domain import AuditEvent, EventKind, Person
from bot.report.timeline import Timeline
from bot.settings.calendar import BusinessCalendar
from bot.settings.policy import Clock, SlaPolicy


class Count(StrEnum):
    RECEIVED = "received"
    """Threads opened (a new public conversation), in the department it was routed to."""
    CLAIMED = "claimed"
    REPLIED = "replied"
    """Public replies posted (every one, not only the first)."""
    TRANSFERRED = "transferred"
    """Transfers and send-backs by a person, in the department the thread left."""
    ROLLED_OVER = "rolled_over"
    """Rollovers by the SLA timers, in the department the thread left."""
    RESOLVED = "resolved"
    SPAM = "spam"


class Sink(Protocol):
    """Where a fold puts what each event completes."""

    def count(self, what: Count, department: str, person: Person | None) -> None: ...

    def timed(
        self,
        clock: Clock,
        department: str,
        person: Person | None,
        wall: float,
        business: float,
        met: bool | None,
    ) -> None:
        """A clock stopped: a wait picked up (``CLAIM``) or a first public reply; seconds of
        wall and business time; ``met``: within the department's target (None: no target)."""

    def breached(self, clock: Clock, department: str) -> None:
        """A clock ran past its target without being stopped by a pick-up or a reply (the
        wait ended otherwise, or still runs at the end of the period)."""


Policies = Callable[[str], SlaPolicy | None]
PICK_UPS = frozenset({EventKind.CLAIMED, EventKind.TAKEN_OVER, EventKind.REPLIED})
ALWAYS = BusinessCalendar()


class Track:
    __slots__ = (
        "came_from",
        "department",
        "first_at",
        "fr_done",
        "leg_at",
        "spent",
        "wait_at",
    )

    def __init__(self, department: str, at: float) -> None:
        self.department = department
        self.came_from = ""
        self.wait_at: float | None = at
        """When the current wait in the department's queue started (None: someone holds it)."""
        self.first_at = at
        self.leg_at = at
        """When the thread came into its current department."""
        self.spent = 0.0
        """First-response business seconds spent in earlier departments."""
        self.fr_done = False


class Fold:
    def __init__(self, policies: Policies, sink: Sink) -> None:
        self.policies = policies
        self.sink = sink
        self.tracks: dict[str, Track] = {}
        """The open threads received in the period."""
        self.closed: dict[str, tuple[str, str]] = {}
        """Closed threads of the period: (department, the one it came from)."""
        self._timelines: dict[BusinessCalendar, Timeline] = {}
        self._by_department: dict[str, Timeline] = {}
        self._targets: dict[tuple[Clock, str], float | None] = {}
        self._places: dict[tuple[str, str], tuple[str, str]] = {}

    def _timeline(self, department: str) -> Timeline:
        found = self._by_department.get(department)
        if found is None:
            policy = self.policies(department)
            calendar = policy.calendar if policy is not None else ALWAYS
            found = self._timelines.get(calendar)
            if found is None:
                found = self._timelines[calendar] = Timeline(calendar)
            self._by_department[department] = found
        return found

    def _business(self, department: str, a: float, b: float) -> float:
        return self._timeline(department).elapsed(a, b)

    def _target(self, clock: Clock, department: str) -> float | None:
        key = (clock, department)
        if key not in self._targets:
            policy = self.policies(department)
            target = policy.target(clock) if policy is not None else None
            self._targets[key] = None if target is None else target.total_seconds()
        return self._targets[key]

    def event(self, e: AuditEvent) -> None:
        """Take the next event (oldest first)."""
        kind, at = e.kind, e.at.timestamp()
        if kind is EventKind.OPENED:
            department = str(e.data.get("department") or "")
            if department and e.thread_id not in self.tracks:
                self.tracks[e.thread_id] = Track(department, at)
                self.sink.count(Count.RECEIVED, department, None)
            return
        track = self.tracks.get(e.thread_id)
        if kind is EventKind.REOPENED:
            self._reopened(e.thread_id, at)
            return
        if track is None:
            where = self.closed.get(e.thread_id)
            if where is not None and kind is EventKind.SPAM:  # resolved, then marked as spam
                self.sink.count(Count.SPAM, where[0], e.actor)
            return  # received before the period (or closed): not followed
        department = track.department
        if kind in PICK_UPS:
            if kind is not EventKind.TAKEN_OVER:
                what = Count.CLAIMED if kind is EventKind.CLAIMED else Count.REPLIED
                self.sink.count(what, department, e.actor)
            self._picked_up(track, at, e.actor)
            if kind is EventKind.REPLIED and not track.fr_done:
                self._first_reply(track, at, e.actor)
        elif kind is EventKind.RELEASED:
            track.wait_at = at
        elif kind is EventKind.TRANSFERRED or kind is EventKind.SENT_BACK:
            self._moved(track, e, at)
        elif kind is EventKind.RESOLVED or kind is EventKind.SPAM:
            what = Count.SPAM if kind is EventKind.SPAM else Count.RESOLVED
            self.sink.count(what, department, e.actor)
            self._abandoned(track, at)
            # Closed: its clocks stop (no first-response figure without a reply). Only
            # where it was is kept, for a reopen: memory follows the open threads.
            del self.tracks[e.thread_id]
            place = (track.department, track.came_from)
            self.closed[e.thread_id] = self._places.setdefault(place, place)

    def finish(self, until: float) -> None:
        """The period ends: clocks still running past their targets are breaches."""
        for track in self.tracks.values():
            self._abandoned(track, until)
            if not track.fr_done:
                spent = track.spent + self._business(track.department, track.leg_at, until)
                target = self._target(Clock.FIRST_RESPONSE, track.department)
                if target is not None and spent > target:
                    self.sink.breached(Clock.FIRST_RESPONSE, track.department)

    # steps ---------------------------------------------------------------------------------
    def _reopened(self, thread_id: str, at: float) -> None:
        """A follow-up reopened a closed thread: it waits again (its first-response clock
        stays stopped)."""
        where = self.closed.pop(thread_id, None)
        if where is None:
            return
        track = self.tracks[thread_id] = Track(where[0], at)
        track.came_from, track.fr_done = where[1], True

    def _picked_up(self, track: Track, at: float, actor: Person | None) -> None:
        if track.wait_at is None:
            return
        department, started = track.department, track.wait_at
        business = self._business(department, started, at)
        target = self._target(Clock.CLAIM, department)
        met = None if target is None else business <= target
        self.sink.timed(Clock.CLAIM, department, actor, at - started, business, met)
        track.wait_at = None

    def _first_reply(self, track: Track, at: float, actor: Person | None) -> None:
        department = track.department
        business = track.spent + self._business(department, track.leg_at, at)
        target = self._target(Clock.FIRST_RESPONSE, department)
        met = None if target is None else business <= target
        wall = at - track.first_at
        self.sink.timed(Clock.FIRST_RESPONSE, department, actor, wall, business, met)
        track.fr_done = True

    def _abandoned(self, track: Track, at: float) -> None:
        """The wait ends without a pick-up (moved, closed, or the period ended)."""
        if track.wait_at is None:
            return
        target = self._target(Clock.CLAIM, track.department)
        if target is not None and self._business(track.department, track.wait_at, at) > target:
            self.sink.breached(Clock.CLAIM, track.department)
        track.wait_at = None

    def _moved(self, track: Track, e: AuditEvent, at: float) -> None:
        old = track.department
        rollover = e.kind is EventKind.TRANSFERRED and bool(e.data.get("rollover"))
        if rollover:
            self.sink.count(Count.ROLLED_OVER, old, None)
        else:
            self.sink.count(Count.TRANSFERRED, old, e.actor)
        self._abandoned(track, at)
        if not track.fr_done:
            track.spent += self._business(old, track.leg_at, at)
        track.leg_at = at
        if e.kind is EventKind.SENT_BACK:
            new, held = track.came_from or old, True  # a send-back goes to a person
        else:
            new, held = str(e.data.get("to") or old), bool(e.data.get("to_person"))
        track.came_from, track.department = old, new
        track.wait_at = None if held else at
