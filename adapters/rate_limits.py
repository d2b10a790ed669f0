"""Rate-limit headers (``X-RateLimit-*``, ``RateLimit-*``, ``x-rate-limit-*``) per endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

_REMAINING = ("x-ratelimit-remaining", "ratelimit-remaining", "x-rate-limit-remaining")
_RESET = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")


def parse_reset(value: str, now: float) -> float | None:
    """A rate-limit reset header as an epoch time.

    Accepts an ISO 8601 timestamp (Mastodon), epoch seconds (Bluesky, X) or seconds until the
    reset (Reddit): a number below 10^9 is taken as a delay.
    """
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    return number if number >= 1e9 else now + max(number, 0.0)


@dataclass
class RateLimitState:
    """What the last answer's rate-limit headers said."""

    remaining: float | None = None
    reset_at: float | None = None

    def update(self, headers: Mapping[str, str], now: float) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        for name in _REMAINING:
            if name in lowered:
                try:
                    self.remaining = float(lowered[name])
                except ValueError:
                    self.remaining = None
                break
        for name in _RESET:
            if name in lowered:
                self.reset_at = parse_reset(lowered[name], now)
                break

    def wait_for(self, now: float) -> float:
        """Seconds to wait before the next call (0 when the window still has room)."""
        if self.remaining is None or self.remaining >= 1 or self.reset_at is None:
            return 0.0
        return max(self.reset_at - now, 0.0)
