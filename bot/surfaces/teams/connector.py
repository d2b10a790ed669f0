"""Outgoing Bot Connector calls, through the Agents SDK's connector client.

Tokens come from an SDK token provider: ``tokens.ClientSecretTokens`` for a client secret,
MSAL for a certificate; without an app id the calls go out without a token, as the Bot
Framework Emulator expects. Connector
failures become ``TeamsApiError`` (with ``retry_after`` on 429) at this edge.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ConversationParameters,
    ConversationResourceResponse,
    ResourceResponse,
)
from microsoft_agents.activity.teams import TeamsChannelAccount
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.authorization import AuthTypes
from microsoft_agents.hosting.core.connector import TeamsConnectorClient

from bot.aio import Clock
from bot.errors import SwitchboardError
from bot.retry_after import parse_retry_after
from bot.surfaces.teams.tokens import ClientSecretTokens
from bot.teams_config import TeamsSettings

SCOPE = AuthenticationConstants.AGENTS_SDK_SCOPE
MESSAGE_ID = ";messageid="


class TeamsApiError(SwitchboardError):
    """The Bot Connector refused or failed a call."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def auth_configuration(settings: TeamsSettings) -> AgentAuthConfiguration:
    """The SDK connection settings for ``settings`` (anonymous without an app id)."""
    if not settings.authenticated:
        return AgentAuthConfiguration(anonymous_allowed=True)
    certificate = bool(settings.certificate_path)
    return AgentAuthConfiguration(
        AuthTypes.certificate if certificate else AuthTypes.client_secret,
        client_id=settings.app_id,
        tenant_id=settings.token_tenant,
        client_secret=None if certificate else settings.app_password,
        cert_pfx_file=settings.certificate_path or None,
        authority=settings.auth_authority or None,
        scopes=[f"{SCOPE}/.default"],
    )


def default_token_provider(
    settings: TeamsSettings, clock: Clock = time.monotonic
) -> AccessTokenProviderBase:
    if not settings.authenticated:
        return AnonymousTokenProvider()
    if not settings.certificate_path:
        return ClientSecretTokens(settings, auth_configuration(settings), clock=clock)
    from microsoft_agents.authentication.msal import MsalAuth

    return MsalAuth(auth_configuration(settings))


def graph_token_provider(
    settings: TeamsSettings, inner: AccessTokenProviderBase, clock: Clock = time.monotonic
) -> AccessTokenProviderBase:
    """Tokens for Microsoft Graph: ``inner`` (cached per scope), except for a multi-tenant
    bot with a client secret, whose Graph tokens come from ``teams.tenant_id`` itself."""
    if (
        isinstance(inner, ClientSecretTokens)
        and settings.tenant_id
        and settings.token_tenant != settings.tenant_id
    ):
        return ClientSecretTokens(
            settings, auth_configuration(settings), clock=clock, tenant=settings.tenant_id
        )
    return inner


def split_conversation(conversation_id: str) -> tuple[str, str]:
    """``19:x@thread.tacv2;messageid=17`` -> (``19:x@thread.tacv2``, ``17``)."""
    channel, _, root = conversation_id.partition(MESSAGE_ID)
    return channel, root


def _retry_after(headers: object) -> float | None:
    value = getattr(headers, "get", lambda _k: None)("Retry-After")
    return parse_retry_after(None if value is None else str(value), datetime.now(UTC))


@contextlib.contextmanager
def wrapped(what: str) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientResponseError as exc:
        retry = _retry_after(exc.headers) if exc.status == 429 else None
        hint = " (rate limited)" if exc.status == 429 else ""
        raise TeamsApiError(
            f"Teams refused to {what}: HTTP {exc.status}{hint}",
            status=exc.status,
            retry_after=retry,
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TeamsApiError(f"Teams could not be reached to {what}: {exc}") from None


class Connector:
    """One long-lived HTTP session to the configured connector ``service_url``."""

    def __init__(
        self, settings: TeamsSettings, token_provider: AccessTokenProviderBase | None = None
    ) -> None:
        self.settings = settings
        self.tokens = token_provider or default_token_provider(settings)
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> TeamsConnectorClient:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self.settings.service_url, timeout=aiohttp.ClientTimeout(total=30)
            )
        token = await self.tokens.get_access_token(SCOPE, [f"{SCOPE}/.default"])
        return TeamsConnectorClient(self.settings.service_url, token, session=self._session)

    async def create_conversation(
        self, params: ConversationParameters
    ) -> ConversationResourceResponse:
        with wrapped("start a conversation"):
            client = await self._client()
            return await client.conversations.create_conversation(params)

    async def send(self, conversation_id: str, activity: Activity) -> ResourceResponse:
        with wrapped("post a message"):
            client = await self._client()
            return await client.conversations.send_to_conversation(conversation_id, activity)

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> None:
        with wrapped("update a card"):
            client = await self._client()
            await client.conversations.update_activity(conversation_id, activity_id, activity)

    async def member(self, conversation_id: str, user_id: str) -> TeamsChannelAccount | None:
        """The member, or None when the connector does not know them there (404)."""
        try:
            with wrapped("look up a member"):
                client = await self._client()
                return await client.get_conversation_member(conversation_id, user_id)
        except TeamsApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
