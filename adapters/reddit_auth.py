"""Reddit script-app OAuth: the password grant, a bearer token renewed before it expires.

``POST /api/v1/access_token`` on ``token_url`` with basic auth ``client_id:client_secret`` and
a ``grant_type=password`` form. Reddit answers a bad password with HTTP 200 and
``{"error": "invalid_grant"}``, bad app credentials with 401. The token is renewed a minute
before ``expires_in`` runs out, and on demand (``renew=True``) when the API answers 401.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping

from pydantic import SecretStr

from adapters.http import HttpClient, HttpStatusError, NetworkError
from adapters.support import unlabelled
from bot.errors import SourceError

TOKEN_MARGIN = 60.0
DEFAULT_LIFETIME = 3600.0


class RedditAuth:
    """Holds one account's bearer token; ``bearer()`` always returns a valid one."""

    def __init__(
        self,
        *,
        label: str,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        username: str,
        password: SecretStr,
        headers: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.label = label
        self.token_url = token_url
        self.client_id = client_id
        self.username = username
        self._secret = client_secret
        self._password = password
        self.clock = clock
        self.http = HttpClient(token_url, label=label, headers=headers)
        self.scopes: frozenset[str] = frozenset()
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def bearer(self, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or not self._token or self.clock() >= self._expires - TOKEN_MARGIN:
                await self._login()
            return self._token

    async def _login(self) -> None:
        secret = f"{self.client_id}:{self._secret.get_secret_value()}".encode()
        form = {
            "grant_type": "password",
            "username": self.username,
            "password": self._password.get_secret_value(),
        }
        auth = {"Authorization": f"Basic {base64.b64encode(secret).decode()}"}
        try:
            response = await self.http.request("POST", self.token_url, data=form, headers=auth)
            data = response.json()
        except HttpStatusError as exc:
            if exc.status != 401:
                raise
            raise SourceError(
                f"{self.label}: the app credentials (client_id/client_secret) were rejected "
                f"at {self.token_url}"
            ) from exc
        except NetworkError as exc:
            raise SourceError(
                f"{self.label}: cannot reach the token endpoint ({unlabelled(exc, self.label)})"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise SourceError(
                f"{self.label}: login as u/{self.username} failed ({data!r:.80}): check "
                "username and password (accounts with two-factor authentication cannot use a "
                "script app)"
            )
        self._token = data["access_token"]
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else DEFAULT_LIFETIME
        self._expires = self.clock() + lifetime
        self.scopes = frozenset(str(data.get("scope", "")).replace(",", " ").split())

    async def close(self) -> None:
        await self.http.close()
