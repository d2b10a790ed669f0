"""Claim (or pick up the next call in the queue: the first ``queue`` lists, due first), release,
take over."""

from __future__ import annotations

from bot.interaction import Interaction, Response
from bot.sla.queue import due_first
from handlers.base import Context, done, target


async def claim(ctx: Context, interaction: Interaction) -> Response:
    if interaction.thread_ref is None and interaction.channel_department:
        first = await due_first(ctx.threads, interaction.channel_department, limit=1)
        if not first:
            return Response("Nothing is waiting in this queue.", ok=False)
        ref = first[0].thread.id
    else:
        ref = (await target(ctx, interaction)).id
    thread = await ctx.threads.claim(ref, interaction.actor, interaction.surface)
    return done(f"You have {thread.short_id}.", thread)


async def release(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    thread = await ctx.threads.release(thread.id, interaction.actor, interaction.surface)
    return done(f"Released {thread.short_id}; it is back in the queue.", thread)


async def take_over(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    thread = await ctx.threads.take_over(thread.id, interaction.actor, interaction.surface)
    return done(f"You took over {thread.short_id}.", thread)
