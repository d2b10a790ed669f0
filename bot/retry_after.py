"""The one ``Retry-After`` parser (RFC 9110 §10.2.3) for every HTTP client we run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 3600.0
"""A longer wait is cut to an hour: a poller that sleeps for days looks dead."""

_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds (``"120"``, also a decimal)
    or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), counted from ``now``.

    The result is clamped to ``[0, MAX_RETRY_AFTER]`` (a past date or negative delay is 0);
    ``None`` when the value is missing or is neither form.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        return _clamp(float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return _clamp((when - now).total_seconds())


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
