"""Whether Slack can be used right now, for ``/readyz`` (``bot.ports.PlatformHealth``).

    health = SlackHealth(surface.api, clock, socket=SocketWatch(clock) if app_token else None)
    await health.check_auth()          # auth.test, once at start
    await health.health()              # {"slack auth": PartHealth(...), "slack socket mode": ...}

**Auth** is learnt from every Web API answer (``SlackWebApi.outcome_listeners``): an
``invalid_auth``, ``token_revoked``, ``token_expired``, ``account_inactive`` or ``not_authed``
from any method marks the bot token refused until a later call succeeds. When nothing has said
anything for ``AUTH_REFRESH`` seconds, ``health()`` asks ``auth.test`` — at most once per
``AUTH_REFRESH``, however often ``/readyz`` is probed. A rate limit or an unreachable Slack
says nothing about the token and changes nothing.

**Socket Mode** (when ``slack.app_token`` is set): connected, or connecting / reconnecting
for how long; broken once it has not been connected for longer than ``SOCKET_GRACE``, or when
the connection is closed for good.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from bot.aio import Clock
from bot.ports import PartHealth
from bot.surfaces.slack.webapi import SlackCallError, SlackWebApi

log = logging.getLogger(__name__)
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
"""Web API errors that mean the bot token itself is refused."""
AUTH_REFRESH = 60.0
"""Seconds an answer about the token stays current; also the least time between auth.tests."""
SOCKET_GRACE = 30.0
"""Seconds Socket Mode may be down (reconnecting) before the bot is not ready."""
AUTH_PART = "slack auth"
SOCKET_PART = "slack socket mode"


class SocketWatch:
    """The Socket Mode connection's state over time (see the module docstring)."""

    def __init__(self, clock: Clock = time.monotonic, grace: float = SOCKET_GRACE) -> None:
        self.clock = clock
        self.grace = grace
        self.handler: AsyncSocketModeHandler | None = None
        self.down_since: float | None = clock()
        """When the connection was last seen going down (or this watch began); None: up."""
        self.ever_connected = False

    def watch(self, handler: AsyncSocketModeHandler) -> None:
        self.handler = handler
        client = handler.client
        if isinstance(client, SocketModeClient):
            client.on_close_listeners.append(self._closed)

    async def _closed(self, _message: object) -> None:
        if self.down_since is None:
            self.down_since = self.clock()

    async def state(self) -> PartHealth:
        client = self.handler.client if self.handler is not None else None
        if client is not None and client.closed:
            return PartHealth("closed", broken=True)
        if client is not None and await client.is_connected():
            self.down_since = None
            self.ever_connected = True
            return PartHealth("connected")
        now = self.clock()
        if self.down_since is None:
            self.down_since = now
        down = now - self.down_since
        verb = "reconnecting" if self.ever_connected else "connecting"
        broken = down > self.grace
        limit = f"; not ready after {self.grace:.0f} s" if not broken else ""
        return PartHealth(f"{verb} for {down:.0f} s{limit}", broken=broken)


class SlackHealth:
    """Slack's parts for ``/readyz``: the bot token and, if used, Socket Mode."""

    name = "slack"

    def __init__(
        self,
        api: SlackWebApi,
        clock: Clock = time.monotonic,
        *,
        socket: SocketWatch | None = None,
        refresh: float = AUTH_REFRESH,
    ) -> None:
        self.api = api
        self.clock = clock
        self.socket = socket
        self.refresh = refresh
        self.refused = ""
        """``"<method> refused (<error>)"`` while the token is refused, else empty."""
        self.known_at: float | None = None
        """When Slack last said whether it accepts the token."""
        self.unknown = "not checked yet"
        self._asked_at: float | None = None
        self._lock = asyncio.Lock()
        api.outcome_listeners.append(self._answered)

    def _answered(self, method: str, error: str) -> None:
        if error and error not in AUTH_ERRORS:
            return
        if error and not self.refused:
            log.error("Slack refused the bot token (%s from %s)", error, method)
        elif not error and self.refused:
            log.info("Slack accepts the bot token again (%s succeeded)", method)
        self.refused = f"{method} refused ({error})" if error else ""
        self.known_at = self.clock()

    def _stale(self, at: float | None) -> bool:
        return at is None or self.clock() - at >= self.refresh

    async def check_auth(self) -> None:
        """Ask ``auth.test`` now; its answer lands through the outcome listener."""
        self._asked_at = self.clock()
        try:
            await self.api.call("auth.test")
        except SlackCallError as exc:
            if exc.error not in AUTH_ERRORS:
                self.unknown = f"auth.test failed ({exc.error}), asking again later"
                log.warning("could not check the Slack bot token: %s", exc)

    async def auth(self) -> PartHealth:
        if self._stale(self.known_at) and self._stale(self._asked_at):
            async with self._lock:
                if self._stale(self.known_at) and self._stale(self._asked_at):
                    await self.check_auth()
        if self.known_at is None:
            return PartHealth(f"unknown: {self.unknown}")
        if self.refused:
            return PartHealth(f"failing: {self.refused}", broken=True)
        return PartHealth("ok")

    async def health(self) -> dict[str, PartHealth]:
        parts = {AUTH_PART: await self.auth()}
        if self.socket is not None:
            parts[SOCKET_PART] = await self.socket.state()
        return parts
