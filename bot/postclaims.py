"""Posting exactly once across replicas: the right to post a key is taken in the key-value port.

The card dispatcher takes a claim before it posts a card (or an activity line) under a key:
``kv_put_if_absent`` of this replica's token with the lease's expiry, so of any number of
replicas exactly one posts. The posting replica saves the card ref, then marks the claim
``done``; the others wait for that and adopt the saved ref. A replica that dies while it holds
a claim leaves it to expire; the next taker sees that a post was already attempted (the
``tried`` entry) and is told to *recover*: look the earlier post up on the platform
(``RecoversPosts``) and adopt it instead of posting again. Only a recovery looks anything up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from bot.aio import Sleep
from bot.domain import CardRef
from bot.errors import SwitchboardError
from bot.ports import Card, Surface
from bot.storage import POST_CLAIM, POST_DONE_TTL, POST_TRIED, CardOutbox, KeyValue

log = logging.getLogger(__name__)
DONE = "done"
_T = TypeVar("_T")


@runtime_checkable
class RecoversPosts(Protocol):
    """A surface that can find what an earlier (crashed) attempt posted under a key."""

    async def find_card(self, channel: str, card: Card, key: str) -> CardRef | None:
        """The card posted earlier under ``key`` in ``channel``, or None."""

    async def find_line(self, ref: CardRef, key: str) -> bool:
        """Whether the activity line ``key`` is already under the card ``ref``."""


class ClaimBusy(SwitchboardError):
    """Another replica held the claim longer than its lease; the lane retries later."""


@dataclass(frozen=True)
class Claim:
    key: str
    recovering: bool
    """True when an earlier attempt may have posted: look the post up before posting."""


class PostClaims:
    """Claims on post keys in the ``POST_CLAIM`` namespace; see the module docstring."""

    def __init__(
        self,
        kv: KeyValue,
        ttl: float,
        sleep: Sleep,
        *,
        poll: float = 0.05,
        token: str | None = None,
    ) -> None:
        self.kv = kv
        self.ttl = ttl
        self.sleep = sleep
        self.poll = poll
        self.token = token or uuid.uuid4().hex
        """This replica's claims; a claim still holding it is this replica's failed attempt."""

    async def take(self, key: str) -> Claim | None:
        """The right to post ``key``, or None when another replica finished it (read its ref).

        Waits while another live replica holds the claim (it is posting right now); raises
        ``ClaimBusy`` if that lasts well past one lease."""
        for _ in range(int(2 * self.ttl / self.poll) + 2):
            if await self.kv.kv_put_if_absent(POST_CLAIM, key, self.token, ttl=self.ttl):
                first = await self.kv.kv_put_if_absent(POST_TRIED, key, "1", ttl=POST_DONE_TTL)
                return Claim(key, recovering=not first)
            held = await self.kv.kv_get(POST_CLAIM, key)
            if held == DONE:
                return None
            if held == self.token:
                return Claim(key, recovering=True)
            if held is not None:
                await self.sleep(self.poll)
        raise ClaimBusy(f"another replica is still posting {key}")

    async def done(self, claim: Claim) -> None:
        """The post is saved: nobody posts ``claim.key`` again."""
        await self.kv.kv_put(POST_CLAIM, claim.key, DONE, ttl=POST_DONE_TTL)

    async def release(self, claim: Claim) -> None:
        """Nothing was posted (the platform refused): the key is free, as if never claimed."""
        if not claim.recovering:
            await self.kv.kv_delete(POST_TRIED, claim.key)
        await self.kv.kv_delete(POST_CLAIM, claim.key)


class PostOnce:
    """Cards and activity lines posted under claims; see the module docstring."""

    def __init__(self, outbox: CardOutbox, claims: PostClaims) -> None:
        self.outbox = outbox
        self.claims = claims

    async def post_card(
        self, surface: Surface, thread_id: str, channel: str, card: Card, key: str
    ) -> CardRef:
        """The card for ``key``: posted by this replica, or adopted from the one that did."""
        claim = await self.claims.take(f"card:{key}")
        if claim is None:
            ref = (await self.outbox.card_refs(thread_id)).get(key)
            if ref is not None:  # another replica posted it, maybe from an older state
                await surface.update_card(ref, card)
                return ref
            claim = Claim(f"card:{key}", recovering=True)
        found = None
        if claim.recovering and isinstance(surface, RecoversPosts):
            found = await surface.find_card(channel, card, key)
        if found is not None:
            log.info("card %s was posted before a crash; adopting it", key)
            await surface.update_card(found, card)
            ref = found
        else:
            ref = await self._posting(claim, surface.post_card(channel, card, key))
        await self.outbox.set_card_ref(thread_id, key, ref)
        await self.claims.done(claim)
        return ref

    async def notify(self, surface: Surface, ref: CardRef, line: str, key: str) -> None:
        """The activity line ``key`` under ``ref``, unless some replica already added it."""
        claim = await self.claims.take(f"line:{key}")
        if claim is None:
            return
        if (
            claim.recovering
            and isinstance(surface, RecoversPosts)
            and await surface.find_line(ref, key)
        ):
            log.info("activity line %s was posted before a crash; not posting again", key)
        else:
            await self._posting(claim, surface.notify(ref, line, key))
        await self.claims.done(claim)

    async def _posting(self, claim: Claim, post: Awaitable[_T]) -> _T:
        """Await the platform call; a refusal with ``retry_after`` posted nothing: release."""
        try:
            return await post
        except Exception as exc:
            if getattr(exc, "retry_after", None) is not None:
                await self.claims.release(claim)
            raise
