"""JSON and time helpers shared by the stores. Models travel as pydantic JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from bot.domain import AuditEvent, EventKind, Person, Thread, is_open, is_waiting

FIRST_THREAD_NUMBER = 1001
"""Thread numbers start here, so short ids look like T-1001."""


def dump(model: BaseModel) -> str:
    return model.model_dump_json()


def micros(at: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def owner_key(owner: Person | None) -> str | None:
    return owner.key if owner is not None else None


def load_thread(doc: str, *, number: int, version: int, mention_count: int) -> Thread:
    """A thread from its JSON document and the counters the store keeps next to it."""
    thread = Thread.model_validate_json(doc)
    if (thread.number, thread.version, thread.mention_count) == (number, version, mention_count):
        return thread
    return thread.model_copy(
        update={"number": number, "version": version, "mention_count": mention_count}
    )


def attached(event: AuditEvent, thread_id: str) -> AuditEvent:
    """``event`` re-targeted to the thread a follow-up mention joined."""
    return event.model_copy(update={"thread_id": thread_id, "kind": EventKind.ATTACHED})


def attach_to(thread: Thread) -> Thread:
    """The stored ``thread`` after one more mention joined it."""
    return thread.model_copy(
        update={"mention_count": thread.mention_count + 1, "version": thread.version + 1}
    )


def waiting_in(thread: Thread) -> str:
    """The department whose waiting queue holds ``thread`` (``bot.domain.is_waiting``), or ""."""
    return thread.department if is_waiting(thread) else ""


def held_by(thread: Thread) -> str:
    """The key of the person holding ``thread`` while it is open (``bot.domain.is_open``), or ""."""
    return thread.owner.key if thread.owner is not None and is_open(thread) else ""
