"""The report's business-time lookups agree with ``BusinessCalendar.elapsed`` everywhere:
weekends, holidays, a range across midnight, daylight-saving changes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.report.timeline import Timeline
from bot.settings.calendar import BusinessCalendar

CALENDARS = {
    "office": BusinessCalendar.parse("Europe/Berlin", ["mon-fri 09:00-12:30, 13:30-18:00"]),
    "holidays": BusinessCalendar.parse(
        "America/New_York", ["mon-fri 08:00-17:00"], [date(2026, 11, 26), date(2026, 12, 25)]
    ),
    "night": BusinessCalendar.parse("Europe/London", ["fri 22:00-02:00", "sat 10:00-14:00"]),
    "always": BusinessCalendar(),
    "always-but-holidays": BusinessCalendar("UTC", None, [date(2026, 10, 26)]),
}
START = datetime(2026, 10, 20, tzinfo=UTC)  # across the end of summer time in Europe and US


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_lookups_match_the_calendar(name: str) -> None:
    calendar = CALENDARS[name]
    timeline = Timeline(calendar)
    rng = random.Random(name)
    for _ in range(300):
        a = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        b = a + timedelta(minutes=rng.randrange(0, 60 * 24 * 9))
        expected = calendar.elapsed(a, b).total_seconds()
        assert timeline.elapsed(a.timestamp(), b.timestamp()) == pytest.approx(expected), (a, b)


def test_a_weekend_does_not_count_and_an_earlier_instant_still_answers() -> None:
    calendar = BusinessCalendar.parse("UTC", ["mon-fri 09:00-18:00"])
    timeline = Timeline(calendar)
    friday = datetime(2026, 11, 6, 17, 50, tzinfo=UTC).timestamp()
    monday = datetime(2026, 11, 9, 9, 5, tzinfo=UTC).timestamp()
    assert timeline.elapsed(friday, monday) == 15 * 60
    assert timeline.elapsed(monday, friday) == -15 * 60
    week_before = friday - 7 * 86_400  # before what the timeline read: the calendar answers
    assert timeline.elapsed(week_before, friday) == 5 * 9 * 3600
