"""A real ingest path for adapter tests: a source's batches stored through ``Ingestor`` into
a real store, so the store's de-duplication is what keeps a re-read window exactly-once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from bot.config import parse_config
from bot.ingest import Ingestor, SourceHealth
from bot.ports import Source
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store import Store

CONFIG = parse_config({"departments": [{"name": "social"}]})


class Ingesting:
    """``poll()`` runs one fetch-store-advance cycle of ``source`` on ``store``."""

    def __init__(self, store: Store, source: Source, clock: Callable[[], datetime]) -> None:
        threads = ThreadService(
            store, Directory(CONFIG.departments), Router((), "social"), clock=clock
        )
        self.store = store
        self.source = source
        self.ingestor = Ingestor(threads, [source], store)

    @property
    def health(self) -> SourceHealth:
        return self.ingestor.health[self.source.name]

    async def poll(self) -> bool:
        """One poll; whether the source said it has more ready."""
        return await self.ingestor.poll_once(self.source)

    async def drain(self, limit: int = 20) -> int:
        """Poll until the source has nothing more ready; how many polls it took."""
        for n in range(1, limit + 1):
            if not await self.poll():
                return n
        raise AssertionError(f"still more after {limit} polls")

    async def stored(self) -> Counter[str]:
        """Each stored mention's external id, with how many times it is stored."""
        found: Counter[str] = Counter()
        for thread in await self.store.list_threads():
            found.update(m.external_id for m in await self.store.mentions(thread.id))
        return found
