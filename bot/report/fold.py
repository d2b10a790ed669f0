"""The audit log folded into figures: one small track per open thread received in the period.

Rows (``AuditRow``: the few fields of an event a report reads) come oldest first. A thread's
track knows its department (and the one it came from, for a send-back), when its current wait
in a queue started, and its first-response clock (business time spent in earlier departments
and when the current leg started). Each row tells the ``Sink`` what it completes: a count, a
timed pick-up or first reply, or a wait that ran past its target without one. The rules are
written in docs/USER_GUIDE.md ("Reports").

A closed thread leaves its track: only the most recently closed ones (``recent``, bounded) are
remembered for a reopen or a late spam mark, so memory follows the threads open at one time,
not the period's total. For an older one the caller looks the thread's own events up
(``Fold.needs`` names them, ``recall`` replays them); see ``Reports.build``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Protocol

from bot.domain import AuditEvent, EventKind
from bot.report.timeline import Timeline
from bot.settings.calendar import BusinessCalendar
from bot.settings.policy import Clock, SlaPolicy
from bot.storage import AuditRow


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
    """Where a fold puts what each row completes; ``actor`` is a ``Person.key`` ("" for
    nobody) and ``label`` its name."""

    def count(self, what: Count, department: str, actor: str, label: str) -> None: ...

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
        """A clock stopped: a wait picked up (``CLAIM``) or a first public reply; seconds of
        wall and business time; ``met``: within the department's target (None: no target)."""

    def breached(self, clock: Clock, department: str) -> None:
        """A clock ran past its target without being stopped by a pick-up or a reply (the
        wait ended otherwise, or still runs at the end of the period)."""


Policies = Callable[[str], SlaPolicy | None]
PICK_UPS = frozenset({EventKind.CLAIMED, EventKind.TAKEN_OVER, EventKind.REPLIED})
ALWAYS = BusinessCalendar()
RECENT = 4096
"""Closed threads remembered for a reopen without a look-up (at least a page's worth)."""
LOOKED_UP = frozenset({EventKind.REOPENED.value, EventKind.SPAM.value})

OPENED, REOPENED = EventKind.OPENED.value, EventKind.REOPENED.value
CLAIMED, TAKEN_OVER, REPLIED = "claimed", "taken_over", "replied"
RELEASED, TRANSFERRED, SENT_BACK = "released", "transferred", "sent_back"
RESOLVED, SPAM = "resolved", "spam"
PICKED = frozenset({CLAIMED, TAKEN_OVER, REPLIED})
MOVED = frozenset({TRANSFERRED, SENT_BACK})
CLOSED = frozenset({RESOLVED, SPAM})


def row_of(e: AuditEvent) -> AuditRow:
    """The row of a full event (what ``audit_rows`` reads from the store)."""
    d = e.data
    return AuditRow(
        e.kind.value,
        e.thread_id,
        e.at.timestamp(),
        e.actor.key if e.actor else "",
        e.actor.label if e.actor else "",
        str(d.get("department") or ""),
        str(d.get("to") or ""),
        bool(d.get("to_person")),
        bool(d.get("rollover")),
    )


class Desk:
    """A department as the fold needs it: its business timeline and targets in seconds."""

    __slots__ = ("claim", "first_response", "name", "timeline")

    def __init__(self, name: str, timeline: Timeline, policy: SlaPolicy | None) -> None:
        self.name = name
        self.timeline = timeline
        self.claim = _seconds(policy, Clock.CLAIM)
        self.first_response = _seconds(policy, Clock.FIRST_RESPONSE)


def _seconds(policy: SlaPolicy | None, clock: Clock) -> float | None:
    target = policy.target(clock) if policy is not None else None
    return None if target is None else target.total_seconds()


class Track:
    __slots__ = ("came_from", "desk", "first_at", "fr_done", "leg_at", "spent", "wait_at")

    def __init__(self, desk: Desk, at: float) -> None:
        self.desk = desk
        self.came_from = ""
        self.wait_at: float | None = at
        """When the current wait in the department's queue started (None: someone holds it)."""
        self.first_at = at
        self.leg_at = at
        """When the thread came into its current department."""
        self.spent = 0.0
        """First-response business seconds spent in earlier departments."""
        self.fr_done = False


Place = tuple[Desk, str]
"""Where a closed thread was: its department and the one it came from."""


class Fold:
    def __init__(self, policies: Policies, sink: Sink, *, recent: int = RECENT) -> None:
        self.policies = policies
        self.sink = sink
        self.tracks: dict[str, Track] = {}
        """The open threads received in the period."""
        self.recent: OrderedDict[str, Place] = OrderedDict()
        """The most recently closed threads of the period, at most ``recent_size``."""
        self.recent_size = max(1, recent)
        self._timelines: dict[BusinessCalendar, Timeline] = {}
        self._desks: dict[str, Desk] = {}

    def desk(self, department: str) -> Desk:
        found = self._desks.get(department)
        if found is None:
            policy = self.policies(department)
            calendar = policy.calendar if policy is not None else ALWAYS
            timeline = self._timelines.get(calendar)
            if timeline is None:
                timeline = self._timelines[calendar] = Timeline(calendar)
            found = self._desks[department] = Desk(department, timeline, policy)
        return found

    # closed threads --------------------------------------------------------------------------
    def needs(self, rows: Sequence[AuditRow]) -> set[str]:
        """Threads of a page (about to be folded) whose reopen or spam mark needs where they
        were closed, and which neither a track nor ``recent`` (nor an earlier row of the page)
        knows: the caller looks them up and hands each to ``recall`` first."""
        out: set[str] = set()
        for i in [i for i, r in enumerate(rows) if r.kind in LOOKED_UP]:
            tid = rows[i].thread_id
            if tid in self.tracks or tid in self.recent or tid in out:
                continue
            if all(r.thread_id != tid for r in rows[:i]):
                out.add(tid)
        return out

    def recall(
        self, thread_id: str, events: Iterable[AuditEvent], since: float, upto: float
    ) -> None:
        """Replay a thread's own events (oldest first) from ``since`` to before its first
        reopen or spam mark at or after ``upto``: if it was received in the period and closed
        then, ``recent`` knows where it was."""
        replay = Fold(self.policies, _NOWHERE, recent=1)
        replay._desks, replay._timelines = self._desks, self._timelines
        for e in events:
            row = row_of(e)
            if row.at < since:
                continue
            if row.at > upto or (row.at == upto and row.kind in LOOKED_UP):
                break
            replay.row(row)
        place = replay.recent.get(thread_id)
        if place is not None and thread_id not in self.tracks:
            self._remember(thread_id, place)

    def _remember(self, thread_id: str, place: Place) -> None:
        self.recent[thread_id] = place
        self.recent.move_to_end(thread_id)
        if len(self.recent) > self.recent_size:
            self.recent.popitem(last=False)

    # rows ------------------------------------------------------------------------------------
    def row(self, r: AuditRow) -> None:
        """Take the next row (oldest first)."""
        kind, at = r.kind, r.at
        if kind == OPENED:
            if r.department and r.thread_id not in self.tracks:
                desk = self.desk(r.department)
                self.tracks[r.thread_id] = Track(desk, at)
                self.sink.count(Count.RECEIVED, desk.name, "", "")
            return
        track = self.tracks.get(r.thread_id)
        if kind == REOPENED:
            self._reopened(r.thread_id, at)
            return
        if track is None:
            place = self.recent.get(r.thread_id)
            if place is not None and kind == SPAM:  # resolved, then marked as spam
                self.sink.count(Count.SPAM, place[0].name, r.actor, r.label)
            return  # received before the period (or closed): not followed
        if kind in PICKED:
            if kind != TAKEN_OVER:
                what = Count.CLAIMED if kind == CLAIMED else Count.REPLIED
                self.sink.count(what, track.desk.name, r.actor, r.label)
            if track.wait_at is not None:
                self._picked_up(track, at, r)
            if kind == REPLIED and not track.fr_done:
                self._first_reply(track, at, r)
        elif kind == RELEASED:
            track.wait_at = at
        elif kind in MOVED:
            self._moved(track, r, at)
        elif kind in CLOSED:
            what = Count.SPAM if kind == SPAM else Count.RESOLVED
            self.sink.count(what, track.desk.name, r.actor, r.label)
            self._abandoned(track, at)
            # Closed: its clocks stop (no first-response figure without a reply).
            del self.tracks[r.thread_id]
            self._remember(r.thread_id, (track.desk, track.came_from))

    def event(self, e: AuditEvent) -> None:
        """Take the next full event (oldest first)."""
        self.row(row_of(e))

    def finish(self, until: float) -> None:
        """The period ends: clocks still running past their targets are breaches."""
        for track in self.tracks.values():
            self._abandoned(track, until)
            desk = track.desk
            if not track.fr_done and desk.first_response is not None:
                spent = track.spent + desk.timeline.elapsed(track.leg_at, until)
                if spent > desk.first_response:
                    self.sink.breached(Clock.FIRST_RESPONSE, desk.name)

    # steps ---------------------------------------------------------------------------------
    def _reopened(self, thread_id: str, at: float) -> None:
        """A follow-up reopened a closed thread: it waits again (its first-response clock
        stays stopped)."""
        place = self.recent.pop(thread_id, None)
        if place is None:
            return
        track = self.tracks[thread_id] = Track(place[0], at)
        track.came_from, track.fr_done = place[1], True

    def _picked_up(self, track: Track, at: float, r: AuditRow) -> None:
        desk, started = track.desk, track.wait_at
        assert started is not None
        business = desk.timeline.elapsed(started, at)
        met = None if desk.claim is None else business <= desk.claim
        self.sink.timed(Clock.CLAIM, desk.name, r.actor, r.label, at - started, business, met)
        track.wait_at = None

    def _first_reply(self, track: Track, at: float, r: AuditRow) -> None:
        desk = track.desk
        business = track.spent + desk.timeline.elapsed(track.leg_at, at)
        met = None if desk.first_response is None else business <= desk.first_response
        wall = at - track.first_at
        self.sink.timed(Clock.FIRST_RESPONSE, desk.name, r.actor, r.label, wall, business, met)
        track.fr_done = True

    def _abandoned(self, track: Track, at: float) -> None:
        """The wait ends without a pick-up (moved, closed, or the period ended)."""
        if track.wait_at is None:
            return
        desk = track.desk
        if desk.claim is not None and desk.timeline.elapsed(track.wait_at, at) > desk.claim:
            self.sink.breached(Clock.CLAIM, desk.name)
        track.wait_at = None

    def _moved(self, track: Track, r: AuditRow, at: float) -> None:
        old = track.desk
        if r.kind == TRANSFERRED and r.rollover:
            self.sink.count(Count.ROLLED_OVER, old.name, "", "")
        else:
            self.sink.count(Count.TRANSFERRED, old.name, r.actor, r.label)
        self._abandoned(track, at)
        if not track.fr_done:
            track.spent += old.timeline.elapsed(track.leg_at, at)
        track.leg_at = at
        if r.kind == SENT_BACK:
            new, held = track.came_from or old.name, True  # a send-back goes to a person
        else:
            new, held = r.to or old.name, r.to_person
        track.came_from, track.desk = old.name, self.desk(new)
        track.wait_at = None if held else at


class _Nowhere:
    def count(self, what: Count, department: str, actor: str, label: str) -> None:
        return None

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
        return None

    def breached(self, clock: Clock, department: str) -> None:
        return None


_NOWHERE = _Nowhere()
