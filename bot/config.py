"""One YAML config file, ``${ENV}`` interpolation, validated with errors that name the fix."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config_types import OptionalHttpUrl, check_host
from bot.errors import ConfigError
from bot.settings.policy import SlaPolicy
from bot.settings.sla import (
    Duration,
    Hours,
    NotifySettings,
    SlaDefaults,
    SlaTargets,
    build_policies,
    build_policy,
)
from bot.settings.storm import StormSettings
from bot.store.keys import check_prefix, split_prefix
from bot.teams_config import TeamsSettings

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


STORE_SCHEMES = ("sqlite", "redis", "rediss", "unix")


class StoreSettings(Section):
    url: str = "sqlite:///switchboard.sqlite3"
    prefix: str | None = None
    """Redis only: the start of every key (default ``sb:``), also given as ``?prefix=`` in the
    URL, so several deployments can share one Redis."""
    retention_days: int = 90
    """Resolved (and spam) threads are archived this many days after closing; 0 keeps them."""

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        scheme, sep, _ = value.partition(":")
        if not sep or scheme.lower() not in STORE_SCHEMES:
            raise ValueError(
                f"{value!r} is not a store URL; use sqlite:///path/to/file.sqlite3 "
                "or redis://host:6379/0"
            )
        _, in_url = split_prefix(value)
        if in_url is not None:
            check_prefix(in_url)
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return None if value is None else check_prefix(value)

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 0:
            raise ValueError(
                "must be a whole number of days, 0 or more; use e.g. 90, or 0 to keep "
                "closed threads forever"
            )
        return value

    @model_validator(mode="after")
    def _one_prefix(self) -> StoreSettings:
        _, in_url = split_prefix(self.url)
        if self.url.split(":", 1)[0].lower() == "sqlite" and (self.prefix or in_url):
            raise ValueError("store.prefix applies to a Redis store only; remove it")
        if self.prefix is not None and in_url is not None and in_url != self.prefix:
            raise ValueError(
                f"store.prefix {self.prefix!r} and the URL's ?prefix={in_url} differ; keep one"
            )
        return self


class ServerSettings(Section):
    host: str = "127.0.0.1"
    """An IP address, or a host name this machine resolves (checked at load)."""
    port: int = Field(default=8080, ge=1, le=65535)
    lease_seconds: float = Field(default=15.0, gt=0)
    """How long a dead replica's source polls and card deliveries stay blocked."""
    hooks_in_flight: int = Field(default=64, ge=1)
    """Webhook deliveries stored at once; more are answered 503 with ``Retry-After`` (the
    store is not keeping up) instead of piling up in memory."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)


class SlackSettings(Section):
    bot_token: str
    signing_secret: str = ""
    """Verifies requests Slack sends over HTTP; needed unless Socket Mode (``app_token``)."""
    app_token: str = ""
    api_url: OptionalHttpUrl = ""
    """The Slack Web API base URL; empty: https://slack.com/api/."""

    @model_validator(mode="after")
    def _signed_or_socket(self) -> SlackSettings:
        if not self.signing_secret and not self.app_token:
            raise ValueError(
                "slack.signing_secret is required in HTTP mode (Basic Information > Signing "
                "Secret); or set slack.app_token (xapp-...) to use Socket Mode"
            )
        return self


class CardLogSettings(Section):
    """A surface that appends every card to a JSON-lines file (audits, tests, dry runs)."""

    path: str


class Department(Section):
    name: str = Field(pattern=SLUG)
    title: str = ""
    description: str = ""
    slack_channel: str = ""
    teams_channel: str = ""
    slack_usergroup: str = ""
    reply_policy: Literal["open", "members", "approval"] = "open"
    sla: SlaTargets | None = None
    """``{claim: 10m, first_response: 1h}``; unset targets come from the top-level ``sla``."""
    sla_minutes: int | None = Field(default=None, gt=0)
    """The first-response target in minutes (the older spelling of sla.first_response)."""
    hours: Hours | None = None
    reminders: tuple[float, ...] | None = None
    notify: str | NotifySettings = ""
    rollover_after: Duration | None = None
    escalation: str = ""
    """The department a breached thread rolls over to."""
    on_duty: tuple[str, ...] | dict[str, tuple[str, ...]] = ()
    """A list (always on duty) or a rota ``{mon-fri 09:00-17:00: [alice, bob]}``."""
    _policy: SlaPolicy | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        return self.title or self.name.replace("-", " ").title()

    def __hash__(self) -> int:
        return hash(self.name)  # names are unique; a rota mapping is not hashable

    @property
    def sla_policy(self) -> SlaPolicy:
        """This department's service level (with the config's ``sla`` defaults applied when
        it came from a Config; on its own, the built-in defaults)."""
        if self._policy is None:
            self._policy = build_policy(self, SlaDefaults())
        return self._policy


class RoutingRule(Section):
    department: str
    source: str = ""
    network: str = ""
    keywords: tuple[str, ...] = ()
    regex: str = ""
    author: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _compiles(self) -> RoutingRule:
        if self.regex:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from exc
        return self


class RoutingSettings(Section):
    default_department: str = ""
    rules: tuple[RoutingRule, ...] = ()


class Config(Section):
    store: StoreSettings = StoreSettings()
    server: ServerSettings = ServerSettings()
    slack: SlackSettings | None = None
    teams: TeamsSettings | None = None
    card_log: CardLogSettings | None = None
    departments: tuple[Department, ...] = Field(min_length=1)
    sources: tuple[dict[str, Any], ...] = ()
    routing: RoutingSettings = RoutingSettings()
    sla: SlaDefaults = SlaDefaults()
    storm: StormSettings = StormSettings()

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        names = [d.name for d in self.departments]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"department names must be unique; repeated: {sorted(dupes)}")
        known = set(names)
        default = self.routing.default_department
        if default and default not in known:
            raise ValueError(unknown_department("routing.default_department", default, known))
        for i, rule in enumerate(self.routing.rules):
            if rule.department not in known:
                key = f"routing.rules[{i}].department"
                raise ValueError(unknown_department(key, rule.department, known))
        for dept in self.departments:
            if dept.escalation and dept.escalation not in known:
                key = f"departments[{dept.name}].escalation"
                raise ValueError(unknown_department(key, dept.escalation, known))
        policies = build_policies(self.departments, self.sla)
        for dept, policy in zip(self.departments, policies, strict=True):
            dept._policy = policy
        return self

    @property
    def default_department(self) -> str:
        return self.routing.default_department or self.departments[0].name

    def department(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name), None)

    def sla_policy(self, department: str) -> SlaPolicy:
        """The service level of ``department`` (KeyError when there is no such department)."""
        found = self.department(department)
        if found is None:
            raise KeyError(f"{department!r} is not a department")
        return found.sla_policy


SECRET_WORDS = ("token", "secret", "password")
"""Keys whose bad value an error never repeats."""
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string; a ``ConfigError`` names
    every variable that is not set (with its key), not only the first."""
    missing: list[tuple[str, str]] = []
    result = _interpolate(value, path, missing)
    if missing:
        names = sorted({name for _, name in missing})
        where = "; ".join(f"{key}: {name}" for key, name in missing)
        raise ConfigError(
            f"environment variable{'s' if len(names) > 1 else ''} not set: {where}; "
            f"export {'=... '.join(names)}=... or write ${{NAME:-default}}"
        )
    return result


def _interpolate(value: Any, path: str, missing: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), missing) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", missing) for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            missing.append((path, name))
            return ""

        return _ENV.sub(sub, value)
    return value


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line per field, naming the key and the fix (never a secret's
    value); an error that only follows from another one inside it is left out."""
    errors = exc.errors()
    places = [tuple(err["loc"]) for err in errors]
    lines = []
    for err in errors:
        place = tuple(err["loc"])
        inside = [p for p in places if len(p) > len(place) and p[: len(place)] == place]
        if err["type"] == "too_short" and inside:
            continue  # "at least 1 item": the item inside it was refused, said below
        got = err.get("input")
        secret = any(word in str(err["loc"][-1:]) for word in SECRET_WORDS)
        shown = "" if secret or isinstance(got, dict | list) else f" (got {got!r})"
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == SLUG:
            message = "a name used in commands: lowercase letters, digits, - and _"
            suggestion = slug(got) if isinstance(got, str) else ""
            if suggestion:
                message += f"; use {suggestion!r}"
        where = ".".join(str(p) for p in place)
        lines.append(f"  {where}: {message}{shown}" if where else f"  {message}")
    return "\n".join(lines)


def slug(text: str) -> str:
    """``Customer Support`` -> ``customer-support``; empty when nothing usable is left."""
    candidate = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")[:64]
    return candidate if re.fullmatch(SLUG, candidate) else ""


def unknown_department(key: str, value: str, known: set[str]) -> str:
    """The error for a key naming a department that does not exist, with the likely fix."""
    if value.lower() in known or slug(value) in known:
        fix = f"use lowercase: {value.lower() if value.lower() in known else slug(value)}"
    else:
        close = difflib.get_close_matches(value, sorted(known), n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"use one of {sorted(known)}"
    return f"{key} {value!r} is not a department; {fix}"


def parse_config(data: Any, origin: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of sections")
    data = interpolate(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin} is invalid:\n{describe(exc)}") from None
    _validate_sources(config, origin)
    return config


def _validate_sources(config: Config, origin: str) -> None:
    from adapters.base import source_class

    seen: set[str] = set()
    for i, entry in enumerate(config.sources):
        name = entry.get("name", f"#{i}")
        if name in seen:
            raise ConfigError(f"{origin}: sources[{i}].name {name!r} is used twice")
        seen.add(str(name))
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise ConfigError(f"{origin}: sources[{i}].type is missing (e.g. type: mastodon)")
        cls = source_class(kind)
        try:
            cls.settings_model.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(
                f"{origin}: sources[{i}] ({name}) is invalid:\n{describe(exc)}"
            ) from None


def load_section(path: str | os.PathLike[str] | None, key: str) -> dict[str, Any]:
    """Only the ``key:`` section of the config file, with its ``${ENV}`` interpolated (for a
    command that needs nothing else: the other sections' variables need not be set)."""
    file, data = _read(path)
    section = data.get(key) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: no `{key}:` section")
    result = interpolate(section, key)
    assert isinstance(result, dict)
    return result


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``path``, or ``$SWITCHBOARD_CONFIG``; ConfigError when missing or invalid."""
    file, data = _read(path)
    return parse_config(data, str(file))


def _read(path: str | os.PathLike[str] | None) -> tuple[Path, Any]:
    chosen = path or os.environ.get("SWITCHBOARD_CONFIG")
    if not chosen:
        raise ConfigError(
            "no config file: pass --config PATH or set SWITCHBOARD_CONFIG "
            "(see switchboard.example.yaml)"
        )
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    try:
        return file, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from None
