"""Public replies: policy first, then exactly-once posting through the reply service."""

from __future__ import annotations

import hashlib

from bot.errors import NotAllowed
from bot.interaction import Interaction, Response
from handlers.base import Context, done, target


def default_key(interaction: Interaction, thread_id: str) -> str:
    """Same person, same thread, same text: the same reply (a retried command)."""
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
    if department.reply_policy == "approval" and not interaction.key.startswith("approval:"):
        raise NotAllowed(
            f"Public replies for {department.label} need an approver: draft it with the "
            "card's Reply button so a colleague can approve it."
        )
    key = interaction.key or default_key(interaction, thread.id)
    record = await ctx.replies.reply(
        thread.id, interaction.actor, interaction.text, key, interaction.surface
    )
    link = f" {record.url}" if record.url else ""
    return done(f"Replied publicly on {thread.short_id}.{link}", thread)
