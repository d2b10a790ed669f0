"""The claim clock: timers for a thread waiting in a department, and what each does when due.

A thread starts waiting (opened, transferred, sent back, released, reopened): before that change
is stored, its claim timers are scheduled — one per reminder mark, one for the breach, one for
the rollover when the department has an escalation — under keys of that wait
(``sla:<thread id>:claim:<placement>:<event id>:reminder:1``). A change that leaves it not
waiting (claim, take over, reply, resolve) cancels afterwards the timers of exactly the wait
it ended: a release stored meanwhile started a wait of its own, under its own keys, which that
cancel cannot reach. Neither step can make a timer act wrongly: a timer re-checks when it
fires, and one whose wait is over (the thread was claimed, moved, or the change that scheduled
it was never stored) is finished without effect.

Each firing is exactly once: the timer is leased to one replica (``Timers.take_due``), its event
has an id made from the timer's key (a replica that takes it again after a crash finds the
event and does not add it twice) and a rollover is a compare-and-set on the thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain import AuditEvent, EventKind, Person, Thread, ThreadState, Transfer, is_waiting
from bot.errors import SwitchboardError
from bot.service import ThreadService
from bot.sla.policy import Clock, SlaPolicy, format_duration
from bot.storage import DueTimer, Timers

log = logging.getLogger(__name__)

SURFACE = "sla"
"""The ``surface`` of the events the clock records."""
SYSTEM = Person(surface="switchboard", id="sla", name="switchboard")
"""Who moves a thread on rollover (``Transfer.by``)."""
WAIT_STARTS = frozenset(
    {
        EventKind.OPENED,
        EventKind.REOPENED,
        EventKind.RELEASED,
        EventKind.TRANSFERRED,
        EventKind.SENT_BACK,
    }
)
"""Events after which a thread may be waiting anew (when nobody holds it)."""
HOLDERS = WAIT_STARTS | {
    EventKind.CLAIMED,
    EventKind.TAKEN_OVER,
    EventKind.REPLIED,
    EventKind.RESOLVED,
    EventKind.SPAM,
}
"""Events that may start or end a wait: the last of them on a waiting thread started its wait."""
MOVES = (EventKind.TRANSFERRED, EventKind.SENT_BACK)
LATE = timedelta(minutes=1)
"""A timer taken this long after its due time says it is late."""


class TimerKind(StrEnum):
    REMINDER = "reminder"
    BREACH = "breach"
    ROLLOVER = "rollover"


def claim_prefix(thread_id: str) -> str:
    """Every claim timer of a thread."""
    return f"sla:{thread_id}:claim:"


def wait_prefix(thread_id: str, placement: int, wait: str) -> str:
    """The claim timers of one wait (the event ``wait`` started it at ``placement``)."""
    return f"{claim_prefix(thread_id)}{placement}:{wait}:"


def event_id(key: str) -> str:
    """The id of the event a timer records: the same on every replica and every attempt."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Planned:
    """The payload of a claim timer."""

    thread: str
    kind: TimerKind
    department: str
    placement: int
    wait: str
    """The id of the event that started the wait."""
    started: datetime
    mark: int = 0
    """Which reminder (1, 2, ...); 0 for the breach and the rollover."""

    def dump(self) -> str:
        return json.dumps(
            {
                "thread": self.thread,
                "kind": self.kind.value,
                "department": self.department,
                "placement": self.placement,
                "wait": self.wait,
                "started": self.started.isoformat(),
                "mark": self.mark,
            }
        )

    @classmethod
    def load(cls, payload: str) -> Planned:
        """ValueError (or KeyError, TypeError) when ``payload`` is not a claim timer's."""
        data = json.loads(payload)
        started = datetime.fromisoformat(str(data["started"]))
        if started.tzinfo is None:
            raise ValueError("started has no time zone")
        return cls(
            thread=str(data["thread"]),
            kind=TimerKind(data["kind"]),
            department=str(data["department"]),
            placement=int(data["placement"]),
            wait=str(data["wait"]),
            started=started,
            mark=int(data.get("mark", 0)),
        )


def minutes(seconds: float) -> str:
    """``5 min``, ``1 h 30 min``; under half a minute: ``less than a minute``."""
    rounded = round(seconds / 60)
    if rounded <= 0:
        return "less than a minute"
    return format_duration(timedelta(minutes=rounded))


def late_note(data: dict[str, Any]) -> str:
    late = float(data.get("late", 0) or 0)
    return f" (late by {minutes(late)})" if late else ""


class SlaClock:
    """Keeps a thread's claim timers (a ``ChangeObserver`` of the thread service) and acts on
    them when due (``fire``). ``policy``: the service level of a department, None if unknown."""

    def __init__(
        self,
        threads: ThreadService,
        timers: Timers,
        policy: Callable[[str], SlaPolicy | None],
    ) -> None:
        self.threads = threads
        self.store = threads.store
        self.timers = timers
        self.policy = policy

    # keeping the timers ------------------------------------------------------------------------
    async def planned(self, thread: Thread, event: AuditEvent) -> None:
        if event.kind in WAIT_STARTS and is_waiting(thread):
            await self.schedule(thread, event)

    async def settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        if event.kind not in HOLDERS:
            return
        if not stored:
            if event.kind in WAIT_STARTS:  # what ``planned`` scheduled for a step not stored
                await self.timers.cancel_prefix(wait_prefix(thread.id, thread.placement, event.id))
            return
        if is_waiting(thread):
            if event.kind in WAIT_STARTS:
                # again: a cancel of the change before (it ran after this one's ``planned``)
                # must not leave this wait without timers
                await self.schedule(thread, event)
            if event.kind in MOVES and thread.placement > 0:
                await self.timers.cancel_prefix(f"{claim_prefix(thread.id)}{thread.placement - 1}:")
            return
        ended = await self._wait_before(thread.id, event.id)
        if ended is not None:  # only that wait's timers: a later wait keeps its own
            await self.timers.cancel_prefix(wait_prefix(thread.id, thread.placement, ended))

    async def _wait_before(self, thread_id: str, event_id: str) -> str | None:
        """The id of the event that started the wait ``event_id`` ended, if one did (events
        are append-only: what came before it does not change)."""
        last: AuditEvent | None = None
        for found in await self.store.events(thread_id):
            if found.id == event_id:
                return last.id if last is not None and last.kind in WAIT_STARTS else None
            if found.kind in HOLDERS:
                last = found
        return None

    async def schedule(self, thread: Thread, event: AuditEvent) -> int:
        """Schedule the claim timers of the wait ``event`` started; returns how many."""
        policy = self.policy(thread.department)
        deadlines = policy.deadlines(Clock.CLAIM, event.at) if policy else None
        if deadlines is None:
            return 0
        prefix = wait_prefix(thread.id, thread.placement, event.id)

        def plan(kind: TimerKind, mark: int = 0) -> str:
            return Planned(
                thread.id, kind, thread.department, thread.placement, event.id, event.at, mark
            ).dump()

        due: list[tuple[str, datetime, str]] = [
            (f"{prefix}reminder:{i}", at, plan(TimerKind.REMINDER, i))
            for i, at in enumerate(deadlines.reminders, 1)
        ]
        due.append((f"{prefix}breach", deadlines.due, plan(TimerKind.BREACH)))
        if deadlines.rollover is not None:
            due.append((f"{prefix}rollover", deadlines.rollover, plan(TimerKind.ROLLOVER)))
        for key, at, payload in due:
            await self.timers.schedule(key, at, payload)
        return len(due)

    # firing ------------------------------------------------------------------------------------
    async def fire(self, timer: DueTimer, now: datetime) -> bool:
        """Act on ``timer`` if its wait still goes on; True when it did something. Safe to
        call again for the same timer (after a crash): nothing happens twice."""
        try:
            plan = Planned.load(timer.payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "timer %s has a payload that is not a claim timer's (%s); dropped", timer.key, exc
            )
            return False
        thread = await self.store.get_thread(plan.thread)
        if thread is None or not await self._still_waiting(thread, plan):
            return False
        policy = self.policy(thread.department)
        if policy is None or policy.claim is None:
            return False
        late = timer.late.total_seconds() if timer.late >= LATE else 0
        eid = event_id(timer.key)
        if plan.kind is TimerKind.ROLLOVER:
            return await self._rollover(thread, plan, policy, eid, late)
        if await self.store.get_event(eid) is not None:
            return False  # an earlier holder recorded it and died before finishing
        if plan.kind is TimerKind.REMINDER:
            deadlines = policy.deadlines(Clock.CLAIM, plan.started)
            due = deadlines.due if deadlines else now
            waited = policy.calendar.elapsed(plan.started, now)
            left = (
                max(policy.calendar.elapsed(now, due), timedelta(0)) if due > now else timedelta(0)
            )
            await self.threads.record(
                thread,
                EventKind.SLA_REMINDER,
                None,
                SURFACE,
                event_id=eid,
                clock=Clock.CLAIM.value,
                mark=plan.mark,
                waited=waited.total_seconds(),
                left=left.total_seconds(),
                late=late,
            )
            return True
        await self.threads.record(
            thread,
            EventKind.SLA_BREACHED,
            None,
            SURFACE,
            event_id=eid,
            clock=Clock.CLAIM.value,
            target=policy.claim.total_seconds(),
            notify_slack=policy.notify.slack,
            notify_teams=policy.notify.teams,
            late=late,
        )
        return True

    async def _still_waiting(self, thread: Thread, plan: Planned) -> bool:
        if not is_waiting(thread):
            return False
        if thread.department != plan.department or thread.placement != plan.placement:
            return False
        events = await self.store.events(thread.id)
        last = next((e for e in reversed(events) if e.kind in HOLDERS), None)
        return last is not None and last.id == plan.wait

    async def _rollover(
        self, thread: Thread, plan: Planned, policy: SlaPolicy, eid: str, late: float
    ) -> bool:
        target = policy.rollover_to
        if not target:
            return False
        visited = {thread.department} | {m.from_department for m in thread.transfers}
        waited = (policy.claim or timedelta(0)) + policy.rollover_after
        note = f"no answer within {round(waited.total_seconds() / 60)} business minutes"
        if target in visited:
            if await self.store.get_event(eid) is not None:
                return False
            chain = [*(m.from_department for m in thread.transfers), thread.department, target]
            await self.threads.record(
                thread,
                EventKind.SLA_ROLLOVER_REFUSED,
                None,
                SURFACE,
                event_id=eid,
                to=target,
                chain=chain,
                notify_slack=policy.notify.slack,
                notify_teams=policy.notify.teams,
                late=late,
            )
            return True
        try:
            department = self.threads.directory.get(target).name
        except SwitchboardError as exc:
            log.error("rollover of %s to %r: %s", thread.short_id, target, exc)
            return False
        for _ in range(5):
            version = thread.version
            raced = False

            def mutate(t: Thread, version: int = version) -> Thread | None:
                nonlocal raced
                if t.version != version:  # changed since the check: check again
                    raced = True
                    return None
                move = Transfer(
                    from_department=t.department,
                    to_department=department,
                    by=SYSTEM,
                    note=note,
                    at=self.threads.clock(),
                )
                return t.evolve(
                    department=department,
                    state=ThreadState.TRANSFERRED,
                    owner=None,
                    transfers=(*t.transfers, move),
                )

            moved = await self.threads.change(
                thread.id,
                SYSTEM,
                SURFACE,
                EventKind.TRANSFERRED,
                mutate,
                to=department,
                note=note,
                rollover=True,
                late=late,
            )
            if moved is not None or not raced:
                return moved is not None
            found = await self.store.get_thread(thread.id)
            if found is None or not await self._still_waiting(found, plan):
                return False
            thread = found
        raise SwitchboardError(f"{thread.short_id} is changing too fast to roll over; later.")
