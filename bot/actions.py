"""Typed, versioned action payloads shared by Slack ``action_id``/``value`` and Teams data.

Encoded as ``v1:<verb>:<thread id>``; decoded and validated in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

VERSION = "v1"


class Verb(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    TAKE_OVER = "takeover"
    REPLY = "reply"
    NOTE = "note"
    TRANSFER = "transfer"
    SEND_BACK = "send_back"
    RESOLVE = "resolve"
    SPAM = "spam"
    SHOW = "show"
    DIRECTORY = "directory"
    MINE = "mine"
    QUEUE = "queue"
    HELP = "help"
    REPORT = "report"
    """First-response and SLA figures of the actor's departments (``report [dept] [7d]``)."""
    DRAFT = "draft"
    """Record a public reply to confirm (or, under the ``approval`` policy, to approve)."""
    SEND_DRAFT = "send_draft"
    APPROVE = "approve"
    REJECT = "reject"


DRAFT_VERBS = frozenset({Verb.SEND_DRAFT, Verb.APPROVE, Verb.REJECT})
"""Verbs whose action payload names a draft (its id) instead of a thread."""


class BadAction(ValueError):
    """A payload that is not ours, from an old version, or tampered with."""


@dataclass(frozen=True)
class Action:
    verb: Verb
    thread_id: str
    """The thread acted on; for ``DRAFT_VERBS`` the draft's id."""

    def encode(self) -> str:
        return f"{VERSION}:{self.verb.value}:{self.thread_id}"

    @classmethod
    def decode(cls, payload: str) -> Action:
        parts = payload.split(":")
        if len(parts) != 3 or parts[0] != VERSION:
            raise BadAction(f"not a switchboard action: {payload[:60]!r}")
        try:
            verb = Verb(parts[1])
        except ValueError:
            raise BadAction(f"unknown action {parts[1][:30]!r}") from None
        thread_id = parts[2]
        if not thread_id or len(thread_id) > 64 or not thread_id.replace("-", "").isalnum():
            raise BadAction("bad thread id in action")
        return cls(verb, thread_id)
