"""Loopback fakes of the social networks' HTTP APIs, shared plumbing.

``FakeServer`` runs an ``aiohttp.web.Application`` on 127.0.0.1 (random port), records every
request and lets a test queue failures (``fail``) answered before the real handler runs.
"""

from __future__ import annotations

import json
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

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass
class Failure:
    path: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    method: str = ""


class FakeServer:
    """Base of the per-network fakes: start/stop, request log and injected failures."""

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self._server: TestServer | None = None

    async def start(self) -> str:
        self._server = TestServer(self.app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("")).rstrip("/")

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
        self.failures.append(Failure(path, status, body, dict(headers or {}), times, method))

    def calls(self, path: str, method: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.path == path and (not method or r.method == method)]

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        """Headers added to every answer (rate-limit headers); override per network."""
        return {}

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
                body,
                payload,
            )
        )
        for failure in self.failures:
            if failure.path == request.path and failure.method in ("", request.method):
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


def json_error(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)
