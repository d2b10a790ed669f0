"""JWT validation of /api/messages when an app id is configured, against a fake token issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.store import Store
from bot.surfaces.teams.auth import TokenValidator, Unauthorized
from bot.teams_config import TeamsSettings
from tests.teams.fakes import ConnectorFake, IssuerFake
from tests.teams.world import (
    APP_ID,
    SUPPORT,
    TEAM,
    StaticTokens,
    World,
    bot_added,
    card_actions,
    content,
    invoke,
    world,
)

OUTGOING = "bot-token-for-the-connector"


@pytest.fixture
async def w(
    store: Store, connector: ConnectorFake, issuer: IssuerFake, tmp_path: Path
) -> AsyncIterator[World]:
    connector.token = OUTGOING
    async with world(
        store,
        connector,
        tmp_path,
        token_provider=StaticTokens(OUTGOING),
        app_id=APP_ID,
        app_password="secret",
        openid_metadata_url=issuer.metadata_url,
    ) as built:
        yield built


def valid(fake: IssuerFake, w: World, **changes: Any) -> str:
    fields: dict[str, Any] = {"audience": APP_ID, "service_url": w.service_url}
    fields.update(changes)
    return fake.token(**fields)


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BAD_TOKENS: dict[str, Callable[[IssuerFake, World], str | None]] = {
    "missing": lambda i, w: None,
    "garbage": lambda i, w: "not.a.jwt",
    "wrong audience": lambda i, w: valid(i, w, audience="11111111-2222-3333-4444-555555555555"),
    "wrong issuer": lambda i, w: valid(i, w, issuer="https://evil.example"),
    "expired": lambda i, w: valid(i, w, expires_in=-3600),
    "forged signature": lambda i, w: valid(i, w, key=OTHER_KEY),
    "unknown key": lambda i, w: valid(i, w, key=OTHER_KEY, kid="other-key"),
    "other service url": lambda i, w: valid(i, w, service_url="https://smba.trafficmanager.net/x/"),
    "no service url": lambda i, w: valid(i, w, service_url=None),
    "symmetric algorithm": lambda i, w: valid(i, w, algorithm="HS256"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_requests_without_a_valid_token_are_refused(
    w: World, issuer: IssuerFake, case: str
) -> None:
    token = BAD_TOKENS[case](issuer, w)
    status, body = await w.post(bot_added(TEAM, w.service_url), token=token)

    assert status == 401
    assert body == {"error": "unauthorized"}
    assert w.connector.requests == []


async def test_a_bearer_header_in_the_wrong_shape_is_refused(w: World, issuer: IssuerFake) -> None:
    token = valid(issuer, w)
    for header in (f"Basic {token}", f"Bearer {token} extra", "Bearer"):
        resp = await w.client.post(
            "/api/messages",
            json=bot_added(TEAM, w.service_url),
            headers={"Authorization": header},
        )
        assert resp.status == 401
    assert w.connector.requests == []


async def test_a_key_not_endorsed_for_teams_is_refused(
    store: Store, connector: ConnectorFake, tmp_path: Path
) -> None:
    skype_only = IssuerFake(endorsements=("skype",))
    await skype_only.start()
    try:
        async with world(
            store,
            connector,
            tmp_path,
            token_provider=StaticTokens(OUTGOING),
            app_id=APP_ID,
            app_password="secret",
            openid_metadata_url=skype_only.metadata_url,
        ) as w:
            token = skype_only.token(audience=APP_ID, service_url=w.service_url)
            status, _ = await w.post(bot_added(TEAM, w.service_url), token=token)
            assert status == 401
    finally:
        await skype_only.close()


async def test_a_valid_token_is_accepted_and_replies_carry_the_bot_token(
    w: World, issuer: IssuerFake
) -> None:
    status, _ = await w.post(bot_added(TEAM, w.service_url), token=valid(issuer, w))
    assert status == 202
    [hello] = [a for a in w.connector.activities.values() if a.get("text")]
    assert "teams_channel" in hello["text"]
    assert all(r.headers["Authorization"] == f"Bearer {OUTGOING}" for r in w.connector.requests)


async def test_a_card_action_with_a_valid_token_runs_end_to_end(
    w: World, issuer: IssuerFake
) -> None:
    await w.mention(1, "the app is down again")
    card = w.connector.cards(SUPPORT)[0]
    claim = card_actions(content(card))["Claim"]
    activity = invoke(claim, card["conversation"]["id"], w.service_url)

    status, body = await w.post(activity, token=valid(issuer, w))
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    [thread] = await w.board.store.list_threads()
    assert thread.owner is not None and not thread.owner.is_guest
    members = [r for r in w.connector.requests if "/members/" in r.path]
    assert members and members[0].headers["Authorization"] == f"Bearer {OUTGOING}"

    status, _ = await w.post(activity)
    assert status == 401


async def test_rotated_keys_are_fetched_but_unknown_keys_do_not_hammer_the_issuer(
    issuer: IssuerFake,
) -> None:
    now = [1000.0]
    settings = TeamsSettings(
        app_id=APP_ID,
        app_password="secret",
        tenant_id="t",
        openid_metadata_url=issuer.metadata_url,
    )
    validator = TokenValidator(settings, clock=lambda: now[0])
    activity = {"channelId": "msteams", "serviceUrl": "https://smba.trafficmanager.net/teams/"}

    def token(**extra: Any) -> str:
        return issuer.token(audience=APP_ID, service_url=activity["serviceUrl"], **extra)

    identity = await validator.validate(f"Bearer {token()}", activity)
    assert identity.get_claim_value("aud") == APP_ID
    await validator.validate(f"Bearer {token()}", activity)
    assert len(issuer.calls("/v1/.well-known/keys")) == 1

    issuer.key, issuer.kid = OTHER_KEY, "rotated-key"
    with pytest.raises(Unauthorized, match="unknown signing key"):
        await validator.validate(f"Bearer {token()}", activity)
    assert len(issuer.calls("/v1/.well-known/keys")) == 1, "refetch at most every 5 minutes"

    now[0] += 301
    await validator.validate(f"Bearer {token()}", activity)
    assert len(issuer.calls("/v1/.well-known/keys")) == 2


async def test_known_keys_survive_an_issuer_outage(issuer: IssuerFake) -> None:
    now = [1000.0]
    settings = TeamsSettings(
        app_id=APP_ID, app_password="s", tenant_id="t", openid_metadata_url=issuer.metadata_url
    )
    validator = TokenValidator(settings, clock=lambda: now[0])
    activity = {"channelId": "msteams", "serviceUrl": "https://smba.trafficmanager.net/teams/"}
    token = issuer.token(audience=APP_ID, service_url=activity["serviceUrl"])
    await validator.validate(f"Bearer {token}", activity)

    now[0] += 25 * 3600
    issuer.fail("/v1/.well-known/openidconfiguration", 503, {"error": "down"})
    await validator.validate(f"Bearer {token}", activity)
    assert len(issuer.calls("/v1/.well-known/openidconfiguration")) == 2


async def test_a_valid_token_from_a_foreign_tenant_is_refused_and_nothing_is_posted(
    w: World, issuer: IssuerFake
) -> None:
    activity = bot_added(TEAM, w.service_url)
    activity["conversation"]["tenantId"] = "99999999-aaaa-bbbb-cccc-dddddddddddd"
    activity["channelData"]["tenant"] = {"id": "99999999-aaaa-bbbb-cccc-dddddddddddd"}
    status, body = await w.post(activity, token=valid(issuer, w))

    assert status == 403
    assert body == {"error": "tenant not served by this bot"}
    assert w.connector.requests == []
