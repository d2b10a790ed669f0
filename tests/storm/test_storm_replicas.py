"""Two replicas on one store and one workspace in a storm: each digest and each notice is
posted once, every thread shows on exactly one line, and together they stay within Slack's
rates (posting and editing turns are shared in the store). Both stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clock import FakeTime
from tests.slack.fake_slack import FakeSlack
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
    for _ in range(2):
        rig.replica(backend.open(clock=store_clock(time)))
    try:
        yield rig
    finally:
        await rig.stop()
        await fake.close()


async def test_two_replicas_post_each_digest_once(rig: Rig) -> None:
    first, second = rig.replicas
    rig.start()
    await rig.flood(first, 60)
    await rig.flood(second, 60, start=60)
    try:  # a loaded machine runs the two replicas slowly: wait as long as they get on
        await rig.until(
            lambda: len(rig.cards()) + len(rig.digest_lines()) == 120, tick=0.05, within=120
        )
    except AssertionError:
        shown = f"{len(rig.cards())} cards and {len(rig.digest_lines())} digest lines"
        raise AssertionError(f"of 120 threads only {shown} are shown") from None
    await rig.until(lambda: len(rig.notices()) >= 1, tick=0.25)
    keys = Counter(m["metadata"]["event_payload"]["key"] for m in rig.digests())
    assert keys and set(keys.values()) == {1}, f"a digest posted twice: {keys}"
    lines = rig.digest_lines()
    cards = {m["metadata"]["event_payload"]["thread_id"] for m in rig.cards()}
    assert len(lines) == len(set(lines)), "a thread on two lines"
    assert len(cards) == len(rig.cards()) and len(cards) <= 4
    assert len(rig.notices()) == 1, "the storm is announced once"

    await rig.until(lambda: len(rig.notices()) == 2, tick=1.0, within=60)
    assert "is over" in rig.notices()[1]
    await rig.time.advance(5)
    assert len(rig.notices()) == 2, "and summed up once"
    assert rig.fake.limited == [], "two replicas together stay within Slack's rates"
