"""Messages in a card's Slack thread (internal notes) and ``@switchboard …`` commands.

A plain message under a card is recorded as an internal note; it never goes public. Bot
messages (our own activity lines included) and edits are ignored. ``@switchboard reply …``
in a card's thread makes a draft its author confirms with a button; other commands
(``@switchboard claim``, ``transfer support …``) act on the card's thread.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.actions import Verb
from bot.commands import CommandError, parse
from bot.errors import SwitchboardError
from bot.interaction import Interaction
from bot.surfaces.slack import drafts
from bot.surfaces.slack.inbound import SlackInbound, to_plain

log = logging.getLogger(__name__)
NOTE_SUBTYPES = (None, "thread_broadcast", "file_share")
EVENTS = ("message", "app_mention")


def _bot_mention(bot_user_id: str) -> re.Pattern[str]:
    return re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")


async def record_note(inbound: SlackInbound, event: dict[str, Any], bot_id: str) -> None:
    channel, parent = str(event["channel"]), str(event["thread_ts"])
    thread_id = await inbound.thread_at(channel, parent, bot_id)
    if thread_id is None:
        return
    actor = await inbound.actor(str(event["user"]))
    text = to_plain(str(event.get("text") or "")).strip() or "(attachment)"
    note = Interaction(inbound.surface.name, actor, Verb.NOTE, thread_ref=thread_id, text=text)
    response = await inbound.desk.handle(note)
    if not response.ok:
        log.info("note in %s/%s not recorded: %s", channel, parent, response.text)


async def mention_command(
    inbound: SlackInbound, event: dict[str, Any], bot_id: str, bot_user_id: str
) -> None:
    channel = str(event["channel"])
    user = str(event["user"])
    parent = str(event.get("thread_ts") or "")
    text = to_plain(_bot_mention(bot_user_id).sub("", str(event.get("text") or ""))).strip()
    thread_id = await inbound.thread_at(channel, parent, bot_id) if parent else None
    actor = await inbound.actor(user)
    try:
        interaction = parse(
            text or "help",
            inbound.surface.name,
            actor,
            channel_department=inbound.channel_department(channel),
        )
    except CommandError as exc:
        await inbound.tell(user, str(exc), channel=channel, thread_ts=parent)
        return
    if interaction.thread_ref is None and thread_id is not None:
        interaction = Interaction(
            interaction.surface,
            actor,
            interaction.verb,
            thread_ref=thread_id,
            department=interaction.department,
            text=interaction.text,
            channel_department=interaction.channel_department,
        )
    if interaction.verb is Verb.REPLY:
        await _draft_reply(inbound, interaction, event, channel, parent)
        return
    lookup = interaction.verb in (Verb.DIRECTORY, Verb.MINE, Verb.QUEUE, Verb.SHOW, Verb.HELP)
    await inbound.run(interaction, channel=channel, thread_ts=parent, tell_ok=True, code=lookup)


async def _draft_reply(
    inbound: SlackInbound,
    interaction: Interaction,
    event: dict[str, Any],
    channel: str,
    parent: str,
) -> None:
    """A reply typed in chat is never posted at once: it becomes a draft its author
    confirms (or, under the ``approval`` policy, one for the approvers)."""
    user = interaction.actor.id
    key = f"slack:mention:{event.get('client_msg_id') or event.get('ts')}"
    try:
        thread = await inbound.desk.thread(interaction.thread_ref, interaction.actor)
    except SwitchboardError as exc:
        await inbound.tell(user, exc.user_text(), channel=channel, thread_ts=parent)
        return
    keyed = dataclasses.replace(
        interaction,
        verb=Verb.DRAFT,
        thread_ref=thread.id,
        key=key,
        is_member=await inbound.member_flag(user, thread.department),
    )
    response = await inbound.run(keyed, channel=channel, thread_ts=parent)
    if response.ok and response.draft is not None:
        await drafts.show(inbound, response, channel, parent)


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def message(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("subtype") not in NOTE_SUBTYPES or event.get("bot_id"):
            return
        parent, user = event.get("thread_ts"), event.get("user")
        if not parent or parent == event.get("ts") or not user or not event.get("channel"):
            return
        bot_user_id = context.bot_user_id or ""
        if bot_user_id and _bot_mention(bot_user_id).search(str(event.get("text") or "")):
            return
        if await inbound.first_delivery(body):
            inbound.spawn(record_note(inbound, event, context.bot_id or ""), "note")

    async def app_mention(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        if await inbound.first_delivery(body):
            work = mention_command(inbound, event, context.bot_id or "", context.bot_user_id or "")
            inbound.spawn(work, "mention")

    for name, listener in zip(EVENTS, (message, app_mention), strict=True):
        bolt.event(name)(listener)
