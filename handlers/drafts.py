"""Drafts: record a public reply to confirm or approve, send it, approve it, reject it.

The rules live in ``bot.drafts.DraftService``; these verbs only say what happened.
"""

from __future__ import annotations

from bot.errors import NotAllowed
from bot.intent import is_again
from bot.interaction import Interaction, Response
from handlers.base import Context, link, target


async def _draft_id(ctx: Context, interaction: Interaction) -> str:
    """The named draft, or the one waiting for approval on the named (or active) thread."""
    if interaction.draft_id:
        return interaction.draft_id
    return (await ctx.drafts.waiting_on(await target(ctx, interaction))).id


async def draft(ctx: Context, interaction: Interaction) -> Response:
    """A reply typed as a chat command: a draft its author confirms, or, under the
    ``approval`` policy, a draft for the department's approvers."""
    thread = await target(ctx, interaction)
    dept = ctx.threads.directory.get(thread.department)
    approval = dept.reply_policy == "approval"
    if dept.reply_policy == "members" and interaction.is_member is False:
        raise NotAllowed(
            f"Only members of {dept.label} may reply publicly to its threads; "
            "transfer it or ask them."
        )
    recorded = await ctx.drafts.request(
        thread,
        interaction.actor,
        interaction.text,
        interaction.key,
        interaction.surface,
        approval=approval,
    )
    text = (
        f"Your reply on {thread.short_id} is waiting for approval by {dept.label}."
        if approval
        else f"Confirm your public reply on {thread.short_id}."
    )
    return Response(text, thread=recorded.thread, draft=recorded)


async def send_draft(ctx: Context, interaction: Interaction) -> Response:
    recorded, reply = await ctx.drafts.send(
        await _draft_id(ctx, interaction),
        interaction.actor,
        surface=interaction.surface,
        is_member=interaction.is_member,
        again=is_again(interaction.key),
    )
    text = f"Replied publicly on {recorded.thread.short_id}.{link(reply.url)}"
    return Response(text, thread=recorded.thread, draft=recorded, reply=reply)


async def approve(ctx: Context, interaction: Interaction) -> Response:
    recorded, reply = await ctx.drafts.approve(
        await _draft_id(ctx, interaction),
        interaction.actor,
        surface=interaction.surface,
        is_member=interaction.is_member,
    )
    text = f"Approved; replied publicly on {recorded.thread.short_id}.{link(reply.url)}"
    return Response(text, thread=recorded.thread, draft=recorded, reply=reply)


async def reject(ctx: Context, interaction: Interaction) -> Response:
    recorded = await ctx.drafts.reject(
        await _draft_id(ctx, interaction),
        interaction.actor,
        surface=interaction.surface,
        is_member=interaction.is_member,
    )
    text = f"Rejected the draft on {recorded.thread.short_id}; nothing was posted."
    return Response(text, thread=recorded.thread, draft=recorded)
