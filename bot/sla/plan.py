"""The SLA timers' keys and payloads, shared by the clock that schedules them and fires them.

Claim timers live under the wait that scheduled them
(``sla:<thread>:claim:<placement>:<event id>:reminder:1``); first-response timers under the
stretch of the clock in one department (``sla:<thread>:first:<placement>:<event id>:breach``,
the event being the first mention or the move that brought the thread there). A cancel names
one such prefix only, so it never reaches a later wait's or stretch's timers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain import Thread
from bot.settings.calendar import BusinessCalendar, elapsed_across
from bot.settings.policy import Clock, SlaPolicy


class TimerKind(StrEnum):
    REMINDER = "reminder"
    BREACH = "breach"
    ROLLOVER = "rollover"
    """Claim clock only: the move to the escalation department."""


KEY_WORD = {Clock.CLAIM: "claim", Clock.FIRST_RESPONSE: "first"}


def clock_prefix(thread_id: str, clock: Clock = Clock.CLAIM) -> str:
    """Every timer of one clock of a thread."""
    return f"sla:{thread_id}:{KEY_WORD[clock]}:"


def claim_prefix(thread_id: str) -> str:
    """Every claim timer of a thread."""
    return clock_prefix(thread_id, Clock.CLAIM)


def placement_prefix(thread_id: str, clock: Clock, placement: int) -> str:
    """The timers of one clock while the thread was at ``placement``."""
    return f"{clock_prefix(thread_id, clock)}{placement}:"


def wait_prefix(thread_id: str, placement: int, wait: str, clock: Clock = Clock.CLAIM) -> str:
    """The timers the event ``wait`` scheduled at ``placement`` (one wait, one stretch)."""
    return f"{placement_prefix(thread_id, clock, placement)}{wait}:"


def event_id(key: str) -> str:
    """The id of the event a timer records: the same on every replica and every attempt."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Planned:
    """The payload of an SLA timer."""

    thread: str
    kind: TimerKind
    department: str
    placement: int
    wait: str
    """The id of the event that started the wait (claim) or this stretch (first response)."""
    started: datetime
    mark: int = 0
    """Which reminder (1, 2, ...); 0 for the breach and the rollover."""
    clock: Clock = Clock.CLAIM
    spent: float = 0.0
    """First response: business seconds used in departments the thread was in before."""

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
                "clock": self.clock.value,
                "spent": self.spent,
            }
        )

    @classmethod
    def load(cls, payload: str) -> Planned:
        """ValueError (or KeyError, TypeError) when ``payload`` is not an SLA timer's."""
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
            clock=Clock(data.get("clock", Clock.CLAIM.value)),
            spent=float(data.get("spent", 0.0)),
        )

    def key(self) -> str:
        tail = f"{self.kind.value}:{self.mark}" if self.mark else self.kind.value
        return f"{wait_prefix(self.thread, self.placement, self.wait, self.clock)}{tail}"


def first_response_spent(thread: Thread, policy: Callable[[str], SlaPolicy | None]) -> timedelta:
    """Business time of the first-response clock used before the thread's latest move: each
    stay counts in the calendar of the department it stayed in (24/7 for one unknown now)."""

    def calendar(department: str) -> BusinessCalendar:
        found = policy(department)
        return found.calendar if found is not None else BusinessCalendar()

    legs = []
    since = thread.created_at
    for move in thread.transfers:
        legs.append((calendar(move.from_department), since, move.at))
        since = move.at
    return elapsed_across(legs)
