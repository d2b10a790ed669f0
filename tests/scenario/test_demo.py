"""`switchboard demo` driven the way a person drives it: commands on standard input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def demo(commands: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        input=commands,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_a_mention_is_claimed_answered_transferred_and_resolved() -> None:
    out = demo(
        "queue billing\n"
        "claim T-1001\n"
        "reply T-1001 Sorry Dana, the duplicate charge is refunded.\n"
        "reply T-1001 Sorry Dana, the duplicate charge is refunded.\n"
        "transfer support please confirm the refund landed\n"
        "as bob\n"
        "claim T-1001\n"
        "mine\n"
        "resolve\n"
        "show T-1001\n"
    )
    assert "28 threads from 30 public mentions" in out
    assert "T-1001 [billing] new" in out
    assert "You have T-1001." in out
    assert out.count("Replied publicly on T-1001.") == 2
    assert "Transferred T-1001 to Customer Support." in out
    assert "Transferred to Customer Support by alice — please confirm the refund landed" in out
    assert "bob> mine\nT-1001 [support] claimed · bob" in out
    assert "Resolved T-1001." in out
    history = out[out.index("bob> show T-1001") :]
    for said in ("Opened in Billing", "Claimed by alice", "Replied publicly by alice: Sorry"):
        assert said in history, said
    assert "{" not in history and "\x1f" not in history  # no raw event data
    assert "Demo over: 1 public reply recorded" in out


def test_a_claim_race_between_two_people_is_explained() -> None:
    out = demo("claim T-1002\nas bob\nclaim T-1002\ntakeover T-1002\nas alice\nmine\n")
    assert "T-1002 is already claimed by alice." in out
    assert "You took over T-1002." in out
    assert "alice> mine\nYou have no open threads." in out


def test_errors_are_clear_and_nothing_happens(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(
        "transfer T-1001 suport\n"
        "transfer\n"
        "resolve\n"
        "reply T-1005 " + "x" * 600 + "\n"
        "dance\n"
        "send-back T-1001\n"
    )
    out = demo("", "--script", str(script))
    assert "Unknown department 'suport'. Did you mean support?" in out
    assert "Say where to" in out
    assert "You have no active thread." in out
    assert "That reply is 600 characters; mastodon allows 500. Shorten it by 100." in out
    assert "Unknown command 'dance'" in out
    assert "T-1001 has not been transferred" in out
    assert "Demo over: 0 public replies" in out


def test_hostile_text_cannot_drive_the_terminal() -> None:
    out = demo("show T-1013\n")
    assert "<!channel>" in out  # shown literally, as text
    assert "\x1b" not in out


def test_help_and_directory() -> None:
    out = demo("help\ndirectory\n")
    assert "transfer [T-12] <dept> [note]" in out
    assert "billing" in out and "on duty: dora" in out


def test_a_reply_for_legal_waits_for_an_approver_in_the_shell() -> None:
    listing = demo("queue legal\n")
    line = next(
        row for row in listing.splitlines() if "[legal]" in row and "terms of service" in row
    )
    short = line.split()[0].split(">")[-1].strip()
    out = demo(
        f"reply {short} Thanks, our legal team will answer you by email today.\n"
        f"approve {short}\n"
        "as hana\n"
        f"approve {short}\n"
        f"approve {short}\n"
    )
    assert f"Your reply on {short} is waiting for approval by Legal." in out
    assert "You cannot approve your own draft; another member has to." in out
    assert f"Approved; replied publicly on {short}." in out
    assert f"No draft is waiting on {short}." in out
    assert "Demo over: 1 public reply recorded" in out
