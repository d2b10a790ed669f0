"""Schema 2: lookups that other code kept in source cursors and leases move to the KV port.

Both stores apply the same mapping, once, when they open a store written by schema 1. Entries
already in KV win over a moved one; expired leases are dropped instead of moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import (
    DRAFT_DECISION,
    DRAFT_KEY,
    DRAFT_RECORDED,
    TEAMS_CONVERSATION,
    TEAMS_CONVERSATION_TTL,
    TEAMS_POSTED,
    TEAMS_POSTED_TTL,
)

CURSOR_MOVES = (
    ("teams:card:", TEAMS_POSTED, TEAMS_POSTED_TTL),
    ("teams:conversation:", TEAMS_CONVERSATION, TEAMS_CONVERSATION_TTL),
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
