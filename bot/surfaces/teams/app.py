"""``POST /api/messages``: the Agents SDK's aiohttp ``CloudAdapter`` on our aiohttp app.

Before the SDK sees a request we check its ``serviceUrl`` against the allowed hosts (the bot
answers there), when an app id is configured its bearer token (401 otherwise), and that its
tenant (``conversation.tenantId`` / ``channelData.tenant.id``) is one we serve (403
otherwise, so nothing is ever posted into a foreign tenant's conversation). The adapter then
runs through its framework-neutral ``process_request`` with that identity.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    ClaimsIdentity,
    ConnectionManager,
    TurnContext,
)
from pydantic import ValidationError

from bot.aio import Clock
from bot.desk import Desk
from bot.surfaces.teams.auth import TokenValidator, Unauthorized
from bot.surfaces.teams.card import message_response
from bot.surfaces.teams.connector import (
    SCOPE,
    Connector,
    auth_configuration,
    default_token_provider,
    graph_token_provider,
)
from bot.surfaces.teams.graph import GraphClient
from bot.surfaces.teams.handler import TeamsBot
from bot.surfaces.teams.history import ChannelHistory, TeamDirectory
from bot.surfaces.teams.lookups import CardLookups
from bot.surfaces.teams.surface import TeamsSurface
from bot.surfaces.teams.tokens import TeamsHealth, WatchedTokens
from bot.teams_config import TeamsSettings

log = logging.getLogger(__name__)
ROUTE = "/api/messages"
START_TOKEN_TIMEOUT = 15.0
FAILED = "Something went wrong on our side. Try again in a moment."


class TeamsEndpoint:
    """The Teams side of the server: the adapter, the bot, the surface it posts with, and
    ``health`` (``teams token`` in /readyz, timed by ``clock``)."""

    def __init__(
        self,
        settings: TeamsSettings,
        desk: Desk,
        token_provider: AccessTokenProviderBase | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        inner = token_provider or default_token_provider(settings, clock)
        watched = WatchedTokens(inner, clock) if settings.authenticated else None
        tokens: AccessTokenProviderBase = watched or inner
        self.teams = TeamDirectory(desk.lookups, settings.team_id)
        graph = None
        if settings.authenticated:
            graph = GraphClient(settings.graph_url, graph_token_provider(settings, inner, clock))
        self.history = ChannelHistory(graph, self.teams)
        self.health = TeamsHealth(watched, SCOPE, [f"{SCOPE}/.default"], more=self.history.health)

        def provider(_config: AgentAuthConfiguration) -> AccessTokenProviderBase:
            return tokens

        connections = ConnectionManager(
            provider_factory=provider,
            connections_configurations={"SERVICE_CONNECTION": auth_configuration(settings)},
        )
        self.adapter = CloudAdapter(connection_manager=connections)
        self.adapter.on_turn_error = self._on_turn_error
        self.surface = TeamsSurface(
            settings,
            desk.departments(),
            CardLookups(desk.lookups),
            Connector(settings, tokens),
            self.history,
        )
        self.bot = TeamsBot(settings, desk, self.surface)
        self.validator = TokenValidator(settings) if settings.authenticated else None
        if self.validator is None:
            log.warning("teams.app_id is not set: %s accepts unauthenticated requests", ROUTE)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self.handle)

    async def start(self) -> None:
        """Ask for a first token once the server runs; a refusal shows in /readyz."""
        try:
            await asyncio.wait_for(self.health.fetch(), START_TOKEN_TIMEOUT)
        except TimeoutError:
            log.warning("no Teams token within %.0f s; /readyz asks again", START_TOKEN_TIMEOUT)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body is not an activity")
        service_url = body.get("serviceUrl")
        if not isinstance(service_url, str) or not self.settings.service_host_allowed(service_url):
            log.warning("refused an activity for service URL %r", service_url)
            return _error(401, "service URL not allowed")
        identity: ClaimsIdentity | None = None
        if self.validator is not None:
            try:
                identity = await self.validator.validate(request.headers.get("Authorization"), body)
            except Unauthorized as exc:
                log.warning("refused a Teams request: %s", exc)
                return _error(401, "unauthorized")
        refused = self._tenant_refused(body)
        if refused:
            log.warning("refused a Teams activity: %s", refused)
            return _error(403, refused)
        try:
            await self.teams.learn(body)
        except Exception as exc:
            log.warning("could not remember the team of a Teams channel: %s", exc)
        try:
            result = await self.adapter.process_request(
                _Request(request.method, request.headers, body, identity), self.bot
            )
        except ValidationError:
            return _error(400, "malformed activity")
        if result.body is not None:
            return web.json_response(result.body, status=result.status_code)
        return web.Response(status=result.status_code)

    def _tenant_refused(self, body: dict[str, Any]) -> str:
        """'' when the activity comes from a tenant we serve, else the reason it does not."""
        if not self.settings.served_tenants:
            return ""
        conversation = body.get("conversation")
        channel_data = body.get("channelData")
        tenant_info = channel_data.get("tenant") if isinstance(channel_data, dict) else None
        named = {
            value.strip().lower()
            for value in (
                conversation.get("tenantId") if isinstance(conversation, dict) else None,
                tenant_info.get("id") if isinstance(tenant_info, dict) else None,
            )
            if isinstance(value, str) and value.strip()
        }
        if not named:
            return "the activity names no tenant"
        if len(named) > 1:
            return "the activity names two different tenants"
        if not self.settings.tenant_allowed(next(iter(named))):
            return "tenant not served by this bot"
        return ""

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """Log the failure; tell the person in general terms (no internals leak)."""
        log.error("Teams turn failed: %s", error, exc_info=error)
        if context.activity.type == "invoke":
            body = message_response(FAILED)
            reply = Activity(type="invokeResponse", value={"status": 200, "body": body})
        else:
            reply = Activity(type="message", text=FAILED, text_format="plain")
        try:
            await context.send_activity(reply)
        except Exception as exc:
            log.warning("could not tell the user about the failure: %s", exc)

    async def close(self) -> None:
        await self.surface.close()


class _Request:
    """The SDK's view of a request whose body we already read and whose token we checked."""

    def __init__(
        self,
        method: str,
        headers: Mapping[str, str],
        body: dict[str, Any],
        identity: ClaimsIdentity | None,
    ) -> None:
        self.method = method
        self.headers = headers
        self._body = body
        self._identity = identity

    async def json(self) -> dict[str, Any]:
        return self._body

    def get_claims_identity(self) -> ClaimsIdentity | None:
        return self._identity

    def get_path_param(self, name: str) -> str:
        raise KeyError(name)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
