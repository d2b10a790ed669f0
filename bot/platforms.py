"""Wire the chat platforms named in the config onto the board and the HTTP app.

Each platform is imported only when configured, so a Slack-only deployment never loads the
Teams SDK and the demo loads neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

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


def install_teams(board: Switchboard, app: web.Application, config: Config) -> Closer | None:
    if config.teams is None:
        return None
    from bot.surfaces.teams.app import TeamsEndpoint

    endpoint = TeamsEndpoint(config.teams, board.desk)
    board.add_surface(endpoint.surface)
    endpoint.add_routes(app)
    return endpoint.close


def install_slack(board: Switchboard, app: web.Application, config: Config) -> None:
    """``POST /slack/events``; the Socket Mode connection (if ``slack.app_token`` is set) is
    opened by ``start_platforms`` once the server runs, and closed with the app's cleanup."""
    if config.slack is None:
        return
    from bot.surfaces.slack.app import install_slack as mount
    from bot.surfaces.slack.surface import SlackSurface

    surface = SlackSurface.from_config(config)
    board.add_surface(surface)
    mount(board.desk, app, config.slack, surface)


def install_platforms(board: Switchboard, app: web.Application, config: Config) -> list[Closer]:
    """Add every configured chat platform; returns what to close on shutdown."""
    install_slack(board, app, config)
    closers = [install_teams(board, app, config)]
    return [c for c in closers if c is not None]


async def start_platforms(app: web.Application, config: Config) -> None:
    """Open outbound connections once the HTTP server runs (Slack Socket Mode)."""
    if config.slack is not None and config.slack.app_token:
        from bot.surfaces.slack.app import start_socket_mode

        await start_socket_mode(app)
