"""Sending a reply again from the shell: the refusal says how, `again` and `--again` do it,
through the same intent check as Slack's and Teams' confirm buttons."""

from __future__ import annotations

from tests.scenario.test_demo import demo

TEXT = "Sorry Dana, the duplicate charge is refunded."


def test_a_refused_reply_is_sent_again_when_the_person_says_so() -> None:
    out = demo(
        "claim T-1001\n"
        f"reply T-1001 {TEXT}\n"
        "release\n"
        "as bob\n"
        "again\n"
        f"reply T-1001 {TEXT}\n"
        "again\n"
        "again\n"
        f"reply T-1001 {TEXT}\n"
    )
    assert out.count("! Nothing to send again") == 2, out  # before the refusal, after `again`
    [refusal] = [line for line in out.splitlines() if "That reply was already sent by" in line]
    assert refusal.startswith("! That reply was already sent by @alice just now — https://")
    assert out.count("To send it anyway type `again`, or `reply T-1001 --again <text>`.") == 1
    # alice's reply, bob's `again`, and bob repeating his own: the same reply, not posted again
    assert out.count("Replied publicly on T-1001.") == 3, out
    assert out.count("Replied publicly by bob") == 1, out
    assert "Demo over: 2 public replies recorded by the replay source." in out


def test_reply_again_sends_at_once_and_a_plain_repeat_is_still_refused() -> None:
    out = demo(
        "claim T-1001\n"
        f"reply T-1001 {TEXT}\n"
        "release\n"
        "as bob\n"
        f"reply T-1001 --again {TEXT}\n"
        "release\n"
        "as carol\n"
        f"reply T-1001 {TEXT}\n"
        "reply T-1001 --again\n"
    )
    assert out.count("Replied publicly on T-1001.") == 2, out
    assert out.count("! That reply was already sent by @bob") == 1, out
    assert "! Write the text: `reply [T-12] --again <text>`." in out
    assert "Demo over: 2 public replies recorded by the replay source." in out
