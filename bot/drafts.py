"""Draft public replies: recorded first, posted later by an explicit second act.

A draft is a ``REPLY_REQUESTED`` audit event holding the text. Under the ``approval`` reply
policy another member of the department approves it (or rejects it); a reply typed as a chat
command is confirmed by its author. Either way the post goes through ``ReplyService.reply``
under a key derived from the draft, so a second approve or a double click never posts twice.

Decisions live in the key-value port (``draft.*`` namespaces), never in leases or by scanning
the audit log; every event is made by the thread service's one event helper.
"""

from __future__ import annotations

from bot.domain import Draft, EventKind, Person, ReplyRecord, ReplyStatus, Thread
from bot.errors import NotAllowed, ReplyInProgress, SwitchboardError
from bot.intent import again_key
from bot.replies import ReplyService
from bot.service import ThreadService, new_id
from bot.storage import DRAFT_DECISION as DECISIONS
from bot.storage import DRAFT_KEY as KEYS
from bot.storage import DRAFT_PENDING as PENDING
from bot.storage import DRAFT_RECORDED as RECORDED
from bot.storage import KeyValue

APPROVED = "approved"
REJECTED = "rejected"
SENT = "sent"
"""Decisions: approved (by a colleague), rejected (or withdrawn), sent (by its author)."""
DRAFT_TTL_SECONDS = 30 * 24 * 3600.0
"""How long a draft's idempotency key and decision are kept (the audit log keeps them all)."""


class AlreadyDecided(SwitchboardError):
    """The draft was already approved or rejected; nothing more happens."""


def approval_key(draft_id: str) -> str:
    """The reply-ledger key an approved draft is posted under."""
    return f"approval:{draft_id}"


def confirm_key(draft_id: str) -> str:
    """The reply-ledger key a draft confirmed by its author is posted under."""
    return f"draft:{draft_id}"


class DraftService:
    """Drafts and their approval, beside the reply service that finally posts them."""

    def __init__(self, threads: ThreadService, replies: ReplyService, kv: KeyValue) -> None:
        self.threads = threads
        self.replies = replies
        self.kv = kv

    async def request(
        self, thread: Thread, actor: Person, text: str, key: str, surface: str, *, approval: bool
    ) -> Draft:
        """Record ``text`` as a draft reply on ``thread`` and claim it for its author.

        Refuses early what could never be posted (guest, resolved, read-only, too long).
        The same ``key`` a second time is refused instead of making a second draft."""
        await self.replies.check(thread, actor, text)
        thread = await self.threads.claim(thread.id, actor, surface)
        draft_id = new_id()
        if key and not await self.kv.kv_put_if_absent(KEYS, key, draft_id, ttl=DRAFT_TTL_SECONDS):
            raise SwitchboardError("That draft was already recorded; it is not sent twice.")
        event = await self.threads.record(
            thread,
            EventKind.REPLY_REQUESTED,
            actor,
            surface,
            notify=False,
            event_id=draft_id,
            text=text,
            approval=approval,
            key=key,
        )
        await self.kv.kv_put(PENDING, thread.id, draft_id, ttl=DRAFT_TTL_SECONDS)
        return Draft(event, thread)

    async def waiting_on(self, thread: Thread) -> Draft:
        """The latest undecided draft on ``thread`` (``approve T-12`` typed in a chat)."""
        draft_id = await self.kv.kv_get(PENDING, thread.id)
        if draft_id is None:
            raise SwitchboardError(f"No draft is waiting on {thread.short_id}.")
        return await self.load(draft_id)

    async def load(self, draft_id: str) -> Draft:
        event = await self.threads.store.get_event(draft_id)
        if event is None or event.kind is not EventKind.REPLY_REQUESTED or event.actor is None:
            raise SwitchboardError("That draft no longer exists.")
        return Draft(event, await self.threads.find(event.thread_id))

    async def decision(self, draft_id: str) -> str | None:
        return await self.kv.kv_get(DECISIONS, draft_id)

    async def approve(
        self, draft_id: str, actor: Person, *, surface: str, is_member: bool | None
    ) -> tuple[Draft, ReplyRecord]:
        """Post an approval draft publicly, exactly once; approving again is refused
        (``AlreadyDecided``) saying it was already approved."""
        draft = await self.load(draft_id)
        if not draft.needs_approval:
            raise SwitchboardError("That draft does not need approval; its author sends it.")
        if draft.author.key == actor.key:
            raise NotAllowed("You cannot approve your own draft; another member has to.")
        self._may_decide(draft, actor, is_member)
        if await self._recorded(draft, APPROVED):
            raise AlreadyDecided("That draft was already approved; it was posted once.")
        await self._decide(draft, APPROVED)
        key = approval_key(draft.id)
        try:
            record = await self.replies.reply(
                draft.thread.id, draft.author, draft.text, key, surface
            )
        except ReplyInProgress:
            raise
        except SwitchboardError:
            await self._undecide_unless_posted(draft, key)
            raise
        if not await self._first(draft, APPROVED):
            raise AlreadyDecided("That draft was already approved; it was posted once.")
        text = f"Approved the reply drafted by {draft.author.label}"
        await self._clear_pending(draft)
        await self._event(draft, EventKind.DRAFT_APPROVED, actor, surface, text, APPROVED)
        return draft, record

    async def reject(
        self, draft_id: str, actor: Person, *, surface: str, is_member: bool | None
    ) -> Draft:
        """Drop a draft (its author may withdraw their own); it can no longer be posted."""
        draft = await self.load(draft_id)
        own = draft.author.key == actor.key
        if not own:
            self._may_decide(draft, actor, is_member)
        if await self._recorded(draft, REJECTED):
            raise AlreadyDecided("That draft was already rejected.")
        await self._decide(draft, REJECTED)
        if not await self._first(draft, REJECTED):
            raise AlreadyDecided("That draft was already rejected.")
        text = (
            "Withdrew a draft reply"
            if own
            else f"Rejected the reply drafted by {draft.author.label}"
        )
        await self._clear_pending(draft)
        await self._event(draft, EventKind.DRAFT_REJECTED, actor, surface, text, REJECTED)
        return draft

    async def send(
        self,
        draft_id: str,
        actor: Person,
        *,
        surface: str,
        is_member: bool | None,
        again: bool = False,
    ) -> tuple[Draft, ReplyRecord]:
        """Its author confirms a draft that needs no approval: posted once per draft.
        ``again``: the author confirmed sending text the thread already got (``AlreadySent``)."""
        draft = await self.load(draft_id)
        if draft.needs_approval:
            raise NotAllowed("This draft is waiting for approval; an approver sends it.")
        if draft.author.key != actor.key:
            raise NotAllowed(f"Only {draft.author.label} can send this draft.")
        department = self.threads.directory.get(draft.thread.department)
        if department.reply_policy == "members" and is_member is False:
            raise NotAllowed(
                f"Only members of {department.label} may reply publicly to its threads."
            )
        if department.reply_policy == "approval":
            raise NotAllowed(f"Replies for {department.label} need approval; use the Reply button.")
        await self._decide(draft, SENT)
        key = again_key(confirm_key(draft.id)) if again else confirm_key(draft.id)
        try:
            record = await self.replies.reply(draft.thread.id, actor, draft.text, key, surface)
        except ReplyInProgress:
            raise
        except SwitchboardError:
            await self._undecide_unless_posted(draft, key)
            raise
        await self._clear_pending(draft)
        return draft, record

    # machinery ---------------------------------------------------------------------------
    def _may_decide(self, draft: Draft, actor: Person, is_member: bool | None) -> None:
        label = self.threads.directory.get(draft.thread.department).label
        if actor.is_guest:
            raise NotAllowed("Guests cannot approve public replies.")
        if is_member is False:
            raise NotAllowed(f"Only members of {label} may approve its public replies.")

    async def _decide(self, draft: Draft, decision: str) -> None:
        """Fix the decision once; deciding the same way again (a retry) is allowed."""
        taken = await self.kv.kv_put_if_absent(DECISIONS, draft.id, decision, ttl=DRAFT_TTL_SECONDS)
        if taken:
            return
        earlier = await self.decision(draft.id)
        if earlier is not None and earlier != decision:
            raise AlreadyDecided(f"That draft was already {earlier}.")

    async def _undecide_unless_posted(self, draft: Draft, key: str) -> None:
        """Nothing went out (the network refused): the decision is lifted so it may retry."""
        failed = await self.replies.record(key)
        if failed is None or failed.status is ReplyStatus.FAILED:
            await self.kv.kv_delete(DECISIONS, draft.id)

    async def _clear_pending(self, draft: Draft) -> None:
        if await self.kv.kv_get(PENDING, draft.thread.id) == draft.id:
            await self.kv.kv_delete(PENDING, draft.thread.id)

    async def _recorded(self, draft: Draft, decision: str) -> bool:
        return await self.kv.kv_get(RECORDED, f"{draft.id}:{decision}") is not None

    async def _first(self, draft: Draft, decision: str) -> bool:
        """True for exactly one of several people deciding the same way at once."""
        return await self.kv.kv_put_if_absent(
            RECORDED, f"{draft.id}:{decision}", "1", ttl=DRAFT_TTL_SECONDS
        )

    async def _event(
        self, draft: Draft, kind: EventKind, actor: Person, surface: str, text: str, decision: str
    ) -> None:
        await self.threads.record(
            draft.thread,
            kind,
            actor,
            surface,
            text=text,
            draft=draft.id,
            decision=decision,
            author=draft.author.label,
        )
