"""The breach alert: the activity line of a breach (or a refused rollover) names the notify
target the event recorded, as an ``Alert`` a surface turns into a real mention."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.ports import Alert
from bot.settings.policy import check_slack_target, check_teams_target


def alert(text: str, data: Mapping[str, object]) -> str:
    """``text`` alerting the targets in ``data`` (``notify_slack``, ``notify_teams``); a
    target that is not a well-formed one is left out. Plain ``text`` when none is left."""
    slack = _checked(data.get("notify_slack"), check_slack_target)
    teams = _checked(data.get("notify_teams"), check_teams_target)
    return Alert(text, slack=slack, teams=teams) if slack or teams else text


def _checked(value: object, check: Callable[[str], str]) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return check(value)
    except ValueError:
        return ""
