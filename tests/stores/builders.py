"""Small builders for the store contract tests."""

from __future__ import annotations

import uuid
from datetime import datetime

from bot.domain import AuditEvent, Author, EventKind, Mention, Person, Thread
from bot.store import IngestOutcome, Store


def person(name: str) -> Person:
    return Person(surface="slack", id=f"U-{name}", name=name)


def mention(
    n: int, *, conversation: str | None = None, source: str = "mastodon-main", text: str = ""
) -> Mention:
    return Mention(
        source=source,
        network="mastodon",
        external_id=f"post-{n}",
        conversation_key=conversation or f"conv-{n}",
        author=Author(id=f"a{n}", handle=f"user{n}@example.social", display_name=f"User {n}"),
        text=text or f"@acme question number {n}",
        permalink=f"https://example.social/@user{n}/post-{n}",
        reply_data={"status_id": f"post-{n}"},
    )


def new_thread(m: Mention, department: str = "support") -> Thread:
    return Thread(
        id=f"th-{uuid.uuid4().hex}",
        number=7,
        department=department,
        source=m.source,
        network=m.network,
        conversation=m.conversation,
    )


def event(
    thread_id: str,
    kind: EventKind = EventKind.NOTE,
    *,
    actor: Person | None = None,
    at: datetime | None = None,
    **data: str,
) -> AuditEvent:
    extra = {"at": at} if at is not None else {}
    return AuditEvent(
        id=f"ev-{uuid.uuid4().hex}", thread_id=thread_id, kind=kind, actor=actor, data=data, **extra
    )


async def ingest(store: Store, m: Mention, department: str = "support") -> IngestOutcome:
    fresh = new_thread(m, department)
    return await store.ingest_mention(m, fresh, event(fresh.id, EventKind.OPENED))
