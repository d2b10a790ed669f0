"""The store port. Two real implementations: SQLite (embedded) and Redis (replicas).

Every method is atomic on its own. The store never decides product rules: the thread service
computes the next ``Thread`` and the store only compare-and-sets it on ``version``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain import (
    AuditEvent,
    CardRef,
    Mention,
    OutboxItem,
    ReplyRecord,
    ReplyStatus,
    Thread,
    ThreadState,
)


class IngestStatus(StrEnum):
    CREATED = "created"
    """A new thread was opened for the mention."""
    ATTACHED = "attached"
    """The mention joined the existing thread of its conversation."""
    DUPLICATE = "duplicate"
    """The mention was already stored; nothing changed."""


@dataclass(frozen=True)
class IngestOutcome:
    status: IngestStatus
    thread: Thread


class Store(ABC):
    """Persistent state shared by every part of the bot (and every replica on Redis)."""

    @staticmethod
    def from_url(url: str) -> Store:
        from bot.store import open_store

        return open_store(url)

    # lifecycle ---------------------------------------------------------------------------
    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""

    @abstractmethod
    async def close(self) -> None: ...

    # threads and mentions ----------------------------------------------------------------
    @abstractmethod
    async def ingest_mention(
        self, mention: Mention, new_thread: Thread, event: AuditEvent
    ) -> IngestOutcome:
        """Store ``mention`` atomically, deduplicated on ``mention.key``.

        - Already stored: DUPLICATE with the thread it belongs to; nothing written.
        - Its ``mention.conversation`` maps to a thread: the mention is attached to it,
          ``mention_count`` and ``version`` go up by one, ``event`` (re-targeted to that
          thread, kind ATTACHED) is appended and an outbox item queued: ATTACHED.
        - Otherwise ``new_thread`` is stored with ``number`` = the next thread number
          (the passed ``number`` is ignored), the conversation mapped to it, ``event``
          appended and an outbox item queued: CREATED.
        """

    @abstractmethod
    async def get_thread(self, thread_id: str) -> Thread | None: ...

    @abstractmethod
    async def get_thread_by_number(self, number: int) -> Thread | None: ...

    @abstractmethod
    async def commit(
        self, thread: Thread, expected_version: int, event: AuditEvent, *, notify: bool = True
    ) -> bool:
        """Compare-and-set: store ``thread`` only if the stored version is still
        ``expected_version``; append ``event`` and (if ``notify``) queue an outbox item in the
        same atomic step. Return False, writing nothing, when the version moved on."""

    @abstractmethod
    async def append_event(self, event: AuditEvent, *, notify: bool = True) -> None:
        """Append an event that changes no thread field (an internal note)."""

    @abstractmethod
    async def mentions(self, thread_id: str) -> list[Mention]:
        """The thread's mentions, oldest first."""

    @abstractmethod
    async def get_mention(self, key: str) -> Mention | None: ...

    @abstractmethod
    async def events(self, thread_id: str) -> list[AuditEvent]:
        """The thread's audit events, oldest first."""

    @abstractmethod
    async def get_event(self, event_id: str) -> AuditEvent | None: ...

    @abstractmethod
    async def audit(self, since: datetime | None = None) -> list[AuditEvent]:
        """Every audit event at or after ``since``, oldest first."""

    @abstractmethod
    async def list_threads(
        self,
        *,
        department: str | None = None,
        states: frozenset[ThreadState] | None = None,
        owner_key: str | None = None,
    ) -> list[Thread]:
        """Threads matching every given filter, oldest (lowest number) first."""

    # who is on which call -------------------------------------------------------------------
    @abstractmethod
    async def set_active(self, person_key: str, thread_id: str) -> None: ...

    @abstractmethod
    async def get_active(self, person_key: str) -> str | None: ...

    # cards ------------------------------------------------------------------------------
    @abstractmethod
    async def set_card_ref(self, thread_id: str, key: str, ref: CardRef) -> None: ...

    @abstractmethod
    async def card_refs(self, thread_id: str) -> dict[str, CardRef]: ...

    @abstractmethod
    async def outbox_claim(self, lease_seconds: float) -> OutboxItem | None:
        """Take the oldest visible outbox item and hide it for ``lease_seconds``; it comes
        back if not acked by then (the holder died)."""

    @abstractmethod
    async def outbox_ack(self, item_id: str) -> None: ...

    @abstractmethod
    async def outbox_size(self) -> int: ...

    # sources ------------------------------------------------------------------------------
    @abstractmethod
    async def get_cursor(self, source: str) -> str | None: ...

    @abstractmethod
    async def set_cursor(self, source: str, cursor: str | None) -> None: ...

    @abstractmethod
    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the named lease for ``holder``; False while another holds it."""

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> None: ...

    @abstractmethod
    async def mark_own_post(self, source: str, external_id: str) -> None:
        """Remember a post we made, so it never comes back as a mention (echo loop)."""

    @abstractmethod
    async def is_own_post(self, source: str, external_id: str) -> bool: ...

    # public replies -------------------------------------------------------------------------
    @abstractmethod
    async def reply_begin(
        self, record: ReplyRecord, lease_seconds: float
    ) -> tuple[ReplyRecord, bool]:
        """Record the intent to reply under ``record.key``.

        Returns (stored record, True) when the caller now owns the attempt: the key is new,
        the earlier attempt FAILED (nothing was posted; the record goes back to PENDING), or
        a PENDING attempt's lease expired (its holder died). Returns (stored record, False)
        when the key is SENT, or PENDING with a live lease (a double click in flight)."""

    @abstractmethod
    async def reply_finish(
        self,
        key: str,
        status: ReplyStatus,
        *,
        external_id: str = "",
        url: str = "",
        error: str = "",
    ) -> ReplyRecord: ...

    @abstractmethod
    async def get_reply(self, key: str) -> ReplyRecord | None: ...

    @abstractmethod
    async def pending_replies(self) -> list[ReplyRecord]: ...
