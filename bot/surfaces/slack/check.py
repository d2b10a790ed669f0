"""``switchboard check`` for Slack: the bot token, the app token, and every department channel.

Each finding is a ``bot.findings.Finding``; nothing is posted.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.config import Department, SlackSettings
from bot.findings import Finding
from bot.surfaces.slack.app import REFUSED_TOKEN, app_token_refused
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackCallError

TOKEN_HINTS = {
    "invalid_auth": "slack.bot_token is not a token of this workspace: copy the Bot User OAuth "
    "Token (xoxb-...) from the app's OAuth & Permissions page",
    "not_authed": "slack.bot_token is empty: set it to the Bot User OAuth Token (xoxb-...)",
    "token_revoked": "slack.bot_token was revoked: reinstall the app to the workspace and copy "
    "the new Bot User OAuth Token",
    "account_inactive": "the app's bot user is deactivated: reinstall the app",
    "missing_scope": "the token lacks a scope: reinstall the app from manifest.yaml",
}
"""What each refusal of the bot token means, and the fix."""


def hint(error: SlackCallError) -> str:
    """Slack's error code with what it means and the fix, where we know it."""
    known = TOKEN_HINTS.get(error.error)
    return f"{error.error}: {known}" if known else str(error)


async def check_slack(
    settings: SlackSettings, surface: SlackSurface, departments: Sequence[Department]
) -> list[Finding]:
    findings = []
    try:
        who = await surface.api.call("auth.test")
    except SlackCallError as exc:
        return [Finding.fail("slack", hint(exc))]
    findings.append(Finding.ok("slack", f"signed in as {who.get('user')} in {who.get('team')}"))
    if settings.app_token:
        findings.append(await _app_token(surface, settings.app_token))
    for department in departments:
        if department.slack_channel:
            findings.append(await _channel(surface, department))
        if department.slack_usergroup:
            findings.append(await _usergroup(surface, department))
    return findings


async def _usergroup(surface: SlackSurface, department: Department) -> Finding:
    what = f"slack user group {department.slack_usergroup} ({department.name})"
    try:
        data = await surface.api.call("usergroups.users.list", usergroup=department.slack_usergroup)
    except SlackCallError as exc:
        fix = "check departments[].slack_usergroup (the group's ID, S0123…)"
        return Finding.fail(what, f"{exc.error}: {fix}")
    members = data.get("users") or []
    if not members:
        return Finding.warn(what, "has no members: nobody there may reply as a member")
    return Finding.ok(what, f"{len(members)} members")


async def _app_token(surface: SlackSurface, token: str) -> Finding:
    """Ask for a Socket Mode URL (``apps.connections.open``), as ``serve`` does at start."""
    what = "slack socket mode"
    try:
        await surface.api.client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        if error in REFUSED_TOKEN:
            return Finding.fail(what, app_token_refused(error, surface.api.client.base_url))
        return Finding.fail(what, f"apps.connections.open failed: {error}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Finding.fail(what, f"cannot reach Slack: {exc or type(exc).__name__}")
    return Finding.ok(what, "the app token opens a Socket Mode connection")


async def _channel(surface: SlackSurface, department: Department) -> Finding:
    what = f"slack channel {department.slack_channel} ({department.name})"
    try:
        channel_id = await surface.resolve_channel(department.slack_channel)
        info = (await surface.api.call("conversations.info", channel=channel_id)).get("channel")
    except SlackCallError as exc:
        fix = "check departments[].slack_channel, and invite the bot to a private channel"
        return Finding.fail(what, f"{exc.error}: {fix}")
    info = info if isinstance(info, dict) else {}
    if info.get("is_archived"):
        return Finding.fail(what, "the channel is archived: unarchive it or choose another")
    if info.get("is_member"):
        return Finding.ok(what, "the bot is a member")
    if info.get("is_private"):
        return Finding.fail(what, "private, and the bot is not a member: /invite the bot there")
    return Finding.ok(what, "public; the bot joins it when it posts the first card")
