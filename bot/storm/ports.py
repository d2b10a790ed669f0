"""What a storm shows, platform-neutral, and the port a surface offers to show it.

Every string taken from the public (handle, text, link) stays raw here, as on ``bot.ports.Card``:
the surface escapes it for its own markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.domain import CardRef

TEXT_START = 200
"""Characters of a post's text a digest line keeps (the surface shortens further)."""


@dataclass(frozen=True)
class DigestLine:
    """One thread shown as a line of a digest."""

    thread_id: str
    short_id: str
    network: str
    author_handle: str
    text: str
    permalink: str
    arrived: datetime
    carded: bool = False
    """Someone acted on it: it has its own card now (the line says so)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "t": self.thread_id,
                "s": self.short_id,
                "n": self.network,
                "a": self.author_handle,
                "x": self.text[:TEXT_START],
                "p": self.permalink,
                "at": self.arrived.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> DigestLine:
        data = json.loads(raw)
        return cls(
            thread_id=str(data["t"]),
            short_id=str(data["s"]),
            network=str(data["n"]),
            author_handle=str(data["a"]),
            text=str(data["x"]),
            permalink=str(data["p"]),
            arrived=datetime.fromisoformat(str(data["at"])),
        )

    def as_carded(self) -> DigestLine:
        return replace(self, carded=True)


@dataclass(frozen=True)
class Digest:
    """One digest message: a channel's storm threads, a fixed number per message."""

    key: str
    """Stable across replicas: ``<surface>:<channel>:<number>``; posted once per key."""
    number: int
    department: str
    department_title: str
    lines: tuple[DigestLine, ...]
    capacity: int
    now: datetime

    @property
    def full(self) -> bool:
        return len(self.lines) >= self.capacity


@dataclass(frozen=True)
class StormNotice:
    """The one message a channel gets when its storm starts (``ended`` False) or ends."""

    key: str
    department_title: str
    ended: bool
    mentions: int
    """Start: new threads in the window so far. End: threads the storm's digests showed."""
    minutes: int
    networks: Mapping[str, int] = field(default_factory=dict)
    top_authors: Sequence[tuple[str, int]] = ()
    waiting: int = 0
    """End: digest threads nobody has acted on yet."""


class Turns(Protocol):
    """Turns shared by every replica (in the store): at most one holder of a name at a time.

    A surface takes ``post:<surface>:<channel>`` before each message to a channel and holds
    it for the channel's pace after Slack answered, so replicas together keep the rate."""

    async def take(self, name: str, seconds: float) -> bool:
        """The turn ``name`` for at most ``seconds``, unless another holder has it."""

    async def hold(self, name: str, seconds: float) -> None:
        """Keep (or take) the turn ``name`` for ``seconds`` from now."""

    async def free(self, name: str) -> bool:
        """Whether nobody holds ``name`` right now."""

    async def release(self, name: str) -> None:
        """Give the turn ``name`` back (nothing was posted)."""


@runtime_checkable
class DigestSurface(Protocol):
    """A surface that can show a storm: digests updated in place and storm notices.

    Posting is exactly once per key across replicas (the caller claims the key first, as for
    cards); ``find_digest`` looks up what a crashed attempt posted under a key."""

    name: str

    def channel_for(self, department: str) -> str | None: ...

    def pace(self) -> float:
        """Seconds between two messages to one channel (the platform's rate)."""

    def share_turns(self, turns: Turns) -> None:
        """Pace every message to a channel with the other replicas through ``turns``."""

    async def post_digest(self, channel: str, digest: Digest) -> CardRef: ...

    async def update_digest(self, ref: CardRef, digest: Digest) -> None: ...

    async def find_digest(self, channel: str, key: str) -> CardRef | None: ...

    async def storm_notice(self, channel: str, notice: StormNotice) -> None: ...
