"""The SLA clocks of a thread: timers kept as it changes, and what each does when due.

**Claim clock.** A thread starts waiting (opened, transferred, sent back, released, reopened):
before that change is stored, its claim timers are scheduled — one per reminder mark, one for
the breach, one for the rollover when the department has an escalation — under keys of that
wait (``bot.sla.plan``). A change that leaves it not waiting (claim, take over, reply,
resolve) cancels afterwards the timers of exactly the wait it ended: a release stored
meanwhile started a wait of its own, under its own keys, which that cancel cannot reach.

**First-response clock.** Starts when the first mention arrives and stops at the first public
reply (or resolve); a move does not restart it: the timers of the old department are
cancelled and the rest of the target is planned in the new department's calendar, with the
business time already used (each stay counted in its own department's hours) deducted.

Neither step can make a timer act wrongly: a timer re-checks when it fires, and one whose
wait is over (the thread was claimed, answered, moved, or the change that scheduled it was
never stored) is finished without effect. Each firing is exactly once: the timer is leased to
one replica (``Timers.take_due``), its event has an id made from the timer's key (a replica
that takes it again after a crash finds the event and does not add it twice) and a rollover
is a compare-and-set on the thread.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain import AuditEvent, EventKind, Thread, is_open, is_waiting
from bot.service import ThreadService
from bot.settings.policy import Clock, Deadlines, SlaPolicy
from bot.sla.plan import (
    Planned,
    TimerKind,
    clock_prefix,
    event_id,
    first_response_spent,
    placement_prefix,
    wait_prefix,
)
from bot.sla.rollover import SURFACE, roll_over
from bot.storage import DueTimer, Timers

log = logging.getLogger(__name__)

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
STRETCH_STARTS = frozenset({EventKind.OPENED, *MOVES})
"""Events that start the first-response clock in a department (the first mention, a move)."""
ANSWERED = frozenset({EventKind.REPLIED, EventKind.RESOLVED, EventKind.SPAM})
"""Events that stop the first-response clock for good."""
LATE = timedelta(minutes=1)
"""A timer taken this long after its due time says it is late."""


def answering(thread: Thread) -> bool:
    """Whether the first-response clock of ``thread`` runs: open and never answered."""
    return is_open(thread) and thread.reply_count == 0


class SlaClock:
    """Keeps a thread's SLA timers (a ``ChangeObserver`` of the thread service) and acts on
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
        if event.kind in STRETCH_STARTS and answering(thread):
            await self.schedule_first_response(thread, event)

    async def settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        if not stored:  # what ``planned`` scheduled for a step that was not stored
            if event.kind in WAIT_STARTS:
                await self.timers.cancel_prefix(wait_prefix(thread.id, thread.placement, event.id))
            if event.kind in STRETCH_STARTS:
                first = wait_prefix(thread.id, thread.placement, event.id, Clock.FIRST_RESPONSE)
                await self.timers.cancel_prefix(first)
            return
        if event.kind in MOVES and thread.placement > 0:  # the old department's timers
            for clock in Clock:
                await self.timers.cancel_prefix(
                    placement_prefix(thread.id, clock, thread.placement - 1)
                )
        if event.kind in ANSWERED:  # the reply count never goes down: nothing restarts it
            await self.timers.cancel_prefix(clock_prefix(thread.id, Clock.FIRST_RESPONSE))
        if event.kind in HOLDERS and not is_waiting(thread):
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
        return await self._plan(thread, event, Clock.CLAIM, event.at, deadlines, timedelta(0))

    async def schedule_first_response(self, thread: Thread, event: AuditEvent) -> int:
        """Schedule the first-response timers of the stretch ``event`` started (the first
        mention, or a move: the rest of the target, in the new department's hours)."""
        policy = self.policy(thread.department)
        if policy is None:
            return 0
        started = thread.transfers[-1].at if thread.transfers else thread.created_at
        spent = first_response_spent(thread, self.policy)
        deadlines = policy.deadlines(Clock.FIRST_RESPONSE, started, spent)
        return await self._plan(thread, event, Clock.FIRST_RESPONSE, started, deadlines, spent)

    async def _plan(
        self,
        thread: Thread,
        event: AuditEvent,
        clock: Clock,
        started: datetime,
        deadlines: Deadlines | None,
        spent: timedelta,
    ) -> int:
        if deadlines is None:
            return 0

        def plan(kind: TimerKind, mark: int = 0) -> Planned:
            return Planned(
                thread.id,
                kind,
                thread.department,
                thread.placement,
                event.id,
                started,
                mark,
                clock,
                spent.total_seconds(),
            )

        due = [(plan(TimerKind.REMINDER, i), at) for i, at in enumerate(deadlines.reminders, 1)]
        due.append((plan(TimerKind.BREACH), deadlines.due))
        if clock is Clock.CLAIM and deadlines.rollover is not None:
            due.append((plan(TimerKind.ROLLOVER), deadlines.rollover))
        for planned, at in due:
            await self.timers.schedule(planned.key(), at, planned.dump())
        return len(due)

    # firing ------------------------------------------------------------------------------------
    async def fire(self, timer: DueTimer, now: datetime) -> bool:
        """Act on ``timer`` if its clock still runs; True when it did something. Safe to
        call again for the same timer (after a crash): nothing happens twice."""
        try:
            plan = Planned.load(timer.payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "timer %s has a payload that is not an SLA timer's (%s); dropped", timer.key, exc
            )
            return False
        thread = await self.store.get_thread(plan.thread)
        if thread is None or not await self._running(thread, plan):
            return False
        policy = self.policy(thread.department)
        target = policy.target(plan.clock) if policy is not None else None
        if policy is None or target is None:
            return False
        late = timer.late.total_seconds() if timer.late >= LATE else 0
        if plan.kind is TimerKind.ROLLOVER:
            # the breach first: its timer may still be out with a holder that died
            breach = dataclasses.replace(plan, kind=TimerKind.BREACH, mark=0)
            deadlines = policy.deadlines(plan.clock, plan.started)
            overdue = now - deadlines.due if deadlines else timedelta(0)
            await self._breach(thread, breach, policy, target, overdue.total_seconds())

            async def still(found: Thread) -> bool:
                return await self._running(found, plan)

            eid = event_id(timer.key)
            return await roll_over(self.threads, thread, policy, eid, late, still)
        if plan.kind is TimerKind.BREACH:
            return await self._breach(thread, plan, policy, target, late)
        eid = event_id(timer.key)
        if await self.store.get_event(eid) is not None:
            return False  # an earlier holder recorded it and died before finishing
        spent = timedelta(seconds=plan.spent)
        deadlines = policy.deadlines(plan.clock, plan.started, spent)
        due = deadlines.due if deadlines else now
        waited = spent + policy.calendar.elapsed(plan.started, now)
        left = policy.calendar.elapsed(now, due) if due > now else timedelta(0)
        await self.threads.record(
            thread,
            EventKind.SLA_REMINDER,
            None,
            SURFACE,
            event_id=eid,
            mark=plan.mark,
            waited=waited.total_seconds(),
            left=max(left, timedelta(0)).total_seconds(),
            clock=plan.clock.value,
            late=late,
            department=thread.department,
        )
        return True

    async def _breach(
        self, thread: Thread, plan: Planned, policy: SlaPolicy, target: timedelta, late: float
    ) -> bool:
        """Record the breach of ``plan`` unless it is there already (once, on any replica)."""
        eid = event_id(plan.key())
        if await self.store.get_event(eid) is not None:
            return False
        await self.threads.record(
            thread,
            EventKind.SLA_BREACHED,
            None,
            SURFACE,
            event_id=eid,
            target=target.total_seconds(),
            notify_slack=policy.notify.slack,
            notify_teams=policy.notify.teams,
            clock=plan.clock.value,
            late=late if late >= LATE.total_seconds() else 0,
            department=thread.department,
        )
        return True

    async def _running(self, thread: Thread, plan: Planned) -> bool:
        """Whether the wait (claim) or stretch (first response) ``plan`` belongs to goes on."""
        if thread.department != plan.department or thread.placement != plan.placement:
            return False
        if plan.clock is Clock.FIRST_RESPONSE:
            return answering(thread)
        if not is_waiting(thread):
            return False
        events = await self.store.events(thread.id)
        last = next((e for e in reversed(events) if e.kind in HOLDERS), None)
        return last is not None and last.id == plan.wait
