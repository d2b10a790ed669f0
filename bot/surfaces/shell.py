"""The shell surface: cards printed readably in a terminal (``switchboard demo``)."""

from __future__ import annotations

import textwrap
from typing import TextIO

from bot.domain import CardRef
from bot.ports import Card
from bot.untrusted import neutralize


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
    lines = [head, f"│ {author} (@{handle.lstrip('@')})"]
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
            self.out.write(f"  [{ref.channel}] {clean(text)}\n")

    async def close(self) -> None:
        self.out.flush()
