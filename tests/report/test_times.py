"""Percentiles in bounded memory: exact for small sets, within 1 % past them."""

from __future__ import annotations

import random

import pytest

from bot.report.times import EXACT, MAX_ERROR, Times, nearest_rank


def exact(values: list[float], p: float) -> float:
    return sorted(values)[nearest_rank(p, len(values)) - 1]


def test_the_error_bound_is_under_one_percent() -> None:
    assert 0 < MAX_ERROR < 0.01


def test_small_sets_are_exact_by_nearest_rank() -> None:
    times = Times()
    assert times.percentile(50) is None
    for v in (900.0, 240.0, 120.0, 600.0):
        times.add(v)
    assert (times.percentile(50), times.percentile(90), len(times)) == (240.0, 900.0, 4)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_large_sets_are_within_the_bound_with_exact_ends(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(6, 2) for _ in range(20_000)] + [0.0, 0.0004]
    rng.shuffle(values)
    times = Times()
    for v in values:
        times.add(v)
    assert len(times) == len(values) > EXACT
    for p in (1, 10, 50, 90, 99):
        got, want = times.percentile(p), exact(values, p)
        assert got is not None
        assert abs(got - want) <= MAX_ERROR * want, p
    assert times.percentile(100) == max(values)
    assert times.percentile(0) == 0.0 == min(values)


def test_a_percentile_stays_within_the_values() -> None:
    times = Times()
    for _ in range(EXACT + 1):
        times.add(1000.0)
    assert times.percentile(50) == 1000.0  # the bucket's middle is clamped to [min, max]


def test_memory_is_bounded_by_the_buckets_not_the_values() -> None:
    times = Times()
    rng = random.Random(7)
    for _ in range(50_000):
        times.add(rng.uniform(0, 30 * 86_400))
    # log(30 days / 1 ms) / log(1.02) buckets at most, whatever the count
    assert times.held <= 1300
