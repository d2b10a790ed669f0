"""A replay source that plays a network feeds only that network's items and limits replies as
the real source does (the demo is honest about what each network accepts)."""

from __future__ import annotations

import pytest

from adapters.replay import ReplaySettings, ReplaySource
from bot.errors import ReplyTooLong, SourceError


def playing(network: str) -> ReplaySource:
    return ReplaySource(ReplaySettings(name=f"sample-{network}", type="replay", plays=network))


async def test_only_the_played_networks_items_are_fed() -> None:
    for network in ("mastodon", "bluesky", "reddit", "x", "rss"):
        source = playing(network)
        batch = await source.fetch(None)
        assert batch.mentions and {m.network for m in batch.mentions} == {network}
    everything = ReplaySource(ReplaySettings(name="sample", type="replay", batch_size=100))
    assert len({m.network for m in (await everything.fetch(None)).mentions}) == 5


@pytest.mark.parametrize(
    ("network", "limit", "unit", "fits", "too_long"),
    [
        ("x", 280, "weighted characters", "漢" * 140, "漢" * 141),  # CJK weighs 2 on X
        ("bluesky", 300, "graphemes", "👍🏽" * 300, "👍🏽" * 301),  # one grapheme each
        (
            "mastodon",
            500,
            "characters",
            "https://example.org/" + "a" * 200 + " " + "b" * 476,
            "c" * 501,
        ),  # a link counts 23
        ("reddit", 10_000, "characters", "r" * 10_000, "r" * 10_001),
    ],
)
async def test_replies_are_measured_and_limited_as_the_network_does(
    network: str, limit: int, unit: str, fits: str, too_long: str
) -> None:
    source = playing(network)
    assert (source.reply_limit().limit, source.reply_limit().unit) == (limit, unit)  # type: ignore[union-attr]
    assert source.measure(fits) <= limit < source.measure(too_long)
    mention = (await source.fetch(None)).mentions[0]
    await source.reply(mention, fits, "k-fits")
    with pytest.raises(ReplyTooLong):
        await source.reply(mention, too_long, "k-long")


async def test_a_played_feed_is_read_only() -> None:
    source = playing("rss")
    assert source.reply_limit() is None
    mention = (await source.fetch(None)).mentions[0]
    with pytest.raises(SourceError, match="read-only"):
        await source.reply(mention, "hello", "k")
