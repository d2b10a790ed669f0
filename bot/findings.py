"""One line of ``switchboard check``: what was checked, how it went, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    WARN = "warn"
    """Works, but something a user would want is missing (the line says what)."""
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    outcome: Outcome
    what: str
    detail: str

    @classmethod
    def ok(cls, what: str, detail: str) -> Finding:
        return cls(Outcome.OK, what, detail)

    @classmethod
    def fail(cls, what: str, detail: str) -> Finding:
        return cls(Outcome.FAIL, what, detail)

    @classmethod
    def warn(cls, what: str, detail: str) -> Finding:
        return cls(Outcome.WARN, what, detail)

    def line(self) -> str:
        return f"{self.outcome.value:<4} {self.what}: {self.detail}"
