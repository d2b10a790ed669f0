"""Storage role ports: each consumer asks for the few store methods it uses.

Both stores (``bot.store.sqlite.SQLiteStore``, ``bot.store.redis.RedisStore``) implement every
port; the ``Store`` ABC in ``bot.store.base`` is their full combination plus ``close``. Every
method is atomic on its own. The store never decides product rules: the thread service computes
the next ``Thread`` and the store only compare-and-sets it on ``version``, or (``assign``) applies
an ownership change the service spelled out as data, guarded by the fields the service names.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol, runtime_checkable

from bot.domain import (
    AuditEvent,
    CardRef,
    Frozen,
    Mention,
    OutboxItem,
    Person,
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


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log read by time (``ThreadRepository.audit_page``)."""

    events: list[AuditEvent]
    """Oldest first (by time, then by the order they were appended)."""
    cursor: str
    """Hand it back as ``after`` for the next page; empty when the range is read."""


class AuditRow(NamedTuple):
    """The few fields of an audit event a report reads, decoded without building the model."""

    kind: str
    """The ``EventKind`` value."""
    thread_id: str
    at: float
    """Epoch seconds (from the index: microsecond precision)."""
    actor: str
    """``Person.key``; empty for no person."""
    label: str
    """``Person.label``."""
    department: str
    """``data.department`` (opened)."""
    to: str
    """``data.to`` (transferred)."""
    to_person: bool
    """``data.to_person`` is set (transferred to a person)."""
    rollover: bool
    """``data.rollover`` (transferred by the SLA timers)."""


@dataclass(frozen=True)
class AuditRows:
    """One page of ``AuditRow`` (``ThreadRepository.audit_rows``): same order and cursors as
    ``AuditPage``."""

    rows: list[AuditRow]
    cursor: str


@dataclass(frozen=True)
class CasOutcome:
    stored: bool
    """True: the proposed thread was stored."""
    current: Thread | None
    """The thread as stored after the step: the proposed one, or the one that won the race
    (None when the thread does not exist)."""


class ArchivedThread(Frozen):
    """What is left of a closed thread once retention archived it: enough to say what became
    of ``T-n``. Its audit events stay in the audit log."""

    id: str
    number: int
    department: str
    resolved_at: datetime
    """When it was resolved (or marked as spam)."""
    archived_at: datetime
    spam: bool = False

    @classmethod
    def of(cls, thread: Thread, archived_at: datetime) -> ArchivedThread:
        return cls(
            id=thread.id,
            number=thread.number,
            department=thread.department,
            resolved_at=thread.resolved_at or thread.updated_at,
            archived_at=archived_at,
            spam=thread.spam,
        )

    @property
    def short_id(self) -> str:
        return f"T-{self.number}"

    @property
    def closed_on(self) -> str:
        """The UTC date it was closed, ``2026-11-01``."""
        at = self.resolved_at
        return (at.astimezone(UTC) if at.tzinfo is not None else at).date().isoformat()

    @property
    def kept_days(self) -> int:
        """Whole days between closing and archiving."""
        return max(0, (self.archived_at - self.resolved_at).days)


@dataclass
class UpgradeProgress:
    """A schema upgrade a store is running on data written by an older release."""

    start: int
    """The schema version the data was at."""
    target: int
    step: int = 0
    """The version being upgraded to now."""
    done: int = 0
    total: int = 0
    """Threads the current step has indexed, of how many."""

    def begin(self, step: int, total: int = 0) -> None:
        """A step starts: ``total`` threads to go through (0: it does not count threads)."""
        self.done, self.total, self.step = 0, total, step

    def __str__(self) -> str:
        where = f"schema {self.start} -> {self.target}"
        if not self.step:
            return where
        if not self.total:
            return f"{where}, step {self.step}"
        return f"{where}, step {self.step}: {self.done} of {self.total} threads"


@dataclass(frozen=True)
class Assignment:
    """An ownership change decided by the thread service, for the store to apply in one round
    trip without a prior read: if the thread is held by nobody (``unowned``) and its state is a
    key of ``moves``, it gets ``owner``, the state ``moves`` maps to, ``updated_at`` and the next
    version. Every target state must be open (held threads are indexed as held)."""

    owner: Person
    moves: Mapping[ThreadState, ThreadState]
    updated_at: datetime


@runtime_checkable
class ThreadRepository(Protocol):
    """Threads, their mentions and their audit trail."""

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
    async def compare_and_set(
        self,
        thread: Thread,
        expected_version: int,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        """``commit`` in one atomic step that also answers who won: when the version moved
        on, nothing is written and the outcome carries the thread as stored now, so a lost
        race needs no second read. ``active``: a person key whose active thread becomes this
        one in the same step (``Presence``)."""

    @abstractmethod
    async def assign(
        self,
        thread_id: str,
        change: Assignment,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        """Apply ``change`` when its guard holds, with ``event`` (and the outbox item, and
        ``active``) in the same atomic step; otherwise write nothing. Either way the outcome
        carries the thread as stored now: one round trip answers who holds it."""

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
    async def audit_page(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditPage:
        """Up to ``limit`` audit events with ``start <= at < end`` (None: unbounded), oldest
        first, after the page ``after`` ended (a cursor from an earlier page). Read from the
        store's index of events by time: a page costs what it returns, so a long range is
        read in pages with flat memory."""

    @abstractmethod
    async def audit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditRows:
        """``audit_page`` as light ``AuditRow`` s: the same events, order and cursors, each
        decoded from the stored document without the full model (what a report reads)."""

    @abstractmethod
    async def list_threads(
        self,
        *,
        department: str | None = None,
        states: frozenset[ThreadState] | None = None,
        owner_key: str | None = None,
    ) -> list[Thread]:
        """Threads matching every given filter, oldest (lowest number) first."""

    @abstractmethod
    async def waiting_threads(
        self, department: str | None = None, *, limit: int | None = None
    ) -> list[Thread]:
        """The waiting threads (``bot.domain.is_waiting``) of ``department`` (of every
        department when None), oldest (lowest number) first, at most ``limit``. Read from an
        index kept in the same atomic step as every change: the cost follows the answer."""

    @abstractmethod
    async def held_threads(self, owner_key: str, *, limit: int | None = None) -> list[Thread]:
        """The open threads (``bot.domain.is_open``) whose owner has ``owner_key``, oldest
        first, at most ``limit``; read from an index like ``waiting_threads``."""


@runtime_checkable
class Retention(Protocol):
    """Closed threads leave the hot data once ``store.retention_days`` have passed.

    Archiving a thread removes it, its mentions, its conversation mapping (a later mention in
    that conversation opens a new thread) and its card refs, and leaves an ``ArchivedThread``.
    Its audit events are kept. Threads are found through an index of closed threads by
    closing time, kept in the same atomic step as every change: a run costs what is due."""

    @abstractmethod
    async def archive_closed(self, before: datetime, limit: int) -> int:
        """Archive up to ``limit`` threads resolved (or marked as spam) before ``before``,
        earliest closed first; each one atomically. Returns how many were archived."""

    @abstractmethod
    async def get_archived(self, thread_id: str) -> ArchivedThread | None: ...

    @abstractmethod
    async def get_archived_by_number(self, number: int) -> ArchivedThread | None: ...


@runtime_checkable
class CardOutbox(Protocol):
    """Where each thread's cards are, and the queue of changes still to render."""

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


@runtime_checkable
class Coordination(Protocol):
    """Named leases: one holder at a time, lapsing when the holder stops renewing."""

    @abstractmethod
    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the named lease for ``holder``; False while another holds it."""

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> None: ...


@runtime_checkable
class SourceState(Protocol):
    """What each source has read (its cursor) and which posts are our own."""

    @abstractmethod
    async def get_cursor(self, source: str) -> str | None: ...

    @abstractmethod
    async def set_cursor(self, source: str, cursor: str | None) -> None: ...

    @abstractmethod
    async def mark_own_post(self, source: str, external_id: str) -> None:
        """Remember a post we made, so it never comes back as a mention (echo loop)."""

    @abstractmethod
    async def is_own_post(self, source: str, external_id: str) -> bool: ...


@runtime_checkable
class ReplyLedger(Protocol):
    """Public replies recorded before and after posting, so none is posted twice."""

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


@runtime_checkable
class Presence(Protocol):
    """Which thread each person is on, like the call they have open."""

    @abstractmethod
    async def set_active(self, person_key: str, thread_id: str) -> None: ...

    @abstractmethod
    async def get_active(self, person_key: str) -> str | None: ...


@runtime_checkable
class KeyValue(Protocol):
    """Small lookups in named namespaces, each entry optionally expiring.

    ``ttl`` is in seconds (``None``: never expires); an expired entry reads as absent. Keys
    and namespaces may hold any text: two namespaces never share an entry."""

    @abstractmethod
    async def kv_get(self, namespace: str, key: str) -> str | None: ...

    @abstractmethod
    async def kv_put(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> None:
        """Store ``value``, replacing any entry and its expiry."""

    @abstractmethod
    async def kv_put_if_absent(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> bool:
        """Store ``value`` only when no live entry exists (an expired one counts as absent);
        True when stored. Atomic: of many concurrent callers exactly one wins."""

    @abstractmethod
    async def kv_delete(self, namespace: str, key: str) -> None: ...


@runtime_checkable
class Health(Protocol):
    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""


@dataclass(frozen=True)
class DueTimer:
    """A timer ``Timers.take_due`` handed to a holder, leased to it until it finishes."""

    key: str
    due: datetime
    """When it was scheduled to fire (UTC)."""
    payload: str
    attempts: int
    """How many times it was taken, this time included (above 1: an earlier holder's lease
    lapsed before it finished)."""
    late: timedelta
    """How long after ``due`` it was taken."""
    generation: int
    """Goes up each time the key is scheduled again; ``finish`` can name the one it handled."""


@runtime_checkable
class Timers(Protocol):
    """A due-time index: named timers, each fired exactly once across every replica.

    One timer per key; each is taken atomically and leased to one holder, comes back when the
    lease lapses (the holder died) and leaves only when its holder finishes it. Reads follow
    an index by the time each timer can next be taken: a call costs what is due. Time comes
    from the arguments only."""

    @abstractmethod
    async def schedule(self, key: str, due: datetime, payload: str) -> None:
        """Set the timer ``key`` to fire at ``due`` with ``payload``, replacing any timer of
        that key (moving it): the new one is not leased, has no attempts yet and a new
        generation, so the holder of the old one cannot finish it."""

    @abstractmethod
    async def cancel(self, key: str) -> None:
        """Remove the timer ``key`` (nothing when there is none)."""

    @abstractmethod
    async def cancel_prefix(self, prefix: str) -> int:
        """Remove every timer whose key starts with ``prefix`` (``sla:T-1001:``); returns
        how many. Costs what it removes."""

    @abstractmethod
    async def take_due(
        self, now: datetime, limit: int, lease_seconds: float, holder: str
    ) -> list[DueTimer]:
        """Take up to ``limit`` timers that can be taken at ``now`` and lease each to
        ``holder`` until ``now + lease_seconds``, in one atomic step.

        A timer can be taken once it is due and not leased, or when its lease lapsed (its
        holder died); it comes in the order it became takeable (its due time, or the end of
        the lapsed lease), then by key. Of many concurrent callers each timer goes to one."""

    @abstractmethod
    async def next_due(self) -> datetime | None:
        """When the next timer can be taken (its due time, or the end of its lease); None
        when there is none. One read of the index (a clock driven by hand jumps to it)."""

    @abstractmethod
    async def finish(self, key: str, holder: str, generation: int | None = None) -> bool:
        """Remove the timer ``key`` if ``holder`` is the one it was last leased to (even if
        the lease lapsed since, as long as nobody took it again) and, when ``generation`` is
        given, it is still that generation. False, changing nothing, when it was taken by
        another holder, scheduled again or cancelled since."""


class ThreadStore(ThreadRepository, Presence, SourceState, Retention, Protocol):
    """What the thread service's own rules touch (own posts are dropped at ingest; an archived
    thread is named, not "not found")."""


class ReplyStore(ThreadRepository, SourceState, ReplyLedger, Protocol):
    """What the reply service touches: mentions to answer, the ledger, own posts."""


class IngestStore(SourceState, Coordination, Protocol):
    """What the ingestor touches: cursors and the per-source polling lease."""


class RetentionStore(Retention, Coordination, Protocol):
    """What the retention loop touches: the archive and its lease (one replica at a time)."""


ROLE_PORTS: tuple[type, ...] = (
    ThreadRepository,
    Retention,
    CardOutbox,
    Coordination,
    SourceState,
    ReplyLedger,
    Presence,
    KeyValue,
    Timers,
    Health,
)
"""Every role port; a complete store implements them all."""


# Key-value namespaces: each is owned by one consumer; the store's upgrade moves old data in.
DAY = 86_400.0
TEAMS_POSTED = "teams.posted"
"""Teams surface: card key -> the posted ``CardRef`` JSON."""
TEAMS_POSTED_TTL = 30 * DAY
TEAMS_CONVERSATION = "teams.conversation"
"""Teams surface: ``<channel>;<root activity>`` -> thread id."""
TEAMS_CONVERSATION_TTL = 90 * DAY
TEAMS_TEAM = "teams.team"
"""Teams surface: ``channel:<channel id>`` (and ``last``) -> the team's Microsoft 365 group id."""
SLACK_EVENT = "slack.event"
"""Slack surface: event id -> "1" (an event delivered twice is handled once)."""
DRAFT_KEY = "draft.key"
"""Draft replies: interaction key -> draft id (a draft is recorded once per key)."""
DRAFT_RECORDED = "draft.recorded"
"""Draft replies: ``<draft id>:<decision>`` -> "1" (the decision was recorded once)."""
DRAFT_DECISION = "draft.decision"
"""Draft replies: draft id -> "approved" or "rejected"."""
DRAFT_PENDING = "draft.pending"
"""Draft replies: thread id -> its latest undecided draft (``approve T-12``)."""
REPLY_INTENT = "reply.intent"
"""Public replies: ``<thread id>:<digest of the normalised text>`` -> the first sender's
``bot.intent.Intent`` JSON, for ``bot.intent.INTENT_WINDOW_SECONDS`` (one reply per intent)."""
SLACK_REQUEST = "slack.request"
"""Slack surface: hash of a verified request's timestamp and signature -> "1" (a signed
request sent again inside the signature window runs once)."""
POST_CLAIM = "dispatch.claim"
"""Card dispatcher: ``card:<card key>`` / ``line:<line key>`` -> the posting replica's token
while it posts (expires with the lease), then "done"."""
POST_TRIED = "dispatch.tried"
"""Card dispatcher: the same keys -> "1" once a replica set out to post (a recovery looks up)."""
POST_DONE_TTL = 7 * DAY
STORM_DIGEST = "storm.digest"
"""Storm digests: ``line:<digest>:<n>`` -> a ``bot.storm.ports.DigestLine`` JSON (the n-th line),
``mark:<digest>:<n>`` -> a thread id that got its card, ``thread:<surface>:<thread id>`` -> its
digest, ``current:<surface>:<channel>`` -> the number of the digest being filled,
``ref:<digest>`` -> the posted ``CardRef`` JSON, ``shown:<digest>`` -> what it shows."""
STORM_STATE = "storm.state"
"""Storms: ``alive:<surface>:<channel>`` -> the storm's number while any replica sees one
(expires when all are calm), ``storm:<surface>:<channel>`` -> its JSON, ``ended:…`` -> "1",
``slot:…`` -> the replica holding a posting or editing turn."""
STORM_TTL = 7 * DAY
