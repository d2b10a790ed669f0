"""``switchboard report`` run as a subprocess on a SQLite file holding the hand-made history."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import yaml

from bot.store.sqlite import SQLiteStore
from tests.report.history import CONFIG, SINCE, UNTIL, write_history


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60
    )


async def setup(tmp_path: Path) -> Path:
    db = tmp_path / "switchboard.sqlite3"
    store = SQLiteStore.from_url(f"sqlite:///{db}")
    try:
        await write_history(store)
    finally:
        await store.close()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "store": {"url": f"sqlite:///{db}"}}))
    return path


def period() -> list[str]:
    return ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]


async def test_json_rows(tmp_path: Path) -> None:
    path = await setup(tmp_path)
    done = run("report", "--config", str(path), *period(), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["since"] == SINCE.isoformat() and doc["until"] == UNTIL.isoformat()
    names = [(r["scope"], r["name"]) for r in doc["rows"]]
    assert names == [
        ("department", "social"),
        ("department", "support"),
        ("person", "alice"),
        ("person", "bob"),
        ("person", "carol"),
    ]
    support = doc["rows"][1]
    assert support["received"] == 5 and support["claim_attainment_pct"] == 50.0
    assert doc["rows"][3]["key"] == "slack:UBOB"


async def test_csv_has_one_header_and_empty_cells_for_no_value(tmp_path: Path) -> None:
    path = await setup(tmp_path)
    done = run("report", "--config", str(path), *period(), "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(table) == 5
    assert next(iter(csv.reader(io.StringIO(done.stdout))))[:4] == [
        "scope",
        "key",
        "name",
        "received",
    ]
    bob = next(r for r in table if r["name"] == "bob")
    assert bob["first_reply_median_business_s"] == ""
    assert bob["claim_median_business_s"] == "120"


async def test_table_and_a_department_filter(tmp_path: Path) -> None:
    path = await setup(tmp_path)
    done = run("report", "--config", str(path), *period(), "--department", "support")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Threads received from 2026-11-06 12:00 UTC to 2026-11-09 14:00 UTC."
    support = next(line for line in lines if line.startswith("support"))
    # median claim 4 min; p90 15 min business, 63 h 15 min wall; 50 % within the claim target
    assert " 4m " in support and "15m (2d15h)" in support and "50% (3 late)" in support
    assert not any(line.startswith("social") for line in lines)


async def test_an_unknown_department_or_period_is_a_clear_error(tmp_path: Path) -> None:
    path = await setup(tmp_path)
    done = run("report", "--config", str(path), "--department", "suport")
    assert done.returncode == 2
    assert "suport" in done.stderr and "support" in done.stderr
    backwards = run(
        "report", "--config", str(path), "--since", "2026-11-09", "--until", "2026-11-01"
    )
    assert backwards.returncode == 2 and "is not before --until" in backwards.stderr
