"""The shared HTTP client against a small loopback server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from adapters.http import (
    USER_AGENT,
    HttpClient,
    HttpStatusError,
    NetworkError,
    parse_links,
)
from adapters.rate_limits import RateLimitState, parse_reset
from bot.errors import SourceError
from tests.adapters.fakes import FakeServer
from tests.clock import FakeTime


class Echo(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[str, str] = {}
        self.app.router.add_route("*", "/echo", self._echo)
        self.app.router.add_get("/text", self._text)
        self.app.router.add_get("/slow", self._slow)

    def extra_headers(self, request: web.Request) -> dict[str, str]:
        return self.headers

    async def _echo(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        return web.json_response({"query": list(request.query.items()), "json": body})

    async def _text(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>")

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(1)  # longer than the client waits: the client gives up first
        return web.json_response({})


@pytest.fixture
async def server() -> AsyncIterator[Echo]:
    echo = Echo()
    await echo.start()
    yield echo
    await echo.close()


@pytest.fixture
async def client(server: Echo) -> AsyncIterator[HttpClient]:
    http = HttpClient(server.url, label="test", backoff=0.01, timeout=1, max_rate_wait=1)
    yield http
    await http.close()


async def test_json_round_trip_with_our_user_agent(server: Echo, client: HttpClient) -> None:
    answer = await client.post_json("/echo", json={"a": "ü"}, headers={"X-Extra": "1"})
    assert answer == {"query": [], "json": {"a": "ü"}}
    answer = await client.get_json("/echo", params=[("types[]", "mention"), ("types[]", "reply")])
    assert answer["query"] == [["types[]", "mention"], ["types[]", "reply"]]
    first = server.requests[0]
    assert first.headers["User-Agent"] == USER_AGENT
    assert first.headers["X-Extra"] == "1"


async def test_error_status_carries_status_body_and_payload(
    server: Echo, client: HttpClient
) -> None:
    server.fail("/echo", 422, {"error": "Validation failed: " + "x" * 500})
    with pytest.raises(HttpStatusError) as caught:
        await client.get_json("/echo")
    error = caught.value
    assert error.status == 422 and error.retry_after is None
    assert error.error_field("error").startswith("Validation failed")
    assert "HTTP 422 on GET /echo" in str(error) and len(str(error)) < 300


async def test_non_json_answer_is_a_clear_error(client: HttpClient) -> None:
    with pytest.raises(SourceError, match=r"expected JSON.*maintenance"):
        await client.get_json("/text")


@pytest.mark.parametrize("header", ["42", "HTTP-DATE"])
async def test_429_retry_after_seconds_or_date(
    server: Echo, client: HttpClient, header: str
) -> None:
    if header == "HTTP-DATE":
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=42), usegmt=True)
    server.fail("/echo", 429, {"error": "slow down"}, headers={"Retry-After": header})
    with pytest.raises(SourceError) as caught:
        await client.get_json("/echo")
    assert caught.value.retry_after is not None and 40 <= caught.value.retry_after <= 42


async def test_429_without_retry_after(server: Echo, client: HttpClient) -> None:
    server.fail("/echo", 429, {})
    with pytest.raises(SourceError) as caught:
        await client.get_json("/echo")
    assert caught.value.retry_after == 60


async def test_5xx_is_retried_only_when_asked(server: Echo, client: HttpClient) -> None:
    server.fail("/echo", 503, {"error": "busy"}, times=2)
    with pytest.raises(HttpStatusError):
        await client.get_json("/echo")
    assert (await client.post_json("/echo", json={}, retries=2)) == {"query": [], "json": {}}
    assert len(server.calls("/echo")) == 3


async def test_4xx_is_never_retried(server: Echo, client: HttpClient) -> None:
    server.fail("/echo", 400, {"error": "bad"})
    with pytest.raises(HttpStatusError):
        await client.post_json("/echo", json={}, retries=3)
    assert len(server.calls("/echo")) == 1


async def test_network_errors_and_timeouts(server: Echo) -> None:
    impatient = HttpClient(server.url, label="test", backoff=0.01, timeout=0.1)
    with pytest.raises(NetworkError, match="timed out"):
        await impatient.get_json("/slow")
    await impatient.close()
    closed = HttpClient("http://127.0.0.1:9", backoff=0.01)
    with pytest.raises(NetworkError, match=r"could not reach http://127\.0\.0\.1:9/x"):
        await closed.get_json("/x", params={"a": 1})
    await closed.close()


async def test_an_exhausted_window_waits_for_a_short_reset(server: Echo) -> None:
    clock = FakeTime()

    def epoch() -> float:
        return clock.now().timestamp()

    http = HttpClient(server.url, label="test", max_rate_wait=1, clock=epoch, sleep=clock.leap)
    try:
        server.headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(epoch() + 0.3)}
        await http.get_json("/echo")
        server.headers = {}
        await http.get_json("/echo")
        assert len(clock.slept) == 1 and 0.29 <= clock.slept[0] <= 0.3
        assert len(server.calls("/echo")) == 2
    finally:
        await http.close()


async def test_an_exhausted_window_with_a_long_reset_raises_without_calling(
    server: Echo, client: HttpClient
) -> None:
    server.headers = {
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(time.time()) + 90),
    }
    await client.get_json("/echo")
    with pytest.raises(SourceError) as caught:
        await client.get_json("/echo")
    assert caught.value.retry_after is not None and 85 <= caught.value.retry_after <= 90
    assert len(server.calls("/echo")) == 1
    server.headers = {}
    assert await client.post_json("/echo", json={"other": "endpoint"}) is not None
    assert len(server.calls("/echo")) == 2


def test_reset_header_formats() -> None:
    now = 1_700_000_000.0
    assert (
        parse_reset("2023-11-14T22:14:00.000Z", now)
        == datetime(2023, 11, 14, 22, 14, tzinfo=UTC).timestamp()
    )
    assert parse_reset("1700000300", now) == 1_700_000_300
    assert parse_reset("37.5", now) == now + 37.5
    assert parse_reset("soon", now) is None


def test_rate_limit_state_per_network() -> None:
    now = 1_700_000_000.0
    state = RateLimitState()
    state.update({"X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "30"}, now)
    assert state.wait_for(now) == 30
    state.update({"RateLimit-Remaining": "12", "RateLimit-Reset": "1700000100"}, now)
    assert state.wait_for(now) == 0


def test_parse_links() -> None:
    header = (
        '<https://m.example/api/v1/notifications?max_id=7>; rel="next", '
        '<https://m.example/api/v1/notifications?min_id=9>; rel="prev"'
    )
    assert parse_links(header) == {
        "next": "https://m.example/api/v1/notifications?max_id=7",
        "prev": "https://m.example/api/v1/notifications?min_id=9",
    }
