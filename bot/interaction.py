"""The one normalized shape every chat surface turns clicks and commands into."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions import Verb
from bot.domain import Draft, Person, ReplyRecord, Thread


@dataclass(frozen=True)
class Interaction:
    """An employee asking for something, from any surface."""

    surface: str
    actor: Person
    verb: Verb
    thread_ref: str | None = None
    """``T-1042``, a thread id, or None for the actor's active thread."""
    department: str | None = None
    """Transfer target, or the queue to show."""
    text: str = ""
    """Note text, reply text or transfer note."""
    key: str = ""
    """Idempotency key of a public reply (the composer's id, the event id...)."""
    channel_department: str | None = None
    """The department whose channel the command came from (``/claim`` takes its queue's first)."""
    to_person: Person | None = None
    is_member: bool | None = None
    """Whether the actor belongs to the thread's department (``members`` reply policy);
    None when the surface cannot tell."""
    draft_id: str = ""
    """The draft a ``SEND_DRAFT`` / ``APPROVE`` / ``REJECT`` is about."""


@dataclass(frozen=True)
class Response:
    """What the actor is told, privately."""

    text: str
    ok: bool = True
    thread: Thread | None = None
    draft: Draft | None = None
    """The draft the verb recorded or decided (the surface shows or updates it)."""
    reply: ReplyRecord | None = None
    """The public reply the verb posted (its link goes under the card)."""
