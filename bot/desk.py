"""The application facade: the one door every surface uses.

Slack, Teams, the shell (and the surfaces to come: the web board, timers, reactions) turn
what people do into an ``Interaction`` for ``handle`` (the verb table in ``handlers``), and
ask the queries here. They never see the store, the services or the composition root.

    surface -> Interaction -> Desk.handle -> handlers -> ThreadService / ReplyService /
    DraftService -> store, source
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import logs
from bot.config import Department
from bot.domain import CardRef, Draft, Mention, Person, Thread
from bot.drafts import DraftService
from bot.errors import NotAllowed, SwitchboardError
from bot.intent import Intent, earlier
from bot.interaction import Interaction, Response
from bot.ports import Card, ReplyLimit
from bot.replies import ReplyService
from bot.service import ThreadService
from bot.sla.queue import WINDOW, Queued, due_first
from bot.storage import CardOutbox, KeyValue
from handlers import Context, dispatch

Render = Callable[[Thread, int | None], Awaitable[Card]]


@dataclass(frozen=True)
class Home:
    """What a person's home view shows: what they hold, and what waits where (due first)."""

    mine: list[Thread]
    waiting: list[tuple[Department, list[Queued]]]
    window: int = WINDOW
    """At most this many of a department's oldest waiting threads are ordered and listed."""


class Desk:
    """Verbs, queries and permission checks for every chat surface."""

    def __init__(
        self,
        threads: ThreadService,
        replies: ReplyService,
        drafts: DraftService,
        cards: CardOutbox,
        render: Render,
        lookups: KeyValue,
    ) -> None:
        self._threads = threads
        self._replies = replies
        self._drafts = drafts
        self._cards = cards
        self._render = render
        self.lookups = lookups
        """Namespaced key-value entries with expiry, for a surface's own bookkeeping
        (event de-duplication, which card conversation shows which thread)."""
        self._context = Context(threads, replies, drafts)

    # verbs --------------------------------------------------------------------------------
    async def handle(self, interaction: Interaction) -> Response:
        """Run the interaction's verb; refusals come back as ``Response(ok=False)``. Its log
        lines name the thread it is about (``bot.logs``), and only its own."""
        token = logs.thread_number.set(None)
        try:
            return await dispatch(self._context, interaction)
        finally:
            logs.thread_number.reset(token)

    # queries ------------------------------------------------------------------------------
    def clock(self) -> datetime:
        return self._threads.clock()

    async def thread(self, ref: str | None, actor: Person | None = None) -> Thread:
        """A thread by ``T-1042``, ``1042`` or id; with no ref, the actor's active thread."""
        return await self._threads.find(ref, actor)

    async def waiting(
        self, department: str | None = None, limit: int | None = None
    ) -> list[Thread]:
        """The waiting queue of ``department`` (every department when None), oldest first,
        at most ``limit``."""
        return await self._threads.waiting(department, limit=limit)

    async def queue(self, department: str | None = None, limit: int | None = None) -> list[Queued]:
        """The waiting queue of ``department`` (every department when None) as ``queue`` and
        claim-next order it: due first, then oldest (``bot.sla.queue``), each with its badge."""
        return await due_first(self._threads, department, limit)

    async def held_by(self, person: Person) -> list[Thread]:
        return await self._threads.held_by(person)

    async def home(self, person: Person, departments: Sequence[Department]) -> Home:
        waiting = [(d, await due_first(self._threads, d.name)) for d in departments]
        return Home(await self._threads.held_by(person), waiting)

    def departments(self) -> list[Department]:
        """The directory, in configured order."""
        return list(self._threads.directory)

    def department(self, name: str) -> Department:
        """A department by name, label or channel; ``UnknownDepartment`` says the closest."""
        return self._threads.directory.get(name)

    async def mentions(self, thread: Thread) -> list[Mention]:
        """The thread's mentions, oldest first."""
        return await self._threads.store.mentions(thread.id)

    async def card(self, thread: Thread, placement: int | None = None) -> Card:
        """The card of ``thread`` (of an earlier ``placement``: the moved-on card)."""
        return await self._render(thread, placement)

    async def card_refs(self, thread: Thread) -> list[CardRef]:
        return list((await self._cards.card_refs(thread.id)).values())

    async def draft(self, draft_id: str) -> Draft:
        return await self._drafts.load(draft_id)

    async def earlier_reply(self, thread_id: str, text: str) -> Intent | None:
        """The same text already sent (or being sent) on the thread in the intent window,
        so a composer can warn before sending it again."""
        return await earlier(self.lookups, thread_id, text)

    def reply_limit(self, thread: Thread) -> ReplyLimit | None:
        """How the thread's network measures a reply; None for a read-only source."""
        try:
            return self._replies.source_for(thread).reply_limit()
        except SwitchboardError:
            return None

    # permissions --------------------------------------------------------------------------
    async def check_reply(
        self, thread: Thread, actor: Person, text: str, *, is_member: bool | None
    ) -> None:
        """Raise what makes ``text`` unpostable by ``actor`` now (guest, resolved,
        read-only, too long, the ``members`` policy), so a composer can say why early."""
        await self._replies.check(thread, actor, text)
        dept = self.department(thread.department)
        if dept.reply_policy == "members" and is_member is False:
            raise NotAllowed(
                f"Only members of {dept.label} may reply publicly to its threads; "
                "transfer it or ask them."
            )

    def needs_approval(self, thread: Thread) -> bool:
        return self.department(thread.department).reply_policy == "approval"
