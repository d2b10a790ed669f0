"""Dependencies point one way: surfaces talk to the desk (the application facade) only, the
core never imports a surface, and nothing below the composition root names it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SURFACES = ROOT / "bot" / "surfaces"
COMPOSITION = {"bot/app.py", "bot/platforms.py", "bot/cli.py", "bot/demo.py", "bot/server.py"}
"""The modules that wire things together; they alone may import surfaces."""
FORBIDDEN_FOR_SURFACES = ("bot.store", "bot.app", "bot.service", "bot.replies", "bot.drafts")


def modules(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    seen = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    seen |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return seen


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("path", list(modules(SURFACES)), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_surface_uses_the_desk_never_the_store_or_the_switchboard(path: Path) -> None:
    bad = {m for m in imports(path) for f in FORBIDDEN_FOR_SURFACES if under(m, f)}
    bad |= {m for m in imports(path) if under(m, "handlers")}
    assert not bad, f"{path.name} imports {sorted(bad)}; go through bot.desk.Desk"
    assert "Switchboard" not in names(path), f"{path.name} names the composition root"


def test_the_core_imports_no_surface() -> None:
    offenders = []
    for folder in ("bot", "adapters", "handlers"):
        for path in modules(ROOT / folder):
            rel = str(path.relative_to(ROOT))
            if rel.startswith("bot/surfaces/") or rel in COMPOSITION:
                continue
            if any(under(m, "bot.surfaces") for m in imports(path)):
                offenders.append(rel)
    assert offenders == []


def test_the_checks_would_catch_a_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text(
        "from bot.store import Store\nfrom bot.app import Switchboard\n"
        "def f(board: Switchboard) -> None:\n    board.store\n",
        encoding="utf-8",
    )
    assert "bot.store" in imports(leaky) and "Switchboard" in names(leaky)
