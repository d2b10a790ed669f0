"""Public replies: policy first, then exactly-once posting through the reply service.

Under the ``approval`` policy a reply becomes a draft for the department's approvers, on
every surface; the approved draft is posted by ``handlers.drafts.approve``.

A direct reply is posted once per composer key and once per intent: the same text on the
same thread within ten minutes is refused ("already sent by …") unless the composer's key
is ``bot.intent.again_key(...)`` (the person confirmed sending it again).
"""

from __future__ import annotations

import hashlib

from bot.errors import NotAllowed
from bot.interaction import Interaction, Response
from handlers.base import Context, link, target


def default_key(interaction: Interaction, thread_id: str) -> str:
    """Same person, same thread, same text: the same draft (a retried command)."""
    digest = hashlib.sha256(
        f"{thread_id}\x1f{interaction.actor.key}\x1f{interaction.text}".encode()
    ).hexdigest()
    return f"{interaction.surface}:{digest[:32]}"


async def reply(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    department = ctx.threads.directory.get(thread.department)
    if department.reply_policy == "members" and interaction.is_member is False:
        raise NotAllowed(
            f"Only members of {department.label} may reply publicly to its threads; "
            "transfer it or ask them."
        )
    if department.reply_policy == "approval":
        key = interaction.key or default_key(interaction, thread.id)
        draft = await ctx.drafts.request(
            thread, interaction.actor, interaction.text, key, interaction.surface, approval=True
        )
        text = f"Your reply on {thread.short_id} is waiting for approval by {department.label}."
        return Response(text, thread=draft.thread, draft=draft)
    record = await ctx.replies.reply(
        thread.id, interaction.actor, interaction.text, interaction.key, interaction.surface
    )
    return Response(
        f"Replied publicly on {thread.short_id}.{link(record.url)}", thread=thread, reply=record
    )
