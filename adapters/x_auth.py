"""X OAuth 2.0 user-context tokens kept valid with the rotating refresh token, for every replica.

``POST /2/oauth2/token`` with the form ``grant_type=refresh_token&refresh_token=…`` and
``client_id=…`` (a public client), or HTTP Basic ``client_id:client_secret`` (a confidential
client), answers ``{"token_type": "bearer", "expires_in": 7200, "access_token": …, "scope": …,
"refresh_token": …}``. Refresh tokens rotate: the one sent stops working. So the newest pair
(access token, its expiry, refresh token) lives in the store's key-value port (``x.token``, one
entry per source) where every replica and a restart find it, and one replica refreshes at a
time, under an ``x.token.lock`` entry taken with put-if-absent that lapses by itself if its
holder dies; the others wait for its result and read it.

The configured refresh token only starts a chain: it is used while the store holds none that
started from it (a hash of it is kept with the pair), so a token set after authorizing the app
again replaces a refused chain, and a replica still running an older config does not.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import SecretStr

from adapters.http import HttpClient, HttpStatusError, NetworkError
from adapters.support import unlabelled
from bot.errors import SourceError
from bot.logs import REDACT
from bot.ports import PartHealth
from bot.storage import KeyValue

log = logging.getLogger(__name__)

TOKEN_PATH = "/2/oauth2/token"
PAIRS = "x.token"
"""Key-value namespace of the current pair, by source name."""
LOCKS = "x.token.lock"
"""Key-value namespace of the refresh lock, by source name (holder id, ``LOCK_TTL`` expiry)."""
LOCK_TTL = 60.0
"""Longer than a token request may take (``REQUEST_TIMEOUT``), so a lock never lapses under
a live request and two replicas never send the same refresh token."""
REQUEST_TIMEOUT = 20.0
MARGIN = 300.0
"""Refresh this long before the access token expires."""
WAIT_POLL = 0.5
DEFAULT_LIFETIME = 7200.0
SEEDS_KEPT = 10
T = TypeVar("T")


class XTokenRefused(SourceError):
    """X refused the refresh token (revoked, or already used): someone must authorize again."""


def refused_message(label: str) -> str:
    return (
        f"{label}: the refresh token was refused; authorize the app again and set "
        "sources[].refresh_token"
    )


def seed_of(refresh_token: str) -> str:
    """What the store keeps of the configured refresh token: enough to recognise it."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenPair:
    """The stored state of one source's user token."""

    access_token: str = ""
    expires_at: float = 0.0
    refresh_token: str = ""
    seeds: tuple[str, ...] = ()
    """Hashes of every configured refresh token this chain replaced (newest last)."""
    refused: bool = False

    def usable(self, now: float) -> bool:
        return bool(self.access_token) and not self.refused and now < self.expires_at - MARGIN

    def dump(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "expires_at": self.expires_at,
                "refresh_token": self.refresh_token,
                "seeds": list(self.seeds),
                "refused": self.refused,
            }
        )

    @classmethod
    def load(cls, text: str | None) -> TokenPair | None:
        try:
            data = json.loads(text) if text else None
            if not isinstance(data, dict):
                return None
            return cls(
                access_token=str(data.get("access_token") or ""),
                expires_at=float(data.get("expires_at") or 0.0),
                refresh_token=str(data.get("refresh_token") or ""),
                seeds=tuple(str(s) for s in data.get("seeds") or ()),
                refused=bool(data.get("refused")),
            )
        except (ValueError, TypeError):
            return None


class LocalKeyValue(KeyValue):
    """The key-value port in this process only, for a source not attached to a store."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], str] = {}

    async def kv_get(self, namespace: str, key: str) -> str | None:
        return self._entries.get((namespace, key))

    async def kv_put(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> None:
        self._entries[(namespace, key)] = value

    async def kv_put_if_absent(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> bool:
        return self._entries.setdefault((namespace, key), value) == value

    async def kv_delete(self, namespace: str, key: str) -> None:
        self._entries.pop((namespace, key), None)


@dataclass
class XUserAuth:
    """Hands out a valid user access token for one X source (``access_token``), refreshing
    it before it expires and again when X answers 401 (``renew``)."""

    label: str
    source: str
    http: HttpClient
    client_id: str
    refresh_token: SecretStr
    client_secret: SecretStr | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    kv: KeyValue = field(default_factory=LocalKeyValue)
    shared: bool = False
    """True once attached to the store (every replica sees the same pair)."""
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    problem: str = ""
    """The last refresh failure that is not a refusal ('' after a success)."""
    unsaved: tuple[str, TokenPair] | None = None
    """A rotated pair the store did not take, with the refresh token it replaced."""
    reported: str = ""
    """The problem ``keep_fresh`` logged last ('' when none)."""

    def attach(self, kv: KeyValue) -> None:
        self.kv, self.shared = kv, True

    @property
    def seed(self) -> str:
        return seed_of(self.refresh_token.get_secret_value())

    async def current(self) -> TokenPair:
        """The pair to use now: the stored one, unless the configured refresh token is new."""
        stored = TokenPair.load(await self.kv.kv_get(PAIRS, self.source))
        if self.unsaved is not None:
            replaced, pair = self.unsaved
            if stored is None or stored.refresh_token == replaced:
                await self.kv.kv_put(PAIRS, self.source, pair.dump())
                stored = pair
            self.unsaved = None
        if stored is not None and self.seed in stored.seeds:
            return stored
        seeds = (stored.seeds[-(SEEDS_KEPT - 1) :] if stored else ()) + (self.seed,)
        return TokenPair(refresh_token=self.refresh_token.get_secret_value(), seeds=seeds)

    async def access_token(self) -> str:
        pair = await self.current()
        if pair.usable(self.clock()):
            return pair.access_token
        return await self._refresh(stale=pair.access_token)

    async def renew(self, rejected: str) -> str:
        """A token after X answered 401 to ``rejected``: another replica's newer one, or a
        fresh one."""
        pair = await self.current()
        if pair.access_token != rejected and pair.usable(self.clock()):
            return pair.access_token
        return await self._refresh(stale=rejected)

    async def call(self, send: Callable[[dict[str, str]], Awaitable[T]]) -> T:
        """``send`` with a valid user token as its headers; after a 401, once more with a
        renewed one."""
        token = await self.access_token()
        try:
            return await send({"Authorization": f"Bearer {token}"})
        except HttpStatusError as exc:
            if exc.status != 401:
                raise
        log.info("%s: X answered 401 to the user token; renewing it, then once more", self.label)
        token = await self.renew(token)
        return await send({"Authorization": f"Bearer {token}"})

    async def keep_fresh(self) -> None:
        """Refresh when it is due, from a poll that reads with the bearer token: a failure is
        logged once (until it changes) and never raised."""
        try:
            await self.access_token()
            problem = ""
        except Exception as exc:  # the store or X: the next poll tries again
            problem = str(exc) or type(exc).__name__
        if problem and problem != self.reported:
            log.warning("%s (reading goes on with the bearer token)", problem)
        self.reported = problem

    async def _refresh(self, *, stale: str) -> str:
        """Refresh under the lock, or wait for the replica that holds it (a lock left by a
        replica that died lapses within ``LOCK_TTL``, and then this one takes it)."""
        deadline = self.clock() + LOCK_TTL + 10 * WAIT_POLL
        while True:
            if await self.kv.kv_put_if_absent(LOCKS, self.source, self.holder, ttl=LOCK_TTL):
                try:
                    pair = await self.current()
                    if pair.access_token != stale and pair.usable(self.clock()):
                        return pair.access_token
                    if pair.refused:
                        raise XTokenRefused(refused_message(self.label))
                    return await self._exchange(pair)
                finally:
                    await self._unlock()
            pair = await self.current()
            if pair.refused:
                raise XTokenRefused(refused_message(self.label))
            if pair.access_token != stale and pair.usable(self.clock()):
                return pair.access_token
            if self.clock() >= deadline:
                raise SourceError(
                    f"{self.label}: another replica holds the user token refresh and has not "
                    f"finished in {LOCK_TTL:.0f} s"
                )
            await self.sleep(WAIT_POLL)

    async def _unlock(self) -> None:
        try:
            await self.kv.kv_delete(LOCKS, self.source)
        except Exception as exc:  # it lapses by itself
            log.warning(
                "%s: could not release the user token lock (%s); it lapses within %.0f s",
                self.label,
                exc,
                LOCK_TTL,
            )

    async def _exchange(self, pair: TokenPair) -> str:
        form = {"grant_type": "refresh_token", "refresh_token": pair.refresh_token}
        headers: dict[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
        secret = self.client_secret.get_secret_value() if self.client_secret else ""
        if secret:
            basic = base64.b64encode(f"{self.client_id}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        else:
            form["client_id"] = self.client_id
        try:
            response = await asyncio.wait_for(
                self.http.request("POST", TOKEN_PATH, data=form, headers=headers),
                timeout=REQUEST_TIMEOUT,
            )
            data = response.json()
        except HttpStatusError as exc:
            if _is_refusal(exc):
                return await self._refused(pair)
            raise self._failed(_status_problem(exc, bool(secret))) from None
        except (NetworkError, TimeoutError) as exc:
            detail = unlabelled(exc, self.label) or "timed out"
            raise self._failed(f"cannot reach {TOKEN_PATH} ({detail})") from None
        fresh = _pair_from(data, pair, self.clock())
        if fresh is None:
            raise self._failed(f"{TOKEN_PATH} answered without an access token")
        REDACT.add([fresh.access_token, fresh.refresh_token])
        await self._save(fresh, replaced=pair.refresh_token)
        self.problem = ""
        log.info("%s: user token refreshed; valid until %s", self.label, _when(fresh.expires_at))
        return fresh.access_token

    async def _refused(self, pair: TokenPair) -> str:
        latest = await self.current()
        if latest.refresh_token != pair.refresh_token and latest.usable(self.clock()):
            return latest.access_token  # rotated by a replica whose lock had lapsed
        await self.kv.kv_put(PAIRS, self.source, replace(pair, refused=True).dump())
        log.error("%s", refused_message(self.label))
        raise XTokenRefused(refused_message(self.label))

    async def _save(self, pair: TokenPair, *, replaced: str) -> None:
        """Store the rotated pair. X has already forgotten the old refresh token: when the
        store does not answer, the pair is kept here and stored by the next call that reaches
        it (unless another chain was stored meanwhile)."""
        try:
            await self.kv.kv_put(PAIRS, self.source, pair.dump())
        except Exception as exc:
            self.unsaved = (replaced, pair)
            log.error(
                "%s: could not store the rotated user token (%s); kept in this process until "
                "the store answers",
                self.label,
                exc,
            )

    def _failed(self, problem: str) -> SourceError:
        self.problem = problem
        return SourceError(f"{self.label}: refreshing the user token failed: {problem}")

    async def health(self) -> PartHealth:
        """What ``/readyz`` shows: refused (by any replica), failing, or valid until when."""
        pair = await self.current()
        if pair.refused:
            return PartHealth(refused_message(self.label))
        if self.problem:
            return PartHealth(f"failing: refreshing the user token failed: {self.problem}")
        if pair.access_token and pair.expires_at > self.clock():
            return PartHealth(f"ok: valid until {_when(pair.expires_at)}")
        return PartHealth("ok: refreshed when first needed")


def _is_refusal(error: HttpStatusError) -> bool:
    """X answers a revoked or already used refresh token with 400 ``invalid_request`` ("Value
    passed for the token was invalid.") where RFC 6749 says ``invalid_grant``."""
    code = error.error_field("error")
    described = error.error_field("error_description").lower()
    return error.status in (400, 401) and (
        code == "invalid_grant" or (code == "invalid_request" and "token" in described)
    )


def _status_problem(error: HttpStatusError, confidential: bool) -> str:
    code = error.error_field("error")
    described = error.error_field("error_description")
    if error.status == 401 or code in ("unauthorized_client", "invalid_client"):
        fix = (
            "client_id and client_secret"
            if confidential
            else "client_id, and set client_secret if the app is a confidential client"
        )
        return f"X refused the app ({code or 'HTTP 401'}: {described}); check {fix}"
    return f"HTTP {error.status} {code}: {described or error.body[:200]}".strip()


def _pair_from(data: Any, old: TokenPair, now: float) -> TokenPair | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("access_token"), str):
        return None
    expires_in = data.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else DEFAULT_LIFETIME
    rotated = data.get("refresh_token")
    return TokenPair(
        access_token=data["access_token"],
        expires_at=now + lifetime,
        refresh_token=rotated if isinstance(rotated, str) and rotated else old.refresh_token,
        seeds=old.seeds,
    )


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
