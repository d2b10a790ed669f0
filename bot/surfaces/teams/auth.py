"""Validation of the bearer token that comes with every activity Teams sends.

As the Bot Framework documents it: an RS256 JWT signed by a key listed in the OpenID
metadata's ``jwks_uri``, issued by ``https://api.botframework.com``, for our app id as
audience, within its lifetime (five minutes of clock skew), with a key endorsed for the
activity's channel and a ``serviceurl`` claim equal to the activity's ``serviceUrl``.

The SDK's own validator always fetches keys from the public Microsoft endpoints; this one
reads the metadata URL from the config, so sovereign clouds and tests can point elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.teams_config import TeamsSettings

log = logging.getLogger(__name__)
KEYS_TTL = 24 * 3600.0
UNKNOWN_KID_REFRESH = 300.0
LEEWAY = 300.0
RETRY_SECONDS = 60.0


class Unauthorized(Exception):
    """The request does not carry a valid token; the reason is logged, never returned."""


@dataclass(frozen=True)
class _Key:
    key: jwt.PyJWK
    endorsements: frozenset[str] | None


class TokenValidator:
    def __init__(self, settings: TeamsSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self._keys: dict[str, _Key] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def validate(self, header: str | None, activity: Mapping[str, Any]) -> ClaimsIdentity:
        token = _bearer(header)
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token: {type(exc).__name__}") from None
        if head.get("alg") != "RS256":
            raise Unauthorized(f"token algorithm {head.get('alg')!r} is not RS256")
        kid = head.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token names no signing key")
        found = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                found.key,
                algorithms=["RS256"],
                audience=self.settings.app_id,
                issuer=list(self.settings.token_issuers),
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected: {type(exc).__name__}: {exc}") from None
        channel = str(activity.get("channelId") or "")
        if found.endorsements is not None and channel not in found.endorsements:
            raise Unauthorized(f"signing key is not endorsed for channel {channel!r}")
        service_url = claims.get("serviceurl")
        if service_url is None or service_url != activity.get("serviceUrl"):
            raise Unauthorized("token serviceurl claim does not match the activity")
        return ClaimsIdentity(claims, authentication_type="Bearer", security_token=token)

    async def _key(self, kid: str) -> _Key:
        seen = self._fetched_at
        now = self.clock()
        due = seen is None or now - seen > KEYS_TTL
        if kid not in self._keys and (seen is None or now - seen > UNKNOWN_KID_REFRESH):
            due = True
        if due:
            async with self._lock:
                if self._fetched_at == seen:
                    await self._refresh_or_keep()
        found = self._keys.get(kid)
        if found is None:
            raise Unauthorized(f"unknown signing key {kid[:40]!r}")
        return found

    async def _refresh_or_keep(self) -> None:
        """Fetch the keys; when that fails, keep the ones we have and try again later."""
        try:
            await self._refresh()
        except Unauthorized:
            if not self._keys:
                raise
            self._fetched_at = self.clock() - KEYS_TTL + RETRY_SECONDS

    async def _refresh(self) -> None:
        url = self.settings.openid_metadata_url
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                async with http.get(url) as resp:
                    resp.raise_for_status()
                    metadata = await resp.json(content_type=None)
                jwks_uri = metadata["jwks_uri"]
                async with http.get(jwks_uri) as resp:
                    resp.raise_for_status()
                    document = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.error("cannot load Teams signing keys from %s: %s", url, exc)
            raise Unauthorized("signing keys unavailable") from None
        keys: dict[str, _Key] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            try:
                parsed = jwt.PyJWK(entry)
            except (jwt.PyJWTError, KeyError, TypeError, ValueError):
                continue
            endorsements = entry.get("endorsements")
            keys[str(entry.get("kid", ""))] = _Key(
                parsed, frozenset(endorsements) if isinstance(endorsements, list) else None
            )
        self._keys = keys
        self._fetched_at = self.clock()


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("Authorization header is not a bearer token")
    return token
