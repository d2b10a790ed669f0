"""Wire the chat platforms named in the config onto the board and the HTTP app.

Each platform is imported only when configured, so a Slack-only deployment never loads the
Teams SDK and the demo loads neither.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.aio import Clock
from bot.app import Switchboard
from bot.config import Config
from bot.ports import Surface

Closer = Callable[[], Awaitable[None]]


def local_surfaces(config: Config) -> list[Surface]:
    """Surfaces that need no HTTP route (the JSON-lines card log)."""
    surfaces: list[Surface] = []
    if config.card_log is not None:
        from bot.surfaces.cardlog import CardLogSurface

        surfaces.append(CardLogSurface(config.card_log.path))
    return surfaces


Starter = Callable[[], Awaitable[None]]
STARTERS: web.AppKey[list[Starter]] = web.AppKey("platforms.start", list)
"""What ``start_platforms`` runs once the server is up (first token checks, connections)."""


def _on_start(app: web.Application, start: Starter) -> None:
    app.setdefault(STARTERS, []).append(start)


def install_teams(
    board: Switchboard, app: web.Application, config: Config, clock: Clock = time.monotonic
) -> Closer | None:
    if config.teams is None:
        return None
    from bot.surfaces.teams.app import TeamsEndpoint

    endpoint = TeamsEndpoint(config.teams, board.desk, clock=clock)
    board.add_surface(endpoint.surface)
    board.add_platform_health(endpoint.health)
    endpoint.add_routes(app)
    _on_start(app, endpoint.start)
    return endpoint.close


def install_slack(
    board: Switchboard, app: web.Application, config: Config, clock: Clock = time.monotonic
) -> None:
    """``POST /slack/events``; the bot token is checked and the Socket Mode connection (if
    ``slack.app_token`` is set) opened by ``start_platforms`` once the server runs, and
    closed with the app's cleanup."""
    if config.slack is None:
        return
    from bot.surfaces.slack.app import HEALTH_KEY, start_slack
    from bot.surfaces.slack.app import install_slack as mount
    from bot.surfaces.slack.surface import SlackSurface

    surface = SlackSurface.from_config(config)
    board.add_surface(surface)
    mount(board.desk, app, config.slack, surface, clock=clock)
    board.add_platform_health(app[HEALTH_KEY])

    async def start() -> None:
        await start_slack(app)

    _on_start(app, start)


def install_platforms(
    board: Switchboard, app: web.Application, config: Config, *, clock: Clock = time.monotonic
) -> list[Closer]:
    """Add every configured chat platform; returns what to close on shutdown. ``clock``
    times their readiness (how long a connection is down, when a token is checked again)."""
    install_slack(board, app, config, clock)
    closers = [install_teams(board, app, config, clock)]
    return [c for c in closers if c is not None]


async def start_platforms(app: web.Application, config: Config) -> None:
    """Once the HTTP server runs: check each platform's token and open outbound connections
    (Slack ``auth.test`` and Socket Mode, a first Teams token)."""
    for start in app.get(STARTERS, []):
        await start()
