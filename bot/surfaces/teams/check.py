"""``switchboard check`` for Teams: the app's credentials get a Bot Framework token (and a
Microsoft Graph token, used to find cards again after a crash). Nothing is posted."""

from __future__ import annotations

from bot.errors import SwitchboardError
from bot.findings import Finding
from bot.surfaces.teams.connector import SCOPE, default_token_provider, graph_token_provider
from bot.surfaces.teams.graph import GRAPH_RESOURCE, GRAPH_SCOPE
from bot.teams_config import TeamsSettings

LOGIN_HINTS = {
    "invalid_client": "teams.app_password is wrong or expired: create a new client secret "
    "(Azure portal > App registrations > the bot's app > Certificates & secrets)",
    "unauthorized_client": "teams.app_id is not known in that tenant: check teams.app_id, "
    "teams.app_type and teams.tenant_id",
    "invalid_request": "check teams.tenant_id (a tenant GUID) and teams.app_type",
}
"""What each refusal of the login endpoint means, and the fix."""


def hint(error: str) -> str:
    for code, fix in LOGIN_HINTS.items():
        if code in error:
            return f"{error} — {fix}"
    return error


async def check_teams(settings: TeamsSettings) -> list[Finding]:
    if not settings.authenticated:
        return [Finding.fail("teams", "teams.app_id is empty: only the Emulator can talk to it")]
    tokens = default_token_provider(settings)
    try:
        await tokens.get_access_token(SCOPE, [f"{SCOPE}/.default"])
    except SwitchboardError as exc:
        return [Finding.fail("teams", hint(str(exc)))]
    except Exception as exc:  # the certificate path's MSAL raises its own errors
        return [Finding.fail("teams", hint(f"{type(exc).__name__}: {exc}"))]
    findings = [Finding.ok("teams", f"app {settings.app_id} gets a Bot Framework token")]
    try:
        await graph_token_provider(settings, tokens).get_access_token(GRAPH_RESOURCE, [GRAPH_SCOPE])
        findings.append(Finding.ok("teams graph", "gets a Microsoft Graph token"))
    except Exception as exc:  # not fatal for posting: cards fall back to at least once
        detail = hint(str(exc))
        findings.append(Finding.warn("teams graph", f"{detail} (cards still post; see README)"))
    return findings
