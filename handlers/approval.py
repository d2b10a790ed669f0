"""Draft public replies: recorded first, posted later by an explicit second act.

A draft is a ``REPLY_REQUESTED`` audit event holding the text. Under the ``approval`` reply
policy another member of the department approves it (or rejects it); for a reply typed as a
chat command, its author confirms it. Either way the post goes through ``ReplyService.reply``
under a key derived from the draft, so a second approve or a double click never posts twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import AuditEvent, EventKind, Person, ReplyStatus, Thread
from bot.errors import NotAllowed, ReplyInProgress, SwitchboardError
from bot.interaction import Interaction, Response
from bot.service import new_id
from handlers.base import Context, done, target

DECISION_LEASE_SECONDS = 7 * 24 * 3600.0
APPROVED = "approved"
REJECTED = "rejected"


@dataclass(frozen=True)
class Draft:
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


def approval_key(draft_id: str) -> str:
    return f"approval:{draft_id}"


async def request(ctx: Context, interaction: Interaction, *, approval: bool) -> Draft:
    """Record ``interaction.text`` as a draft reply on the target thread.

    Refuses early what could never be posted (guest, resolved, read-only, too long) and claims
    the thread for the author. ``interaction.key`` makes it idempotent: the same key a second
    time is refused instead of making a second draft."""
    thread = await target(ctx, interaction)
    await ctx.replies.check(thread, interaction.actor, interaction.text)
    thread = await ctx.threads.claim(thread.id, interaction.actor, interaction.surface)
    draft_id = new_id()
    if interaction.key and not await ctx.threads.store.acquire_lease(
        f"draft:{interaction.key}", draft_id, DECISION_LEASE_SECONDS
    ):
        raise SwitchboardError("That draft was already recorded; it is not sent twice.")
    event = AuditEvent(
        id=draft_id,
        thread_id=thread.id,
        kind=EventKind.REPLY_REQUESTED,
        actor=interaction.actor,
        at=ctx.threads.clock(),
        surface=interaction.surface,
        data={"text": interaction.text, "approval": approval, "key": interaction.key},
    )
    await ctx.threads.store.append_event(event, notify=False)
    await ctx.threads.store.set_active(interaction.actor.key, thread.id)
    return Draft(event, thread)


async def load(ctx: Context, draft_id: str) -> Draft:
    event = await ctx.threads.store.get_event(draft_id)
    if event is None or event.kind is not EventKind.REPLY_REQUESTED or event.actor is None:
        raise SwitchboardError("That draft no longer exists.")
    return Draft(event, await ctx.threads.find(event.thread_id))


async def _decision(ctx: Context, draft: Draft) -> str | None:
    for event in await ctx.threads.store.events(draft.thread.id):
        if event.kind is EventKind.NOTE and event.data.get("draft") == draft.id:
            return str(event.data.get("decision", ""))
    return None


async def _decide(ctx: Context, draft: Draft, decision: str) -> None:
    earlier = await _decision(ctx, draft)
    if earlier is not None and earlier != decision:
        raise SwitchboardError(f"That draft was already {earlier}.")
    name = approval_key(draft.id)
    if not await ctx.threads.store.acquire_lease(name, decision, DECISION_LEASE_SECONDS):
        other = REJECTED if decision == APPROVED else APPROVED
        raise SwitchboardError(f"That draft is already being {other}.")


async def _record(
    ctx: Context, draft: Draft, actor: Person, surface: str, text: str, **data: str
) -> None:
    event = AuditEvent(
        id=new_id(),
        thread_id=draft.thread.id,
        kind=EventKind.NOTE,
        actor=actor,
        at=ctx.threads.clock(),
        surface=surface,
        data={"text": text, "draft": draft.id, **data},
    )
    await ctx.threads.store.append_event(event)


def _may_decide(ctx: Context, draft: Draft, actor: Person, is_member: bool | None) -> None:
    label = ctx.threads.directory.get(draft.thread.department).label
    if actor.is_guest:
        raise NotAllowed("Guests cannot approve public replies.")
    if is_member is False:
        raise NotAllowed(f"Only members of {label} may approve its public replies.")


async def _first(ctx: Context, draft: Draft, decision: str) -> bool:
    """True for exactly one of several people deciding the same way at once."""
    name = f"{approval_key(draft.id)}:{decision}:recorded"
    return await ctx.threads.store.acquire_lease(name, new_id(), DECISION_LEASE_SECONDS)


async def approve(
    ctx: Context, draft_id: str, actor: Person, *, surface: str, is_member: bool | None
) -> Response:
    """Post an approval draft publicly, exactly once. Approving it again posts nothing and
    is answered as a refusal (``ok=False``) saying it was already approved."""
    draft = await load(ctx, draft_id)
    if not draft.needs_approval:
        raise SwitchboardError("That draft does not need approval; its author sends it.")
    if draft.author.key == actor.key:
        raise NotAllowed("You cannot approve your own draft; another member has to.")
    _may_decide(ctx, draft, actor, is_member)
    if await _decision(ctx, draft) == APPROVED:
        return Response("That draft was already approved; it was posted once.", ok=False)
    await _decide(ctx, draft, APPROVED)
    key = approval_key(draft.id)
    try:
        record = await ctx.replies.reply(draft.thread.id, draft.author, draft.text, key, surface)
    except ReplyInProgress:
        raise
    except SwitchboardError:
        failed = await ctx.threads.store.get_reply(key)
        if failed is None or failed.status is ReplyStatus.FAILED:
            await ctx.threads.store.release_lease(key, APPROVED)
        raise
    if not await _first(ctx, draft, APPROVED):
        return Response("That draft was already approved; it was posted once.", ok=False)
    who = draft.author.label
    text = f"Approved the reply drafted by {who}"
    await _record(ctx, draft, actor, surface, text, decision=APPROVED)
    link = f" {record.url}" if record.url else ""
    return done(f"Approved; replied publicly on {draft.thread.short_id}.{link}", draft.thread)


async def reject(
    ctx: Context, draft_id: str, actor: Person, *, surface: str, is_member: bool | None
) -> Response:
    """Drop a draft (its author may withdraw their own); it can no longer be posted."""
    draft = await load(ctx, draft_id)
    own = draft.author.key == actor.key
    if not own:
        _may_decide(ctx, draft, actor, is_member)
    if await _decision(ctx, draft) == REJECTED:
        return Response("That draft was already rejected.", ok=False)
    await _decide(ctx, draft, REJECTED)
    if not await _first(ctx, draft, REJECTED):
        return Response("That draft was already rejected.", ok=False)
    text = (
        "Withdrew a draft reply" if own else f"Rejected the reply drafted by {draft.author.label}"
    )
    await _record(ctx, draft, actor, surface, text, decision=REJECTED)
    return done(f"Rejected the draft on {draft.thread.short_id}; nothing was posted.", draft.thread)


async def send(
    ctx: Context, draft_id: str, actor: Person, *, surface: str, is_member: bool | None
) -> Response:
    """Its author confirms a draft that needs no approval: posted once per draft."""
    draft = await load(ctx, draft_id)
    if draft.needs_approval:
        raise NotAllowed("This draft is waiting for approval; an approver sends it.")
    if draft.author.key != actor.key:
        raise NotAllowed(f"Only {draft.author.label} can send this draft.")
    department = ctx.threads.directory.get(draft.thread.department)
    if department.reply_policy == "members" and is_member is False:
        raise NotAllowed(f"Only members of {department.label} may reply publicly to its threads.")
    if department.reply_policy == "approval":
        raise NotAllowed(f"Replies for {department.label} need approval; use the Reply button.")
    record = await ctx.replies.reply(
        draft.thread.id, actor, draft.text, f"draft:{draft.id}", surface
    )
    link = f" {record.url}" if record.url else ""
    return done(f"Replied publicly on {draft.thread.short_id}.{link}", draft.thread)
