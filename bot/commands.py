"""Parse the text commands shared by the shell, Slack slash commands and Teams @mentions.

``transfer [T-12] <department> [note]``, ``claim [T-12]``, ``reply [T-12] <text>`` ...
"""

from __future__ import annotations

import re

from bot.actions import Verb
from bot.domain import Person
from bot.interaction import Interaction

THREAD_REF = re.compile(r"^(?:T-)?\d+$", re.IGNORECASE)
ALIASES = {
    "take-over": Verb.TAKE_OVER,
    "take_over": Verb.TAKE_OVER,
    "send-back": Verb.SEND_BACK,
    "sendback": Verb.SEND_BACK,
    "dir": Verb.DIRECTORY,
    "send": Verb.SEND_DRAFT,
    "send-draft": Verb.SEND_DRAFT,
    "?": Verb.HELP,
}
NO_ARGS = {Verb.DIRECTORY, Verb.MINE, Verb.HELP, Verb.REPORT}
"""Verbs that take no thread: what follows the verb is their text."""


class CommandError(ValueError):
    """The text is not a command; the message says how to write it."""


def parse(text: str, surface: str, actor: Person, **extra: object) -> Interaction:
    words = text.strip().split(maxsplit=1)
    if not words:
        raise CommandError("Type a command; `help` lists them.")
    name = words[0].lower().lstrip("/")
    rest = words[1] if len(words) > 1 else ""
    try:
        verb = ALIASES.get(name) or Verb(name)
    except ValueError:
        raise CommandError(f"Unknown command '{name[:30]}'. Try `help`.") from None
    return parse_args(verb, rest, surface, actor, **extra)


def parse_args(verb: Verb, rest: str, surface: str, actor: Person, **extra: object) -> Interaction:
    """Arguments of ``verb``: an optional thread ref first, then what the verb takes."""
    ref: str | None = None
    department: str | None = None
    parts = rest.strip().split(maxsplit=1)
    if verb is Verb.QUEUE:
        department = parts[0] if parts else None
        rest = ""
    elif verb not in NO_ARGS and parts and THREAD_REF.match(parts[0]):
        ref = parts[0].upper() if parts[0][0] in "tT" else f"T-{parts[0]}"
        rest = parts[1] if len(parts) > 1 else ""
    if verb is Verb.TRANSFER:
        target = rest.strip().split(maxsplit=1)
        if not target:
            raise CommandError("Say where to: `transfer [T-12] <department> [note]`.")
        department = target[0]
        rest = target[1] if len(target) > 1 else ""
    if verb in (Verb.REPLY, Verb.NOTE, Verb.DRAFT) and not rest.strip():
        raise CommandError(f"Write the text: `{verb.value} [T-12] <text>`.")
    return Interaction(
        surface=surface,
        actor=actor,
        verb=verb,
        thread_ref=ref,
        department=department,
        text=rest.strip(),
        **extra,  # type: ignore[arg-type]
    )
