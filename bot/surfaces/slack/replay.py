"""Anti-replay for signed Slack requests: a bolt middleware that runs after bolt verified the
signature, so only authentic requests reach the store.

Slack signs ``v0:<timestamp>:<body>`` and bolt accepts a signature while its timestamp is
within 5 minutes of our clock (either side). A request sent again inside that window (the
same body and timestamp, with or without ``X-Slack-Retry-Num``) is the same request: the
first delivery claims a key derived from the verified timestamp and signature in the
key-value port (shared by every replica), and a repeat is acked with an empty 200 without
running any listener. Events keep their own ``event_id`` de-duplication on top of this.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.errors import StoreError
from bot.storage import SLACK_REQUEST, KeyValue

log = logging.getLogger(__name__)
SIGNATURE_WINDOW = 300.0
REQUEST_TTL_SECONDS = 2 * SIGNATURE_WINDOW + 60.0
"""A signature verifies from ``ts - 300`` to ``ts + 300``: a key kept this long outlives it."""


def request_key(timestamp: str, signature: str) -> str:
    """The store key of one signed request (a hash: fixed length, no header text stored)."""
    return hashlib.sha256(f"{timestamp}\n{signature}".encode()).hexdigest()


class ReplayGuard(AsyncMiddleware):
    """Let each signed HTTP request through once; ack its repeats without running them."""

    def __init__(self, lookups: KeyValue) -> None:
        self.lookups = lookups

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if req.mode == "socket_mode":
            return await next()
        timestamp = _header(req, "x-slack-request-timestamp")
        signature = _header(req, "x-slack-signature")
        if not timestamp or not signature:
            return await next()
        key = request_key(timestamp, signature)
        try:
            first = await self.lookups.kv_put_if_absent(
                SLACK_REQUEST, key, "1", ttl=REQUEST_TTL_SECONDS
            )
        except StoreError as exc:
            log.error("cannot record a Slack request (%s); asking Slack to retry", exc)
            return BoltResponse(status=503, body={"error": "store unavailable; retry later"})
        if first:
            return await next()
        retry = _header(req, "x-slack-retry-num")
        log.info("Slack request seen before (retry %s); acked without running", retry or "-")
        return BoltResponse(status=200, body="")


def _header(req: AsyncBoltRequest, name: str) -> str:
    values = req.headers.get(name) or []
    return str(values[0]).strip() if values else ""
