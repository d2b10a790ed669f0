"""The ``storm:`` config section: when a channel switches to digests, and how big they get."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.settings.sla import Duration


class StormSettings(BaseModel):
    """``storm: {delay: 10s, window: 60s, lines_per_digest: 40, update_interval: 1.5}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """False: every new thread gets its own card, however long the channel's queue."""
    delay: Duration = timedelta(seconds=10)
    """A channel goes to digests when a new mention would wait longer than this for its card."""
    window: Duration = timedelta(seconds=60)
    """How far back arrivals count: the storm ends once this long was calm."""
    lines_per_digest: int = Field(default=40, ge=1, le=40)
    """Threads in one digest message before a new one is started (at most 40: Slack takes
    about 13,000 characters of blocks in one message)."""
    update_interval: float = 1.5
    """Least seconds between two digest edits in a workspace (Slack: about 50 ``chat.update``
    a minute); shared by every replica."""

    @model_validator(mode="after")
    def _sane(self) -> StormSettings:
        if self.window < self.delay:
            raise ValueError(
                f"storm.window ({self.window}) must be at least storm.delay ({self.delay}); "
                "e.g. delay: 10s, window: 60s"
            )
        if not self.update_interval >= 1.2:
            raise ValueError(
                "storm.update_interval must be 1.2s or more: Slack allows about 50 chat.update "
                "calls a minute"
            )
        return self
