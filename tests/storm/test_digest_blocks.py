"""A digest as Slack sees it: hostile public text stays inert, every line is claimable from
the digest, and the message stays inside Slack's limits however long the public text is."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.actions import Action, Verb
from bot.storm.ports import Digest, DigestLine, StormNotice
from bot.surfaces.slack.digest import CLAIM_ACTION, digest_message, notice_text
from tests.clock import START
from tests.slack.fake_blocks import block_errors
from tests.slack.fake_slack import BLOCKS_CHARACTERS, blocks_characters
from tests.slack.hostile import HOSTILE, assert_inert


def line(n: int, text: str, handle: str, link: str = "", carded: bool = False) -> DigestLine:
    return DigestLine(
        thread_id=f"th{n:06d}",
        short_id=f"T-{1000 + n}",
        network="mastodon",
        author_handle=handle,
        text=text,
        permalink=link or f"https://social.example/@u{n}/{n}",
        arrived=START - timedelta(minutes=n % 5),
        carded=carded,
    )


def digest(lines: list[DigestLine], capacity: int = 40) -> Digest:
    return Digest("slack:C0BILLING:0", 0, "billing", "Billing", tuple(lines), capacity, START)


def hostile_lines(count: int) -> list[DigestLine]:
    return [
        line(n, HOSTILE[n % len(HOSTILE)], HOSTILE[(n + 3) % len(HOSTILE)]) for n in range(count)
    ]


def test_hostile_text_and_handles_never_ping_or_disguise_a_link() -> None:
    message = digest_message(digest(hostile_lines(24)))
    assert_inert(message, channels=False)
    text = str(message["blocks"])
    assert "&lt;!channel&gt;" in text and "&lt;@U024BE7LH&gt;" in text
    assert "<https://social.example/@u1/1|open the original>" in text
    assert "`T-1000` Mastodon" in text


def test_every_open_line_is_claimable_from_the_digest() -> None:
    lines = hostile_lines(23)
    lines[4] = line(4, "already handled", "dana", carded=True)
    blocks = digest_message(digest(lines))["blocks"]
    picks = [b["accessory"] for b in blocks if "accessory" in b]
    assert all(p["type"] == "static_select" and p["action_id"] == CLAIM_ACTION for p in picks)
    values = [Action.decode(o["value"]) for p in picks for o in p["options"]]
    assert {a.verb for a in values} == {Verb.CLAIM}
    assert [a.thread_id for a in values] == [x.thread_id for x in lines if not x.carded]
    shown = "\n".join(b["text"]["text"] for b in blocks[1:])
    assert "`T-1004` Mastodon · dana — already handled" in shown and "→ card" in shown
    assert shown.count("\n") == 22, "one line per thread"


@pytest.mark.parametrize("size", [500, 3000])
def test_a_full_digest_of_worst_case_lines_stays_within_slack_limits(size: int) -> None:
    long_url = "https://social.example/" + "p" * (size // 2)
    lines = [
        line(n, ("ﾠ<!here> *x* " * size)[:size], "h" * size + "@social.example", long_url)
        for n in range(40)
    ]
    message = digest_message(digest(lines))
    blocks = message["blocks"]
    assert block_errors(blocks) == []
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert blocks_characters(blocks) <= BLOCKS_CHARACTERS
    assert len(message["text"]) <= 40_000
    assert_inert(message, channels=False)


def test_a_short_link_is_kept_a_long_one_left_to_the_card() -> None:
    short = digest_message(digest([line(1, "hi", "dana")]))
    long = digest_message(digest([line(1, "hi", "dana", "https://x.example/" + "a" * 200)]))
    assert "open the original" in str(short["blocks"])
    assert "open the original" not in str(long["blocks"])


def test_notices_escape_the_authors_they_name() -> None:
    start = StormNotice("k:start", "Billing", ended=False, mentions=412, minutes=2)
    assert notice_text(start).startswith(
        ":rotating_light: *Storm in Billing*: 412 new mentions in 2 minutes — showing digests"
    )
    end = StormNotice(
        "k:end",
        "Billing",
        ended=True,
        mentions=500,
        minutes=7,
        networks={"mastodon": 300, "bluesky": 200},
        top_authors=[("<!channel>", 40), ("dana@social.example", 3)],
        waiting=480,
    )
    text = notice_text(end)
    assert "500 threads in digests over 7 minutes (Mastodon 300, Bluesky 200)" in text
    assert "480 still waiting" in text and "&lt;!channel&gt; (40)" in text
    assert_inert(text)
