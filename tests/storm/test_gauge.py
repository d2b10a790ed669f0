"""Storm detection for one channel: entered when a new mention would wait past the delay,
kept while the flow goes on, left once calm (with hysteresis). Pure: time is an argument."""

from __future__ import annotations

from bot.storm.gauge import StormGauge


def gauge() -> StormGauge:
    return StormGauge(delay=10.0, window=60.0, pace=1.0)


def test_a_queue_longer_than_the_delay_starts_a_storm() -> None:
    g = gauge()
    assert g.update(0.0, queued=10) is False, "10 cards at 1/s wait exactly 10 s: not yet"
    assert g.update(0.0, queued=11) is True
    assert g.wait(0.0, queued=11) == 11.0


def test_a_trickle_the_channel_can_post_never_storms() -> None:
    g = gauge()
    for second in range(600):
        g.arrived(float(second))
        assert g.update(float(second), queued=1) is False
    assert g.recent(599.0) == 60


def test_the_flow_keeps_the_storm_on_after_the_queue_empties_then_it_ends() -> None:
    g = gauge()
    for tick in range(300):  # 5 new threads a second for 60 s, each folded at once
        g.arrived(tick / 5)
    assert g.update(60.0, queued=0) is True, "240 s of cards in the last minute"
    assert g.update(60.0, queued=0) is True
    assert g.update(100.0, queued=0) is True, "the last 40 s still hold 100 arrivals"
    assert g.update(125.0, queued=0) is False, "calm for a whole window"


def test_hysteresis_leaves_only_below_half_the_delay() -> None:
    g = gauge()
    assert g.update(0.0, queued=12) is True
    assert g.update(1.0, queued=8) is True, "under the delay, above half of it"
    assert g.update(2.0, queued=5) is False
    assert g.update(3.0, queued=8) is False, "entering again needs the full delay"


def test_a_faster_channel_takes_more_before_it_storms() -> None:
    g = StormGauge(delay=10.0, window=60.0, pace=0.1)
    assert g.update(0.0, queued=100) is False
    assert g.update(0.0, queued=101) is True
