"""What every handler receives: the services, and nothing platform-specific."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain import Thread
from bot.drafts import DraftService
from bot.interaction import Interaction, Response
from bot.replies import ReplyService
from bot.service import ThreadService


@dataclass(frozen=True)
class Context:
    threads: ThreadService
    replies: ReplyService
    drafts: DraftService


Handler = Callable[[Context, Interaction], Awaitable[Response]]


async def target(ctx: Context, interaction: Interaction) -> Thread:
    """The thread the interaction is about: the named one or the actor's active thread."""
    return await ctx.threads.find(interaction.thread_ref, interaction.actor)


def done(text: str, thread: Thread) -> Response:
    return Response(text=text, thread=thread)


def link(url: str) -> str:
    return f" {url}" if url else ""
