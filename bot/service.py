"""The thread service: the one place where threads change state.

Every change is read -> rule check -> compare-and-set on the thread's version (with retries),
and appends one audit event in the same atomic store step. A claim, the hottest verb, first
hands the store its rule as data (``Assignment``) so a thread nobody holds is claimed in one
round trip; any other case falls back to the read. Chat surfaces never write state.
"""

from __future__ import annotations

import difflib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from bot import logs
from bot.config import Department
from bot.domain import (
    AuditEvent,
    EventKind,
    Mention,
    Person,
    Thread,
    ThreadState,
    Transfer,
    can_move,
    utcnow,
)
from bot.errors import (
    AlreadyClaimed,
    InvalidTransition,
    NoActiveThread,
    NothingToSendBack,
    NotOwner,
    SwitchboardError,
    ThreadArchived,
    ThreadNotFound,
    UnknownDepartment,
)
from bot.ports import Source
from bot.routing import Router
from bot.storage import Assignment, ThreadStore
from bot.store import IngestOutcome, IngestStatus

Mutation = Callable[[Thread], Thread | None]
MAX_ATTEMPTS = 100
log = logging.getLogger(__name__)


class ChangeObserver(Protocol):
    """Told of every thread change the service makes (the SLA clock keeps its timers so)."""

    async def planned(self, thread: Thread, event: AuditEvent) -> None:
        """Before the store step that would store ``thread`` with ``event``. An error here
        fails the change; the step may still not be stored (see ``settled``)."""

    async def settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        """After the store step; ``stored``: whether ``thread`` and ``event`` were stored.
        An error here is logged: the change itself is done."""


def claimed_state(state: ThreadState) -> ThreadState:
    """The state a thread enters when someone claims or takes it over: a replied thread
    stays replied (the customer has an answer), any other becomes claimed."""
    return ThreadState.REPLIED if state is ThreadState.REPLIED else ThreadState.CLAIMED


CLAIM_MOVES: Mapping[ThreadState, ThreadState] = {
    s: claimed_state(s) for s in ThreadState if can_move(s, ThreadState.CLAIMED)
}
"""A claim of a thread nobody holds, state by state (every state a claim is allowed from)."""


def new_id() -> str:
    return uuid.uuid4().hex


class Directory:
    """The departments, like a phone directory."""

    def __init__(self, departments: tuple[Department, ...]) -> None:
        self._by_name = {d.name: d for d in departments}

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def get(self, name: str) -> Department:
        key = name.strip().lstrip("#").lower()
        found = self._by_name.get(key)
        if found is not None:
            return found
        for dept in self._by_name.values():
            if key in (dept.label.lower(), dept.slack_channel.lstrip("#").lower()):
                return dept
        close = difflib.get_close_matches(key, list(self._by_name), n=1, cutoff=0.5)
        raise UnknownDepartment(name, self._by_name, close[0] if close else None)

    def names(self) -> list[str]:
        return list(self._by_name)


class ThreadService:
    def __init__(
        self,
        store: ThreadStore,
        directory: Directory,
        router: Router,
        sources: Mapping[str, Source] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.directory = directory
        self.router = router
        self.sources: dict[str, Source] = dict(sources or {})
        self.clock = clock
        self.observers: list[ChangeObserver] = []
        """Told before and after each change (``ChangeObserver``)."""

    async def _planned(self, thread: Thread, event: AuditEvent) -> None:
        for observer in self.observers:
            await observer.planned(thread, event)

    async def _settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        for observer in self.observers:
            try:
                await observer.settled(thread, event, stored)
            except Exception as exc:
                log.warning("after %s of %s: %s (%s)", event.kind, thread.id, exc, observer)

    # ingest ---------------------------------------------------------------------------------
    async def ingest(self, mention: Mention) -> IngestOutcome | None:
        """Open a thread for ``mention`` or attach it to its conversation's thread.

        Idempotent: the same mention twice is a DUPLICATE. A follow-up reopens a resolved
        thread. Our own posts are dropped (None)."""
        if await self.store.is_own_post(mention.source, mention.external_id):
            return None
        now = self.clock()
        department = self.router.route(mention)
        thread = Thread(
            id=new_id(),
            number=0,
            department=department,
            source=mention.source,
            network=mention.network,
            conversation=mention.conversation,
            created_at=now,
            updated_at=now,
        )
        event = self._event(
            thread, EventKind.OPENED, None, "ingest", mention=mention.key, department=department
        )
        await self._planned(thread, event)
        outcome = await self.store.ingest_mention(mention, thread, event)
        created = outcome.status is IngestStatus.CREATED
        await self._settled(outcome.thread if created else thread, event, created)
        if outcome.status is not IngestStatus.CREATED:
            reopened = await self._reopen_if_resolved(outcome.thread.id, mention)
            if reopened is not None:
                return IngestOutcome(outcome.status, reopened)
        return outcome

    async def _reopen_if_resolved(self, thread_id: str, mention: Mention) -> Thread | None:
        def mutate(t: Thread) -> Thread | None:
            if t.state is not ThreadState.RESOLVED or t.spam:
                return None
            if t.resolved_at is not None and mention.created_at <= t.resolved_at:
                return None
            return t.evolve(state=ThreadState.NEW, owner=None, resolved_at=None)

        return await self.change(
            thread_id, None, "ingest", EventKind.REOPENED, mutate, mention=mention.key
        )

    # lookups -----------------------------------------------------------------------------------
    async def find(self, ref: str | None, actor: Person | None = None) -> Thread:
        """A thread by ``T-1042``, ``1042`` or id; with no ref, the actor's active thread.

        ThreadArchived (a ThreadNotFound) when retention archived it; ThreadNotFound else."""
        ref = (ref or "").strip()
        if not ref:
            if actor is None:
                raise NoActiveThread()
            active = await self.store.get_active(actor.key)
            if active is None:
                raise NoActiveThread()
            ref = active
        number = ref[2:] if ref[:2].upper() == "T-" else ref
        thread = None
        if number.isdigit():
            thread = await self.store.get_thread_by_number(int(number))
        if thread is None:
            thread = await self.store.get_thread(ref)
        if thread is not None:
            logs.thread_number.set(thread.short_id)  # the caller's log lines name it
            return thread
        gone = None
        if number.isdigit():
            gone = await self.store.get_archived_by_number(int(number))
        if gone is None:
            gone = await self.store.get_archived(ref)
        if gone is not None:
            raise ThreadArchived(gone.short_id, gone.closed_on, gone.kept_days, spam=gone.spam)
        raise ThreadNotFound(ref)

    async def waiting(
        self, department: str | None = None, limit: int | None = None
    ) -> list[Thread]:
        """The waiting queue (``bot.domain.is_waiting``), oldest first, at most ``limit``;
        every department when ``department`` is None. Claim-next, ``queue``, App Home and
        Teams all use it. Read from the store's index: the cost follows the answer."""
        return await self.store.waiting_threads(department, limit=limit)

    async def next_waiting(self, department: str) -> Thread | None:
        """The oldest waiting thread of ``department`` (claim-next takes the first of its
        due-first order, ``bot.sla.queue.due_first``)."""
        waiting = await self.waiting(department, limit=1)
        return waiting[0] if waiting else None

    async def held_by(self, person: Person, limit: int | None = None) -> list[Thread]:
        """The open threads ``person`` holds, oldest first, at most ``limit``."""
        return await self.store.held_threads(person.key, limit=limit)

    # verbs ---------------------------------------------------------------------------------------
    async def claim(self, thread_id: str, actor: Person, surface: str = "") -> Thread:
        def mutate(t: Thread) -> Thread | None:
            if t.owner is not None and t.owner.key == actor.key:
                return None
            self._allow(t, ThreadState.CLAIMED, "claim")
            if t.owner is not None:
                raise AlreadyClaimed(t.owner.label, t.short_id)
            return t.evolve(owner=actor, state=claimed_state(t.state))

        # The same rule as data, for the store to apply without a read first (``assign``):
        # what ``mutate`` does to a thread nobody holds.
        first = Assignment(owner=actor, moves=CLAIM_MOVES, updated_at=self.clock())
        return await self._act(thread_id, actor, surface, EventKind.CLAIMED, mutate, first=first)

    async def release(self, thread_id: str, actor: Person, surface: str = "") -> Thread:
        def mutate(t: Thread) -> Thread | None:
            if t.owner is None:
                return None
            if t.owner.key != actor.key:
                raise NotOwner(t.owner.label)
            state = ThreadState.REPLIED if t.state is ThreadState.REPLIED else ThreadState.NEW
            self._allow(t, state, "release")
            return t.evolve(owner=None, state=state)

        return await self._act(thread_id, actor, surface, EventKind.RELEASED, mutate)

    async def take_over(self, thread_id: str, actor: Person, surface: str = "") -> Thread:
        def mutate(t: Thread) -> Thread | None:
            if t.owner is not None and t.owner.key == actor.key:
                return None
            self._allow(t, ThreadState.CLAIMED, "take over")
            return t.evolve(owner=actor, state=claimed_state(t.state))

        return await self._act(thread_id, actor, surface, EventKind.TAKEN_OVER, mutate)

    async def note(self, thread_id: str, actor: Person, text: str, surface: str = "") -> None:
        thread = await self._get(thread_id)
        await self.record(thread, EventKind.NOTE, actor, surface, text=text)
        await self.store.set_active(actor.key, thread.id)

    async def record(
        self,
        thread: Thread,
        kind: EventKind,
        actor: Person | None,
        surface: str,
        *,
        notify: bool = True,
        event_id: str = "",
        **data: Any,
    ) -> AuditEvent:
        """Append an event that changes no thread field (a note, a draft, a decision)."""
        event = self._event(thread, kind, actor, surface, **data)
        if event_id:
            event = event.model_copy(update={"id": event_id})
        await self.store.append_event(event, notify=notify)
        return event

    async def transfer(
        self,
        thread_id: str,
        actor: Person,
        department: str,
        note: str = "",
        *,
        to_person: Person | None = None,
        surface: str = "",
    ) -> Thread:
        target = self.directory.get(department)

        def mutate(t: Thread) -> Thread | None:
            self._allow(t, ThreadState.TRANSFERRED, "transfer")
            self._owner_or_free(t, actor)
            if target.name == t.department and to_person is None:
                raise SwitchboardError(f"{t.short_id} is already in {target.label}.")
            move = Transfer(
                from_department=t.department,
                to_department=target.name,
                by=actor,
                note=note,
                to_person=to_person,
                at=self.clock(),
            )
            return t.evolve(
                department=target.name,
                state=ThreadState.TRANSFERRED,
                owner=to_person,
                transfers=(*t.transfers, move),
            )

        return await self._act(
            thread_id,
            actor,
            surface,
            EventKind.TRANSFERRED,
            mutate,
            to=target.name,
            note=note,
            to_person=to_person.key if to_person is not None else "",
        )

    async def send_back(
        self, thread_id: str, actor: Person, note: str = "", surface: str = ""
    ) -> Thread:
        def mutate(t: Thread) -> Thread | None:
            if not t.transfers:
                raise NothingToSendBack(t.short_id)
            self._allow(t, ThreadState.TRANSFERRED, "send back")
            self._owner_or_free(t, actor)
            last = t.transfers[-1]
            move = Transfer(
                from_department=t.department,
                to_department=last.from_department,
                by=actor,
                note=note,
                to_person=last.by,
                at=self.clock(),
                send_back=True,
            )
            return t.evolve(
                department=last.from_department,
                state=ThreadState.TRANSFERRED,
                owner=last.by,
                transfers=(*t.transfers, move),
            )

        return await self._act(thread_id, actor, surface, EventKind.SENT_BACK, mutate, note=note)

    async def resolve(
        self, thread_id: str, actor: Person, surface: str = "", *, spam: bool = False
    ) -> Thread:
        def mutate(t: Thread) -> Thread | None:
            if t.state is ThreadState.RESOLVED and t.spam == spam:
                return None
            self._allow(t, ThreadState.RESOLVED, "resolve")
            self._owner_or_free(t, actor)
            return t.evolve(state=ThreadState.RESOLVED, resolved_at=self.clock(), spam=spam)

        kind = EventKind.SPAM if spam else EventKind.RESOLVED
        return await self._act(thread_id, actor, surface, kind, mutate)

    # machinery ---------------------------------------------------------------------------------
    @staticmethod
    def _allow(thread: Thread, target: ThreadState, action: str) -> None:
        if not can_move(thread.state, target):
            raise InvalidTransition(thread.short_id, thread.state.value, action)

    @staticmethod
    def _owner_or_free(thread: Thread, actor: Person) -> None:
        if thread.owner is not None and thread.owner.key != actor.key:
            raise NotOwner(thread.owner.label)

    async def _get(self, thread_id: str) -> Thread:
        thread = await self.store.get_thread(thread_id)
        if thread is None:
            raise ThreadNotFound(thread_id)
        return thread

    def _event(
        self, thread: Thread, kind: EventKind, actor: Person | None, surface: str, **data: Any
    ) -> AuditEvent:
        return self._event_for(thread.id, kind, actor, surface, **data)

    def _event_for(
        self, thread_id: str, kind: EventKind, actor: Person | None, surface: str, **data: Any
    ) -> AuditEvent:
        return AuditEvent(
            id=new_id(),
            thread_id=thread_id,
            kind=kind,
            actor=actor,
            at=self.clock(),
            surface=surface or (actor.surface if actor else ""),
            data=data,
        )

    async def _act(
        self,
        thread_id: str,
        actor: Person,
        surface: str,
        kind: EventKind,
        mutate: Mutation,
        first: Assignment | None = None,
        **data: Any,
    ) -> Thread:
        changed = await self._change(
            thread_id, actor, surface, kind, mutate, actor.key, data, first
        )
        if changed is not None:
            return changed
        await self.store.set_active(actor.key, thread_id)
        return await self._get(thread_id)

    async def change(
        self,
        thread_id: str,
        actor: Person | None,
        surface: str,
        kind: EventKind,
        mutate: Mutation,
        **data: Any,
    ) -> Thread | None:
        """Apply ``mutate`` with compare-and-set; None when it decided nothing changes.

        One read, then one store round trip per attempt: a lost race hands back the thread
        as the winner left it, and ``mutate`` decides again on that."""
        return await self._change(thread_id, actor, surface, kind, mutate, None, data)

    async def _change(
        self,
        thread_id: str,
        actor: Person | None,
        surface: str,
        kind: EventKind,
        mutate: Mutation,
        active: str | None,
        data: dict[str, Any],
        first: Assignment | None = None,
    ) -> Thread | None:
        """``change``; ``active``: the person whose active thread this becomes, in the same
        atomic step as the change. ``first``: what ``mutate`` does to a thread nobody holds,
        tried without a read; when its guard fails the store hands back the thread as it is
        and ``mutate`` decides on that (the same answer, one round trip)."""
        if first is not None:
            event = self._event_for(thread_id, kind, actor, surface, **data)
            outcome = await self.store.assign(thread_id, first, event, active=active)
            if outcome.current is None:
                raise ThreadNotFound(thread_id)
            if outcome.stored:
                await self._settled(outcome.current, event, True)
                return outcome.current
            current = outcome.current
        else:
            current = await self._get(thread_id)
        for _ in range(MAX_ATTEMPTS):
            proposed = mutate(current)
            if proposed is None:
                return None
            proposed = proposed.model_copy(update={"updated_at": self.clock()})
            extra = dict(data)
            if current.owner is not None and proposed.owner != current.owner:
                extra["previous_owner"] = current.owner.label  # who held the call before
            event = self._event(current, kind, actor, surface, **extra)
            await self._planned(proposed, event)
            outcome = await self.store.compare_and_set(
                proposed, current.version, event, active=active
            )
            await self._settled(proposed, event, outcome.stored)
            if outcome.stored:
                return proposed
            if outcome.current is None:
                raise ThreadNotFound(thread_id)
            current = outcome.current
        raise SwitchboardError(f"{thread_id} is changing too fast; try again.")
