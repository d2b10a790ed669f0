"""`switchboard check` proves the Teams credentials at the login endpoint and says the fix."""

from __future__ import annotations

from bot.findings import Outcome
from bot.surfaces.teams.check import check_teams
from bot.teams_config import TeamsSettings
from tests.teams.conftest import SECRET
from tests.teams.fakes import LoginFake
from tests.teams.world import APP_ID, TENANT


def settings(entra: LoginFake, **more: str) -> TeamsSettings:
    fields = {
        "app_id": APP_ID,
        "app_password": SECRET,
        "tenant_id": TENANT,
        "auth_authority": entra.authority,
    }
    return TeamsSettings.model_validate(fields | more)


async def test_good_credentials_get_both_tokens(entra: LoginFake) -> None:
    findings = await check_teams(settings(entra))
    assert [(f.outcome, f.what) for f in findings] == [
        (Outcome.OK, "teams"),
        (Outcome.OK, "teams graph"),
    ]
    assert APP_ID in findings[0].detail
    assert entra.requests_made() == 2


async def test_a_wrong_secret_names_the_key_and_where_to_make_a_new_one(entra: LoginFake) -> None:
    (finding,) = await check_teams(settings(entra, app_password="not-the-secret"))
    assert finding.outcome is Outcome.FAIL
    assert "invalid_client" in finding.detail and "teams.app_password" in finding.detail
    assert "Certificates & secrets" in finding.detail
    assert "not-the-secret" not in finding.detail


async def test_an_app_unknown_in_the_tenant_names_the_ids(entra: LoginFake) -> None:
    other = "99999999-8888-7777-6666-555555555555"
    (finding,) = await check_teams(settings(entra, app_id=other))
    assert finding.outcome is Outcome.FAIL
    assert "unauthorized_client" in finding.detail and "teams.app_id" in finding.detail
