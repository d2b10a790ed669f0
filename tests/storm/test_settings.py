"""The ``storm:`` config section: defaults, and errors that name the key and the fix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.config import parse_config
from bot.errors import ConfigError


def config(storm: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"departments": [{"name": "billing", "slack_channel": "C0BILLING"}]}
    if storm is not None:
        data["storm"] = storm
    return data


def test_defaults() -> None:
    storm = parse_config(config()).storm
    assert storm.enabled and storm.delay == timedelta(seconds=10)
    assert storm.window == timedelta(seconds=60)
    assert storm.lines_per_digest == 40 and storm.update_interval == 1.5


def test_durations_are_read_like_the_other_keys() -> None:
    storm = parse_config(config({"delay": "30s", "window": "5m", "lines_per_digest": 20})).storm
    assert storm.delay == timedelta(seconds=30) and storm.window == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("storm", "says"),
    [
        ({"delay": "0s"}, "storm.delay"),
        ({"delay": 10}, "needs a unit"),
        ({"delay": "2m", "window": "1m"}, "must be at least storm.delay"),
        ({"update_interval": 0.5}, "50 chat.update"),
        ({"lines_per_digest": 0}, "storm.lines_per_digest"),
        ({"lines_per_digest": 41}, "storm.lines_per_digest"),
        ({"dealy": "10s"}, "storm.dealy"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(storm: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config(storm))
    assert says in str(caught.value)
