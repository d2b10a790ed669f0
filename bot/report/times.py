"""Times of one figure (say, support's business time to claim) in bounded memory, for the
median and the 90th percentile.

The first ``EXACT`` times are kept as they are, so small reports are exact. Past that they go
to a fixed log-spaced histogram: bucket ``i`` holds the times in ``[F·B^i, F·B^(i+1))`` with
``B = 1.02`` and ``F`` a millisecond, and a percentile is the geometric middle of its
bucket, so it is within ``√B − 1`` (< 1 %) of the exact nearest-rank value; the smallest and
largest times are kept exactly, and a percentile never leaves ``[min, max]``. Times under a
millisecond share one bucket (read as 0). Memory: a compact array of counters up to the
largest bucket in use (4 bytes each; about 1,300 for 30 days, 5 KB).
"""

from __future__ import annotations

import math
from array import array

EXACT = 100
BASE = 1.02
FLOOR = 1e-3
_LOG = math.log(BASE)
_MIDDLE = math.sqrt(BASE)
MAX_ERROR = _MIDDLE - 1
"""The largest relative error of a percentile read from the histogram."""


def nearest_rank(p: float, n: int) -> int:
    """The 1-based rank of the ``p`` th percentile of ``n`` values (the smallest value with at
    least ``p`` percent of the values at or below it)."""
    return max(1, math.ceil(p / 100 * n))


class Times:
    __slots__ = ("_counts", "_exact", "count", "high", "low")

    def __init__(self) -> None:
        self.count = 0
        self.low = math.inf
        self.high = -math.inf
        self._exact: array[float] | None = array("d")
        self._counts: array[int] = array("I")
        """Counters by bucket index + 1 (index 0: under a millisecond)."""

    def __len__(self) -> int:
        return self.count

    @property
    def held(self) -> int:
        """How many numbers are kept (exact times or bucket counters)."""
        return len(self._exact) if self._exact is not None else len(self._counts)

    def add(self, value: float) -> None:
        self.count += 1
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        exact = self._exact
        if exact is not None:
            if len(exact) < EXACT:
                exact.append(value)
                return
            self._exact = None
            for v in exact:
                self._bucket(v)
        self._bucket(value)

    def _bucket(self, value: float) -> None:
        i = 0 if value < FLOOR else int(math.log(value / FLOOR) / _LOG) + 1
        counts = self._counts
        if i >= len(counts):
            counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1

    def percentile(self, p: float) -> float | None:
        """Nearest rank (exact while at most ``EXACT`` times, else within ``MAX_ERROR``);
        None when there are no times."""
        n = self.count
        if n == 0:
            return None
        rank = nearest_rank(p, n)
        if self._exact is not None:
            return sorted(self._exact)[rank - 1]
        if rank >= n:
            return self.high
        if rank == 1:
            return self.low
        seen = 0
        for i, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                middle = 0.0 if i == 0 else FLOOR * BASE ** (i - 1) * _MIDDLE
                return min(self.high, max(self.low, middle))
        return self.high  # pragma: no cover - the counts add up to n
