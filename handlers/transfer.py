"""Transfer to a department (or a person there), and send back."""

from __future__ import annotations

from bot.interaction import Interaction, Response
from handlers.base import Context, done, target


async def transfer(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    if not interaction.department:
        names = ", ".join(ctx.threads.directory.names())
        return Response(f"Transfer to which department? {names}", ok=False)
    thread = await ctx.threads.transfer(
        thread.id,
        interaction.actor,
        interaction.department,
        interaction.text,
        to_person=interaction.to_person,
        surface=interaction.surface,
    )
    label = ctx.threads.directory.get(thread.department).label
    who = f" ({interaction.to_person.label})" if interaction.to_person else ""
    return done(f"Transferred {thread.short_id} to {label}{who}.", thread)


async def send_back(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    thread = await ctx.threads.send_back(
        thread.id, interaction.actor, interaction.text, interaction.surface
    )
    label = ctx.threads.directory.get(thread.department).label
    return done(f"Sent {thread.short_id} back to {label}.", thread)
