"""``claim`` without an id in the shell takes the oldest waiting thread, as ``/claim`` does in
a department's channel: of the queue looked at last, or of every queue."""

from __future__ import annotations

from tests.scenario.test_demo import demo


def test_claim_without_an_id_takes_the_oldest_waiting_thread() -> None:
    out = demo("claim\nclaim\nqueue billing\nclaim\nqueue\nclaim\n")
    # every queue: T-1001 (billing) then T-1002 (support) are the oldest two
    assert out.count("You have T-1001.") == 1, out
    assert out.count("You have T-1002.") == 1, out
    # billing's next after T-1001 is T-1010, then every queue again: T-1003
    assert out.count("You have T-1010.") == 1, out
    assert out.count("You have T-1003.") == 1, out
    assert "no active thread" not in out


def test_claim_without_an_id_says_when_nothing_waits_in_the_queue() -> None:
    out = demo("queue legal\nclaim\nclaim\nclaim\n")
    assert out.count("You have T-1016.") == 1 and out.count("You have T-1023.") == 1, out
    assert "! Nothing is waiting in this queue." in out
