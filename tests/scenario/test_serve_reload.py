"""Config reload: SIGHUP to a running `switchboard serve` applies an edited file's departments,
routing and service levels; a file it cannot apply is refused whole and serving goes on."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Author, Mention
from bot.store import Store
from tests.boards import DEPARTMENTS, ROUTING, free_port, mention_item, real_store, write_items
from tests.clock import eventually
from tests.scenario.test_serve_signals import readyz, serving, stopped_cleanly, write_config


def mention(n: int, text: str) -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id=f"m-{n}",
        conversation_key=f"c-{n}",
        author=Author(id=f"a{n}", handle=f"@a{n}@example.social"),
        text=text,
    )


def config_data(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    items = write_items(tmp_path / "items.json", [mention_item(1)])
    data: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 's.sqlite3'}"},
        "departments": [dict(d) for d in DEPARTMENTS],
        "routing": {**ROUTING, "rules": list(ROUTING["rules"])},
        "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
    }
    return data | changes


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    async with real_store("sqlite", tmp_path) as opened:
        yield opened


async def test_a_reload_routes_shows_and_times_by_the_new_file(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "c.yaml"
    data = config_data(tmp_path)
    data["departments"][0]["sla"] = {"claim": "30m"}
    path.write_text(yaml.safe_dump(data))
    board = Switchboard.from_config(parse_config(data), store=store)
    first = await board.threads.ingest(mention(1, "a quote for the sales team please"))
    assert first is not None and first.thread.department == "social"

    edited = config_data(tmp_path)
    edited["departments"].append({"name": "sales", "title": "Sales", "on_duty": ["erin"]})
    edited["departments"][0]["sla"] = {"claim": "5m"}
    edited["departments"][0]["on_duty"] = ["dora"]
    edited["routing"]["rules"].insert(0, {"department": "sales", "keywords": ["quote"]})
    path.write_text(yaml.safe_dump(edited))
    outcome = board.reload(str(path))
    assert outcome.applied, outcome.said

    second = await board.threads.ingest(mention(2, "another quote, please"))
    assert second is not None and second.thread.department == "sales"
    assert board.desk.department("sales").title == "Sales"
    assert board.desk.department("social").on_duty == ("dora",)
    claim = board.config.sla_policy("social").claim
    assert claim is not None and claim.total_seconds() == 300
    assert "sales" in board.dispatcher.departments


def remove_legal(data: dict[str, Any]) -> None:
    data["departments"] = [d for d in data["departments"] if d["name"] != "legal"]
    data["routing"]["rules"] = [r for r in data["routing"]["rules"] if r["department"] != "legal"]


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda d: d.update(server={"port": free_port()}), "server changed"),
        (lambda d: remove_legal(d), "departments removed (legal)"),
        (lambda d: d["routing"].update(default_department="nowhere"), "is not a department"),
        (lambda d: d["departments"][0].update(sla={"claim": "5m"}), "SLA timers start then"),
    ],
)
async def test_a_file_it_cannot_apply_is_refused_whole(
    tmp_path: Path, store: Store, edit: Any, why: str
) -> None:
    path = tmp_path / "c.yaml"
    data = config_data(tmp_path)
    board = Switchboard.from_config(parse_config(data), store=store)
    before = board.config
    edited = config_data(tmp_path)
    edited["routing"]["rules"].insert(0, {"department": "press", "keywords": ["hello"]})
    edit(edited)
    path.write_text(yaml.safe_dump(edited))
    outcome = board.reload(str(path))
    assert not outcome.applied and why in outcome.said
    assert "keeping the running config" in outcome.said
    assert board.config is before
    kept = await board.threads.ingest(mention(3, "hello there"))
    assert kept is not None and kept.thread.department == "social"  # old routing still


@pytest.mark.timeout(60)
async def test_sighup_reloads_a_running_serve_and_refuses_a_broken_file(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/s.db", "127.0.0.1", port)
    async with serving(path) as serve:
        await eventually(lambda: serve.said("serving on"), within=20)
        data = yaml.safe_load(path.read_text())
        data["departments"].append({"name": "sales", "title": "Sales"})
        path.write_text(yaml.safe_dump(data))
        serve.process.send_signal(signal.SIGHUP)
        await eventually(lambda: serve.said("config reloaded: 6 departments"), within=10)

        path.write_text("departments: [ {name: ")
        serve.process.send_signal(signal.SIGHUP)
        await eventually(lambda: serve.said("config reload refused"), within=10)
        assert serve.process.returncode is None

        async def ready() -> bool:
            return await readyz(port) == 200

        await eventually(ready, within=10)
        await stopped_cleanly(serve)
