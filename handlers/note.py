"""Internal notes: recorded on the thread, never public."""

from __future__ import annotations

from bot.interaction import Interaction, Response
from handlers.base import Context, done, target


async def note(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    await ctx.threads.note(thread.id, interaction.actor, interaction.text, interaction.surface)
    return done(f"Note added to {thread.short_id} (internal).", thread)
