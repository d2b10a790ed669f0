"""The narrow ports: what a source adapter and a chat surface must offer.

A source (``adapters/``) brings mentions in and posts replies out. A surface (``bot/surfaces/``)
shows cards and activity lines to employees. Platform types never cross these ports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.domain import CardRef, Mention, ReplyResult

if TYPE_CHECKING:
    from aiohttp import web

    from bot.storage import KeyValue


@dataclass(frozen=True)
class Batch:
    """One poll's worth of mentions and the cursor to store once they are saved."""

    mentions: Sequence[Mention]
    cursor: str | None
    more: bool = False
    """True when the source has more ready right now (poll again without waiting)."""
    late: frozenset[str] = frozenset()
    """External ids read only because the source re-read a window behind its cursor; those
    the store had not seen yet arrived out of order (counted in the source's health)."""
    unread: int = 0
    """Items the source saw but could not read: older than its backfill horizon, or no longer
    served by the network after a long stop (counted in the source's health, and logged)."""


@dataclass(frozen=True)
class ReplyLimit:
    """How a network measures a reply, so composers can refuse too-long text early."""

    limit: int
    unit: str = "characters"


@runtime_checkable
class Source(Protocol):
    """A connected public account or feed."""

    name: str
    network: str
    poll_interval: float

    def reply_limit(self) -> ReplyLimit | None:
        """The reply limit, or None when the source is read-only (RSS)."""

    def measure(self, text: str) -> int:
        """Length of ``text`` in the network's own unit (graphemes, weighted chars...)."""

    async def fetch(self, cursor: str | None) -> Batch:
        """Mentions newer than ``cursor``, oldest first."""

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        """Post ``text`` publicly as a reply to ``mention``.

        Must be safe to call again with the same key after a crash: use the network's own
        idempotency where it has one, or look the earlier post up before posting.
        """

    async def check(self) -> str:
        """Log in and describe the account; raise SourceError saying what is wrong."""

    async def close(self) -> None: ...


@runtime_checkable
class NeedsKeyValue(Protocol):
    """A source keeping state that every replica and a restart must share (X's rotating user
    token) in the store's key-value port. The composition root calls ``attach`` once, after
    the store exists and before any loop runs."""

    def attach(self, kv: KeyValue) -> None: ...


@runtime_checkable
class PushSource(Source, Protocol):
    """A source the public pushes to (signed webhooks at ``POST /hooks/{name}``)."""

    async def handle(
        self, request: web.Request, accept: Callable[[Mention], Awaitable[None]]
    ) -> web.StreamResponse:
        """Verify and parse one pushed request, ``accept`` each mention (stored before it
        returns), and answer the sender."""


class Alert(str):
    """An activity line that alerts a notify target (a breach). The line's text is product
    text like any other; the targets are trusted config, checked at load and again when the
    line is made (``bot.sla.alert``), kept apart so a surface can make them a real mention
    (``slack``: ``<!subteam^S123>``, ``<#C123>``; ``teams``: ``#Channel``) while it escapes
    the text as usual."""

    slack: str
    teams: str

    def __new__(cls, text: str, *, slack: str = "", teams: str = "") -> Alert:
        line = super().__new__(cls, text)
        line.slack = slack
        line.teams = teams
        return line


@dataclass(frozen=True)
class CardAction:
    """A button or menu entry on a card; ``payload`` is an encoded ``bot.actions`` value."""

    label: str
    payload: str
    style: str = ""


@dataclass(frozen=True)
class Card:
    """A platform-neutral card. Every string here except labels is UNTRUSTED and raw:
    each surface escapes it for its own markup."""

    thread_id: str
    short_id: str
    network: str
    source: str
    author_name: str
    author_handle: str
    author_url: str
    text: str
    permalink: str
    age: str
    state: str
    owner: str
    department: str
    department_title: str
    history: tuple[str, ...] = ()
    actions: tuple[CardAction, ...] = ()
    banner: str = ""
    """Shown on a card whose thread moved on, e.g. 'Transferred to Support by alice — note'."""
    read_only: bool = False
    follow_ups: tuple[str, ...] = field(default_factory=tuple)
    reply_limit: int | None = None
    placement: int = 0
    """Which placement of the thread this card shows (0 = before any transfer)."""
    badge: str = ""
    """The service-level clock as of the render (``bot.sla.badge``; our own text, like the
    labels): ``⏱ Claim due 14:35``; empty when no clock runs."""
    badge_level: str = ""
    """``due``, ``warning`` or ``overdue`` (``bot.sla.badge.Level``), for the surface's style."""


class Surface(Protocol):
    """A chat platform. The dispatcher posts each card ``key`` (and activity line ``key``)
    once across replicas under a claim in the store (``bot.postclaims``); after a crash it
    asks a surface that offers ``find_card`` / ``find_line`` what was posted before."""

    name: str

    def channel_for(self, department: str) -> str | None:
        """The channel that shows ``department`` on this surface, or None."""

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef: ...

    async def update_card(self, ref: CardRef, card: Card) -> None: ...

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        """Add an activity line under the card (its chat thread). ``text`` is trusted
        product text with untrusted parts already passed through ``Card`` fields."""

    async def close(self) -> None:
        """Release connections (HTTP sessions, files); called once when the bot stops."""


@dataclass(frozen=True)
class PartHealth:
    """How one part of a chat platform is doing (``slack auth``, ``teams token``), as
    ``/readyz`` shows it: ``state`` says why in words, ``broken`` takes the bot out of
    service until it recovers."""

    state: str
    broken: bool = False


@runtime_checkable
class PlatformHealth(Protocol):
    """A chat platform's own credentials and connections, asked by ``/readyz``.

    Answers from what recent calls showed; it may refresh a stale answer with one cheap
    call, at most as often as the platform's rate limits allow (never on every probe)."""

    name: str

    async def health(self) -> Mapping[str, PartHealth]:
        """Each part by the name ``broken`` uses (``slack socket mode``) and its health."""
