"""Business-hours arithmetic: weekends, holidays, midnight-crossing ranges, DST, 24/7."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.settings.calendar import BusinessCalendar, CalendarError, elapsed_across, parse_ranges

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def at(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A wall-clock time in ``zone``, as UTC (what the store hands the calendar)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=zone).astimezone(UTC)


def office(
    *weekly: str, zone: str = "Europe/Berlin", holidays: tuple[date, ...] = ()
) -> BusinessCalendar:
    return BusinessCalendar.parse(zone, list(weekly) or ["mon-fri 09:00-18:00"], holidays)


# weekends and plain days -------------------------------------------------------------------
def test_a_saturday_mention_with_a_one_hour_target_is_due_monday_ten() -> None:
    cal = office()
    saturday = at(BERLIN, 2024, 5, 4, 14, 0)
    assert not cal.is_open(saturday)
    assert cal.next_open(saturday) == at(BERLIN, 2024, 5, 6, 9, 0)
    assert cal.add(saturday, H) == at(BERLIN, 2024, 5, 6, 10, 0)
    assert cal.elapsed(saturday, at(BERLIN, 2024, 5, 6, 10, 0)) == H


def test_open_time_carries_over_the_night_and_the_weekend() -> None:
    cal = office()
    friday = at(BERLIN, 2024, 5, 3, 17, 30)
    assert cal.is_open(friday) and cal.next_open(friday) == friday
    assert cal.add(friday, H) == at(BERLIN, 2024, 5, 6, 9, 30)
    assert cal.add(friday, 30 * M) == at(BERLIN, 2024, 5, 3, 18, 0)  # the closing edge itself
    assert cal.add(friday, 9 * H + 31 * M) == at(BERLIN, 2024, 5, 7, 9, 1)
    assert cal.elapsed(friday, at(BERLIN, 2024, 5, 10, 18, 0)) == 30 * M + 5 * 9 * H
    assert cal.elapsed(at(BERLIN, 2024, 5, 10, 18, 0), friday) == -(30 * M + 5 * 9 * H)


def test_opening_and_closing_edges() -> None:
    cal = office()
    assert cal.is_open(at(BERLIN, 2024, 5, 6, 9, 0))
    assert not cal.is_open(at(BERLIN, 2024, 5, 6, 18, 0))
    assert cal.is_open(at(BERLIN, 2024, 5, 6, 17, 59, 59))
    assert cal.next_close(at(BERLIN, 2024, 5, 6, 12, 0)) == at(BERLIN, 2024, 5, 6, 18, 0)
    assert cal.add(at(BERLIN, 2024, 5, 4, 12, 0), timedelta(0)) == at(BERLIN, 2024, 5, 6, 9, 0)


def test_several_ranges_a_day_skip_the_lunch_break() -> None:
    cal = office("mon-fri 09:00-12:00, 13:00-17:00")
    assert cal.add(at(BERLIN, 2024, 5, 6, 11, 30), H) == at(BERLIN, 2024, 5, 6, 13, 30)
    assert not cal.is_open(at(BERLIN, 2024, 5, 6, 12, 30))
    assert cal.describe_next(at(BERLIN, 2024, 5, 6, 12, 30)) == "opens Mon 13:00"
    assert cal.describe_next(at(BERLIN, 2024, 5, 6, 10, 0)) == "open now until 12:00"
    assert cal.elapsed(at(BERLIN, 2024, 5, 6, 0, 0), at(BERLIN, 2024, 5, 7, 0, 0)) == 7 * H


def test_touching_ranges_count_as_one_open_period() -> None:
    cal = office("mon 09:00-12:00", "mon 12:00-18:00")
    assert cal.describe_next(at(BERLIN, 2024, 5, 6, 10, 0)) == "open now until 18:00"
    assert cal.add(at(BERLIN, 2024, 5, 6, 11, 0), 2 * H) == at(BERLIN, 2024, 5, 6, 13, 0)


# holidays ----------------------------------------------------------------------------------
def test_a_holiday_is_skipped_like_a_weekend() -> None:
    cal = office(holidays=(date(2024, 12, 24), date(2024, 12, 25), date(2024, 12, 26)))
    monday = at(BERLIN, 2024, 12, 23, 17, 0)
    assert cal.add(monday, 2 * H) == at(BERLIN, 2024, 12, 27, 10, 0)
    assert not cal.is_open(at(BERLIN, 2024, 12, 25, 10, 0))
    assert cal.describe_next(at(BERLIN, 2024, 12, 24, 10, 0)) == "opens Fri 09:00"
    assert cal.elapsed(monday, at(BERLIN, 2024, 12, 28, 0, 0)) == H + 9 * H


def test_a_holiday_closes_its_whole_date_even_inside_a_night_range() -> None:
    friday_night = office("fri 22:00-02:00", zone="Europe/Berlin", holidays=(date(2024, 5, 4),))
    friday = at(BERLIN, 2024, 5, 3, 21, 0)
    assert friday_night.elapsed(friday, friday + 12 * H) == 2 * H  # Saturday 00-02 is off
    assert friday_night.add(friday, 3 * H) == at(BERLIN, 2024, 5, 10, 23, 0)
    holiday_friday = office("fri 22:00-02:00", holidays=(date(2024, 5, 3),))
    assert holiday_friday.next_open(friday) == at(BERLIN, 2024, 5, 4, 0, 0)
    assert holiday_friday.elapsed(friday, friday + 12 * H) == 2 * H


# ranges across midnight --------------------------------------------------------------------
def test_a_range_across_midnight_runs_into_the_next_day() -> None:
    cal = office("fri 22:00-02:00", zone="America/New_York")
    saturday_morning = at(NEW_YORK, 2024, 5, 4, 1, 0)
    assert cal.is_open(saturday_morning)
    assert cal.describe_next(saturday_morning) == "open now until 02:00"
    assert cal.describe_next(at(NEW_YORK, 2024, 5, 3, 23, 0)) == "open now until Sat 02:00"
    assert cal.add(at(NEW_YORK, 2024, 5, 3, 23, 0), 2 * H) == at(NEW_YORK, 2024, 5, 4, 1, 0)
    assert cal.add(at(NEW_YORK, 2024, 5, 3, 23, 0), 4 * H) == at(NEW_YORK, 2024, 5, 10, 23, 0)
    assert cal.add(at(NEW_YORK, 2024, 5, 4, 12, 0), 3 * H) == at(NEW_YORK, 2024, 5, 11, 1, 0)


def test_sunday_night_runs_into_monday_across_the_week_end() -> None:
    cal = office("sun 20:00-04:00", "mon 09:00-10:00")
    assert cal.is_open(at(BERLIN, 2024, 5, 6, 3, 0))
    assert cal.elapsed(at(BERLIN, 2024, 5, 5, 0, 0), at(BERLIN, 2024, 5, 7, 0, 0)) == 9 * H


# daylight saving time ----------------------------------------------------------------------
def test_berlin_spring_forward_night_has_one_hour_less() -> None:
    cal = office("sun 01:00-04:00")  # 2024-03-31: 02:00 CET jumps to 03:00 CEST
    saturday = at(BERLIN, 2024, 3, 30, 12, 0)
    assert cal.elapsed(saturday, saturday + 2 * 24 * H) == 2 * H
    assert cal.add(saturday, 90 * M) == at(BERLIN, 2024, 3, 31, 3, 30)
    assert cal.add(saturday, 90 * M) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_berlin_fall_back_night_has_one_hour_more() -> None:
    cal = office("sun 01:00-04:00")  # 2024-10-27: 03:00 CEST falls back to 02:00 CET
    saturday = at(BERLIN, 2024, 10, 26, 12, 0)
    assert cal.elapsed(saturday, saturday + 2 * 24 * H) == 4 * H
    assert cal.add(saturday, 4 * H) == datetime(2024, 10, 27, 3, 0, tzinfo=UTC)


def test_office_hours_stay_on_the_wall_clock_across_the_change() -> None:
    cal = office()  # Friday 29 March CET, Monday 1 April CEST
    friday = at(BERLIN, 2024, 3, 29, 17, 30)
    due = cal.add(friday, H)
    assert due == datetime(2024, 4, 1, 7, 30, tzinfo=UTC)  # 09:30 CEST
    assert due.astimezone(BERLIN).hour == 9
    assert cal.elapsed(at(BERLIN, 2024, 3, 25, 0, 0), at(BERLIN, 2024, 4, 6, 0, 0)) == 90 * H


def test_new_york_spring_forward_and_fall_back_nights() -> None:
    cal = office("sat 22:00-06:00", zone="America/New_York")
    march = at(NEW_YORK, 2024, 3, 9, 12, 0)  # 2024-03-10 02:00 EST -> 03:00 EDT
    assert cal.elapsed(march, march + 24 * H) == 7 * H
    assert cal.add(march, 7 * H) == at(NEW_YORK, 2024, 3, 10, 6, 0)
    november = at(NEW_YORK, 2024, 11, 2, 12, 0)  # 2024-11-03 02:00 EDT -> 01:00 EST
    assert cal.elapsed(november, november + 24 * H) == 9 * H
    assert cal.add(november, 9 * H) == datetime(2024, 11, 3, 11, 0, tzinfo=UTC)
    assert cal.describe_next(november) == "opens Sat 22:00"


def test_new_york_office_day_after_the_change() -> None:
    cal = office("mon-fri 09:00-17:00", zone="America/New_York")
    assert cal.next_open(at(NEW_YORK, 2024, 3, 9, 10, 0)) == datetime(
        2024, 3, 11, 13, 0, tzinfo=UTC
    )
    assert cal.next_open(at(NEW_YORK, 2024, 3, 2, 10, 0)) == datetime(2024, 3, 4, 14, 0, tzinfo=UTC)


# 24/7 ----------------------------------------------------------------------------------------
def test_always_open_is_plain_time() -> None:
    cal = BusinessCalendar()
    start = datetime(2024, 5, 4, 12, 0, tzinfo=UTC)
    assert cal.is_open(start) and cal.next_close(start) is None
    assert cal.add(start, 3 * 24 * H) == start + 3 * 24 * H
    assert cal.elapsed(start, start + 100 * H) == 100 * H
    assert cal.describe_next(start) == "open now (24/7)"
    assert cal.describe() == "24/7"


def test_always_open_except_holidays() -> None:
    cal = BusinessCalendar.parse("Europe/Berlin", "24/7", [date(2024, 12, 25)])
    eve = at(BERLIN, 2024, 12, 24, 20, 0)
    assert cal.next_close(eve) == at(BERLIN, 2024, 12, 25, 0, 0)
    assert cal.add(eve, 5 * H) == at(BERLIN, 2024, 12, 26, 1, 0)
    assert cal.describe_next(at(BERLIN, 2024, 12, 25, 9, 0)) == "opens Thu 00:00"
    assert cal.next_close(at(BERLIN, 2024, 12, 26, 9, 0)) is None


def test_a_whole_week_of_ranges_is_open_for_good() -> None:
    cal = office("mon-sun 00:00-24:00")
    start = at(BERLIN, 2024, 5, 4, 12, 0)
    assert cal.next_close(start) is None
    assert cal.add(start, 1000 * H) == start + 1000 * H


# properties and efficiency -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "weekly"),
    [
        ("Europe/Berlin", ["mon-fri 09:00-12:00, 13:00-18:00", "sat 10:00-14:00"]),
        ("America/New_York", ["fri 22:00-02:00", "sun 20:00-04:00", "wed 00:00-24:00"]),
    ],
)
def test_add_and_elapsed_agree_on_random_starts(zone: str, weekly: list[str]) -> None:
    cal = BusinessCalendar.parse(zone, weekly, [date(2024, 3, 13), date(2024, 11, 1)])
    rng = random.Random(11)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = base + timedelta(minutes=rng.randrange(365 * 24 * 60))
        business = timedelta(minutes=rng.randrange(1, 40 * 60))
        due = cal.add(start, business)
        assert cal.elapsed(start, due) == business
        assert cal.is_open(due - timedelta(seconds=1))
        assert cal.elapsed(start, due - timedelta(seconds=1)) < business


def test_add_walks_ranges_not_minutes() -> None:
    cal = office("wed 10:00-11:00", zone="UTC")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    due = cal.add(start, 1000 * H)  # a thousand weeks, one open hour each
    assert due == datetime(2024, 1, 3, 11, 0, tzinfo=UTC) + timedelta(weeks=999)
    assert cal.elapsed(start, due) == 1000 * H


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        office().is_open(datetime(2024, 5, 6, 10, 0))


def test_a_transfer_composes_business_time_of_both_departments() -> None:
    berlin = office()  # support, mon-fri 09:00-18:00 Europe/Berlin
    new_york = office("mon-fri 09:00-17:00", zone="America/New_York")
    first_mention = at(BERLIN, 2024, 5, 6, 17, 0)
    transfer = at(BERLIN, 2024, 5, 6, 17, 40)
    reply = at(NEW_YORK, 2024, 5, 7, 9, 30)
    legs = [(berlin, first_mention, transfer), (new_york, transfer, reply)]
    # 40 min in Berlin; New York: 11:40-17:00 on Monday, 09:00-09:30 on Tuesday
    assert elapsed_across(legs) == 40 * M + 5 * H + 20 * M + 30 * M
    assert new_york.add(transfer, H - 40 * M) == at(NEW_YORK, 2024, 5, 6, 12, 0)


# parsing -------------------------------------------------------------------------------------
def test_range_syntax() -> None:
    assert len(parse_ranges("mon-fri 09:00-18:00")) == 5
    assert len(parse_ranges("sat,sun 10:00-14:00")) == 2
    assert len(parse_ranges("fri-mon 10:00-14:00")) == 4
    assert len(parse_ranges("mon-fri 09:00-12:00, 13:00-17:00")) == 10
    assert parse_ranges("sun 22:00-02:00")[0].minutes == 240
    assert parse_ranges("sun 00:00-24:00")[0].minutes == 1440


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        (["monday 09:00-18:00"], "weekly[0] 'monday 09:00-18:00' does not start with days"),
        (["mon-fri 9-18"], "weekly[0] 'mon-fri 9-18': '9-18' is not HH:MM-HH:MM"),
        (["mon-fri"], "weekly[0] 'mon-fri' has no hours"),
        (["mon 25:00-26:00"], "is not a time of day"),
        (["mon 09:00-09:00"], "is empty; a whole day is 00:00-24:00"),
        (
            ["mon-fri 09:00-18:00", "wed 17:00-19:00"],
            "weekly ranges wed 09:00-18:00 and wed 17:00-19:00 overlap",
        ),
        (["sun 23:00-01:00", "mon 00:30-02:00"], "overlap"),
        ([], "weekly has no open hours"),
        (["mon-fri 09:00-12:00", "13:00-17:00"], "in a [list] quote a range holding commas"),
        ("always", "'always' is neither 24/7 nor a list of ranges"),
    ],
)
def test_calendar_errors_say_what_is_wrong(weekly: str | list[str], message: str) -> None:
    with pytest.raises(CalendarError) as err:
        BusinessCalendar.parse("UTC", weekly)
    assert message in str(err.value)


def test_an_unknown_zone_suggests_the_closest() -> None:
    with pytest.raises(CalendarError) as err:
        BusinessCalendar.parse("Europe/Berln", ["mon 09:00-10:00"])
    assert str(err.value) == "timezone 'Europe/Berln' is not a time zone; e.g. Europe/Berlin"
    with pytest.raises(CalendarError, match=r"e\.g\. Europe/Berlin or UTC"):
        BusinessCalendar.parse("../../etc/passwd", "24/7")
