"""Durations, rotas, notify targets and the deadlines a policy computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.settings.calendar import BusinessCalendar
from bot.settings.policy import (
    Clock,
    NotifyTarget,
    Rota,
    SlaPolicy,
    format_duration,
    notify_target,
    parse_duration,
)

BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1d 2h", timedelta(hours=26)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["10", "ten minutes", "1h 30", "", "m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 90s, 10m, 1h30m or 2d"):
        parse_duration(text)


def test_formatted_durations() -> None:
    assert format_duration(timedelta(minutes=10)) == "10 min"
    assert format_duration(timedelta(hours=1)) == "1 h"
    assert format_duration(timedelta(minutes=90)) == "1 h 30 min"
    assert format_duration(timedelta(days=2)) == "2 d"
    assert format_duration(timedelta(seconds=90)) == "1 min 30 s"


def test_a_rota_says_who_is_on_duty_by_day_and_hour() -> None:
    rota = Rota.parse(
        {
            "mon-fri 09:00-17:00": ["alice", "bob"],
            "mon-fri 16:00-22:00": ["bob", "dora"],
            "sat-sun 10:00-14:00": ["carol"],
        },
        BusinessCalendar("Europe/Berlin"),
    )
    assert rota.on_duty(berlin(2024, 5, 6, 10, 0)) == ("alice", "bob")
    assert rota.on_duty(berlin(2024, 5, 6, 16, 30)) == ("alice", "bob", "dora")
    assert rota.on_duty(berlin(2024, 5, 6, 21, 0)) == ("bob", "dora")
    assert rota.on_duty(berlin(2024, 5, 6, 23, 0)) == ()
    assert rota.on_duty(berlin(2024, 5, 4, 13, 59)) == ("carol",)
    assert rota.on_duty(berlin(2024, 5, 4, 14, 0)) == ()
    assert rota.people == ("alice", "bob", "dora", "carol")


def test_a_night_shift_and_the_zone_of_the_rota() -> None:
    rota = Rota.parse({"fri 22:00-06:00": ["nina"]}, BusinessCalendar("America/New_York"))
    assert rota.on_duty(datetime(2024, 5, 4, 9, 0, tzinfo=UTC)) == ("nina",)  # 05:00 EDT
    assert rota.on_duty(datetime(2024, 5, 4, 10, 0, tzinfo=UTC)) == ()  # 06:00 EDT


def test_a_plain_list_is_always_on_duty() -> None:
    rota = Rota.always(["alice", "bob"])
    assert rota.on_duty(datetime(2024, 5, 4, 3, 0, tzinfo=UTC)) == ("alice", "bob")
    assert Rota.always([]).on_duty(datetime(2024, 5, 4, 3, 0, tzinfo=UTC)) == ()


def test_notify_targets() -> None:
    assert notify_target("<!subteam^S0123ABC>") == NotifyTarget("<!subteam^S0123ABC>", "")
    assert notify_target("#support-escalations") == NotifyTarget(
        "#support-escalations", "#support-escalations"
    )
    assert notify_target("<#C0123ABC>").slack == "<#C0123ABC>"
    assert not NotifyTarget()
    for bad in ("support", "@here", "<!subteam^>", "#Has Spaces"):
        with pytest.raises(ValueError, match="is not a Slack notify target"):
            notify_target(bad)


def test_deadlines_in_business_hours_with_reminders_and_rollover() -> None:
    policy = SlaPolicy(
        department="support",
        first_response=timedelta(hours=1),
        claim=timedelta(minutes=10),
        calendar=BusinessCalendar.parse("Europe/Berlin", ["mon-fri 09:00-18:00"]),
        rollover_to="social",
        rollover_after=timedelta(minutes=15),
    )
    saturday = berlin(2024, 5, 4, 12, 0)
    claim = policy.deadlines(Clock.CLAIM, saturday)
    assert claim is not None
    assert claim.reminders == (berlin(2024, 5, 6, 9, 5), berlin(2024, 5, 6, 9, 8))
    assert claim.due == berlin(2024, 5, 6, 9, 10)
    assert claim.rollover == berlin(2024, 5, 6, 9, 25)
    late_friday = berlin(2024, 5, 3, 17, 30)
    reply = policy.deadlines(Clock.FIRST_RESPONSE, late_friday)
    assert reply is not None
    assert reply.reminders == (berlin(2024, 5, 3, 18, 0), berlin(2024, 5, 6, 9, 18))
    assert reply.due == berlin(2024, 5, 6, 9, 30)


def test_a_transferred_clock_keeps_what_was_spent() -> None:
    policy = SlaPolicy(
        department="us",
        first_response=timedelta(hours=1),
        calendar=BusinessCalendar.parse("America/New_York", ["mon-fri 09:00-17:00"]),
    )
    transfer = berlin(2024, 5, 6, 17, 40)  # 11:40 in New York
    found = policy.deadlines(Clock.FIRST_RESPONSE, transfer, spent=40 * M)
    assert found is not None
    assert found.reminders == (policy.calendar.add(transfer, 8 * M),)  # 50% already passed
    assert found.due == transfer + 20 * M
    assert found.rollover is None
    overdue = policy.deadlines(Clock.FIRST_RESPONSE, transfer, spent=2 * 60 * M)
    assert overdue is not None and overdue.due == transfer and overdue.reminders == ()
    assert policy.deadlines(Clock.CLAIM, transfer) is None


def test_targets_read_like_the_directory() -> None:
    policy = SlaPolicy(
        department="support",
        first_response=timedelta(hours=1),
        claim=timedelta(minutes=10),
        calendar=BusinessCalendar.parse("Europe/Berlin", ["mon-fri 09:00-18:00"]),
    )
    assert policy.describe_targets() == (
        "claim 10 min · first reply 1 h, business hours mon-fri 09:00-18:00 Europe/Berlin"
    )
    always = SlaPolicy(department="social", first_response=timedelta(minutes=30))
    assert always.describe_targets() == "first reply 30 min"
