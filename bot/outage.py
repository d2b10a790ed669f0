"""Saying a store outage once per loop: one WARNING when it starts, one INFO when it ends.

A loop that retries while the store is down would otherwise log every attempt (with a
traceback); ``StoreOutage`` keeps the log readable: ``<loop>: store unavailable, retrying in
2.0s: cannot reach Redis at 127.0.0.1:6379: Connection refused`` once, then
``<loop>: store available again`` on the first success. Other errors are not its business.
"""

from __future__ import annotations

import logging

from bot.errors import StoreError


def store_error(exc: BaseException) -> StoreError | None:
    """The ``StoreError`` behind ``exc`` (itself, or what it was raised from), else None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, StoreError):
            return seen
        seen = seen.__cause__
    return None


class StoreOutage:
    """Tracks whether one loop is in a store outage and logs its start and its end once."""

    def __init__(self, log: logging.Logger, loop: str) -> None:
        self.log = log
        self.loop = loop
        self.down = False
        self.attempts = 0
        """Failed attempts in the current outage (for the loop's backoff)."""

    def failed(self, exc: BaseException, retry_in: float) -> bool:
        """Record a failure; True (and logged once per outage) when it is the store's."""
        cause = store_error(exc)
        if cause is None:
            return False
        self.attempts += 1
        if not self.down:
            self.down = True
            self.log.warning(
                "%s: store unavailable, retrying in %.1fs: %s", self.loop, retry_in, cause
            )
        return True

    def recovered(self) -> None:
        """Record a success; logs once when it ends an outage."""
        if self.down:
            self.log.info(
                "%s: store available again after %d failed attempts", self.loop, self.attempts
            )
        self.down = False
        self.attempts = 0
