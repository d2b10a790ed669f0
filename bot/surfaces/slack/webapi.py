"""A thin async Slack Web API client: 429s are retried a bounded number of times, and
messages to one channel are paced to Slack's per-channel rate (about one a second) without
holding up other channels.

    api = SlackWebApi(token, api_url)                 # api_url "" -> https://slack.com/api/
    data = await api.call("users.info", user="U123")  # any method, by its Slack name
    data = await api.post("C123", text=..., blocks=...)  # chat.postMessage, paced

A 429 whose ``Retry-After`` is at most ``max_wait`` seconds is retried up to ``max_retries``
times (slack_sdk's rate-limit retry handler, waiting with the injected ``sleep``). Past that
bound, or for a longer ``Retry-After``, the call raises ``SlackCallError`` with ``error``
``"ratelimited"`` and ``retry_after`` (seconds) so the caller can defer instead of blocking;
the channel is held that long by the pacer. Other failures raise ``SlackCallError`` carrying
Slack's ``error`` code. Every answer Slack gives (a success, or an error code other than a
rate limit) is passed to the ``outcome_listeners`` as ``(method, error)``, ``error`` empty on
success: ``health.py`` learns from them whether the token is still accepted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.aio import Clock, Sleep
from bot.errors import SwitchboardError
from bot.retry_after import parse_retry_after
from bot.storm.ports import Turns

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMITED = "ratelimited"


class SlackCallError(SwitchboardError):
    """A Slack Web API call failed; ``error`` is Slack's code (``channel_not_found``...).
    ``retry_after`` (seconds) is set when Slack is rate limiting us."""

    def __init__(
        self, method: str, error: str, detail: str = "", *, retry_after: float | None = None
    ) -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"Slack {method} failed: {error}{extra}")
        self.method = method
        self.error = error
        self.retry_after = retry_after


def retry_after(headers: Mapping[str, Any] | None, default: float = 1.0) -> float:
    """Seconds from a ``Retry-After`` header (delay or HTTP-date), whatever the case of its
    name; ``default`` when it is missing or unreadable."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            seconds = parse_retry_after(None if raw is None else str(raw), datetime.now(UTC))
            return default if seconds is None else seconds
    return default


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_at: float = 0.0


class ChannelHeld(Exception):
    """The channel is held (rate limited) for longer than the caller is willing to wait."""

    def __init__(self, channel: str, retry_after: float) -> None:
        super().__init__(f"channel {channel} is held for {retry_after:.1f}s")
        self.retry_after = retry_after


class ChannelPacer:
    """One lane per channel: posts to a channel go one at a time, ``interval`` seconds apart
    (from the end of one to the start of the next), in arrival order. Lanes are independent.
    ``hold`` keeps a channel quiet after a 429; ``clock`` and ``sleep`` are injectable."""

    def __init__(
        self, interval: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._lanes: dict[str, _Lane] = {}

    @asynccontextmanager
    async def slot(self, channel: str, max_wait: float = math.inf) -> AsyncIterator[None]:
        """Wait for ``channel``'s turn; raise ``ChannelHeld`` rather than wait past
        ``max_wait`` seconds."""
        lane = self._lanes.setdefault(channel, _Lane())
        async with lane.lock:
            wait = lane.next_at - self.clock()
            if wait > max_wait:
                raise ChannelHeld(channel, wait)
            if wait > 0:
                await self.sleep(wait)
            try:
                yield
            finally:
                lane.next_at = max(lane.next_at, self.clock() + self.interval)

    def hold(self, channel: str, seconds: float) -> None:
        """Keep ``channel`` quiet for ``seconds`` (Slack said to wait)."""
        lane = self._lanes.setdefault(channel, _Lane())
        lane.next_at = max(lane.next_at, self.clock() + seconds)

    def held_for(self, channel: str) -> float:
        """Seconds until ``channel`` may be posted to again (0 when it is free)."""
        lane = self._lanes.get(channel)
        return max(0.0, lane.next_at - self.clock()) if lane else 0.0


class _RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, bounded: retries only a ``Retry-After`` of at most
    ``max_wait`` seconds, and waits with the injected ``sleep``."""

    def __init__(self, max_retry_count: int, max_wait: float, sleep: Sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after(response.headers) <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = retry_after(response.headers if response else None)
        log.warning("Slack rate limited %s; retrying in %.1fs", request.url, wait)
        await self.sleep(wait)
        state.increment_current_attempt()


class _ConnectionRetry(AsyncConnectionErrorRetryHandler):
    """slack_sdk's one retry after a dropped connection, waiting with the injected sleep."""

    def __init__(self, sleep: Sleep) -> None:
        super().__init__(max_retry_count=1)
        self.sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        await self.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class SlackWebApi:
    """See the module docstring. ``client`` is the slack_sdk ``AsyncWebClient`` underneath."""

    def __init__(
        self,
        token: str,
        api_url: str = "",
        *,
        per_channel_interval: float = 1.0,
        timeout: int = 30,
        max_retries: int = 2,
        max_wait: float = 5.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        base = api_url or DEFAULT_API_URL
        self.max_wait = max_wait
        self.client = AsyncWebClient(
            token=token,
            base_url=base if base.endswith("/") else base + "/",
            timeout=timeout,
            retry_handlers=[_ConnectionRetry(sleep), _RateLimitRetry(max_retries, max_wait, sleep)],
        )
        self.pacer = ChannelPacer(per_channel_interval, clock, sleep)
        self.sleep = sleep
        self.turns: Turns | None = None
        """Set (by the dispatcher): each channel's pace is shared with the other replicas."""
        self.outcome_listeners: list[Callable[[str, str], None]] = []

    def _answered(self, method: str, error: str) -> None:
        for listener in self.outcome_listeners:
            listener(method, error)

    async def call(self, method: str, /, **params: Any) -> dict[str, Any]:
        """Call Web API ``method`` (``"chat.update"``); 429s are retried within the bound."""
        fn = getattr(self.client, method.replace(".", "_"), None)
        if fn is None:
            raise SlackCallError(method, "unknown_method")
        try:
            response = await fn(**params)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", 200)
            error = str(exc.response.get("error", "unknown_error"))
            if status == 429 or error == RATE_LIMITED:
                wait = retry_after(getattr(exc.response, "headers", None))
                log.warning("Slack %s still rate limited; deferring %.1fs", method, wait)
                if "channel" in params:
                    self.pacer.hold(str(params["channel"]), wait)
                raise SlackCallError(method, RATE_LIMITED, retry_after=wait) from None
            self._answered(method, error)
            raise SlackCallError(method, error) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackCallError(method, "connection_error", type(exc).__name__) from None
        self._answered(method, "")
        data = response.data
        return dict(data) if isinstance(data, dict) else {"ok": True}

    async def post(self, channel: str, /, **params: Any) -> dict[str, Any]:
        """``chat.postMessage`` to ``channel``, paced per channel; a channel held longer than
        ``max_wait`` raises a rate-limit ``SlackCallError`` at once."""
        try:
            async with self.pacer.slot(channel, self.max_wait):
                await self._take_turn(channel)
                try:
                    answer = await self.call("chat.postMessage", channel=channel, **params)
                except BaseException:
                    await self._hold_turn(channel, 0.0)
                    raise
                await self._hold_turn(channel, self.pacer.interval)
                return answer
        except ChannelHeld as held:
            raise SlackCallError(
                "chat.postMessage", RATE_LIMITED, "channel held", retry_after=held.retry_after
            ) from None

    async def _take_turn(self, channel: str) -> None:
        """Wait for the channel's shared turn (other replicas); ``ChannelHeld`` past
        ``max_wait``. A store that does not answer leaves only this replica's pacing."""
        interval = self.pacer.interval
        if self.turns is None or interval <= 0:
            return
        waited = 0.0
        step = min(interval, 0.25)
        name = f"post:slack:{channel}"
        try:
            while not await self.turns.take(name, 2 * interval + self.max_wait):
                if waited >= self.max_wait:
                    raise ChannelHeld(channel, interval)
                await self.sleep(step)
                waited += step
        except ChannelHeld:
            raise
        except Exception as exc:
            log.warning("the shared pace of %s is unknown (%s); pacing alone", channel, exc)

    async def _hold_turn(self, channel: str, seconds: float) -> None:
        """Keep the turn ``seconds`` from now (the next post comes after Slack's pace), or
        give it back (0: nothing was posted; this replica's pacer holds a rate-limited one)."""
        if self.turns is None or self.pacer.interval <= 0:
            return
        name = f"post:slack:{channel}"
        try:
            if seconds > 0:
                await self.turns.hold(name, seconds)
            else:
                await self.turns.release(name)
        except Exception as exc:
            log.warning("the shared pace of %s is unknown (%s); pacing alone", channel, exc)
