"""Digests and storms kept in the key-value port, so every replica continues the same ones.

Only atomic ``kv_put_if_absent`` shares anything: the n-th line of a digest is the one entry
``line:<digest>:<n>``; a replica adding a line takes the first free slot (a slot another
replica took meanwhile is skipped), so lines are never lost or overwritten and a full digest
moves the channel on to the next number. Lines never change once written, so each replica
keeps those it read. A thread's line is found again from ``thread:<surface>:<thread id>``:
adding it twice adds nothing, except after a crash between the slot and that entry (then the
thread may show twice: shown at least once, never lost). Which threads got their card is a
second slot list per digest (``mark:``).

Storms: ``alive:<surface>:<channel>`` lives while some replica's gauge sees the storm (each
refreshes it with an expiry); the replica whose ``put_if_absent`` creates it has started a
new storm and announces it; the replica that first marks a storm ``ended`` sums it up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.domain import CardRef
from bot.storage import STORM_DIGEST, STORM_STATE, STORM_TTL, KeyValue
from bot.storm.ports import DigestLine

PENDING = "?"


def digest_key(surface: str, channel: str, number: int) -> str:
    return f"{surface}:{channel}:{number}"


def digest_number(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


@dataclass(frozen=True)
class StormRecord:
    number: int
    started: datetime
    first_digest: int


class DigestBook:
    """See the module docstring. ``capacity`` lines per digest."""

    def __init__(self, kv: KeyValue, capacity: int) -> None:
        self.kv = kv
        self.capacity = capacity
        self._next: dict[str, tuple[int, int]] = {}
        self._lines: dict[str, list[DigestLine]] = {}
        self._marks: dict[str, tuple[int, set[str]]] = {}

    # ---- lines --------------------------------------------------------------------------

    async def placed(self, surface: str, thread_id: str) -> str | None:
        """The digest that shows ``thread_id`` on ``surface`` (None: none, or not finished)."""
        found = await self.kv.kv_get(STORM_DIGEST, f"thread:{surface}:{thread_id}")
        return None if found in (None, PENDING) else found

    async def add(self, surface: str, channel: str, line: DigestLine) -> str:
        """Put ``line`` in ``channel``'s current digest (once per thread); its digest key."""
        entry = f"thread:{surface}:{line.thread_id}"
        found = await self.kv.kv_get(STORM_DIGEST, entry)
        if found not in (None, PENDING):
            return str(found)
        await self.kv.kv_put(STORM_DIGEST, entry, PENDING, ttl=STORM_TTL)
        where = f"{surface}:{channel}"
        number, slot = self._next.get(where) or (await self.current(surface, channel), 0)
        raw = line.to_json()
        while True:
            key = digest_key(surface, channel, number)
            if await self.kv.kv_put_if_absent(
                STORM_DIGEST, f"line:{key}:{slot}", raw, ttl=STORM_TTL
            ):
                break
            slot += 1
            if slot >= self.capacity:
                number, slot = number + 1, 0
        if slot + 1 >= self.capacity:
            await self.kv.kv_put(STORM_DIGEST, f"current:{where}", str(number + 1), ttl=STORM_TTL)
            self._next[where] = (number + 1, 0)
        else:
            self._next[where] = (number, slot + 1)
        await self.kv.kv_put(STORM_DIGEST, entry, key, ttl=STORM_TTL)
        return key

    async def current(self, surface: str, channel: str) -> int:
        """The number of the digest ``channel`` is filling."""
        raw = await self.kv.kv_get(STORM_DIGEST, f"current:{surface}:{channel}")
        return int(raw) if raw else 0

    async def start_new(self, surface: str, channel: str) -> int:
        """A new storm starts on a fresh digest: move on if the current one has lines."""
        number = await self.current(surface, channel)
        if await self.kv.kv_get(STORM_DIGEST, f"line:{digest_key(surface, channel, number)}:0"):
            number += 1
            await self.kv.kv_put(
                STORM_DIGEST, f"current:{surface}:{channel}", str(number), ttl=STORM_TTL
            )
            self._next[f"{surface}:{channel}"] = (number, 0)
        return number

    async def lines(self, key: str) -> list[DigestLine]:
        """Every line of digest ``key`` so far, in slot order, with its card mark."""
        known = self._lines.setdefault(key, [])
        while len(known) < self.capacity:
            raw = await self.kv.kv_get(STORM_DIGEST, f"line:{key}:{len(known)}")
            if raw is None:
                break
            known.append(DigestLine.from_json(raw))
        carded = await self.marks(key)
        return [line.as_carded() if line.thread_id in carded else line for line in known]

    async def mark(self, key: str, thread_id: str) -> None:
        """``thread_id`` in digest ``key`` has its own card now."""
        count, seen = self._marks.get(key) or (0, set())
        if thread_id in seen:
            return
        while not await self.kv.kv_put_if_absent(
            STORM_DIGEST, f"mark:{key}:{count}", thread_id, ttl=STORM_TTL
        ):
            count += 1
        self._marks[key] = (count, seen)

    async def marks(self, key: str) -> set[str]:
        count, seen = self._marks.get(key) or (0, set())
        while True:
            raw = await self.kv.kv_get(STORM_DIGEST, f"mark:{key}:{count}")
            if raw is None:
                break
            seen.add(raw)
            count += 1
        self._marks[key] = (count, seen)
        return seen

    # ---- the posted message -------------------------------------------------------------

    async def ref(self, key: str) -> CardRef | None:
        raw = await self.kv.kv_get(STORM_DIGEST, f"ref:{key}")
        return CardRef.model_validate_json(raw) if raw else None

    async def save_ref(self, key: str, ref: CardRef) -> None:
        await self.kv.kv_put(STORM_DIGEST, f"ref:{key}", ref.model_dump_json(), ttl=STORM_TTL)

    async def shown(self, key: str) -> str:
        return await self.kv.kv_get(STORM_DIGEST, f"shown:{key}") or ""

    async def set_shown(self, key: str, state: str) -> None:
        await self.kv.kv_put(STORM_DIGEST, f"shown:{key}", state, ttl=STORM_TTL)

    # ---- storms -------------------------------------------------------------------------

    async def keep_storm(
        self, surface: str, channel: str, now: datetime, ttl: float
    ) -> StormRecord | None:
        """Some replica sees a storm: keep it alive ``ttl`` more seconds. Returns the record
        when this call started a new storm (the caller announces it), else None."""
        where = f"{surface}:{channel}"
        alive = f"alive:{where}"
        if await self.kv.kv_put_if_absent(STORM_STATE, alive, "starting", ttl=ttl):
            previous = await self.storm(surface, channel)
            first = await self.start_new(surface, channel)
            record = StormRecord((previous.number + 1) if previous else 1, now, first)
            raw = json.dumps(
                {"n": record.number, "at": now.isoformat(), "first": record.first_digest}
            )
            await self.kv.kv_put(STORM_STATE, f"storm:{where}", raw, ttl=STORM_TTL)
            await self.kv.kv_put(STORM_STATE, alive, str(record.number), ttl=ttl)
            return record
        await self.kv.kv_put(STORM_STATE, alive, "on", ttl=ttl)
        return None

    async def alive(self, surface: str, channel: str) -> bool:
        return await self.kv.kv_get(STORM_STATE, f"alive:{surface}:{channel}") is not None

    async def storm(self, surface: str, channel: str) -> StormRecord | None:
        """The channel's latest storm (over or not)."""
        raw = await self.kv.kv_get(STORM_STATE, f"storm:{surface}:{channel}")
        if not raw:
            return None
        data = json.loads(raw)
        return StormRecord(int(data["n"]), datetime.fromisoformat(data["at"]), int(data["first"]))

    async def end_storm(self, surface: str, channel: str, number: int) -> bool:
        """True for the one caller that ends storm ``number`` (it posts the summary)."""
        return await self.kv.kv_put_if_absent(
            STORM_STATE, f"ended:{surface}:{channel}:{number}", "1", ttl=STORM_TTL
        )


class SharedTurns:
    """``bot.storm.ports.Turns`` in the key-value port (``slot:<name>`` in ``STORM_STATE``)."""

    def __init__(self, kv: KeyValue, holder: str) -> None:
        self.kv = kv
        self.holder = holder

    async def take(self, name: str, seconds: float) -> bool:
        return await self.kv.kv_put_if_absent(STORM_STATE, f"slot:{name}", self.holder, ttl=seconds)

    async def hold(self, name: str, seconds: float) -> None:
        await self.kv.kv_put(STORM_STATE, f"slot:{name}", self.holder, ttl=seconds)

    async def free(self, name: str) -> bool:
        return await self.kv.kv_get(STORM_STATE, f"slot:{name}") is None

    async def release(self, name: str) -> None:
        await self.kv.kv_delete(STORM_STATE, f"slot:{name}")
