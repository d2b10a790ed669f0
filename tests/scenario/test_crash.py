"""`switchboard serve` killed with SIGKILL mid-ingest, restarted: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.boards import DEPARTMENTS, ROUTING, free_port, mention_item, write_items

TOTAL = 400


def card_posts(path: Path) -> list[str]:
    if not path.exists():
        return []
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if entry.get("op") == "post":
            keys.append(entry["key"])
    return keys


def outbox_size(db: Path) -> int:
    """Items not yet acked: once it is 0 nothing is in flight and no card can follow."""
    with sqlite3.connect(db, timeout=5) as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return count


def serve(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_sigkill_mid_ingest_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.json", [mention_item(n) for n in range(TOTAL)])
    db = tmp_path / "switchboard.sqlite3"
    cards = tmp_path / "cards.jsonl"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"url": f"sqlite:///{db}"},
                "server": {"host": "127.0.0.1", "port": free_port(), "lease_seconds": 2},
                "card_log": {"path": str(cards)},
                "departments": DEPARTMENTS,
                "routing": ROUTING,
                "sources": [
                    {
                        "name": "sample",
                        "type": "replay",
                        "path": str(items),
                        "batch_size": 10,
                        "delay": 0.05,
                    }
                ],
            }
        )
    )

    first = serve(config)
    try:
        assert wait_for(lambda: len(card_posts(cards)) >= 30, 30), "no cards before the kill"
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    with sqlite3.connect(db) as conn:
        stored_at_kill = conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0]
    assert 0 < stored_at_kill < TOTAL, "the kill must land mid-ingest"

    second = serve(config)
    try:
        assert wait_for(lambda: len(card_posts(cards)) >= TOTAL, 60), "cards never caught up"
        assert wait_for(lambda: outbox_size(db) == 0, 30), "cards posted but never acked"
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=20)
    assert second.returncode == 0, err.decode()

    keys = card_posts(cards)
    assert len(keys) == len(set(keys)) == TOTAL
    with sqlite3.connect(db) as conn:
        mentions = conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0]
        threads = conn.execute("SELECT COUNT(*) FROM threads").fetchone()[0]
        outbox = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert mentions == TOTAL and threads == TOTAL and outbox == 0
