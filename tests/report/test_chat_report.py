"""``report`` on every chat surface goes through the one desk verb: Slack answers
``/switchboard report`` privately (ephemeral) through the fake Web API; the shell prints it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.actions import Verb
from bot.commands import parse
from tests.boards import person
from tests.scenario.test_demo import demo
from tests.slack.fake_slack import FakeSlack
from tests.slack.inbound_harness import ALICE, BILLING, Harness, running


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


async def test_slack_report_is_ephemeral_for_the_channels_department(h: Harness) -> None:
    first = await h.arrive("refund please")
    await h.arrive("and an invoice")
    await h.command(ALICE, "/claim", first.short_id)
    await h.settle()
    posted_before = len(h.fake.calls("chat.postMessage"))
    await h.command(ALICE, "/switchboard", "report 7d", channel=BILLING)
    await h.settle()
    answer = h.ephemerals(ALICE)[-1]
    assert answer.startswith("```")
    assert "billing: 2 received · 1 claimed · 0 replied" in answer
    assert "You: 1 claimed · 0 replied" in answer
    assert "support:" not in answer  # only the channel's department
    assert len(h.fake.calls("chat.postMessage")) == posted_before  # nothing public


async def test_slack_report_of_an_unknown_department_says_which_exist(h: Harness) -> None:
    await h.command(ALICE, "/switchboard", "report bilings")
    await h.settle()
    answer = h.ephemerals(ALICE)[-1]
    assert "bilings" in answer and "billing" in answer


def test_the_command_parses_the_same_everywhere() -> None:
    got = parse("report support 30d", "teams", person("alice"))
    assert got.verb is Verb.REPORT and got.thread_ref is None and got.text == "support 30d"
    assert parse("report 42", "shell", person("alice")).thread_ref is None


def test_shell_report_after_a_claim() -> None:
    out = demo("claim T-1001\nreport billing 30d\n")
    assert "You have T-1001." in out
    assert "Threads received from" in out and "billing: 4 received · 1 claimed" in out
    assert "You: 1 claimed · 0 replied" in out and "social:" not in out
