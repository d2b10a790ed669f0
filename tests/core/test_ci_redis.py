"""The Redis half of the suite fails under ``CI=true`` when no Redis answers, and skips on a
developer's machine: a tiny pytest run in a subprocess, with the project's ``redis_url``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "redis://127.0.0.1:1/0"
PROBE = """
def test_needs_redis(redis_url):
    assert redis_url
"""


def run_probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    args = ["-q", "-p", "tests.conftest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(probe)],
        cwd=ROOT,
        env={**clean, "SWITCHBOARD_TEST_REDIS": NOWHERE, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_redis_under_ci_is_a_failure(tmp_path: Path) -> None:
    result = run_probe(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout and "CI=true but no Redis answers" in result.stdout


def test_no_redis_on_a_developer_machine_is_a_skip(tmp_path: Path) -> None:
    result = run_probe(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
