"""The teams config section: defaults, validation messages that name the key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.teams_config import TeamsSettings
from tests.teams.world import APP_ID, TENANT


def test_defaults_use_the_public_bot_framework() -> None:
    settings = TeamsSettings()
    assert settings.service_url == "https://smba.trafficmanager.net/teams/"
    assert settings.openid_metadata_url.startswith("https://login.botframework.com/")
    assert not settings.authenticated


def test_service_url_gets_its_trailing_slash_and_bounds_allowed_hosts() -> None:
    settings = TeamsSettings(service_url="http://127.0.0.1:8123/teams")
    assert settings.service_url == "http://127.0.0.1:8123/teams/"
    assert settings.service_host_allowed("http://127.0.0.1:8123/other/")
    assert settings.service_host_allowed("https://smba.trafficmanager.net/emea/")
    assert settings.service_host_allowed("https://x.botframework.com/")
    assert not settings.service_host_allowed("https://botframework.com.evil.example/")
    assert not settings.service_host_allowed("https://evil.example/")
    assert not settings.service_host_allowed("not a url")


def test_multi_tenant_tokens_come_from_the_bot_framework_tenant() -> None:
    single = TeamsSettings(app_id=APP_ID, app_password="s", tenant_id=TENANT)
    multi = TeamsSettings(app_id=APP_ID, app_password="s", app_type="multi_tenant")
    assert single.token_tenant == TENANT
    assert multi.token_tenant == "botframework.com"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"app_id": "my-bot", "app_password": "s", "tenant_id": TENANT}, "teams.app_id must be"),
        ({"app_id": APP_ID, "tenant_id": TENANT}, "teams.app_password"),
        ({"app_id": APP_ID, "app_password": "s"}, "teams.tenant_id"),
        ({"service_url": "ftp://x"}, "teams.service_url"),
        ({"app_name": "x" * 31}, "teams.app_name"),
        ({"accent_color": "blue"}, "teams.accent_color"),
        ({"app_secret": "s"}, "app_secret"),
        ({"tenant_id": [TENANT, TENANT]}, "list further tenants under teams.tenant_ids"),
        ({"tenant_ids": [TENANT, " "]}, "teams.tenant_ids must not hold an empty"),
        ({"team_id": "19:team-general@thread.tacv2"}, "teams.team_id must be the team's group"),
        ({"graph_url": "graph.microsoft.com"}, "http"),
    ],
)
def test_invalid_settings_name_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TeamsSettings(**fields)


def test_served_tenants_are_the_tenant_and_the_listed_ones() -> None:
    other = "0A0B0C0D-0000-1111-2222-333344445555"
    settings = TeamsSettings(tenant_id=TENANT, tenant_ids=[other])
    assert settings.served_tenants == {TENANT, other.lower()}
    assert settings.tenant_allowed(TENANT.upper()) and settings.tenant_allowed(other.lower())
    assert not settings.tenant_allowed("99999999-aaaa-bbbb-cccc-dddddddddddd")
    assert TeamsSettings(tenant_ids=other).served_tenants == {other.lower()}
    assert TeamsSettings().tenant_allowed("anything"), "no tenant configured: local tools"
