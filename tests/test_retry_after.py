"""The one Retry-After parser: delay-seconds and HTTP-date (RFC 9110), clamped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.retry_after import MAX_RETRY_AFTER, parse_retry_after

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Tue, 14 Nov 2023 22:13:30 GMT", 10.0),
        ("Tuesday, 14-Nov-23 22:13:30 GMT", 10.0),
        ("Tue Nov 14 22:13:30 2023", 10.0),
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),
        ("-5", 0.0),
        ("86400", MAX_RETRY_AFTER),
        ("Fri, 01 Jan 2100 00:00:00 GMT", MAX_RETRY_AFTER),
    ],
)
def test_both_forms_clamped(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "nan", "inf", "1e3", "0x10", "12 seconds", "Tue, 99 Foo"]
)
def test_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_a_date_is_counted_from_now() -> None:
    now = datetime.now(UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    seconds = parse_retry_after(later, now)
    assert seconds is not None and 89 <= seconds <= 90


def test_a_naive_now_is_taken_as_utc() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", NOW.replace(tzinfo=None)) == 10.0


def test_the_surface_helpers_read_both_forms() -> None:
    from bot.surfaces.slack.webapi import retry_after
    from bot.surfaces.teams.connector import _retry_after

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    slack = retry_after({"retry-after": [later]})
    teams = _retry_after({"Retry-After": later})
    assert 28 <= slack <= 30 and teams is not None and 28 <= teams <= 30
    assert retry_after({"Retry-After": "garbage"}, default=2.0) == 2.0
    assert retry_after({"Retry-After": "3"}) == 3.0 and _retry_after({}) is None
