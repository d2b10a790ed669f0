"""Schema 2: lookups that other code kept in source cursors and leases move to the KV port.

Both stores apply the same mapping, once, when they open a store written by schema 1. Entries
already in KV win over a moved one; expired leases are dropped instead of moved.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400.0
TEAMS_POSTED = "teams.posted"
"""Teams surface: card key -> the posted ``CardRef`` JSON."""
TEAMS_CONVERSATION = "teams.conversation"
"""Teams surface: ``<channel>;<root activity>`` -> thread id."""
DRAFT_KEY = "draft.key"
"""Draft replies: interaction key -> draft id (a draft is recorded once per key)."""
DRAFT_RECORDED = "draft.recorded"
"""Draft replies: ``<draft id>:<decision>`` -> "1" (the decision was recorded once)."""
DRAFT_DECISION = "draft.decision"
"""Draft replies: draft id -> "approved" or "rejected"."""

CURSOR_MOVES = (
    ("teams:card:", TEAMS_POSTED, 30 * DAY),
    ("teams:conversation:", TEAMS_CONVERSATION, 90 * DAY),
)


@dataclass(frozen=True)
class Move:
    """Where one old entry goes: ``value`` None means the lease holder; ``ttl`` None means
    the lease's remaining time (for leases) or no expiry."""

    namespace: str
    key: str
    value: str | None = None
    ttl: float | None = None


DROP = Move("", "")
"""A lease that is simply forgotten (short-lived de-duplication)."""


def cursor_move(source: str) -> Move | None:
    """Where the cursor entry named ``source`` goes; None for a real source cursor."""
    for head, namespace, ttl in CURSOR_MOVES:
        if source.startswith(head):
            return Move(namespace, source[len(head) :], ttl=ttl)
    return None


def lease_move(name: str) -> Move | None:
    """Where the lease ``name`` goes (DROP: nowhere); None for a real lease that stays."""
    if name.startswith("slack:event:"):
        return DROP
    if name.startswith("draft:"):
        return Move(DRAFT_KEY, name[len("draft:") :])
    head, tail = "approval:", ":recorded"
    if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
        return Move(DRAFT_RECORDED, name[len(head) : -len(tail)], value="1")
    if name.startswith(head):
        return Move(DRAFT_DECISION, name[len(head) :])
    return None
