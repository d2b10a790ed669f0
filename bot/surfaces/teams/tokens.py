"""Outgoing Bot Framework tokens, and whether we can get one (``teams token`` in /readyz).

``ClientSecretTokens`` asks the Entra ID v2 token endpoint for a client-credentials token
(``POST {authority}/oauth2/v2.0/token``, form ``grant_type=client_credentials``,
``client_id``, ``client_secret``, ``scope``) and keeps it until ``REFRESH_MARGIN`` seconds
before it expires. A refusal (``400``/``401`` with ``{"error": "invalid_client", ...}``) or an
unreachable endpoint raises ``TokenError`` with the reason; the next call asks again.

``WatchedTokens`` wraps any token provider (MSAL for a certificate) and remembers how the
last request went; ``TeamsHealth`` reports it, asking for a token again when asked and the
last answer is older than ``RECHECK`` seconds (a held token is answered from the cache).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
)

from bot.aio import Clock
from bot.errors import SwitchboardError
from bot.ports import PartHealth
from bot.teams_config import TeamsSettings

log = logging.getLogger(__name__)
LOGIN = "https://login.microsoftonline.com"
REFRESH_MARGIN = 300.0
RECHECK = 60.0
TOKEN_PART = "teams token"


class TokenError(SwitchboardError):
    """No token: the login endpoint refused the request or could not be reached."""


def token_endpoint(settings: TeamsSettings, tenant: str = "") -> str:
    """The token endpoint of ``tenant`` (default: where Bot Framework tokens come from)."""
    default = f"{LOGIN}/{tenant or settings.token_tenant}"
    authority = (settings.auth_authority or default).rstrip("/")
    return f"{authority}/oauth2/v2.0/token"


class ClientSecretTokens(AnonymousTokenProvider):
    """Client-credentials tokens for ``teams.app_id`` / ``teams.app_password``."""

    def __init__(
        self,
        settings: TeamsSettings,
        configuration: AgentAuthConfiguration | None = None,
        *,
        clock: Clock = time.monotonic,
        timeout: float = 10.0,
        tenant: str = "",
    ) -> None:
        super().__init__()
        self.settings = settings
        self._configuration = configuration or AgentAuthConfiguration()
        self.url = token_endpoint(settings, tenant)
        self.clock = clock
        self.timeout = timeout
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    def get_token_credential(self) -> Any:
        raise NotImplementedError("only get_access_token is offered for a client secret")

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        scope = " ".join(scopes) or f"{resource_url.rstrip('/')}/.default"
        async with self._lock:
            held = self._tokens.get(scope)
            if held is not None and not force_refresh and self.clock() < held[1]:
                return held[0]
            token, lifetime = await self._request(scope)
            self._tokens[scope] = (token, self.clock() + max(0.0, lifetime - REFRESH_MARGIN))
            return token

    async def _request(self, scope: str) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.app_id,
            "client_secret": self.settings.app_password,
            "scope": scope,
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.post(self.url, data=form) as resp,
            ):
                status = resp.status
                try:
                    body: Any = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise TokenError(f"cannot reach the login endpoint {self.url}: {reason}") from None
        body = body if isinstance(body, dict) else {}
        token = body.get("access_token")
        if status == 200 and isinstance(token, str) and token:
            try:
                return token, float(body.get("expires_in", 3600))
            except (TypeError, ValueError):
                return token, 3600.0
        error = str(body.get("error") or "no token in the answer")
        described = str(body.get("error_description") or "").split("\n")[0][:200]
        detail = f": {described}" if described else ""
        raise TokenError(f"the login endpoint refused the token (HTTP {status}, {error}){detail}")


class WatchedTokens(AnonymousTokenProvider):
    """``inner``'s tokens, with how the last request went (``failure`` empty: it worked)."""

    def __init__(self, inner: AccessTokenProviderBase, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self.inner = inner
        self.clock = clock
        self.failure = ""
        self.asked_at: float | None = None
        self.held = False

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self.inner.configuration

    def get_token_credential(self) -> Any:
        return self.inner.get_token_credential()

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.asked_at = self.clock()
        try:
            token = await self.inner.get_access_token(resource_url, scopes, force_refresh)
        except Exception as exc:
            if not self.failure:
                log.error("cannot get a Teams token: %s", exc)
            self.failure = str(exc) or type(exc).__name__
            self.held = False
            raise
        if self.failure:
            log.info("got a Teams token again")
        self.failure = ""
        self.held = True
        return token


class TeamsHealth:
    """``teams token`` for /readyz: broken while no token can be had, with the reason; and
    the parts ``more`` reports (``teams graph``)."""

    name = "teams"

    def __init__(
        self,
        tokens: WatchedTokens | None,
        resource: str,
        scopes: list[str],
        *,
        recheck: float = RECHECK,
        more: Callable[[], Mapping[str, PartHealth]] | None = None,
    ) -> None:
        self.tokens = tokens
        self.resource = resource
        self.scopes = scopes
        self.recheck = recheck
        self.more = more
        self._lock = asyncio.Lock()

    async def fetch(self) -> None:
        """Ask for a token now (at start, or when the last answer is old); never raises."""
        if self.tokens is None:
            return
        try:
            await self.tokens.get_access_token(self.resource, self.scopes)
        except Exception as exc:
            log.debug("Teams token request failed: %s", exc)

    def _due(self) -> bool:
        if self.tokens is None:
            return False
        asked = self.tokens.asked_at
        return asked is None or self.tokens.clock() - asked >= self.recheck

    async def health(self) -> dict[str, PartHealth]:
        parts = await self._token()
        if self.more is not None:
            parts.update(self.more())
        return parts

    async def _token(self) -> dict[str, PartHealth]:
        if self.tokens is None:
            return {TOKEN_PART: PartHealth("not used (no teams.app_id)")}
        if self._due():
            async with self._lock:
                if self._due():
                    await self.fetch()
        if self.tokens.failure:
            return {TOKEN_PART: PartHealth(f"failing: {self.tokens.failure}", broken=True)}
        if not self.tokens.held:
            return {TOKEN_PART: PartHealth("unknown: not requested yet")}
        return {TOKEN_PART: PartHealth("ok")}
