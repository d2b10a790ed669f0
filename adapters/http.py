"""The small JSON-over-HTTP client every source adapter uses.

``HttpClient`` wraps one lazily created ``aiohttp.ClientSession`` with a base URL, default
headers (our User-Agent), timeouts and the error rules of the project:

* network errors, timeouts and non-2xx answers raise ``SourceError`` (``HttpStatusError`` for
  a status, carrying the status, a short body excerpt and the parsed JSON error body);
* a 429 (or a 503 with ``Retry-After``) raises ``SourceError(retry_after=...)``: ``Retry-After``
  in seconds or as an HTTP date (``bot.retry_after``), else the rate-limit reset header, else
  a minute;
* an answer body over ``max_bytes`` raises ``SourceError`` while it streams in;
* ``get_if_changed`` is a conditional GET (``If-None-Match``/``If-Modified-Since``) that
  returns None on 304 Not Modified;
* rate-limit headers (``X-RateLimit-*``, ``RateLimit-*``, ``x-rate-limit-*``) are tracked in a
  ``RateLimitState`` per endpoint (method and path): once an endpoint's window is used up the
  next call to it waits for the reset when that is short, or raises
  ``SourceError(retry_after=...)`` without touching the network;
* ``retries`` > 0 retries 5xx and network errors with exponential backoff and jitter. Pass it
  only for calls that are safe to repeat (reads, or writes keyed by an idempotency key).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.rate_limits import RateLimitState
from bot.errors import SourceError
from bot.retry_after import parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "social-switchboard/0.1 (+https://github.com/social-switchboard)"
DEFAULT_RETRY_AFTER = 60.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
EXCERPT_CHARS = 200

Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]]

_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')


@dataclass
class Response:
    """A finished HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    links: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.body)
        except ValueError as exc:
            raise SourceError(
                f"expected JSON from {self.url} (HTTP {self.status}), got: {excerpt(self.text)}"
            ) from exc


class NetworkError(SourceError):
    """The server could not be reached (DNS, refused connection, timeout, broken answer)."""


class HttpStatusError(SourceError):
    """The server answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: str,
        payload: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.body = body
        self.payload = payload

    def error_field(self, *names: str) -> str:
        """The first string among ``names`` in a JSON error body ('' when absent)."""
        if isinstance(self.payload, dict):
            for name in names:
                value = self.payload.get(name)
                if isinstance(value, str):
                    return value
        return ""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A one-line, printable excerpt of an answer body for error messages."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_links(header: str) -> dict[str, str]:
    """An RFC 8288 ``Link`` header as ``{rel: url}``."""
    return {rel.strip(): url for url, rel in _LINK.findall(header or "")}


class HttpClient:
    """JSON over HTTP with our User-Agent, error wrapping and rate-limit awareness."""

    def __init__(
        self,
        base_url: str,
        *,
        label: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_rate_wait: float = 5.0,
        backoff: float = 0.5,
        backoff_cap: float = 8.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = label or self.base_url
        self.headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self.headers.update(headers or {})
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_rate_wait = max_rate_wait
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.clock = clock
        self.sleep = sleep
        self.rate_limits: dict[str, RateLimitState] = {}
        self._session = session
        self._owns_session = session is None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()
        self._session = None

    async def get_json(
        self, path: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return (await self.request("GET", path, params=params, headers=headers)).json()

    async def get_if_changed(
        self,
        path: str,
        *,
        etag: str = "",
        modified: str = "",
        headers: Mapping[str, str] | None = None,
        retries: int = 0,
    ) -> Response | None:
        """A conditional GET with the validators of the last answer (its ``ETag`` and
        ``Last-Modified``); None when the server answers 304 Not Modified."""
        conditional = dict(headers or {})
        if etag:
            conditional["If-None-Match"] = etag
        if modified:
            conditional["If-Modified-Since"] = modified
        response = await self.request(
            "GET", path, headers=conditional, retries=retries, not_modified_ok=True
        )
        return None if response.status == 304 else response

    async def post_json(
        self,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int = 0,
    ) -> Any:
        response = await self.request("POST", path, json=json, headers=headers, retries=retries)
        return response.json() if response.body.strip() else None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: bytes | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retries: int = 0,
        not_modified_ok: bool = False,
    ) -> Response:
        """Send one request; raise ``SourceError`` unless the answer is 2xx (or a 304 when
        ``not_modified_ok``)."""
        attempt = 0
        while True:
            try:
                return await self._once(method, path, params, json, data, headers, not_modified_ok)
            except HttpStatusError as exc:
                if exc.status < 500 or exc.retry_after is not None or attempt >= retries:
                    raise
                error: SourceError = exc
            except NetworkError as exc:
                if attempt >= retries:
                    raise
                error = exc
            delay = min(self.backoff_cap, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            log.warning("%s: %s; retry %d in %.2fs", self.label, error, attempt, delay)
            await self.sleep(delay)

    async def _once(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        data: bytes | Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        not_modified_ok: bool,
    ) -> Response:
        limit = self.rate_limit(method, path)
        await self._respect_rate_limit(limit)
        url = self.url(path)
        merged = {**self.headers, **(headers or {})}
        query = list(params.items()) if isinstance(params, Mapping) else list(params or ())
        try:
            async with self._session_now().request(
                method,
                url,
                params=[(k, str(v)) for k, v in query] or None,
                json=json,
                data=data,
                headers=merged,
            ) as resp:
                body = await self._read_capped(resp, url)
                resp_headers = {k: v for k, v in resp.headers.items()}
                status = resp.status
                links = parse_links(resp.headers.get("Link", ""))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NetworkError(f"{self.label}: could not reach {url}: {_describe(exc)}") from exc
        now = self.clock()
        limit.update(resp_headers, now)
        response = Response(status, resp_headers, body, url, links)
        if 200 <= status < 300 or (status == 304 and not_modified_ok):
            return response
        raise self._status_error(method, path, response, now, limit)

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        limit = self.max_bytes
        body = bytearray()
        if (resp.content_length or 0) <= limit:
            async for chunk in resp.content.iter_chunked(65536):
                body += chunk
                if len(body) > limit:
                    break
        if (resp.content_length or 0) > limit or len(body) > limit:
            raise SourceError(
                f"{self.label}: the answer from {url} is larger than max_bytes ({limit} bytes)"
            )
        return bytes(body)

    def _status_error(
        self, method: str, path: str, response: Response, now: float, limit: RateLimitState
    ) -> HttpStatusError:
        text = response.text
        try:
            payload: Any = jsonlib.loads(response.body) if response.body else None
        except ValueError:
            payload = None
        retry_after: float | None = None
        if response.status == 429 or (
            response.status == 503 and "retry-after" in {k.lower() for k in response.headers}
        ):
            header = next(
                (v for k, v in response.headers.items() if k.lower() == "retry-after"), None
            )
            retry_after = parse_retry_after(header, datetime.fromtimestamp(now, UTC))
            if retry_after is None and limit.reset_at is not None:
                retry_after = max(limit.reset_at - now, 1.0)
            if retry_after is None:
                retry_after = DEFAULT_RETRY_AFTER
        what = "rate limited" if response.status == 429 else f"HTTP {response.status}"
        where = path.split("?", 1)[0]
        message = f"{self.label}: {what} on {method} {where}"
        if retry_after is not None:
            message += f" (retry in {retry_after:.0f}s)"
        if text.strip():
            message += f": {excerpt(text)}"
        return HttpStatusError(
            message, status=response.status, body=text, payload=payload, retry_after=retry_after
        )

    def rate_limit(self, method: str, path: str) -> RateLimitState:
        """The rate-limit window of one endpoint (networks limit endpoints separately)."""
        key = f"{method.upper()} {path.split('?', 1)[0]}"
        return self.rate_limits.setdefault(key, RateLimitState())

    async def _respect_rate_limit(self, limit: RateLimitState) -> None:
        wait = limit.wait_for(self.clock())
        if wait <= 0:
            return
        if wait > self.max_rate_wait:
            raise SourceError(
                f"{self.label}: rate limit used up; resets in {wait:.0f}s", retry_after=wait
            )
        log.info("%s: rate limit used up; waiting %.1fs for the reset", self.label, wait)
        await self.sleep(wait)
        limit.remaining = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
