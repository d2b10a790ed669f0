"""Domain types: the one normalized shape every source, store and surface speaks.

Data flow: source -> ``Mention`` -> ingest -> thread service -> ``Thread`` -> card -> surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Author(Frozen):
    """The public person behind a mention. Every field is untrusted text."""

    id: str
    handle: str
    display_name: str = ""
    profile_url: str = ""


class Mention(Frozen):
    """One public post that concerns us, as every source adapter yields it."""

    source: str
    """Configured source name (``mastodon-main``), not the network."""
    network: str
    """``mastodon``, ``bluesky``, ``reddit``, ``x``, ``rss``, ``webhook``, ``replay``."""
    external_id: str
    """The network's id for this post; (source, external_id) is unique."""
    conversation_key: str
    """Posts of one public conversation share this key (root post id, thread URL, ...)."""
    author: Author
    text: str
    permalink: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    reply_data: dict[str, Any] = Field(default_factory=dict)
    """Network-specific data the adapter needs later to reply (ids, cids, visibility)."""

    @property
    def key(self) -> str:
        return f"{self.source}\x1f{self.external_id}"

    @property
    def conversation(self) -> str:
        return f"{self.source}\x1f{self.conversation_key}"


class ThreadState(StrEnum):
    """Where a thread stands in its department, like a phone call."""

    NEW = "new"
    """Arrived and routed; nobody has picked it up."""
    CLAIMED = "claimed"
    """Someone owns it."""
    REPLIED = "replied"
    """A public reply went out; the replier owns it."""
    TRANSFERRED = "transferred"
    """Moved to another department and waiting there (or with a named person)."""
    RESOLVED = "resolved"
    """Done. A follow-up in the same conversation reopens it."""


TRANSITIONS: dict[ThreadState, frozenset[ThreadState]] = {
    ThreadState.NEW: frozenset(
        {ThreadState.CLAIMED, ThreadState.REPLIED, ThreadState.TRANSFERRED, ThreadState.RESOLVED}
    ),
    ThreadState.CLAIMED: frozenset(
        {
            ThreadState.NEW,  # release
            ThreadState.CLAIMED,  # take over
            ThreadState.REPLIED,
            ThreadState.TRANSFERRED,
            ThreadState.RESOLVED,
        }
    ),
    ThreadState.REPLIED: frozenset(
        {
            ThreadState.NEW,  # release
            ThreadState.CLAIMED,  # take over / claim after release
            ThreadState.REPLIED,
            ThreadState.TRANSFERRED,
            ThreadState.RESOLVED,
        }
    ),
    ThreadState.TRANSFERRED: frozenset(
        {
            ThreadState.NEW,  # release by the person it was transferred to
            ThreadState.CLAIMED,
            ThreadState.REPLIED,
            ThreadState.TRANSFERRED,
            ThreadState.RESOLVED,
        }
    ),
    ThreadState.RESOLVED: frozenset({ThreadState.NEW}),  # reopen
}
"""Allowed transitions. The thread service checks every change against this table."""


def can_move(src: ThreadState, dst: ThreadState) -> bool:
    return dst in TRANSITIONS[src]


OPEN_STATES = frozenset(
    {ThreadState.NEW, ThreadState.CLAIMED, ThreadState.REPLIED, ThreadState.TRANSFERRED}
)
"""Open: not resolved. Someone may still have to act (whether or not it has an owner)."""


def is_open(thread: Thread) -> bool:
    return thread.state in OPEN_STATES and not thread.spam


def is_waiting(thread: Thread) -> bool:
    """Waiting: open and nobody holds it — new, transferred to a department, released, or
    replied and then released. The one definition behind claim-next, every queue and home."""
    return is_open(thread) and thread.owner is None


class Person(Frozen):
    """An employee on a chat surface."""

    surface: str
    id: str
    name: str = ""
    is_guest: bool = False

    @property
    def key(self) -> str:
        return f"{self.surface}:{self.id}"

    @property
    def label(self) -> str:
        return self.name or self.id


class Transfer(Frozen):
    from_department: str
    to_department: str
    by: Person
    note: str = ""
    to_person: Person | None = None
    at: datetime = Field(default_factory=utcnow)
    send_back: bool = False


class Thread(Frozen):
    """The internal unit of work: a mention and its follow-ups, in one department."""

    id: str
    number: int
    department: str
    state: ThreadState = ThreadState.NEW
    owner: Person | None = None
    source: str
    network: str
    conversation: str
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    transfers: tuple[Transfer, ...] = ()
    mention_count: int = 1
    reply_count: int = 0
    spam: bool = False

    @property
    def short_id(self) -> str:
        return f"T-{self.number}"

    @property
    def placement(self) -> int:
        """How many times the thread has moved; each placement has its own cards."""
        return len(self.transfers)

    def evolve(self, **changes: Any) -> Thread:
        return self.model_copy(update={"version": self.version + 1, **changes})


class EventKind(StrEnum):
    OPENED = "opened"
    ATTACHED = "attached"
    REOPENED = "reopened"
    CLAIMED = "claimed"
    RELEASED = "released"
    TAKEN_OVER = "taken_over"
    NOTE = "note"
    REPLY_REQUESTED = "reply_requested"
    """A draft public reply was recorded (it is posted only when confirmed or approved)."""
    DRAFT_APPROVED = "draft_approved"
    DRAFT_REJECTED = "draft_rejected"
    REPLIED = "replied"
    REPLY_FAILED = "reply_failed"
    TRANSFERRED = "transferred"
    SENT_BACK = "sent_back"
    RESOLVED = "resolved"
    SPAM = "spam"
    SLA_REMINDER = "sla_reminder"
    """A service-level reminder: the thread is still waiting, part of its target used."""
    SLA_BREACHED = "sla_breached"
    """The thread waited past its service-level target."""
    SLA_ROLLOVER_REFUSED = "sla_rollover_refused"
    """A rollover was due but would move the thread back to a department it came from."""


class AuditEvent(Frozen):
    """Append-only record of one change: who, when, what, from which surface."""

    id: str
    thread_id: str
    kind: EventKind
    actor: Person | None = None
    at: datetime = Field(default_factory=utcnow)
    surface: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Draft:
    """A public reply waiting to be confirmed by its author or approved by a colleague."""

    event: AuditEvent
    thread: Thread

    @property
    def id(self) -> str:
        return self.event.id

    @property
    def text(self) -> str:
        return str(self.event.data.get("text", ""))

    @property
    def author(self) -> Person:
        assert self.event.actor is not None
        return self.event.actor

    @property
    def needs_approval(self) -> bool:
        return bool(self.event.data.get("approval"))


class CardRef(Frozen):
    """Where a thread's card lives on one surface, for one placement."""

    surface: str
    channel: str
    message_id: str
    department: str
    placement: int


class ReplyStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ReplyRecord(Frozen):
    """A public reply, recorded before the network is called and after it answers."""

    key: str
    thread_id: str
    mention_key: str
    text: str
    actor: Person
    status: ReplyStatus = ReplyStatus.PENDING
    created_at: datetime = Field(default_factory=utcnow)
    external_id: str = ""
    url: str = ""
    error: str = ""


class ReplyResult(Frozen):
    """What a source returns after posting a reply."""

    external_id: str
    url: str = ""


class OutboxItem(Frozen):
    """A card change to push to the chat surfaces (at least once)."""

    id: str
    thread_id: str
    event_id: str
