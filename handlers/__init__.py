"""Handlers: one small, platform-free function per verb, dispatched in one place."""

from __future__ import annotations

from bot.actions import Verb
from bot.errors import SwitchboardError
from bot.interaction import Interaction, Response
from handlers import claim, directory, drafts, note, reply, report, resolve, transfer
from handlers.base import Context, Handler

__all__ = ["HANDLERS", "Context", "dispatch"]

HANDLERS: dict[Verb, Handler] = {
    Verb.CLAIM: claim.claim,
    Verb.RELEASE: claim.release,
    Verb.TAKE_OVER: claim.take_over,
    Verb.NOTE: note.note,
    Verb.REPLY: reply.reply,
    Verb.TRANSFER: transfer.transfer,
    Verb.SEND_BACK: transfer.send_back,
    Verb.RESOLVE: resolve.resolve,
    Verb.SPAM: resolve.spam,
    Verb.SHOW: directory.show,
    Verb.DIRECTORY: directory.directory,
    Verb.MINE: directory.mine,
    Verb.QUEUE: directory.queue,
    Verb.HELP: directory.help_,
    Verb.REPORT: report.report,
    Verb.DRAFT: drafts.draft,
    Verb.SEND_DRAFT: drafts.send_draft,
    Verb.APPROVE: drafts.approve,
    Verb.REJECT: drafts.reject,
}
"""The verb table: every verb any surface can ask for, and the one function that does it."""


async def dispatch(ctx: Context, interaction: Interaction) -> Response:
    """Run the verb's handler; product errors become a private explanation."""
    try:
        return await HANDLERS[interaction.verb](ctx, interaction)
    except SwitchboardError as exc:
        return Response(exc.user_text(), ok=False)
