"""The operator's commands: --version, check, audit."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import yaml

from bot import __version__
from tests.boards import DEPARTMENTS, mention_item, write_items


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60
    )


def config(tmp_path: Path, store_url: str) -> Path:
    items = write_items(tmp_path / "items.json", [mention_item(1), mention_item(2)])
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store": {"url": store_url},
                "departments": DEPARTMENTS,
                "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
            }
        )
    )
    return path


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"switchboard {__version__}"


def test_check_passes_and_fails_clearly(tmp_path: Path) -> None:
    good = run("check", "--config", str(config(tmp_path, f"sqlite:///{tmp_path}/s.sqlite3")))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok   store" in good.stdout
    assert "ok   source sample: replay of 2 recorded mentions" in good.stdout
    bad = run("check", "--config", str(config(tmp_path, "redis://127.0.0.1:1/0")))
    assert bad.returncode == 1
    assert "FAIL store" in bad.stdout


def test_a_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("departments:\n  - name: social\nrouting:\n  default_department: sales\n")
    done = run("check", "--config", str(path))
    assert done.returncode == 2
    assert "routing.default_department 'sales' is not a department" in done.stderr


def test_audit_prints_json_lines(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path}/s.sqlite3")
    demo = subprocess.run(
        [sys.executable, "-c", AUDIT_SETUP, str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert demo.returncode == 0, demo.stderr
    done = run("audit", "--config", str(cfg), "--since", "1h")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["opened", "opened", "claimed"]
    assert events[2]["actor"]["name"] == "alice"
    assert run("audit", "--config", str(cfg), "--since", "soon").returncode == 2


def test_audit_filters_by_thread_person_and_time_and_writes_csv(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path}/s.sqlite3")
    made = subprocess.run(
        [sys.executable, "-c", AUDIT_SETUP, str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr

    def kinds(*args: str) -> list[str]:
        done = run("audit", "--config", str(cfg), *args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line)["kind"] for line in done.stdout.splitlines()]

    assert kinds("--thread", "T-1001") == ["opened", "claimed"]
    assert kinds("--thread", "1002") == ["opened"]
    assert kinds("--person", "alice") == ["claimed"]
    assert kinds("--person", "shell:alice", "--thread", "T-1002") == []
    assert kinds("--until", "2000-01-01T00:00") == []
    assert kinds("--since", "1h", "--until", "2999-01-01") == ["opened", "opened", "claimed"]
    table = run("audit", "--config", str(cfg), "--format", "csv")
    rows = list(csv.reader(io.StringIO(table.stdout)))
    assert rows[0] == ["at", "id", "thread_id", "kind", "actor", "surface", "data"]
    assert [r[3] for r in rows[1:]] == ["opened", "opened", "claimed"]
    assert rows[3][4] == "shell:alice" and json.loads(rows[1][6])["department"]
    missing = run("audit", "--config", str(cfg), "--thread", "T-9999")
    assert missing.returncode == 2 and "no such thread" in missing.stderr


AUDIT_SETUP = """
import asyncio, sys
from bot.app import Switchboard
from bot.config import load_config
from bot.domain import Person

async def main():
    board = Switchboard.from_config(load_config(sys.argv[1]))
    while await board.ingestor.poll_once(board.sources[0]):
        pass
    thread = await board.threads.find("T-1001")
    await board.threads.claim(thread.id, Person(surface="shell", id="alice", name="alice"))
    await board.stop()

asyncio.run(main())
"""
