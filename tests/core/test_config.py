from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config, parse_config
from bot.errors import ConfigError

MINIMAL = {"departments": [{"name": "social"}, {"name": "support"}]}


def test_env_interpolation_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SB_TEST_URL", "sqlite:///x.sqlite3")
    config = parse_config(
        {**MINIMAL, "store": {"url": "${SB_TEST_URL}"}, "server": {"host": "${SB_HOST:-0.0.0.0}"}}
    )
    assert config.store.url == "sqlite:///x.sqlite3"
    assert config.server.host == "0.0.0.0"
    assert config.default_department == "social"


def test_missing_env_names_the_key_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SB_NOPE", raising=False)
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "slack": {"bot_token": "${SB_NOPE}", "signing_secret": "s"}})
    assert "slack.bot_token" in str(err.value) and "export SB_NOPE" in str(err.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"departments": []}, "departments"),
        ({**MINIMAL, "routing": {"default_department": "nope"}}, "routing.default_department"),
        (
            {**MINIMAL, "routing": {"rules": [{"department": "sales"}]}},
            "routing.rules[0].department 'sales'",
        ),
        ({**MINIMAL, "routing": {"rules": [{"department": "social", "regex": "("}]}}, "regex"),
        ({"departments": [{"name": "Bad Name"}]}, "departments.0.name"),
        ({**MINIMAL, "server": {"port": 99999}}, "server.port"),
        ({**MINIMAL, "stroe": {}}, "stroe"),
        ({**MINIMAL, "sources": [{"name": "a", "type": "myspace"}]}, "unknown type 'myspace'"),
        ({**MINIMAL, "sources": [{"name": "a"}]}, "sources[0].type is missing"),
        (
            {**MINIMAL, "sources": [{"name": "a", "type": "replay", "batch_size": 0}]},
            "sources[0] (a) is invalid",
        ),
        (
            {
                **MINIMAL,
                "sources": [{"name": "a", "type": "replay"}, {"name": "a", "type": "replay"}],
            },
            "used twice",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert expected in str(err.value)


def test_load_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="--config"):
        load_config(None)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("departments: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("departments:\n  - name: social\n")
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(good))
    assert load_config(None).departments[0].name == "social"
