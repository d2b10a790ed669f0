"""The ``teams`` config section (kept in the core config, so config imports no surface)."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from bot.config_types import HttpUrl, OptionalHttpUrl, check_http_url

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
BOT_FRAMEWORK_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
TEAMS_SERVICE_HOSTS = ("smba.trafficmanager.net", "botframework.com", "teams.microsoft.com")
GRAPH_URL = "https://graph.microsoft.com/v1.0"


class TeamsSettings(BaseModel):
    """How the bot talks to Microsoft Teams (an Azure Bot registration).

    Without ``app_id`` the endpoint accepts unauthenticated requests and calls the connector
    without a token: only for local tools such as the Bot Framework Emulator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: str = ""
    """The bot's Microsoft App ID (the Entra app registration's client id)."""
    app_password: str = ""
    """A client secret of that app registration."""
    certificate_path: str = ""
    """A PFX certificate instead of ``app_password``."""
    tenant_id: str = ""
    """The Microsoft 365 tenant whose teams show the departments (and where a single-tenant
    bot's tokens come from)."""
    tenant_ids: tuple[str, ...] = ()
    """More tenants whose activities are served besides ``tenant_id`` (a multi-tenant bot).
    An activity from any other tenant is refused before the bot sees it; with neither key set
    every tenant is served (local tools only)."""
    app_type: Literal["single_tenant", "multi_tenant"] = "single_tenant"
    service_url: str = "https://smba.trafficmanager.net/teams/"
    """Bot Connector endpoint for proactive posts (the global Teams URL works everywhere)."""
    allowed_service_hosts: tuple[str, ...] = TEAMS_SERVICE_HOSTS
    """Hosts an incoming activity's ``serviceUrl`` may name (besides ``service_url``'s)."""
    openid_metadata_url: HttpUrl = BOT_FRAMEWORK_METADATA
    """Where the signing keys of incoming requests are published."""
    token_issuers: tuple[str, ...] = (BOT_FRAMEWORK_ISSUER,)
    auth_authority: OptionalHttpUrl = ""
    """Entra authority for outgoing tokens; empty = https://login.microsoftonline.com/<tenant>."""
    team_id: str = ""
    """The Microsoft 365 group id (a GUID) of the team holding the department channels, for
    Microsoft Graph look-ups after a crash; learnt from Teams' activities when empty."""
    graph_url: HttpUrl = GRAPH_URL
    """Microsoft Graph's base URL (a national cloud has its own)."""

    app_name: str = "Switchboard"
    """Name shown in Teams (at most 30 characters)."""
    manifest_id: str = ""
    """The Teams app id (a GUID); defaults to ``app_id``."""
    public_url: OptionalHttpUrl = ""
    """Public HTTPS base URL of this server (its host goes into the manifest's validDomains)."""
    developer_name: str = ""
    """Your organization's name, shown as the app's developer (``teams-package`` needs it)."""
    website_url: OptionalHttpUrl = ""
    privacy_url: OptionalHttpUrl = ""
    terms_url: OptionalHttpUrl = ""
    """Your organization's pages, linked from the app's details (``teams-package`` needs them)."""
    accent_color: str = "#4F6BED"

    @field_validator("service_url")
    @classmethod
    def _service_url(cls, value: str) -> str:
        try:
            check_http_url(value)
        except ValueError as exc:
            raise ValueError(f"teams.service_url: {exc}") from None
        return value if value.endswith("/") else value + "/"

    @field_validator("tenant_id", mode="before")
    @classmethod
    def _one_tenant(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            raise ValueError(
                "teams.tenant_id is one tenant id; list further tenants under teams.tenant_ids"
            )
        return value

    @field_validator("tenant_ids", mode="before")
    @classmethod
    def _tenant_list(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("tenant_ids")
    @classmethod
    def _tenants_given(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tenant in value:
            if not tenant.strip():
                raise ValueError("teams.tenant_ids must not hold an empty tenant id")
        return tuple(t.strip() for t in value)

    @field_validator("app_name")
    @classmethod
    def _app_name(cls, value: str) -> str:
        if not value.strip() or len(value) > 30:
            raise ValueError("teams.app_name must be 1 to 30 characters (a Teams limit)")
        return value

    @field_validator("accent_color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError(f"teams.accent_color must look like #4F6BED, got {value!r}")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> TeamsSettings:
        if not self.app_id:
            return self
        if not GUID.match(self.app_id):
            raise ValueError(
                f"teams.app_id must be the app registration's GUID, got {self.app_id!r}"
            )
        if not (self.app_password or self.certificate_path):
            raise ValueError(
                "teams.app_id is set: also set teams.app_password (a client secret) "
                "or teams.certificate_path"
            )
        if self.app_type == "single_tenant" and not self.tenant_id:
            raise ValueError("teams.app_type single_tenant needs teams.tenant_id")
        if self.manifest_id and not GUID.match(self.manifest_id):
            raise ValueError(f"teams.manifest_id must be a GUID, got {self.manifest_id!r}")
        return self

    @field_validator("team_id")
    @classmethod
    def _team_id(cls, value: str) -> str:
        value = value.strip()
        if value and not GUID.match(value):
            raise ValueError(
                f"teams.team_id must be the team's group id (a GUID), got {value!r}; "
                "find it in the team's link (groupId=...) or leave it empty to learn it"
            )
        return value

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)

    @property
    def served_tenants(self) -> frozenset[str]:
        """Lower-cased tenant ids whose activities are served; empty: every tenant."""
        tenants = (self.tenant_id, *self.tenant_ids)
        return frozenset(t.strip().lower() for t in tenants if t.strip())

    def tenant_allowed(self, tenant: str) -> bool:
        """Whether an activity from ``tenant`` may be served."""
        served = self.served_tenants
        return not served or tenant.strip().lower() in served

    @property
    def token_tenant(self) -> str:
        """The tenant outgoing tokens are requested from."""
        return self.tenant_id if self.app_type == "single_tenant" else "botframework.com"

    def service_host_allowed(self, url: str) -> bool:
        host = (urlparse(url).hostname or "").lower()
        if not host:
            return False
        if host == (urlparse(self.service_url).hostname or "").lower():
            return True
        return any(host == h or host.endswith("." + h) for h in self.allowed_service_hosts)
