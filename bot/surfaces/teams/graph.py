"""Reading a channel through Microsoft Graph, to find a card or line an earlier attempt posted.

Only the dispatcher's takeover/retry path asks (``TeamsSurface.find_card`` / ``find_line``):
``GET {graph}/teams/{team}/channels/{channel}/messages`` (newest first) for a card and
``.../messages/{card}/replies`` for a line in its reply chain, ``$top=50`` a page, following
``@odata.nextLink`` for at most ``max_pages`` pages. Tokens are application tokens for
``https://graph.microsoft.com/.default`` from the bot's own app registration; the team's
owner grants ``ChannelMessage.Read.Group`` when the app is added (resource-specific consent).

Errors: a 429 (or 503 with ``Retry-After``) becomes ``TeamsApiError`` with ``retry_after``,
so the card lane pauses; a 401 is retried once with a fresh token; 401/403 (no consent, or
an API Microsoft has not opened to the app) and 404 (a team id that is not the channel's)
raise ``GraphRefused``: the caller falls back to posting again. Other failures raise
``TeamsApiError`` and the lane retries later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

from microsoft_agents.hosting.core import AccessTokenProviderBase

from adapters.http import HttpClient, HttpStatusError
from bot.errors import SourceError, SwitchboardError
from bot.surfaces.teams.connector import TeamsApiError

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_SCOPE = f"{GRAPH_RESOURCE}/.default"
PAGE = 50
MAX_PAGES = 4
MAX_BYTES = 8 * 1024 * 1024

Message = dict[str, Any]


class GraphRefused(SwitchboardError):
    """Graph will not show this channel to us (no consent, not allowed, unknown team)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class GraphClient:
    """Channel messages and replies, newest first, a bounded number of pages."""

    def __init__(
        self,
        base_url: str,
        tokens: AccessTokenProviderBase,
        *,
        http: HttpClient | None = None,
        page: int = PAGE,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.http = http or HttpClient(
            self.base_url, label="Microsoft Graph", timeout=20.0, max_bytes=MAX_BYTES
        )
        self.page = page
        self.max_pages = max_pages
        self._origin = _origin(self.base_url)

    def messages(self, team: str, channel: str) -> AsyncIterator[Message]:
        """The channel's root messages (cards among them), newest first."""
        return self._list(f"{_channel_path(team, channel)}/messages")

    def replies(self, team: str, channel: str, message_id: str) -> AsyncIterator[Message]:
        """The reply chain under ``message_id``, newest first."""
        return self._list(
            f"{_channel_path(team, channel)}/messages/{quote(message_id, safe='')}/replies"
        )

    async def _list(self, path: str) -> AsyncIterator[Message]:
        url: str | None = path
        params: dict[str, str | int] | None = {"$top": self.page}
        for _ in range(self.max_pages):
            if url is None:
                return
            data = await self._get(url, params)
            for message in data.get("value") or []:
                if isinstance(message, dict):
                    yield message
            following = data.get("@odata.nextLink")
            url = following if isinstance(following, str) and following else None
            if url is not None and _origin(url) != self._origin:
                raise TeamsApiError(f"Graph sent a next page outside {self._origin}; not followed")
            params = None

    async def _get(self, url: str, params: dict[str, str | int] | None) -> dict[str, Any]:
        for attempt in (1, 2):
            try:
                token = await self.tokens.get_access_token(
                    GRAPH_RESOURCE, [GRAPH_SCOPE], force_refresh=attempt == 2
                )
            except Exception as exc:
                raise GraphRefused(f"no Microsoft Graph token: {exc}", status=401) from None
            try:
                response = await self.http.request(
                    "GET",
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except HttpStatusError as exc:
                if exc.status == 401 and attempt == 1:
                    continue
                raise _refusal(exc) from None
            except SourceError as exc:
                raise TeamsApiError(
                    f"Microsoft Graph could not be read: {exc}", retry_after=exc.retry_after
                ) from None
            data = response.json()
            if not isinstance(data, dict):
                raise TeamsApiError("Microsoft Graph answered something that is not a list")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self.http.close()


def _refusal(exc: HttpStatusError) -> Exception:
    code = ""
    if isinstance(exc.payload, dict) and isinstance(exc.payload.get("error"), dict):
        code = str(exc.payload["error"].get("code") or "")
    detail = f" {code}" if code else ""
    if exc.status in (401, 403):
        return GraphRefused(
            f"Microsoft Graph refused to list the channel (HTTP {exc.status}{detail}); "
            "the team must grant the app ChannelMessage.Read.Group",
            status=exc.status,
        )
    if exc.status == 404:
        return GraphRefused(
            f"Microsoft Graph does not know the team or channel (HTTP 404{detail}); "
            "check teams.team_id",
            status=404,
        )
    return TeamsApiError(
        f"Microsoft Graph failed (HTTP {exc.status}{detail})",
        status=exc.status,
        retry_after=exc.retry_after,
    )


def _channel_path(team: str, channel: str) -> str:
    return f"teams/{quote(team, safe='')}/channels/{quote(channel, safe='')}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
