"""The production install paths: the Dockerfile's steps, the compose file and the systemd unit.

No container engine runs on these machines, so the Dockerfile is checked by doing what it does:
its COPY lines copied into a fresh folder, its RUN line run there (a fresh virtual environment,
``pip install .`` — not editable, from the copied files only), then the installed command run
from elsewhere. The systemd unit is verified by ``systemd-analyze`` against that install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
UNIT = ROOT / "deploy" / "switchboard.service"


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_image_runs_as_a_user_with_a_health_check_on_healthz() -> None:
    assert instructions("FROM") == ["python:3.11-slim"]
    (user,) = instructions("USER")
    assert user != "root" and "useradd --system" in " ".join(instructions("RUN"))
    (health,) = instructions("HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in health
    assert instructions("ENTRYPOINT") == ['["switchboard"]']
    assert instructions("CMD") == ['["serve"]']
    assert any(
        "SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.yaml" in e for e in instructions("ENV")
    )


def test_the_image_copies_every_package_and_file_the_build_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {part for line in instructions("COPY") for part in line.split()[:-1]}
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= copied
    assert {"pyproject.toml", project["project"]["readme"], "LICENSE"} <= copied
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not copied & set(ignored)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dockerfile's steps in a fresh folder: the ``bin`` folder of the environment."""
    work = tmp_path_factory.mktemp("image")
    source, prefix = work / "src", work / "opt" / "switchboard"
    source.mkdir()
    for line in instructions("COPY"):
        *parts, _ = line.split()
        for part in parts:
            origin = ROOT / part
            if origin.is_dir():
                shutil.copytree(origin, source / part, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, source / part)
    (run,) = [r for r in instructions("RUN") if "pip install" in r]
    steps = [s.strip() for s in run.split("&&") if "rm -rf" not in s]
    assert steps == ["python -m venv /opt/switchboard", "/opt/switchboard/bin/pip install ."]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=120)
    subprocess.run(
        [str(prefix / "bin" / "pip"), "install", "--quiet", "."],
        cwd=source,
        env=env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        check=True,
        timeout=900,
    )
    shutil.rmtree(source)
    return prefix / "bin"


def test_the_installed_command_runs_without_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    version = subprocess.run(
        [str(installed / "switchboard"), "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.startswith("switchboard ")
    script = tmp_path / "walk.txt"
    script.write_text("queue\n", encoding="utf-8")
    demo = subprocess.run(
        [str(installed / "switchboard"), "demo", "--script", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert "T-1001" in demo.stdout  # the packaged demo config and sample mentions were found
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert str(ROOT) not in where.stdout


def test_the_systemd_unit_is_hardened_and_verifies(installed: Path, tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    settings = [line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"]
    keys = {k: v for k, v in settings}
    assert keys["ExecStart"] == "/opt/switchboard/bin/switchboard serve"
    assert keys["KillSignal"] == "SIGTERM" and keys["Restart"] == "on-failure"
    for hardening in (
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "RestrictAddressFamilies",
        "SystemCallFilter",
        "CapabilityBoundingSet",
        "DynamicUser",
    ):
        assert hardening in keys, hardening
    assert keys["ProtectSystem"] == "strict" and keys["StateDirectory"] == "switchboard"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "switchboard.service"
    unit.write_text(text.replace("/opt/switchboard/bin", str(installed)), encoding="utf-8")
    verified = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [line for line in verified.stderr.splitlines() if "switchboard.service" in line]
    assert verified.returncode == 0 and not problems, verified.stderr


def test_compose_runs_two_replicas_on_one_redis() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    replicas = [s for name, s in services.items() if name.startswith("switchboard-")]
    assert len(replicas) == 2
    assert all(r["depends_on"]["redis"]["condition"] == "service_healthy" for r in replicas)
    assert all(r["build"] == ".." and r["restart"] == "unless-stopped" for r in replicas)
    assert len({r["ports"][0] for r in replicas}) == 2
    assert "--appendonly" in services["redis"]["command"]
