"""The shell surface (``switchboard demo``): cards printed readably in a terminal, and the
typed commands run through the desk.

A reply the thread already got from someone else in the last ten minutes is refused with
"already sent by …" (``bot.intent``); the shell then says how to send it anyway: ``again``
re-sends the refused reply, or ``reply T-12 --again <text>`` says so up front. Both go to the
desk as a reply keyed with ``bot.intent.again_key``, like Slack's and Teams' confirm buttons.
"""

from __future__ import annotations

import dataclasses
import textwrap
import uuid
from typing import TextIO

from bot.actions import Verb
from bot.commands import CommandError, parse
from bot.desk import Desk
from bot.domain import CardRef, Person
from bot.errors import SwitchboardError
from bot.intent import again_key
from bot.interaction import Interaction
from bot.ports import Alert, Card
from bot.untrusted import neutralize

AGAIN_FLAG = "--again"
ALREADY_SENT = "That reply was already sent by"


def clean(text: str) -> str:
    """Untrusted text for a terminal: no escape sequences, no bidi overrides, nothing hidden."""
    return neutralize(text, "\ufffd")


def render_text(card: Card, width: int = 78) -> str:
    author = clean(card.author_name or card.author_handle)
    handle = clean(card.author_handle)
    owner = f" · owner {clean(card.owner)}" if card.owner else ""
    head = (
        f"┌ {card.short_id} · {card.network} · {card.department_title} · "
        f"{card.state.upper()}{owner} · {card.age}"
    )
    lines = [head]
    if card.badge:
        lines.append(f"│ {clean(card.badge)}")
    lines.append(f"│ {author} (@{handle.lstrip('@')})")
    for para in clean(card.text).splitlines() or [""]:
        lines += ["│   " + row for row in textwrap.wrap(para, width - 4) or [""]]
    for follow in card.follow_ups:
        lines.append("│   ↳ " + " ".join(clean(follow).split())[: width - 6])
    if card.permalink:
        lines.append(f"│ {clean(card.permalink)}")
    if card.read_only:
        lines.append("│ read-only source: reply on the original site")
    for entry in card.history[-4:]:
        lines.append("│ · " + " ".join(clean(entry).split())[: width - 4])
    if card.banner:
        lines.append(f"│ ⇢ {clean(card.banner)}")
    if card.actions:
        lines.append("└ " + " · ".join(a.label for a in card.actions))
    else:
        lines.append("└")
    return "\n".join(lines)


class ShellSurface:
    """Every department shows on the terminal; posting is idempotent per key."""

    name = "shell"

    def __init__(self, out: TextIO, *, activity: bool = True) -> None:
        self.out = out
        self.activity = activity
        self._posted: dict[str, CardRef] = {}

    def channel_for(self, department: str) -> str | None:
        return department

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        ref = self._posted.get(key)
        if ref is None:
            self.out.write("\n" + render_text(card) + "\n")
            ref = CardRef(
                surface=self.name,
                channel=channel,
                message_id=key,
                department=card.department,
                placement=card.placement,
            )
            self._posted[key] = ref
        return ref

    async def update_card(self, ref: CardRef, card: Card) -> None:
        return None

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        if self.activity:
            mention = f"{text.slack or text.teams} " if isinstance(text, Alert) else ""
            self.out.write(f"  [{ref.channel}] {mention}{clean(text)}\n")

    async def close(self) -> None:
        self.out.flush()


class ShellCommands:
    """The shell's inbound half: one typed line in, the text to print out."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._refused: dict[str, Interaction] = {}
        """Per person: the last reply refused as already sent, for ``again``."""
        self._queue: dict[str, str | None] = {}
        """Per person: the queue they looked at last (``queue support``; None: every queue),
        which a ``claim`` without an id picks from, as ``/claim`` in a department's channel."""

    async def run(self, line: str, actor: Person) -> str:
        """Run ``line`` as ``actor``; refusals start with ``! ``."""
        if line.strip().lower() == "again":
            refused = self._refused.get(actor.key)
            if refused is None:
                return "! Nothing to send again: `again` re-sends your last reply refused as sent."
            return await self._reply(dataclasses.replace(refused, key=_again()), actor)
        try:
            interaction = parse(line, "shell", actor)
        except CommandError as exc:
            return f"! {exc}"
        if interaction.verb is Verb.REPLY:
            words = interaction.text.split(maxsplit=1)
            if words and words[0].lower() == AGAIN_FLAG:
                if len(words) < 2:
                    return f"! Write the text: `reply [T-12] {AGAIN_FLAG} <text>`."
                interaction = dataclasses.replace(interaction, text=words[1], key=_again())
            return await self._reply(interaction, actor)
        if interaction.verb is Verb.QUEUE:
            self._queue[actor.key] = interaction.department
        elif interaction.verb is Verb.CLAIM and interaction.thread_ref is None:
            interaction = await self._claim_next(interaction, actor)
        response = await self.desk.handle(interaction)
        return ("" if response.ok else "! ") + clean(response.text)

    async def _claim_next(self, interaction: Interaction, actor: Person) -> Interaction:
        """``claim`` without an id: the first waiting thread (due first, then oldest) of the
        queue last looked at, or of every queue."""
        department = self._queue.get(actor.key)
        if department is None:
            first = await self.desk.queue(None, limit=1)
            department = first[0].thread.department if first else self.desk.departments()[0].name
        return dataclasses.replace(interaction, channel_department=department)

    async def _reply(self, interaction: Interaction, actor: Person) -> str:
        response = await self.desk.handle(interaction)
        if response.ok:
            self._refused.pop(actor.key, None)
            return clean(response.text)
        said = "! " + clean(response.text)
        if not response.text.startswith(ALREADY_SENT):
            return said
        try:
            thread = await self.desk.thread(interaction.thread_ref, actor)
        except SwitchboardError:
            return said
        self._refused[actor.key] = dataclasses.replace(interaction, thread_ref=thread.id)
        return (
            f"{said}\n  To send it anyway type `again`, or "
            f"`reply {thread.short_id} {AGAIN_FLAG} <text>`."
        )


def _again() -> str:
    """The key of one explicit "send it again" (each one is its own sending)."""
    return again_key(f"shell:{uuid.uuid4().hex}")
