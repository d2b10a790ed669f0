"""The card dispatcher's lanes: one per surface, worked by one task, in two queues.

Items of threads people act on (a claim, a reply, a transfer, …) go to ``urgent`` and are
worked first; the rest (new threads, follow-ups, timers) wait in ``queue``. A thread's items
stay in order: an urgent item takes its thread's earlier waiting items along to ``urgent``,
ahead of itself. ``opens`` counts the waiting first cards of new threads per department, so
storm detection knows a channel's backlog without reading the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field

from bot.domain import EventKind, OutboxItem
from bot.outage import StoreOutage
from bot.ports import Surface

log = logging.getLogger("bot.dispatch")
NOT_ACTED = frozenset(
    {
        EventKind.OPENED,
        EventKind.ATTACHED,
        EventKind.REOPENED,
        EventKind.SLA_REMINDER,
        EventKind.SLA_BREACHED,
        EventKind.SLA_ROLLOVER_REFUSED,
    }
)
"""Events nobody acted on: a new thread, the public writing again, a timer."""


@dataclass(eq=False)
class Entry:
    item: OutboxItem
    waiting: set[str]
    set_aside: bool = False
    kind: EventKind | None = None
    """The item's event kind (None: not known when it was claimed)."""
    department: str = ""

    @property
    def urgent(self) -> bool:
        return self.kind is not None and self.kind not in NOT_ACTED

    @property
    def opens(self) -> bool:
        return self.kind is EventKind.OPENED


@dataclass(eq=False)
class Lane:
    surface: Surface
    queue: deque[Entry] = field(default_factory=deque)
    urgent: deque[Entry] = field(default_factory=deque)
    opens: Counter[str] = field(default_factory=Counter)
    current: Entry | None = None
    """The entry being worked right now (never moved)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    paused_until: float = 0.0
    rate_limited: bool = False
    attempts: int = 0
    error: str = ""
    outage: StoreOutage = field(init=False)

    def __post_init__(self) -> None:
        self.outage = StoreOutage(log, f"{self.surface.name} cards")

    def __len__(self) -> int:
        return len(self.queue) + len(self.urgent)

    def head(self) -> Entry:
        entry = self.urgent[0] if self.urgent else self.queue[0]
        self.current = entry
        return entry

    def push(self, entry: Entry) -> None:
        if entry.opens:
            self.opens[entry.department] += 1
        if not entry.urgent:
            self.queue.append(entry)
        else:
            thread = entry.item.thread_id
            earlier = [
                e for e in self.queue if e.item.thread_id == thread and e is not self.current
            ]
            for moved in earlier:
                self.queue.remove(moved)
            self.urgent.extend(earlier)
            self.urgent.append(entry)
        self.wake.set()

    def remove(self, entry: Entry) -> None:
        for queue in (self.urgent, self.queue):
            if queue and queue[0] is entry:
                queue.popleft()
                break
        else:
            for queue in (self.urgent, self.queue):
                if entry in queue:
                    queue.remove(entry)
                    break
        if self.current is entry:
            self.current = None
        if entry.opens:
            self.opens[entry.department] -= 1
            if self.opens[entry.department] <= 0:
                del self.opens[entry.department]
