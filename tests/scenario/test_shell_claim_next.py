"""``claim`` without an id in the shell takes the first thread ``queue`` lists (what is due
first, then the oldest), as ``/claim`` does in a department's channel: of the queue looked at
last, or of every queue."""

from __future__ import annotations

from tests.scenario.test_demo import demo


def test_claim_without_an_id_takes_what_queue_lists_first() -> None:
    out = demo("claim\nclaim\nqueue billing\nclaim\nqueue\nclaim\n")
    # every queue: Press must be claimed within 10 min, sooner than any first reply is due
    # (Support 2 h, Social 4 h, Billing after office hours), so its two go first
    assert out.count("You have T-1006.") == 1, out
    assert out.count("You have T-1021.") == 1, out
    # billing has one target, so its first is its oldest: T-1001; then every queue: Support's
    # oldest, T-1002
    assert out.count("You have T-1001.") == 1, out
    assert out.count("You have T-1002.") == 1, out
    assert "no active thread" not in out


def test_claim_without_an_id_says_when_nothing_waits_in_the_queue() -> None:
    out = demo("queue legal\nclaim\nclaim\nclaim\n")
    assert out.count("You have T-1016.") == 1 and out.count("You have T-1023.") == 1, out
    assert "! Nothing is waiting in this queue." in out
