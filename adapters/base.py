"""What every source adapter shares: its settings model and the registry by ``type``."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConfigError
from bot.ports import NeedsKeyValue, PlatformHealth, Source
from bot.storage import KeyValue


class SourceSettings(BaseModel):
    """One entry under ``sources:`` in the config. Adapters subclass it with their own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    type: str
    poll_interval: float = Field(default=60.0, gt=0)
    base_url: str = ""


class SourceFactory(Protocol):
    settings_model: ClassVar[type[SourceSettings]]

    @classmethod
    def from_settings(cls, settings: Any) -> Source: ...


SOURCE_TYPES: dict[str, str] = {
    "replay": "adapters.replay:ReplaySource",
    "mastodon": "adapters.mastodon:MastodonSource",
    "bluesky": "adapters.bluesky:BlueskySource",
    "reddit": "adapters.reddit:RedditSource",
    "x": "adapters.x:XSource",
    "rss": "adapters.rss:RssSource",
    "webhook": "adapters.webhook:WebhookSource",
}


def source_class(type_name: str) -> SourceFactory:
    target = SOURCE_TYPES.get(type_name)
    if target is None:
        known = ", ".join(sorted(SOURCE_TYPES))
        raise ConfigError(f"sources[].type: unknown type {type_name!r}; use one of: {known}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # pragma: no cover - depends on installed extras
        raise ConfigError(
            f"sources[].type {type_name!r} needs a missing dependency: {exc}"
        ) from exc
    cls: SourceFactory = getattr(module, attr)
    return cls


def connect_sources(sources: Iterable[Source], kv: KeyValue) -> list[PlatformHealth]:
    """Give the store's key-value port to every source that keeps shared state in it
    (``NeedsKeyValue``), and return the sources that report their own credentials to
    ``/readyz`` (``PlatformHealth``)."""
    reporting: list[PlatformHealth] = []
    for source in sources:
        if isinstance(source, NeedsKeyValue):
            source.attach(kv)
        if isinstance(source, PlatformHealth):
            reporting.append(source)
    return reporting
