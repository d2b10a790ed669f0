"""Signed webhooks: any listening tool can push mentions to ``POST /hooks/{source}``.

Request::

    POST /hooks/<source name>
    Content-Type: application/json
    X-Switchboard-Timestamp: <unix seconds, within 300 s of our clock>
    X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed by secret>

Body, one mention (``id``, ``author.id``, ``author.handle`` and ``text`` are required; ids may
be strings or integers; ``created_at`` is ISO 8601, UTC when it has no offset, now when absent)::

    {"id": "post-123",
     "conversation_id": "thread-9",
     "author": {"id": "u-42", "handle": "ada", "display_name": "Ada L.",
                "profile_url": "https://forum.example.com/u/ada"},
     "text": "Is the export broken for anyone else?",
     "url": "https://forum.example.com/t/9#post-123",
     "created_at": "2024-05-01T09:30:00Z"}

or a batch: ``{"mentions": [{...}, {...}]}`` (at most 100). ``conversation_id`` groups the
follow-ups of one public conversation (default: the mention's own ``id``); ``text`` is plain
text, shown escaped. Re-sending a mention with the same ``id`` is harmless.

Answers (all JSON): ``202 {"accepted": n}`` once every mention is stored; ``400 {"error"}`` for
a body that is not JSON (or nests deeper than 16 levels, or holds a number longer than 32
characters, ``NaN`` or ``Infinity``), a missing/invalid field (the error names it, e.g.
``mentions[1].author.handle``; an id or text made only of invisible characters is invalid),
or a timestamp header that is not 1 to 12 digits; ``401 {"error"}`` for a missing or wrong
signature or a
timestamp outside the window; ``413`` for a body over ``max_body_bytes`` (default 256 KiB);
``503`` when the store is unavailable (retry later).

Signing, in a shell::

    ts=$(date +%s)
    body='{"id":"1","author":{"id":"u1","handle":"ada"},"text":"hello @acme"}'
    sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
    curl https://switchboard.example.com/hooks/forum -H 'Content-Type: application/json' \\
      -H "X-Switchboard-Timestamp: $ts" -H "X-Switchboard-Signature: sha256=$sig" -d "$body"

or in Python: ``"sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body,
"sha256").hexdigest()`` where ``body`` is the exact bytes sent.

Replies (optional ``reply_url``; without it the source is read-only): we POST
``{"in_reply_to": <mention id>, "text": ..., "idempotency_key": ...}`` to ``reply_url``, signed
the same way with the same secret (the key is also sent as ``Idempotency-Key``), and expect a
2xx ``{"id": ..., "url": ...}``. A repeated ``idempotency_key`` must return the reply already
posted: we retry with the same key after a crash or timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web
from pydantic import Field, SecretStr, field_validator

from adapters.base import SourceSettings
from adapters.http import DEFAULT_RETRY_AFTER, HttpClient, HttpStatusError, excerpt
from adapters.plain_text import clean_text
from adapters.safe_json import UnsafeJson, loads
from adapters.support import coerce_settings
from bot.config_types import OptionalHttpUrl
from bot.domain import Author, Mention, ReplyResult
from bot.errors import ReadOnlySource, SourceError, SwitchboardError
from bot.naming import source_label
from bot.ports import Batch, PushSource, ReplyLimit
from bot.untrusted import blank, safe_url

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
SIGNATURE_HEADER = "X-Switchboard-Signature"
MAX_BATCH = 100
MAX_ID = 256
MAX_REPLY_ANSWER = 64 * 1024
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Switchboard-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookSettings(SourceSettings):
    """``type: webhook``: a shared secret, and where replies go (if anywhere)."""

    secret: SecretStr
    reply_url: OptionalHttpUrl = ""
    reply_limit: int = Field(default=10_000, gt=0)
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    tolerance: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=3600.0, gt=0)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use a random string)")
        return value


class BadPayload(ValueError):
    """A webhook body that is JSON but not the documented shape; the text names the field."""


class WebhookSource(PushSource):
    """Push-only mentions from a signed webhook, replies to an optional ``reply_url``."""

    settings_model: ClassVar[type[SourceSettings]] = WebhookSettings
    network = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        clock: Callable[[], float] = time.time,
        http: HttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.poll_interval = settings.poll_interval
        self.clock = clock
        self._secret = settings.secret.get_secret_value()
        self.label = source_label(self.network, settings.name)
        self.http = http or HttpClient(
            settings.reply_url,
            label=self.label,
            timeout=settings.timeout,
            max_bytes=MAX_REPLY_ANSWER,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> WebhookSource:
        return cls(coerce_settings(WebhookSettings, settings))

    def reply_limit(self) -> ReplyLimit | None:
        return ReplyLimit(self.settings.reply_limit) if self.settings.reply_url else None

    def measure(self, text: str) -> int:
        return len(text)

    async def fetch(self, cursor: str | None) -> Batch:
        """Nothing to poll: mentions arrive through ``handle``."""
        return Batch(mentions=[], cursor=cursor)

    async def check(self) -> str:
        url = self.settings.reply_url
        where = f"replies go to {url}" if url else "read-only (no reply_url)"
        return f"signed webhook at POST /hooks/{self.name}; {where}"

    async def close(self) -> None:
        await self.http.close()

    # -- inbound ------------------------------------------------------------------------------

    async def handle(
        self, request: web.Request, accept: Callable[[Mention], Awaitable[None]]
    ) -> web.Response:
        """Verify, parse and store one webhook request; 202 only after every ``accept``."""
        limit = self.settings.max_body_bytes
        too_big = _error(413, f"body larger than {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            return too_big
        body = bytearray()
        async for chunk in request.content.iter_chunked(65536):
            body += chunk
            if len(body) > limit:
                return too_big
        stamp = request.headers.get(TIMESTAMP_HEADER)
        if stamp and not _UNIX_SECONDS.fullmatch(stamp.strip()):
            return _error(400, f"{TIMESTAMP_HEADER} must be unix seconds (at most 12 digits)")
        problem = self.verify(
            stamp,
            request.headers.get(SIGNATURE_HEADER),
            bytes(body),
        )
        if problem:
            log.warning("%s: refused a request from %s: %s", self.label, request.remote, problem)
            return _error(401, problem)
        try:
            payload = loads(bytes(body))
        except UnsafeJson as exc:
            return _error(400, f"body {exc}")
        try:
            mentions = self.parse(payload)
        except BadPayload as exc:
            return _error(400, str(exc))
        for mention in mentions:
            try:
                await accept(mention)
            except SwitchboardError as exc:
                log.error("%s: could not store %s: %s", self.label, mention.external_id, exc)
                busy = _error(503, "could not store the mentions; retry later")
                busy.headers["Retry-After"] = str(RETRY_AFTER)
                return busy
        return web.json_response({"accepted": len(mentions)}, status=202)

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> str:
        """'' when the request is authentic, else the reason it is not."""
        if not timestamp:
            return f"missing {TIMESTAMP_HEADER} header"
        if not signature:
            return f"missing {SIGNATURE_HEADER} header"
        if not _UNIX_SECONDS.fullmatch(timestamp.strip()):
            return f"{TIMESTAMP_HEADER} must be unix seconds (at most 12 digits)"
        sent = int(timestamp.strip())
        if abs(self.clock() - sent) > self.settings.tolerance:
            return f"{TIMESTAMP_HEADER} is outside the {self.settings.tolerance:.0f} s window"
        if not signature.startswith("sha256="):
            return f"{SIGNATURE_HEADER} must look like sha256=<hex>"
        expected = sign(self._secret, timestamp.strip(), body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
            return "signature does not match"
        return ""

    def parse(self, payload: Any) -> list[Mention]:
        """The documented body (one mention or ``{"mentions": [...]}``) as Mentions."""
        if isinstance(payload, dict) and "mentions" in payload:
            items = payload["mentions"]
            if not isinstance(items, list) or not items:
                raise BadPayload("mentions: must be a non-empty array")
            if len(items) > MAX_BATCH:
                raise BadPayload(f"mentions: at most {MAX_BATCH} per request")
            return [self._mention(item, f"mentions[{i}].") for i, item in enumerate(items)]
        return [self._mention(payload, "")]

    def _mention(self, item: Any, at: str) -> Mention:
        if not isinstance(item, dict):
            raise BadPayload(f"{at.rstrip('.') or 'body'}: must be a JSON object")
        author = item.get("author")
        if not isinstance(author, dict):
            raise BadPayload(f"{at}author: missing (an object with id and handle)")
        mention_id = _id(item, "id", at, required=True)
        text = item.get("text")
        if not isinstance(text, str) or not clean_text(text):
            raise BadPayload(f"{at}text: missing (a non-empty string)")
        if blank(text):
            raise BadPayload(f"{at}text: shows nothing (only invisible characters)")
        url = _url(item, "url", at)
        return Mention(
            source=self.name,
            network=self.network,
            external_id=mention_id,
            conversation_key=_id(item, "conversation_id", at) or mention_id,
            author=Author(
                id=_id(author, "id", f"{at}author.", required=True),
                handle=_id(author, "handle", f"{at}author.", required=True),
                display_name=clean_text(_string(author, "display_name", f"{at}author.")),
                profile_url=_url(author, "profile_url", f"{at}author."),
            ),
            text=clean_text(text),
            permalink=url,
            created_at=_when(item, at),
            reply_data={"id": mention_id, "url": url},
        )

    # -- outbound -----------------------------------------------------------------------------

    async def reply(self, mention: Mention, text: str, idempotency_key: str) -> ReplyResult:
        """POST the signed reply to ``reply_url``; the receiver dedupes on the key."""
        url = self.settings.reply_url
        if not url:
            raise ReadOnlySource(self.name, mention.permalink or "the original site")
        in_reply_to = mention.reply_data.get("id", mention.external_id)
        body = json.dumps(
            {"in_reply_to": in_reply_to, "text": text, "idempotency_key": idempotency_key},
            ensure_ascii=False,
        ).encode("utf-8")
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            response = await self.http.request("POST", url, data=body, headers=headers)
        except HttpStatusError as exc:
            if exc.status == 503 and exc.retry_after is None:
                raise SourceError(str(exc), retry_after=DEFAULT_RETRY_AFTER) from exc
            raise
        answer, status, text_answer = response.body, response.status, response.text
        try:
            data = loads(answer)
            return ReplyResult(external_id=str(data["id"]), url=_url(data, "url", ""))
        except (ValueError, KeyError, TypeError, BadPayload) as exc:
            raise SourceError(
                f"{self.label}: {url} answered {status} without "
                f'{{"id": ..., "url": ...}}: {excerpt(text_answer)}'
            ) from exc


RETRY_AFTER = 5
"""Seconds a sender is asked to wait when the store could not take its mentions."""


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _id(data: dict[str, Any], key: str, at: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise BadPayload(f"{at}{key}: missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload(f"{at}{key}: must be a string or integer")
    text = clean_text(str(value))
    if not text:
        raise BadPayload(f"{at}{key}: must not be empty")
    if blank(text):
        raise BadPayload(f"{at}{key}: shows nothing (only invisible characters)")
    if len(text) > MAX_ID:
        raise BadPayload(f"{at}{key}: longer than {MAX_ID} characters")
    return text


def _string(data: dict[str, Any], key: str, at: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadPayload(f"{at}{key}: must be a string")
    return value


def _url(data: dict[str, Any], key: str, at: str) -> str:
    value = _string(data, key, at).strip()
    if value and not safe_url(value):
        raise BadPayload(
            f"{at}{key}: must be an http(s) URL with a host, without user info, spaces "
            "or control characters"
        )
    return value


def _when(data: dict[str, Any], at: str) -> datetime:
    raw = _string(data, "created_at", at)
    if not raw:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise BadPayload(f"{at}created_at: not an ISO 8601 date-time ({raw[:40]!r})") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
