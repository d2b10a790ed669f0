"""Routing: the first matching rule picks a mention's department."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import RoutingRule
from bot.domain import Mention


@dataclass(frozen=True)
class _Compiled:
    rule: RoutingRule
    keywords: re.Pattern[str] | None
    regex: re.Pattern[str] | None
    authors: frozenset[str]

    def matches(self, mention: Mention) -> bool:
        rule = self.rule
        if rule.source and rule.source != mention.source:
            return False
        if rule.network and rule.network != mention.network:
            return False
        if self.keywords and not self.keywords.search(mention.text):
            return False
        if self.regex and not self.regex.search(mention.text):
            return False
        return not self.authors or _handle(mention.author.handle) in self.authors


def _handle(handle: str) -> str:
    return handle.lstrip("@").lower()


def _compile(rule: RoutingRule) -> _Compiled:
    words = [w.strip() for w in rule.keywords if w.strip()]
    keywords = None
    if words:
        alternatives = "|".join(re.escape(w) for w in words)
        keywords = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    return _Compiled(
        rule=rule,
        keywords=keywords,
        regex=re.compile(rule.regex, re.IGNORECASE) if rule.regex else None,
        authors=frozenset(_handle(a) for a in rule.author),
    )


class Router:
    """Rules are AND within a rule (every given condition must hold), first match wins."""

    def __init__(self, rules: Sequence[RoutingRule], default_department: str) -> None:
        self._rules = [_compile(r) for r in rules]
        self.default_department = default_department

    def route(self, mention: Mention) -> str:
        for compiled in self._rules:
            if compiled.matches(mention):
                return compiled.rule.department
        return self.default_department
