"""Slash commands: ``/claim [T-12]``, ``/transfer [T-12] <department> [@person] [note]``,
``/resolve [T-12]`` and ``/switchboard directory|mine|queue|show|report|help``.

Acked at once; the answer comes back as an ephemeral message in the same channel.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import Verb
from bot.commands import CommandError, parse, parse_args
from bot.interaction import Interaction
from bot.surfaces.slack.inbound import SlackInbound, to_plain

SLASH_COMMANDS = {
    "/claim": Verb.CLAIM,
    "/transfer": Verb.TRANSFER,
    "/resolve": Verb.RESOLVE,
    "/switchboard": None,
}
USAGE = {
    Verb.CLAIM: "/claim [T-12]",
    Verb.TRANSFER: "/transfer [T-12] <department> [@person] [note]",
    Verb.RESOLVE: "/resolve [T-12]",
}
LOOKUPS = {Verb.DIRECTORY, Verb.MINE, Verb.QUEUE, Verb.SHOW, Verb.HELP, Verb.REPORT}
SWITCHBOARD_USAGE = (
    "/switchboard directory | mine | queue [department] | show T-12 | report [department] [7d]"
    " | help"
)
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>\s*")


async def interpret(inbound: SlackInbound, command: dict[str, Any]) -> Interaction:
    """The command as an ``Interaction``; CommandError says how to write it."""
    name = str(command.get("command", ""))
    text = str(command.get("text") or "").strip()
    channel = str(command.get("channel_id") or "")
    actor = await inbound.actor(str(command["user_id"]))
    extra = {
        "channel_department": inbound.channel_department(
            channel, str(command.get("channel_name") or "")
        )
    }
    surface = inbound.surface.name
    verb = SLASH_COMMANDS.get(name)
    if verb is None:
        interaction = parse(text or "help", surface, actor, **extra)
        if interaction.verb not in LOOKUPS:
            raise CommandError(f"Usage: {SWITCHBOARD_USAGE}")
        return interaction
    interaction = parse_args(verb, text, surface, actor, **extra)
    if verb in (Verb.CLAIM, Verb.RESOLVE) and interaction.text:
        raise CommandError(f"Usage: {USAGE[verb]}")
    if verb is Verb.TRANSFER:
        return await _transfer(inbound, interaction)
    return interaction


async def _transfer(inbound: SlackInbound, interaction: Interaction) -> Interaction:
    department = interaction.department or ""
    channel = _CHANNEL.match(department)
    if channel:
        found = inbound.channel_department(channel.group(1), channel.group(2) or "")
        department = found or (channel.group(2) or channel.group(1))
    note = interaction.text
    to_person = None
    person = _USER.match(note)
    if person:
        to_person = await inbound.person(person.group(1))
        if to_person is None:
            raise CommandError("I cannot find that person in this workspace.")
        note = note[person.end() :]
    return Interaction(
        interaction.surface,
        interaction.actor,
        Verb.TRANSFER,
        thread_ref=interaction.thread_ref,
        department=to_plain(department),
        text=to_plain(note).strip(),
        channel_department=interaction.channel_department,
        to_person=to_person,
    )


async def answer(inbound: SlackInbound, command: dict[str, Any]) -> None:
    user = str(command["user_id"])
    channel = str(command.get("channel_id") or "")
    try:
        interaction = await interpret(inbound, command)
    except CommandError as exc:
        await inbound.tell(user, str(exc), channel=channel)
        return
    lookup = interaction.verb in LOOKUPS
    await inbound.run(interaction, channel=channel, tell_ok=True, code=lookup)


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def slash(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        inbound.spawn(answer(inbound, command), f"command {command.get('command')}")

    for name in SLASH_COMMANDS:
        bolt.command(name)(slash)
