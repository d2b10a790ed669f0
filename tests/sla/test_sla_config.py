"""The SLA keys of the config file, their defaults, and every error they can raise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, Department, interpolate, parse_config
from bot.errors import ConfigError
from bot.settings.calendar import BusinessCalendar
from bot.settings.policy import NotifyTarget

OFFICE = {"timezone": "Europe/Berlin", "weekly": ["mon-fri 09:00-18:00"]}
SATURDAY = datetime(2024, 5, 4, 11, 0, tzinfo=UTC)  # 13:00 in Berlin


def config(*departments: dict[str, Any], **top: Any) -> Config:
    return parse_config({"departments": list(departments), **top})


def test_a_full_sla_configuration() -> None:
    cfg = config(
        {
            "name": "support",
            "sla": {"claim": "10m", "first_response": "1h"},
            "hours": "office",
            "reminders": [0.25, 0.75],
            "notify": "<!subteam^S0123SUP>",
            "rollover_after": "20m",
            "escalation": "social",
            "on_duty": {"mon-fri 09:00-17:00": ["alice", "bob"], "sat-sun 10:00-14:00": ["carol"]},
        },
        {"name": "social", "sla_minutes": 30, "on_duty": ["dora"]},
        {"name": "us", "hours": {"timezone": "America/New_York", "weekly": "24/7"}},
        sla={
            "claim": "15m",
            "first_response": "2h",
            "hours": "24/7",
            "calendars": {
                "office": {**OFFICE, "holidays": [date(2024, 12, 25), "2024-12-26"]},
                "always": "24/7",
            },
        },
    )
    support = cfg.sla_policy("support")
    assert support.claim == timedelta(minutes=10)
    assert support.first_response == timedelta(hours=1)
    assert support.calendar == BusinessCalendar.parse(
        "Europe/Berlin", ["mon-fri 09:00-18:00"], [date(2024, 12, 25), date(2024, 12, 26)]
    )
    assert support.reminders == (0.25, 0.75)
    assert support.notify == NotifyTarget("<!subteam^S0123SUP>", "")
    assert support.rollover_to == "social" and support.rollover_after == timedelta(minutes=20)
    assert support.rota.on_duty(SATURDAY) == ("carol",)
    assert support.calendar.add(SATURDAY, timedelta(hours=1)) == datetime(
        2024, 5, 6, 8, 0, tzinfo=UTC
    )
    social = cfg.sla_policy("social")
    assert social.first_response == timedelta(minutes=30)  # sla_minutes still counts
    assert social.claim == timedelta(minutes=15)  # the company default
    assert social.calendar.always and social.reminders == (0.5, 0.8)
    assert social.rollover_to == "" and social.rollover_after == timedelta(minutes=15)
    assert social.rota.on_duty(SATURDAY) == ("dora",)
    us = cfg.sla_policy("us")
    assert us.first_response == timedelta(hours=2)
    assert us.calendar.zone.key == "America/New_York"
    assert len(set(cfg.departments)) == 3  # a rota mapping keeps a department hashable
    found = cfg.department("support")
    assert found is not None and found.sla_policy is support
    with pytest.raises(KeyError):
        cfg.sla_policy("sales")


def test_departments_share_a_named_default_calendar() -> None:
    cfg = config(
        {"name": "a"}, {"name": "b"}, sla={"hours": "office", "calendars": {"office": OFFICE}}
    )
    assert cfg.sla_policy("a").calendar is cfg.sla_policy("b").calendar
    assert not cfg.sla_policy("a").calendar.is_open(SATURDAY)


def test_without_sla_keys_the_old_behaviour_stays() -> None:
    cfg = config({"name": "social", "on_duty": ["alice"]})
    policy = cfg.sla_policy("social")
    assert policy.first_response == timedelta(hours=1) and policy.claim is None
    assert policy.calendar.always and not policy.notify and policy.rollover_to == ""
    assert policy.rota.on_duty(SATURDAY) == ("alice",)
    assert Department(name="alone", sla_minutes=5).sla_policy.first_response == timedelta(minutes=5)


def test_notify_targets_per_platform() -> None:
    cfg = config(
        {"name": "a", "notify": "#escalations"},
        {"name": "b", "notify": {"slack": "<#C0123ESC>", "teams": "#Escalations"}},
    )
    assert cfg.sla_policy("a").notify == NotifyTarget("#escalations", "#escalations")
    assert cfg.sla_policy("b").notify == NotifyTarget("<#C0123ESC>", "#Escalations")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"departments": [{"name": "support", "hours": {**OFFICE, "timezone": "Europe/Berln"}}]},
            "departments[support].hours.timezone 'Europe/Berln' is not a time zone; "
            "e.g. Europe/Berlin",
        ),
        (
            {
                "departments": [{"name": "support"}],
                "sla": {"calendars": {"office": {**OFFICE, "timezone": "Mars/Olympus"}}},
            },
            "sla.calendars.office.timezone 'Mars/Olympus' is not a time zone",
        ),
        (
            {
                "departments": [
                    {
                        "name": "support",
                        "hours": {"weekly": ["mon-fri 09:00-18:00", "fri 17:00-20:00"]},
                    }
                ]
            },
            "departments[support].hours.weekly ranges fri 09:00-18:00 and fri 17:00-20:00 "
            "overlap; merge them into one",
        ),
        (
            {"departments": [{"name": "support", "hours": {"weekly": []}}]},
            "departments[support].hours.weekly has no open hours; add a range or write 24/7",
        ),
        (
            {"departments": [{"name": "support", "hours": {"weekly": ["mon-fri 9-18"]}}]},
            "departments[support].hours.weekly[0] 'mon-fri 9-18': '9-18' is not HH:MM-HH:MM",
        ),
        (
            {"departments": [{"name": "support", "reminders": [0.5, 1.2]}]},
            "departments[support].reminders fraction 1.2 is outside (0, 1)",
        ),
        (
            {"departments": [{"name": "support"}], "sla": {"reminders": [0]}},
            "sla.reminders fraction 0.0 is outside (0, 1)",
        ),
        (
            {
                "departments": [
                    {"name": "a", "escalation": "b"},
                    {"name": "b", "escalation": "a"},
                ]
            },
            "departments[a].escalation forms a cycle a -> b -> a; rollover would never end",
        ),
        (
            {"departments": [{"name": "a", "escalation": "a"}]},
            "departments[a].escalation forms a cycle a -> a",
        ),
        (
            {
                "departments": [
                    {"name": "a", "escalation": "b"},
                    {"name": "b", "escalation": "c"},
                    {"name": "c", "escalation": "b"},
                ]
            },
            "departments[b].escalation forms a cycle b -> c -> b",
        ),
        (
            {
                "departments": [{"name": "support", "hours": "ofice"}],
                "sla": {"calendars": {"office": OFFICE}},
            },
            "departments[support].hours 'ofice' is not a calendar; define it under "
            "sla.calendars (defined: office)",
        ),
        (
            {"departments": [{"name": "support"}], "sla": {"hours": "office"}},
            "sla.hours 'office' is not a calendar",
        ),
        (
            {"departments": [{"name": "support"}], "sla": {"calendars": {"24/7": OFFICE}}},
            "sla.calendars.24/7: 24/7 is built in",
        ),
        (
            {"departments": [{"name": "support", "notify": "support-team"}]},
            "departments[support].notify 'support-team' is not a Slack notify target; "
            "write a user group <!subteam^S0123ABC>",
        ),
        (
            {"departments": [{"name": "support", "notify": {"teams": "General"}}]},
            "departments[support].notify 'General' is not a Teams notify target",
        ),
        (
            {"departments": [{"name": "support", "sla": {"claim": "10"}}]},
            "departments.0.sla.claim: '10' is not a duration; write e.g. 90s",
        ),
        (
            {"departments": [{"name": "support", "rollover_after": 15}]},
            "departments.0.rollover_after: 15 needs a unit",
        ),
        (
            {"departments": [{"name": "support", "sla": {"first_response": "0m"}}]},
            "'0m' must be longer than zero",
        ),
        (
            {
                "departments": [
                    {"name": "support", "sla_minutes": 30, "sla": {"first_response": "1h"}}
                ]
            },
            "departments[support].sla.first_response and departments[support].sla_minutes "
            "both set the first-response target",
        ),
        (
            {"departments": [{"name": "support", "on_duty": {"weekdays 09:00-17:00": ["a"]}}]},
            "departments[support].on_duty[weekdays 09:00-17:00] 'weekdays 09:00-17:00' does not "
            "start with days",
        ),
        (
            {"departments": [{"name": "support", "sla": {"clam": "10m"}}]},
            "departments.0.sla.clam",
        ),
    ],
)
def test_sla_errors_name_the_key_and_the_fix(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert expected in str(err.value)


def test_the_example_config_parses_with_its_sla_parts() -> None:
    example = Path(__file__).parents[2] / "switchboard.example.yaml"
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    data.pop("sources")
    data.pop("slack")
    cfg = parse_config(interpolate(data))
    assert any(not cfg.sla_policy(d.name).calendar.always for d in cfg.departments)
    assert any(cfg.sla_policy(d.name).rollover_to for d in cfg.departments)
