"""Issue 12: a storm on Slack. A flood of new threads is shown as digest lines within seconds
instead of one card a second; the channel is told when the storm starts and ends; nothing goes
over Slack's rates (the fake refuses with 429 above them) or its block limits. On both stores,
on virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clock import FakeTime
from tests.slack.fake_slack import FakeSlack
from tests.slack.hostile import assert_inert
from tests.stores.conftest import Backend

from .rig import BILLING, Rig, config, store_clock


@pytest.fixture
async def rig(backend: Backend, tmp_path: Path) -> AsyncIterator[Rig]:
    time = FakeTime()
    fake = FakeSlack(clock=time.monotonic)
    await fake.start()
    fake.add_channel(BILLING, "billing")
    fake.enforce_rates()
    rig = Rig(fake, time, config(tmp_path, fake))
    rig.replica(backend.open(clock=store_clock(time)))
    try:
        yield rig
    finally:
        await rig.stop()
        await fake.close()


async def test_a_flood_is_shown_in_digests_within_seconds_then_the_storm_ends(rig: Rig) -> None:
    (replica,) = rig.replicas
    await rig.flood(replica, 3)
    await rig.until(lambda: len(rig.cards()) == 3)
    assert rig.digests() == [] and rig.notices() == [], "a trickle gets cards"

    arrived = rig.time.monotonic()
    await rig.flood(replica, 150, start=3)
    await rig.until(lambda: len(rig.cards()) + len(rig.digest_lines()) == 153, tick=0.05)
    assert rig.time.monotonic() - arrived <= 10.0, "every new thread visible within 10 s"
    carded = len(rig.cards()) - 3
    assert carded <= 2, "only what was posted before the queue showed the storm gets a card"
    lines = rig.digest_lines()
    assert len(set(lines)) == len(lines) == 150 - carded
    assert set(lines) <= {f"T-{n}" for n in range(1004, 1154)}
    assert len(rig.digests()) == 4, "40 lines a digest"
    (start,) = rig.notices()
    assert "Storm in Billing" in start and "showing digests" in start
    assert "slack:C0BILLING" in replica.dispatcher.health()["digests"]

    await rig.until(lambda: len(rig.notices()) == 2, tick=1.0, within=60)
    end = rig.notices()[1]
    assert "is over" in end and f"{len(lines)} threads in digests" in end
    assert "Bluesky" in end and "Mastodon" in end and f"{len(lines)} still waiting" in end
    assert "digests" not in replica.dispatcher.health()

    await rig.flood(replica, 1, start=200)
    await rig.until(lambda: len(rig.cards()) == 4 + carded)
    assert len(rig.digest_lines()) == len(lines), "calm again: a new thread gets its card"

    assert rig.fake.limited == [], "never over Slack's rates"
    assert_inert([c.params for c in rig.fake.calls()])
