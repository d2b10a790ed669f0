"""A department's waiting queue in due-first order, each thread with its badge.

The waiting index (``ThreadService.waiting``) hands back the oldest ``WINDOW`` waiting threads;
those, and only those, are read (their events) and sorted by what is due first, then age
(``bot.sla.badge.due_first_key``): the cost follows the answer, never the number of threads.
``queue``, the App Home and claim-next all read this one order.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Thread
from bot.service import ThreadService
from bot.settings.policy import SlaPolicy
from bot.sla.badge import Badge, Policies, badge, due_first_key

WINDOW = 100
"""How many of a queue's oldest waiting threads are put in due-first order."""


@dataclass(frozen=True)
class Queued:
    """A waiting thread and the clock its card shows (None: no clock runs)."""

    thread: Thread
    badge: Badge | None


def policies(threads: ThreadService) -> Policies:
    known = {d.name: d.sla_policy for d in threads.directory}

    def policy(name: str) -> SlaPolicy | None:
        return known.get(name)

    return policy


async def due_first(
    threads: ThreadService, department: str | None = None, limit: int | None = None
) -> list[Queued]:
    """The waiting threads of ``department`` (every department when None), due first, then
    oldest; at most ``limit`` of the oldest ``WINDOW``."""
    waiting = await threads.waiting(department, limit=WINDOW)
    now = threads.clock()
    lookup = policies(threads)
    queued = [Queued(t, badge(t, await threads.store.events(t.id), lookup, now)) for t in waiting]
    queued.sort(key=lambda q: due_first_key(q.thread, q.badge))
    return queued if limit is None else queued[:limit]
