from __future__ import annotations

import pytest

from bot.actions import Action, BadAction, Verb
from bot.commands import CommandError, parse
from tests.boards import person

me = person("alice")


@pytest.mark.parametrize(
    ("text", "verb", "ref", "department", "rest"),
    [
        ("claim", Verb.CLAIM, None, None, ""),
        ("claim T-12", Verb.CLAIM, "T-12", None, ""),
        ("claim t-12", Verb.CLAIM, "T-12", None, ""),
        ("claim 12", Verb.CLAIM, "T-12", None, ""),
        ("transfer support", Verb.TRANSFER, None, "support", ""),
        ("transfer support refund question", Verb.TRANSFER, None, "support", "refund question"),
        (
            "/transfer T-7 billing  asks about VAT",
            Verb.TRANSFER,
            "T-7",
            "billing",
            "asks about VAT",
        ),
        ("reply T-3 Thanks, fixed!", Verb.REPLY, "T-3", None, "Thanks, fixed!"),
        ("note looking", Verb.NOTE, None, None, "looking"),
        ("send-back T-3 not ours", Verb.SEND_BACK, "T-3", None, "not ours"),
        ("queue billing", Verb.QUEUE, None, "billing", ""),
        ("directory", Verb.DIRECTORY, None, None, ""),
    ],
)
def test_parse(text: str, verb: Verb, ref: str | None, department: str | None, rest: str) -> None:
    got = parse(text, "shell", me)
    assert (got.verb, got.thread_ref, got.department, got.text) == (verb, ref, department, rest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a command"),
        ("dance", "Unknown command"),
        ("transfer", "Say where"),
        ("reply T-1", "Write the text"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse(text, "shell", me)


def test_action_payload_round_trip_and_validation() -> None:
    action = Action(Verb.CLAIM, "abc123")
    assert Action.decode(action.encode()) == action
    for bad in (
        "v0:claim:abc",
        "v1:explode:abc",
        "v1:claim:",
        "v1:claim:a b",
        "claim",
        "v1:claim:x:y",
    ):
        with pytest.raises(BadAction):
            Action.decode(bad)
