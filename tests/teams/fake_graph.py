"""A loopback fake of Microsoft Graph's channel messages, reading what the fake connector holds.

``GET /v1.0/teams/{team}/channels/{channel}/messages`` and
``.../messages/{message}/replies``: every activity the ``ConnectorFake`` took is listed as a
chatMessage (newest first; ``$top`` 20 by default, at most 50; ``@odata.nextLink`` with an
opaque ``$skiptoken``), its Adaptive Cards as ``attachments`` whose ``content`` is the card
serialized to a JSON string, as Graph documents it. A wrong token is 401
``InvalidAuthenticationToken``; ``refuse`` answers 403 ``Forbidden`` (no consent); a team that
does not hold the channel is 404 ``NotFound``.
"""

from __future__ import annotations

import base64
import html as htmllib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.adapters.fakes import FakeServer, json_error
from tests.teams.fakes import MESSAGE_ID, ConnectorFake

DEFAULT_TOP = 20
MAX_TOP = 50


def _error(status: int, code: str, message: str) -> web.Response:
    inner = {"date": "2026-11-02T09:00:00", "request-id": "00000000-0000-0000-0000-0000000000aa"}
    return json_error(status, {"error": {"code": code, "message": message, "innerError": inner}})


class GraphFake(FakeServer):
    """Graph's channel messages over the fake connector's activities."""

    def __init__(self, connector: ConnectorFake, *, token: str, app_id: str) -> None:
        super().__init__()
        self.connector = connector
        self.token = token
        self.app_id = app_id
        self.teams: dict[str, set[str]] = {}
        """Team group id -> the channels it holds."""
        self.refuse = False
        r = self.app.router
        r.add_get("/v1.0/teams/{team}/channels/{channel}/messages", self._messages)
        r.add_get("/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies", self._replies)

    @property
    def base(self) -> str:
        """A ``teams.graph_url`` pointing here."""
        return f"{self.url}/v1.0"

    def messages_path(self, team: str, channel: str) -> str:
        return f"/v1.0/teams/{team}/channels/{channel}/messages"

    def listings(self) -> int:
        """How many list requests (any page, messages or replies) arrived."""
        return sum(1 for r in self.requests if r.method == "GET")

    # handlers ----------------------------------------------------------------------------------
    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        if self.refuse:
            return _error(
                403,
                "Forbidden",
                "Missing role permissions on the request. API requires one of "
                "'ChannelMessage.Read.All, ChannelMessage.Read.Group, Group.Read.All'.",
            )
        team, channel = request.match_info["team"], request.match_info["channel"]
        if channel not in self.teams.get(team, set()):
            return _error(404, "NotFound", "Resource not found for the segment 'channels'.")
        return None

    async def _messages(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        channel = request.match_info["channel"]
        return self._page(request, self.connector.cards(channel), channel)

    async def _replies(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        channel, root = request.match_info["channel"], request.match_info["message"]
        card = self.connector.activities.get(root)
        if card is None or not card["conversation"]["id"].startswith(channel + MESSAGE_ID):
            return _error(404, "NotFound", "Resource not found for the segment 'messages'.")
        return self._page(request, self.connector.chain(root), channel)

    def _page(
        self, request: web.Request, activities: list[dict[str, Any]], channel: str
    ) -> web.Response:
        try:
            top = int(request.query.get("$top", DEFAULT_TOP))
        except ValueError:
            return _error(400, "BadRequest", "Invalid value for $top.")
        if not 1 <= top <= MAX_TOP:
            return _error(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.")
        skip = 0
        if token := request.query.get("$skiptoken"):
            state = json.loads(base64.urlsafe_b64decode(token))
            skip, top = int(state["skip"]), int(state["top"])
        newest_first = sorted(activities, key=lambda a: int(a["id"]), reverse=True)
        page = newest_first[skip : skip + top]
        team = request.match_info["team"]
        body: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#teams('{team}')"
            f"/channels('{quote(channel, safe='')}')/messages",
            "@odata.count": len(page),
            "value": [self._message(a, team, channel) for a in page],
        }
        if skip + top < len(newest_first):
            state = json.dumps({"skip": skip + top, "top": top}).encode()
            token = base64.urlsafe_b64encode(state).decode()
            body["@odata.nextLink"] = f"{self.url}{request.path}?$skiptoken={token}"
        return web.json_response(body)

    def _message(self, activity: dict[str, Any], team: str, channel: str) -> dict[str, Any]:
        root = activity["conversation"]["id"].partition(MESSAGE_ID)[2]
        created = datetime.fromtimestamp(int(activity["id"]) / 1000, UTC)
        stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        attachments = [
            {
                "id": f"{activity['id']}-{n}",
                "contentType": a.get("contentType"),
                "contentUrl": None,
                "content": json.dumps(a.get("content")),
                "name": None,
                "thumbnailUrl": None,
            }
            for n, a in enumerate(activity.get("attachments") or [])
        ]
        text = str(activity.get("text") or "")
        cards = "".join(f'<attachment id="{a["id"]}"></attachment>' for a in attachments)
        return {
            "id": activity["id"],
            "replyToId": None if root == activity["id"] else root,
            "etag": activity["id"],
            "messageType": "message",
            "createdDateTime": stamp,
            "lastModifiedDateTime": stamp,
            "lastEditedDateTime": None,
            "deletedDateTime": None,
            "subject": None,
            "summary": activity.get("summary"),
            "chatId": None,
            "importance": "normal",
            "locale": "en-us",
            "webUrl": f"https://teams.microsoft.com/l/message/{quote(channel, safe='')}/"
            f"{activity['id']}?groupId={team}",
            "policyViolation": None,
            "eventDetail": None,
            "from": {
                "application": {
                    "@odata.type": "#microsoft.graph.teamworkApplicationIdentity",
                    "id": self.app_id,
                    "displayName": "Switchboard",
                    "applicationIdentityType": "bot",
                },
                "device": None,
                "user": None,
            },
            "body": {"contentType": "html", "content": f"<p>{htmllib.escape(text)}</p>{cards}"},
            "channelIdentity": {"teamId": team, "channelId": channel},
            "attachments": attachments,
            "mentions": [],
            "reactions": [],
        }
