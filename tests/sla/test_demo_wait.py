"""The demo's clock: `wait` moves it and fires the timers due on the way, so the demo walk
shows a reminder, a breach alert and a rollover through the shell surface."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.demo import run_demo
from bot.sla.wait import wait_target

WALK = """\
wait 4m
wait 1m
claim T-1021
wait 5m
wait 15m
wait until mon 09:00
wait soon
wait until fri 25:00
"""


async def test_the_walk_shows_a_reminder_a_breach_and_a_rollover(tmp_path: Path) -> None:
    script = tmp_path / "walk.txt"
    script.write_text(WALK, encoding="utf-8")
    out = io.StringIO()
    assert await run_demo(str(script), "alice", out) == 0
    text = out.getvalue()
    steps = text.split("alice> ")[1:]
    said = dict(zip([s.splitlines()[0] for s in steps], steps, strict=True))
    press = "  [press] "
    assert press not in said["wait 4m"]
    assert said["wait 1m"].count(f"{press}Reminder: nobody has claimed this for 5 min") == 2
    assert "You have T-1021." in said["claim T-1021"]
    after_claim = said["wait 5m"]
    assert after_claim.count(f"{press}Reminder: nobody has claimed this for 8 min") == 1
    assert (
        after_claim.count(
            f"{press}#press-leads SLA breached: nobody has claimed this within 10 min"
        )
        == 1
    )
    rollover = "Transferred to Social team by switchboard — no answer within 25 business minutes"
    assert said["wait 15m"].count(f"{press}{rollover}") == 1
    assert "┌ T-1006 · rss · Social team · TRANSFERRED" in said["wait 15m"]
    until = said["wait until mon 09:00"]
    assert press not in until, "the claimed one stopped, the rolled one left press"
    assert "It is now Mon" in until and "09:00 UTC." in until
    assert said["wait soon"].startswith("wait soon\n! 'soon' is not a duration")
    assert "hour must be in 0..23" in said["wait until fri 25:00"]


MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20m", MONDAY_NOON + timedelta(minutes=20)),
        ("1h30m", MONDAY_NOON + timedelta(minutes=90)),
        ("until 13:00", datetime(2026, 11, 30, 13, 0, tzinfo=UTC)),
        ("until 12:00", datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
        ("until mon 09:00", datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
        ("until Wed 08:30", datetime(2026, 12, 2, 8, 30, tzinfo=UTC)),
        (
            "until mon 14:00 Europe/Berlin",
            datetime(2026, 11, 30, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
    ],
)
def test_wait_names_the_next_such_moment(text: str, expected: datetime) -> None:
    assert wait_target(text, MONDAY_NOON) == expected


@pytest.mark.parametrize("text", ["", "soon", "until", "until someday 09:00", "until 9 Mars/X"])
def test_a_wait_that_does_not_parse_says_how(text: str) -> None:
    with pytest.raises(ValueError, match="wait 20m"):
        wait_target(text, MONDAY_NOON)
