"""JSON and time helpers shared by the stores. Models travel as pydantic JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter

from bot.domain import AuditEvent, EventKind, Person, Thread, ThreadState, is_open, is_waiting

FIRST_THREAD_NUMBER = 1001
"""Thread numbers start here, so short ids look like T-1001."""


def dump(model: BaseModel) -> str:
    return model.model_dump_json()


_DATETIME = TypeAdapter(datetime)


def dump_time(at: datetime) -> str:
    """``at`` as JSON exactly as a model's datetime field dumps it."""
    return _DATETIME.dump_json(at).decode()


def micros(at: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    """The UTC time ``us`` microseconds after the epoch (the inverse of ``micros``)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def owner_key(owner: Person | None) -> str | None:
    return owner.key if owner is not None else None


def dump_owner(owner: Person | None) -> str:
    """A thread's owner as the Redis store keeps it beside the document ('' for none)."""
    return "" if owner is None else dump(owner)


def load_thread(
    doc: str,
    *,
    number: int,
    version: int,
    mention_count: int,
    state: str | None = None,
    owner: str | None = None,
    updated_at: str | None = None,
) -> Thread:
    """A thread from its JSON document and the fields the store keeps next to it, which win
    over the document's own (an ``assign`` changes only them). A field kept nowhere but in the
    document (data written before it was kept beside it) is ``None`` here."""
    thread = Thread.model_validate_json(doc)
    update: dict[str, Any] = {}
    if (thread.number, thread.version, thread.mention_count) != (number, version, mention_count):
        update.update(number=number, version=version, mention_count=mention_count)
    if state is not None and state != thread.state.value:
        update["state"] = ThreadState(state)
    if owner is not None:
        person = Person.model_validate_json(owner) if owner else None
        if person != thread.owner:
            update["owner"] = person
    if updated_at is not None:
        at = _DATETIME.validate_json(updated_at)
        if at != thread.updated_at:
            update["updated_at"] = at
    return thread.model_copy(update=update) if update else thread


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
