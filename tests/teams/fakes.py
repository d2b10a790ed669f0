"""Loopback fakes of the Bot Connector (Teams' REST API) and of the Bot Framework token issuer.

Both speak the documented wire format: paths, JSON shapes, status codes and error bodies.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.adapters.fakes import FakeServer, json_error

BOT_FRAMEWORK = "https://api.botframework.com"
MESSAGE_ID = ";messageid="
MAX_BYTES = 40_000
LINE_MARK = "switchboard.line:"


def _error(status: int, code: str, message: str) -> web.Response:
    return json_error(status, {"error": {"code": code, "message": message}})


def line_text(activity: dict[str, Any]) -> str | None:
    """The text of an activity line (a one-run card marked ``switchboard.line:``), else None."""
    for attachment in activity.get("attachments") or []:
        body = (attachment.get("content") or {}).get("body") or [{}]
        if str(body[0].get("id", "")).startswith(LINE_MARK):
            return "".join(run["text"] for run in body[0]["inlines"])
    return None


class ConnectorFake(FakeServer):
    """The Teams Bot Connector: channels, card conversations, replies, updates, members."""

    def __init__(self, *, tenant: str, token: str | None = None) -> None:
        super().__init__()
        self.tenant = tenant
        self.token = token
        """When set, every call must carry ``Authorization: Bearer <token>``."""
        self.channels: set[str] = set()
        self.members: dict[str, dict[str, Any]] = {}
        self.activities: dict[str, dict[str, Any]] = {}
        """Every message by activity id, with ``conversation`` and ``replyToId`` filled in."""
        self.updates: list[dict[str, Any]] = []
        self.lose = 0
        """The next ``lose`` posts (new conversations, messages) are taken and kept, and then
        answered ``502 ServiceError``: the connector did the work but the answer was lost."""
        self._ids = itertools.count(1_716_000_000_001)
        r = self.app.router
        r.add_post("/v3/conversations", self._create)
        r.add_post("/v3/conversations/{conversation}/activities", self._send)
        r.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        r.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        r.add_get("/v3/conversations/{conversation}/members/{member}", self._member)

    def add_member(self, user_id: str, name: str, aad: str, role: str = "user") -> None:
        self.members[user_id] = {
            "id": user_id,
            "name": name,
            "aadObjectId": aad,
            "userRole": role,
            "tenantId": self.tenant,
            "userPrincipalName": f"{aad}@example.com",
        }

    # views for tests --------------------------------------------------------------------------
    def cards(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Root messages (thread cards) in ``channel``, oldest first."""
        return [
            a
            for a in self.activities.values()
            if a["conversation"]["id"].partition(MESSAGE_ID)[2] == a["id"]
            and (channel is None or a["conversation"]["id"].startswith(channel + MESSAGE_ID))
        ]

    def chain(self, root_id: str) -> list[dict[str, Any]]:
        """Messages in the reply chain under the root message ``root_id``."""
        return [
            a
            for a in self.activities.values()
            if a["conversation"]["id"].endswith(MESSAGE_ID + root_id) and a["id"] != root_id
        ]

    def lines(self, root_id: str) -> list[str]:
        """The activity lines under ``root_id`` as people read them, oldest first."""
        return [text for a in self.chain(root_id) if (text := line_text(a)) is not None]

    def chain_cards(self, root_id: str) -> list[dict[str, Any]]:
        """Cards in the reply chain under ``root_id`` other than activity lines (confirm and
        approval cards)."""
        return [a for a in self.chain(root_id) if a.get("attachments") and line_text(a) is None]

    def line_counts(self, root_id: str) -> Counter[str]:
        """How often each activity line appears in the reply chain under ``root_id``."""
        return Counter(self.lines(root_id))

    # handlers ----------------------------------------------------------------------------------
    def _denied(self, request: web.Request) -> web.Response | None:
        if self.token is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return json_error(401, {"message": "Authorization has been denied for this request."})
        return None

    def _known(self, conversation: str) -> bool:
        channel, _, root = conversation.partition(MESSAGE_ID)
        if channel not in self.channels:
            return False
        return not root or root in self.activities

    def _store(self, conversation: str, activity: dict[str, Any], reply_to: str = "") -> str:
        activity_id = str(next(self._ids))
        channel, _, root = conversation.partition(MESSAGE_ID)
        stored = dict(activity, id=activity_id)
        stored["conversation"] = {"id": f"{channel}{MESSAGE_ID}{root or activity_id}"}
        if reply_to:
            stored["replyToId"] = reply_to
        self.activities[activity_id] = stored
        return activity_id

    async def _body(
        self, request: web.Request
    ) -> tuple[dict[str, Any] | None, web.Response | None]:
        raw = await request.read()
        if len(raw) > MAX_BYTES:
            return None, _error(413, "MessageSizeTooBig", "Message size too large")
        try:
            body = await request.json()
        except ValueError:
            return None, _error(400, "BadSyntax", "Request body is not valid JSON")
        if not isinstance(body, dict):
            return None, _error(400, "BadSyntax", "Request body must be an object")
        return body, None

    async def _create(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        body, bad = await self._body(request)
        if bad or body is None:
            return bad or _error(400, "BadSyntax", "empty")
        channel = (body.get("channelData") or {}).get("channel", {}).get("id")
        tenant = (body.get("channelData") or {}).get("tenant", {}).get("id") or body.get("tenantId")
        if not body.get("isGroup") or not channel:
            return _error(400, "BadArgument", "A channel conversation needs isGroup and a channel")
        if tenant != self.tenant:
            return _error(403, "Forbidden", "Tenant mismatch or missing tenant id")
        if channel not in self.channels:
            return _error(404, "ConversationNotFound", "Conversation not found.")
        activity = body.get("activity")
        if not isinstance(activity, dict) or activity.get("type") != "message":
            return _error(400, "BadArgument", "An initial message activity is required")
        activity_id = self._store(channel, activity)
        if lost := self._lost():
            return lost
        return web.json_response(
            {"id": f"{channel}{MESSAGE_ID}{activity_id}", "activityId": activity_id}, status=201
        )

    async def _send(self, request: web.Request) -> web.Response:
        return await self._post(request, "")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._post(request, request.match_info["activity"])

    async def _post(self, request: web.Request, reply_to: str) -> web.Response:
        if denied := self._denied(request):
            return denied
        body, bad = await self._body(request)
        if bad or body is None:
            return bad or _error(400, "BadSyntax", "empty")
        conversation = request.match_info["conversation"]
        if not self._known(conversation):
            return _error(404, "ConversationNotFound", "Conversation not found.")
        reply_to = reply_to or str(body.get("replyToId") or "")
        activity_id = self._store(conversation, body, reply_to)
        if lost := self._lost():
            return lost
        return web.json_response({"id": activity_id}, status=201)

    def _lost(self) -> web.Response | None:
        if self.lose <= 0:
            return None
        self.lose -= 1
        return _error(502, "ServiceError", "The service could not complete the request.")

    async def _update(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        body, bad = await self._body(request)
        if bad or body is None:
            return bad or _error(400, "BadSyntax", "empty")
        conversation = request.match_info["conversation"]
        activity_id = request.match_info["activity"]
        current = self.activities.get(activity_id)
        channel = conversation.partition(MESSAGE_ID)[0]
        if current is None or not current["conversation"]["id"].startswith(channel):
            return _error(404, "ActivityNotFoundInConversation", "Activity not found.")
        updated = dict(body, id=activity_id, conversation=current["conversation"])
        self.activities[activity_id] = updated
        self.updates.append(updated)
        return web.json_response({"id": activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        member = self.members.get(request.match_info["member"])
        if member is None:
            return _error(404, "MemberNotFoundInConversation", "Member not found.")
        return web.json_response(member)


class IssuerFake(FakeServer):
    """The Bot Framework token issuer: OpenID metadata, signing keys, and signed tokens."""

    def __init__(self, *, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "fake-key-1"
        self.endorsements = list(endorsements)
        self.app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        self.app.router.add_get("/v1/.well-known/keys", self._keys)

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update(kid=self.kid, use="sig", endorsements=self.endorsements)
        return web.json_response({"keys": [jwk]})

    def token(
        self,
        *,
        audience: str,
        service_url: str | None,
        issuer: str = BOT_FRAMEWORK,
        expires_in: int = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        algorithm: str = "RS256",
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "nbf": now - 60,
            "exp": now + expires_in,
        }
        if service_url is not None:
            claims["serviceurl"] = service_url
        signing: Any = key or self.key
        if algorithm.startswith("HS"):
            signing = "a-shared-secret-that-is-long-enough-for-hs256"
        return jwt.encode(claims, signing, algorithm=algorithm, headers={"kid": kid or self.kid})


class LoginFake(FakeServer):
    """The Entra ID v2 token endpoint (``POST /{tenant}/oauth2/v2.0/token``) issuing
    client-credentials tokens, refusing a wrong secret as Entra does (401 ``invalid_client``,
    AADSTS7000215) and a form without the client-credentials grant (400 ``invalid_request``).
    ``refuse`` makes every request answer 401 ``invalid_client`` until it is cleared."""

    def __init__(self, *, tenant: str, client_id: str, secret: str, token: str) -> None:
        super().__init__()
        self.tenant = tenant
        self.client_id = client_id
        self.secret = secret
        self.token = token
        self.expires_in = 3599
        self.refuse = False
        self.app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)

    @property
    def authority(self) -> str:
        """A ``teams.auth_authority`` pointing here."""
        return f"{self.url}/{self.tenant}"

    @property
    def path(self) -> str:
        return f"/{self.tenant}/oauth2/v2.0/token"

    def requests_made(self) -> int:
        return len(self.calls(self.path, "POST"))

    @staticmethod
    def _refusal(status: int, error: str, description: str) -> web.Response:
        body = {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:13]) if description[6:13].isdigit() else 0],
            "timestamp": "2026-11-02 09:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000001",
            "correlation_id": "00000000-0000-0000-0000-000000000002",
        }
        return json_error(status, body)

    async def _token(self, request: web.Request) -> web.Response:
        if request.match_info["tenant"] != self.tenant:
            return self._refusal(400, "invalid_request", "AADSTS90002: Tenant not found.")
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or not form.get("scope"):
            return self._refusal(
                400, "invalid_request", "AADSTS900144: The request body must contain a grant."
            )
        client_id = str(form.get("client_id") or "")
        if self.refuse or form.get("client_secret") != self.secret:
            return self._refusal(
                401,
                "invalid_client",
                f"AADSTS7000215: Invalid client secret provided for app '{client_id}'.",
            )
        if client_id != self.client_id:
            return self._refusal(
                400, "unauthorized_client", "AADSTS700016: Application not found in the tenant."
            )
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": self.token,
            }
        )
