"""A thin async Slack Web API client: 429s are retried after ``Retry-After``, and messages to
one channel are paced to Slack's per-channel rate (about one a second) without holding up
other channels.

    api = SlackWebApi(token, api_url)                 # api_url "" -> https://slack.com/api/
    data = await api.call("users.info", user="U123")  # any method, by its Slack name
    data = await api.post("C123", text=..., blocks=...)  # chat.postMessage, paced

Failures other than rate limits raise ``SlackCallError`` carrying Slack's ``error`` code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SwitchboardError

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://slack.com/api/"


class SlackCallError(SwitchboardError):
    """A Slack Web API call failed; ``error`` is Slack's code (``channel_not_found``...)."""

    def __init__(self, method: str, error: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"Slack {method} failed: {error}{extra}")
        self.method = method
        self.error = error


def retry_after(headers: Mapping[str, Any] | None, default: float = 1.0) -> float:
    """Seconds from a ``Retry-After`` header (delay or HTTP-date), whatever the case of its
    name; ``default`` when it is missing or unreadable."""
    from datetime import UTC, datetime

    from bot.retry_after import parse_retry_after

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


class ChannelPacer:
    """One lane per channel: posts to a channel go one at a time, ``interval`` seconds apart
    (from the end of one to the start of the next), in arrival order. Lanes are independent."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lanes: dict[str, _Lane] = {}

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        lane = self._lanes.setdefault(channel, _Lane())
        async with lane.lock:
            wait = lane.next_at - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                lane.next_at = self.clock() + self.interval

    def hold(self, channel: str, seconds: float) -> None:
        """Keep ``channel`` quiet for ``seconds`` (Slack said to wait)."""
        lane = self._lanes.setdefault(channel, _Lane())
        lane.next_at = max(lane.next_at, self.clock() + seconds)


class SlackWebApi:
    """See the module docstring. ``client`` is the slack_sdk ``AsyncWebClient`` underneath."""

    def __init__(
        self,
        token: str,
        api_url: str = "",
        *,
        per_channel_interval: float = 1.0,
        timeout: int = 30,
    ) -> None:
        base = api_url or DEFAULT_API_URL
        self.client = AsyncWebClient(
            token=token, base_url=base if base.endswith("/") else base + "/", timeout=timeout
        )
        self.pacer = ChannelPacer(per_channel_interval)

    async def call(self, method: str, /, **params: Any) -> dict[str, Any]:
        """Call Web API ``method`` (``"chat.update"``) until it is not rate limited."""
        fn = getattr(self.client, method.replace(".", "_"), None)
        if fn is None:
            raise SlackCallError(method, "unknown_method")
        while True:
            try:
                response = await fn(**params)
            except SlackApiError as exc:
                status = getattr(exc.response, "status_code", 200)
                error = str(exc.response.get("error", "unknown_error"))
                if status == 429 or error == "ratelimited":
                    wait = retry_after(getattr(exc.response, "headers", None))
                    log.warning("Slack %s rate limited; retrying in %.1fs", method, wait)
                    if "channel" in params:
                        self.pacer.hold(str(params["channel"]), wait)
                    await asyncio.sleep(wait)
                    continue
                raise SlackCallError(method, error) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SlackCallError(method, "connection_error", type(exc).__name__) from None
            data = response.data
            return dict(data) if isinstance(data, dict) else {"ok": True}

    async def post(self, channel: str, /, **params: Any) -> dict[str, Any]:
        """``chat.postMessage`` to ``channel``, paced per channel; retried on 429."""
        async with self.pacer.slot(channel):
            return await self.call("chat.postMessage", channel=channel, **params)
