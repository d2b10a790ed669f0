"""Log lines: text or JSON on every subcommand, and never a secret or a request body."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from bot.actions import Verb
from bot.config import parse_config
from bot.domain import AuditEvent, Person, Thread
from bot.interaction import Interaction
from tests.boards import board_for, free_port, mention_item, real_store, write_items

BOT_TOKEN = "xoxb-1111-2222-abcdefghijkl"
HOOK_SECRET = "0123456789abcdef0123456789abcdef"
APP_PASSWORD = "s3cret-app-password~value"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's logging, redirected to a buffer; restored after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    out = io.StringIO()
    yield out
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line]


def test_a_json_line_carries_time_level_logger_message_thread_and_request(
    captured: io.StringIO,
) -> None:
    logs.configure("info", "json", captured)
    token = logs.request_id.set("req-7")
    try:
        with logs.working_on("T-1042"):
            logging.getLogger("switchboard.test").warning("claimed by %s", "alice")
        logging.getLogger("switchboard.test").debug("not at info")
    finally:
        logs.request_id.reset(token)
    (line,) = lines(captured)
    record = json.loads(line)
    assert record["level"] == "warning" and record["logger"] == "switchboard.test"
    assert record["message"] == "claimed by alice"
    assert record["thread"] == "T-1042" and record["request_id"] == "req-7"
    assert record["time"].endswith("+00:00")


@pytest.mark.parametrize("fmt", logs.FORMATS)
def test_secrets_of_the_config_and_token_shapes_never_reach_a_line(
    captured: io.StringIO, fmt: str
) -> None:
    config = {
        "slack": {"bot_token": BOT_TOKEN, "signing_secret": "abcdef0123456789"},
        "teams": {"app_id": "11111111-2222-3333-4444-555555555555", "app_password": APP_PASSWORD},
        "sources": [{"name": "hooks", "type": "webhook", "secret": HOOK_SECRET}],
    }
    logs.remember_secrets(config)
    logs.configure("debug", fmt, captured)
    log = logging.getLogger("switchboard.test")
    log.info("calling with %s and %s", BOT_TOKEN, APP_PASSWORD)
    log.info("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl")
    log.info("POST /token?client_secret=hunter2-but-long&grant_type=client_credentials")
    log.info("a stranger's xapp-1-A0123-4567-deadbeef and xoxp-99-88-77")
    try:
        raise RuntimeError(f"refused {HOOK_SECRET}")
    except RuntimeError:
        log.exception("webhook failed")
    log.info("the word password and a short id 1234 stay")
    text = captured.getvalue()
    for secret in (BOT_TOKEN, APP_PASSWORD, HOOK_SECRET, "eyJhbGci", "hunter2", "xapp-1", "xoxp-9"):
        assert secret not in text, secret
    assert text.count(logs.REDACTED) >= 7
    assert "the word password and a short id 1234 stay" in text
    assert "grant_type=client_credentials" in text


def switchboard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_flags_work_after_the_subcommand_and_from_the_environment(tmp_path: Path) -> None:
    data = {
        "store": {"url": f"sqlite:///{tmp_path / 'sb.sqlite3'}"},
        "slack": {
            "bot_token": BOT_TOKEN,
            "signing_secret": "abcdef0123456789",
            "api_url": f"http://127.0.0.1:{free_port()}/api/",  # nothing answers there
        },
        "departments": [{"name": "support", "slack_channel": "C0SUPPORT"}],
    }
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    parse_config(data)  # a valid config: only the unreachable Slack makes `check` fail

    after = switchboard("check", "--config", str(config), "--log-format", "json")
    records = [json.loads(line) for line in after.stderr.splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert BOT_TOKEN not in after.stderr + after.stdout

    env = {logs.FORMAT_ENV: "json", logs.LEVEL_ENV: "warning"}
    quiet = switchboard("check", "--config", str(config), env=env)
    levels = {json.loads(line)["level"] for line in quiet.stderr.splitlines() if line[:1] == "{"}
    assert levels <= {"warning", "error"}

    wrong = switchboard("check", "--config", str(config), env={logs.LEVEL_ENV: "loud"})
    assert wrong.returncode == 2
    assert f"{logs.LEVEL_ENV}: 'loud' is not one of" in wrong.stderr
    before = switchboard("--log-level", "warning", "check", "--config", str(config))
    assert before.returncode == after.returncode


class BrokenObserver:
    """An observer of thread changes that fails after each one (the service logs it)."""

    async def planned(self, thread: Thread, event: AuditEvent) -> None:
        return None

    async def settled(self, thread: Thread, event: AuditEvent, stored: bool) -> None:
        raise RuntimeError("observer down")


async def test_a_line_written_while_a_verb_runs_names_its_thread(
    captured: io.StringIO, tmp_path: Path
) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1), mention_item(2)])
    async with real_store("sqlite", tmp_path) as store:
        board = board_for(store, items)
        await board.ingestor.poll_once(board.sources[0])
        board.threads.observers.append(BrokenObserver())
        logs.configure("info", "json", captured)
        alice = Person(surface="shell", id="alice", name="alice")
        first = await board.desk.handle(Interaction("shell", alice, Verb.CLAIM, "T-1002"))
        assert first.ok
        assert logs.thread_number.get() is None  # only the verb's own lines name it
        logging.getLogger("switchboard.test").info("between verbs")
    records = [json.loads(line) for line in lines(captured)]
    (failed,) = [r for r in records if "observer down" in r["message"]]
    assert failed["thread"] == "T-1002"
    (between,) = [r for r in records if r["message"] == "between verbs"]
    assert "thread" not in between
