"""Slack inbound: a slack-bolt ``AsyncApp`` on the project's one aiohttp server.

    surface = SlackSurface.from_config(config)
    board.add_surface(surface)
    install_slack(board.desk, app, config.slack, surface)   # POST /slack/events
    board.add_platform_health(app[HEALTH_KEY])         # slack auth, slack socket mode
    await start_slack(app)             # auth.test; Socket Mode when slack.app_token is set

Events, interactivity and slash commands all arrive at ``POST /slack/events`` (or over the
Socket Mode websocket); bolt checks the signature and timestamp, a signed request sent
again inside that window is acked without running (``replay.py``), the listeners ack at once
and do the work in tracked background tasks, and everything becomes an ``Interaction`` for
``desk.handle`` (the application facade).
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.aio import Clock
from bot.config import SlackSettings
from bot.desk import Desk
from bot.errors import ConfigError
from bot.surfaces.slack import buttons, commands, drafts, events, home, modals
from bot.surfaces.slack.health import SlackHealth, SocketWatch
from bot.surfaces.slack.inbound import SlackInbound
from bot.surfaces.slack.replay import ReplayGuard
from bot.surfaces.slack.surface import SlackSurface

log = logging.getLogger(__name__)
REFUSED_TOKEN = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
    }
)
"""``apps.connections.open`` errors that no retry can fix: the app token is wrong."""
EVENTS_PATH = "/slack/events"
START_CHECK_TIMEOUT = 10.0
"""Seconds the start-up ``auth.test`` may take before serving goes on without its answer."""
SLACK_KEY: web.AppKey[SlackInbound] = web.AppKey("slack", SlackInbound)
HEALTH_KEY: web.AppKey[SlackHealth] = web.AppKey("slack.health", SlackHealth)


def build_bolt(settings: SlackSettings, client: AsyncWebClient) -> AsyncApp:
    """The bolt app: verifies signatures (and the 5-minute timestamp window) and runs each
    listener to its ack before answering, so acks stay explicit and work is tracked."""
    return AsyncApp(
        client=client,
        signing_secret=settings.signing_secret,
        # Socket Mode without a signing secret: nothing arrives over HTTP (the route is not
        # mounted), and bolt does not verify what the socket delivers.
        request_verification_enabled=bool(settings.signing_secret),
        process_before_response=True,
        logger=logging.getLogger("switchboard.slack.bolt"),
    )


def build_inbound(desk: Desk, settings: SlackSettings, surface: SlackSurface) -> SlackInbound:
    bolt = build_bolt(settings, surface.api.client)
    bolt.use(ReplayGuard(desk.lookups))
    inbound = SlackInbound(desk, surface, settings, bolt)
    for module in (commands, buttons, drafts, modals, events, home):
        module.register(bolt, inbound)
    return inbound


def install_slack(
    desk: Desk,
    app: web.Application,
    settings: SlackSettings,
    surface: SlackSurface,
    *,
    clock: Clock = time.monotonic,
) -> SlackInbound:
    """Mount ``POST /slack/events`` on ``app`` (only with a signing secret to verify it by:
    Socket Mode may go without); background work is drained on shutdown.
    ``app[HEALTH_KEY]`` is Slack's readiness (``health.py``), timed by ``clock``."""
    inbound = build_inbound(desk, settings, surface)
    socket = SocketWatch(clock) if settings.app_token else None
    app[HEALTH_KEY] = SlackHealth(surface.api, clock, socket=socket)

    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await inbound.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def cleanup(app: web.Application) -> None:
        if inbound.socket is not None:
            await inbound.socket.close_async()  # type: ignore[no-untyped-call]
        await inbound.close()

    app[SLACK_KEY] = inbound
    if settings.signing_secret:
        app.router.add_post(EVENTS_PATH, slack_events)
    app.on_cleanup.append(cleanup)
    return inbound


async def start_slack(
    app: web.Application, *, web_client: AsyncWebClient | None = None
) -> AsyncSocketModeHandler | None:
    """Once the server runs: check the bot token (``auth.test``; a refusal is logged and
    shown by /readyz), then connect Socket Mode if ``slack.app_token`` is set."""
    try:
        await asyncio.wait_for(app[HEALTH_KEY].check_auth(), START_CHECK_TIMEOUT)
    except TimeoutError:
        log.warning(
            "auth.test did not answer within %.0f s; /readyz asks again", START_CHECK_TIMEOUT
        )
    return await start_socket_mode(app, web_client=web_client)


async def start_socket_mode(
    app: web.Application, *, web_client: AsyncWebClient | None = None
) -> AsyncSocketModeHandler | None:
    """Connect over Socket Mode when ``slack.app_token`` is set (no public URL needed);
    None otherwise. A token Slack refuses is a ``ConfigError`` at once (see
    ``check_app_token``). The connection closes with the aiohttp app's cleanup."""
    inbound = app[SLACK_KEY]
    token = inbound.settings.app_token
    if not token:
        return None
    client = web_client or inbound.surface.api.client
    await check_app_token(client, token)
    handler = AsyncSocketModeHandler(inbound.bolt, token, web_client=client)
    socket = app[HEALTH_KEY].socket if HEALTH_KEY in app else None
    if socket is not None:
        socket.watch(handler)
    inbound.socket = handler
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack over Socket Mode")
    return handler


def app_token_refused(error: str, base_url: str) -> str:
    """What a refused app token means, and the fix."""
    return (
        f"slack.app_token was refused by Slack ({error}) at {base_url}: use the "
        "app-level token (xapp-...) with the connections:write scope from the app's "
        "Basic Information page, or remove slack.app_token to use HTTP mode"
    )


async def check_app_token(client: AsyncWebClient, token: str) -> None:
    """Ask Slack for a Socket Mode URL once with ``token``; a refused token raises a one-line
    ``ConfigError`` naming ``slack.app_token`` and the fix, instead of a reconnect loop.
    Other failures (Slack unreachable, rate limited) are left to the handler's reconnects."""
    try:
        await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in REFUSED_TOKEN:
            raise ConfigError(app_token_refused(error, client.base_url)) from None
        log.warning("apps.connections.open failed (%s); Socket Mode will retry", error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("cannot reach Slack at %s (%s); Socket Mode will retry", client.base_url, exc)
