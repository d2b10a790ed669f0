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


def test_every_missing_env_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SB_TOKEN", "SB_SECRET", "SB_HOOK"):
        monkeypatch.delenv(name, raising=False)
    data = {
        **MINIMAL,
        "slack": {"bot_token": "${SB_TOKEN}", "signing_secret": "${SB_SECRET}"},
        "sources": [{"name": "hooks", "type": "webhook", "secret": "${SB_HOOK}"}],
    }
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = str(err.value)
    for key, name in (
        ("slack.bot_token", "SB_TOKEN"),
        ("slack.signing_secret", "SB_SECRET"),
        ("sources[0].secret", "SB_HOOK"),
    ):
        assert f"{key}: {name}" in text and f"{name}=..." in text


@pytest.mark.parametrize(
    ("data", "said", "not_said"),
    [
        (
            {"departments": [{"name": "Customer Support"}]},
            "departments.0.name: a name used in commands: lowercase letters, digits, - and _; "
            "use 'customer-support'",
            "at least 1 item",  # no follow-on error about the emptied list
        ),
        (
            {**MINIMAL, "routing": {"rules": [{"department": "Support"}]}},
            "routing.rules[0].department 'Support' is not a department; use lowercase: support",
            "Value error",
        ),
        (
            {"departments": [{"name": "support", "escalation": "suport"}]},
            "departments[support].escalation 'suport' is not a department; did you mean 'support'?",
            "(top level)",
        ),
    ],
)
def test_errors_say_the_fix_in_words(data: dict[str, object], said: str, not_said: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert said in str(err.value) and not_said not in str(err.value)


def test_socket_mode_needs_no_signing_secret_and_http_mode_does() -> None:
    socket = parse_config({**MINIMAL, "slack": {"bot_token": "xoxb-1", "app_token": "xapp-1"}})
    assert socket.slack is not None and socket.slack.signing_secret == ""
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "slack": {"bot_token": "xoxb-1"}})
    assert "slack.signing_secret" in str(err.value) and "app_token" in str(err.value)


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


SLACK = {"bot_token": "xoxb-1", "signing_secret": "s"}
TEAMS = {"tenant_id": "8d7c6b5a-1111-2222-3333-444455556666"}


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("slack", "api_url", "notaurl"),
        ("slack", "api_url", "ftp://slack.example/api/"),
        ("slack", "api_url", "https:///api/"),
        ("slack", "api_url", "https://slack.example:99999/api/"),
        ("teams", "service_url", "smba.trafficmanager.net/teams/"),
        ("teams", "openid_metadata_url", "login.botframework.com/v1"),
        ("teams", "auth_authority", "login.microsoftonline.com"),
        ("teams", "public_url", "bot.example.com"),
        ("teams", "website_url", "example.com"),
        ("teams", "privacy_url", "mailto:privacy@example.com"),
        ("teams", "terms_url", "https://exa mple.com/terms"),
    ],
)
def test_every_url_key_must_be_an_http_url_with_a_host(section: str, key: str, value: str) -> None:
    base = {"slack": SLACK, "teams": TEAMS}[section]
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, section: {**base, key: value}})
    message = str(err.value)
    assert f"{section}.{key}" in message and repr(value) in message
    assert "https://" in message, "the error shows what a good value looks like"


def test_a_webhook_reply_url_must_have_a_host() -> None:
    source = {"name": "hook", "type": "webhook", "secret": "x" * 16, "reply_url": "https://"}
    with pytest.raises(ConfigError, match="reply_url"):
        parse_config({**MINIMAL, "sources": [source]})


def test_good_urls_and_empty_optional_ones_load() -> None:
    config = parse_config(
        {
            **MINIMAL,
            "slack": {**SLACK, "api_url": "http://127.0.0.1:8123/api/"},
            "teams": {**TEAMS, "public_url": "https://bot.example.com", "auth_authority": ""},
        }
    )
    assert config.slack is not None and config.slack.api_url == "http://127.0.0.1:8123/api/"
    assert parse_config({**MINIMAL, "slack": SLACK}).slack.api_url == ""  # type: ignore[union-attr]


@pytest.mark.parametrize("port", [0, -1, 65536, 99999])
def test_server_port_is_1_to_65535(port: int) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "server": {"port": port}})
    assert "server.port" in str(err.value) and str(port) in str(err.value)


@pytest.mark.parametrize("port", [1, 8080, 65535])
def test_server_port_bounds_are_inclusive(port: int) -> None:
    assert parse_config({**MINIMAL, "server": {"port": port}}).server.port == port


def test_a_server_host_that_does_not_resolve_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "server": {"host": "no-such-host.invalid"}})
    message = str(err.value)
    assert "server.host" in message and "'no-such-host.invalid' does not resolve" in message
    assert "127.0.0.1" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::", "::1", "localhost"])
def test_ip_addresses_and_resolvable_names_are_hosts(host: str) -> None:
    assert parse_config({**MINIMAL, "server": {"host": host}}).server.host == host


def test_an_empty_server_host_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"server\.host"):
        parse_config({**MINIMAL, "server": {"host": " "}})


@pytest.mark.parametrize("url", ["postgres://db/x", "switchboard.sqlite3", "mysql:x"])
def test_store_url_needs_a_known_scheme(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "store": {"url": url}})
    assert "store.url" in str(err.value) and "redis://" in str(err.value)


def test_errors_never_repeat_a_secret_value() -> None:
    source = {"name": "hook", "type": "webhook", "secret": "hunter2-short"}
    with pytest.raises(ConfigError) as err:
        parse_config({**MINIMAL, "sources": [source]})
    message = str(err.value)
    assert "secret" in message and "16 characters" in message
    assert "hunter2" not in message
