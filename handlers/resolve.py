"""Resolve, and mark as spam."""

from __future__ import annotations

from bot.interaction import Interaction, Response
from handlers.base import Context, done, target


async def resolve(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    thread = await ctx.threads.resolve(thread.id, interaction.actor, interaction.surface)
    return done(f"Resolved {thread.short_id}.", thread)


async def spam(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    thread = await ctx.threads.resolve(thread.id, interaction.actor, interaction.surface, spam=True)
    return done(f"Marked {thread.short_id} as spam.", thread)
