"""Loopback fakes of the external platforms' HTTP APIs, shared plumbing.

``LoopbackServer`` is the base of every fake (the social networks here, Teams' connector in
``tests/teams/fakes.py``, Slack's Web API in ``tests/slack/fake_slack.py``): it runs an
``aiohttp.web.Application`` on 127.0.0.1 (random port), records every request (``requests``,
stamped with its ``request_clock``) and answers injected failures, such as 429 + ``Retry-After``,
before the real handler runs. ``FakeServer`` adds the path-based ``fail``/``calls`` helpers
the network fakes use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    at: float = 0.0
    """The fake's ``request_clock`` on arrival (``time.monotonic()`` unless injected)."""

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


RECORDED = web.RequestKey("recorded", Recorded)


@dataclass
class Failure:
    """An injected answer to the next ``times`` requests to ``path`` (None: until cleared)."""

    path: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    method: str = ""

    def matches(self, request: web.Request) -> bool:
        return self.path == request.path and self.method in ("", request.method)


class LoopbackServer:
    """The base of every fake: start/stop on loopback, request log and injected answers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.request_clock = clock
        self._server: TestServer | None = None

    async def start(self) -> str:
        self._server = TestServer(self.app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("")).rstrip("/")

    def inject(self, failure: Failure) -> None:
        """Answer matching requests with ``failure`` until its ``times`` are used up."""
        self.failures.append(failure)

    def throttle(
        self, path: str, retry_after: float, *, times: int | None = 1, body: Any = None
    ) -> None:
        """Answer ``path`` with HTTP 429 and ``Retry-After: retry_after``."""
        seconds = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        self.inject(Failure(path, 429, body, {"Retry-After": seconds}, times))

    def recover(self, path: str = "") -> None:
        """Drop the injected failures of ``path`` (all of them when empty)."""
        self.failures = [f for f in self.failures if path and f.path != path]

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        """Headers added to every answer (rate-limit headers); override per platform."""
        return {}

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        recorded = Recorded(
            request.method,
            request.path,
            list(request.query.items()),
            dict(request.headers),
            body,
            payload,
            self.request_clock(),
        )
        self.requests.append(recorded)
        request[RECORDED] = recorded
        for failure in self.failures:
            if failure.matches(request):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self.failures.remove(failure)
                text = failure.body if isinstance(failure.body, str) else json.dumps(failure.body)
                return web.Response(
                    status=failure.status,
                    text=text if failure.body is not None else "",
                    content_type="application/json",
                    headers={**self.extra_headers(request), **failure.headers},
                )
        response: web.StreamResponse = await handler(request)
        for key, value in self.extra_headers(request).items():
            response.headers.setdefault(key, value)
        return response


def recorded(request: web.Request) -> Recorded:
    """The log entry of ``request`` (inside a handler of a ``LoopbackServer``)."""
    return request[RECORDED]


class FakeServer(LoopbackServer):
    """Base of the per-network fakes: ``fail`` by path, ``calls`` by path."""

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        method: str = "",
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with ``status`` and ``body``."""
        self.inject(Failure(path, status, body, dict(headers or {}), times, method))

    def calls(self, path: str, method: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.path == path and (not method or r.method == method)]


def json_error(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)
