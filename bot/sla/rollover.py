"""Rollover: a thread nobody claimed moves, by the system, to its department's escalation
department — a compare-and-set transfer with the chain and a note — or, when that department
is one it came from (A -> B -> A), stays and the notify target is alerted instead."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.domain import EventKind, Person, Thread, ThreadState, Transfer
from bot.errors import SwitchboardError
from bot.service import ThreadService
from bot.settings.policy import SlaPolicy

log = logging.getLogger(__name__)

SURFACE = "sla"
"""The ``surface`` of the events the SLA clocks record."""
SYSTEM = Person(surface="switchboard", id="sla", name="switchboard")
"""Who moves a thread on rollover (``Transfer.by``)."""
ATTEMPTS = 5


def rollover_note(policy: SlaPolicy) -> str:
    """``no answer within 25 business minutes`` (the claim target plus the grace period)."""
    waited = (policy.claim or timedelta(0)) + policy.rollover_after
    return f"no answer within {round(waited.total_seconds() / 60)} business minutes"


async def roll_over(
    threads: ThreadService,
    thread: Thread,
    policy: SlaPolicy,
    eid: str,
    late: float,
    still_waiting: Callable[[Thread], Awaitable[bool]],
) -> bool:
    """Move ``thread`` (still waiting, as the caller checked) to ``policy.rollover_to``, or
    record the refusal under ``eid``; True when something was done. Safe to repeat."""
    target = policy.rollover_to
    if not target:
        return False
    visited = {thread.department} | {m.from_department for m in thread.transfers}
    note = rollover_note(policy)
    if target in visited:
        if await threads.store.get_event(eid) is not None:
            return False
        chain = [*(m.from_department for m in thread.transfers), thread.department, target]
        await threads.record(
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
        department = threads.directory.get(target).name
    except SwitchboardError as exc:
        log.error("rollover of %s to %r: %s", thread.short_id, target, exc)
        return False
    for _ in range(ATTEMPTS):
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
                at=threads.clock(),
            )
            return t.evolve(
                department=department,
                state=ThreadState.TRANSFERRED,
                owner=None,
                transfers=(*t.transfers, move),
            )

        moved = await threads.change(
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
        found = await threads.store.get_thread(thread.id)
        if found is None or not await still_waiting(found):
            return False
        thread = found
    raise SwitchboardError(f"{thread.short_id} is changing too fast to roll over; later.")
