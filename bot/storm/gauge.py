"""Storm detection for one channel: pure arithmetic on a clock the caller passes in.

A channel posts one card per ``pace`` seconds. A new mention would wait for its card as long
as the cards already queued take, plus whatever the recent flow adds beyond what the channel
can post in ``window``::

    wait = queued * pace + max(0, arrived_in_window * pace - window)

The storm starts when ``wait`` passes ``delay`` and ends once it is back under half of it:
the window keeps it on while the flow goes on (folding lines is fast, so the queue itself
empties) and the half keeps it from flapping at the edge.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class StormGauge:
    delay: float
    """Seconds a new mention may wait for its card before the channel goes to digests."""
    window: float
    """Seconds of arrivals that count."""
    pace: float = 1.0
    """Seconds between two posts to the channel."""
    on: bool = False
    _arrivals: deque[float] = field(default_factory=deque)

    def arrived(self, now: float, count: int = 1) -> None:
        """``count`` new threads arrived for the channel at ``now``."""
        self._arrivals.extend([now] * count)
        self._forget(now)

    def recent(self, now: float) -> int:
        """New threads that arrived in the last ``window`` seconds."""
        self._forget(now)
        return len(self._arrivals)

    def wait(self, now: float, queued: int) -> float:
        """Seconds a new mention would wait for its card (see the module docstring)."""
        flow = self.recent(now) * self.pace - self.window
        return queued * self.pace + max(0.0, flow)

    def update(self, now: float, queued: int) -> bool:
        """Whether the channel is in a storm now, with ``queued`` new cards waiting."""
        wait = self.wait(now, queued)
        if not self.on and wait > self.delay:
            self.on = True
        elif self.on and wait <= self.delay / 2:
            self.on = False
        return self.on

    def _forget(self, now: float) -> None:
        while self._arrivals and self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
