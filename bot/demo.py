"""``switchboard demo``: everything local, no credentials.

An embedded store in a temporary folder, a replay source feeding a bundled sample of
realistic mentions, and the shell surface. Commands come from the terminal, from standard
input (piped) or from a script file, so tests drive it the way a person would.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TextIO

import yaml

from adapters.replay import ReplaySource
from bot.app import Switchboard
from bot.config import Config, parse_config
from bot.domain import Person, utcnow
from bot.sla.wait import HandClock, run_until, wait_target
from bot.surfaces.shell import ShellCommands, ShellSurface

BANNER = """\
social-switchboard demo — {threads} threads from {mentions} public mentions, routed to
{departments} departments. You are '{user}'. Try:
  queue billing          claim T-1001          reply T-1001 Sorry! Refund on its way.
  transfer support note  mine                  directory          as bob     help     quit
  wait 5m                wait until mon 09:00  (the demo's clock: reminders, breaches, rollovers)
"""


NETWORKS = ("mastodon", "bluesky", "x", "reddit", "rss")
"""The networks of the bundled sample, each played by a replay source of its own."""


def demo_config(folder: Path, replies: Path) -> Config:
    data = yaml.safe_load(resources.files("bot").joinpath("demo.yaml").read_text("utf-8"))
    data["store"] = {"url": f"sqlite:///{folder / 'switchboard.sqlite3'}"}
    data["sources"] = [  # one per network, each with that network's own reply limits
        {
            "name": f"sample-{network}",
            "type": "replay",
            "plays": network,
            "batch_size": 1,
            "replies_path": str(replies),
        }
        for network in NETWORKS
    ]
    return parse_config(data, "demo config")


class DemoSession:
    def __init__(
        self, board: Switchboard, out: TextIO, user: str, clock: HandClock | None = None
    ) -> None:
        self.board = board
        self.out = out
        self.user = self._person(user)
        self.commands = ShellCommands(board.desk)
        self.clock = clock
        """The board's clock when it is moved by hand (``wait``); None: real time."""

    @staticmethod
    def _person(name: str) -> Person:
        return Person(surface="shell", id=name.lower(), name=name)

    async def ingest_all(self) -> int:
        """Every sample mention, in the order they were posted across the networks."""
        sources = [s for s in self.board.sources if isinstance(s, ReplaySource)]
        while True:
            upcoming = []
            for source in sources:
                at = source.upcoming(await self.board.store.get_cursor(source.name))
                if at is not None:
                    upcoming.append((at, source.name, source))
            if not upcoming:
                break
            await self.board.ingestor.poll_once(min(upcoming)[2])
        return await self.board.dispatcher.drain()

    async def run_line(self, line: str) -> bool:
        """Run one command line; False when the session should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        word = line.split(maxsplit=1)[0].lower()
        if word in ("quit", "exit"):
            return False
        if word == "as":
            names = shlex.split(line)[1:]
            if not names:
                self.out.write("Usage: as <name>\n")
                return True
            self.user = self._person(names[0])
            self.out.write(f"You are now {self.user.name}.\n")
            return True
        if word == "wait":
            self.out.write(await self.wait(line.split(maxsplit=1)[1:]) + "\n")
            return True
        self.out.write(await self.commands.run(line, self.user) + "\n")
        await self.board.dispatcher.drain()
        return True

    async def wait(self, args: list[str]) -> str:
        """``wait 20m`` / ``wait until mon 09:00``: move the clock, firing due timers on the way."""
        if self.clock is None:
            return "! This session runs on real time; `wait` needs the demo's clock."
        try:
            target = wait_target(args[0] if args else "", self.clock())
        except ValueError as exc:
            return f"! {exc}"
        await run_until(target, self.clock, self.board.timer_loop, self.board.dispatcher.drain)
        await self.board.dispatcher.drain()
        return f"It is now {target:%a %d %b %H:%M} {target.tzname() or 'UTC'}."

    async def run(self, lines: Iterable[str], interactive: bool = False) -> None:
        if interactive:
            while True:
                self.out.write(f"{self.user.name}> ")
                self.out.flush()
                line = sys.stdin.readline()
                if not line or not await self.run_line(line):
                    break
            return
        for line in lines:
            if line.strip() and not line.strip().startswith("#"):
                self.out.write(f"{self.user.name}> {line.strip()}\n")
            if not await self.run_line(line):
                break


async def run_demo(script: str | None, user: str, out: TextIO = sys.stdout) -> int:
    with tempfile.TemporaryDirectory(prefix="switchboard-demo-") as tmp:
        folder = Path(tmp)
        replies = folder / "replies.jsonl"
        config = demo_config(folder, replies)
        clock = HandClock(utcnow())
        board = Switchboard.from_config(config, [ShellSurface(out)], clock=clock)
        session = DemoSession(board, out, user, clock)
        await board.store.ping()
        try:
            await session.ingest_all()
            threads = await board.store.list_threads()
            mentions = sum(t.mention_count for t in threads)
            out.write(
                "\n"
                + BANNER.format(
                    threads=len(threads),
                    mentions=mentions,
                    departments=len(config.departments),
                    user=session.user.name,
                )
            )
            if script:
                lines = Path(script).read_text(encoding="utf-8").splitlines()
                await session.run(lines)
            elif sys.stdin.isatty():
                await session.run([], interactive=True)
            else:
                await session.run(sys.stdin)
            sent = replies.read_text("utf-8").count("\n") if replies.exists() else 0
            noun = "reply" if sent == 1 else "replies"
            out.write(
                f"\nDemo over: {sent} public {noun} recorded by the replay source.\n"
                "Next: connect Slack or Teams and your accounts (README, 'Run it for real').\n"
            )
        finally:
            await board.stop()
    return 0
