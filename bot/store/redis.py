"""The shared store: Redis, for several replicas. Multi-key steps are cached Lua scripts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.domain import (
    AuditEvent,
    CardRef,
    Mention,
    OutboxItem,
    Thread,
    ThreadState,
)
from bot.errors import ConfigError, StoreError
from bot.storage import Assignment, CasOutcome, IngestOutcome, IngestStatus
from bot.store import lua
from bot.store.base import Store
from bot.store.codec import (
    FIRST_THREAD_NUMBER,
    attached,
    dump,
    dump_owner,
    dump_time,
    held_by,
    load_thread,
    micros,
    waiting_in,
)
from bot.store.keys import DEFAULT_PREFIX, check_prefix, split_prefix
from bot.store.redis_audit import RedisAudit
from bot.store.redis_io import guarded, opt, text, texts
from bot.store.redis_kv import RedisKV
from bot.store.redis_replies import RedisReplies
from bot.store.redis_retention import RedisRetention
from bot.store.redis_timers import RedisTimers

THREAD_FIELDS = ("doc", "number", "version", "mention_count", "state", "owner", "updated_at")
"""What every read of a thread returns (``lua._FIELDS_LIB``)."""
WIDTH = len(THREAD_FIELDS)
MAX_RETRIES = 1000


class RedisStore(RedisReplies, RedisKV, RedisRetention, RedisTimers, RedisAudit, Store):
    """``RedisStore(client, prefix, clock=time.time)``: ``clock`` (epoch seconds) decides
    leases, outbox visibility, reply-attempt leases and KV expiry."""

    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, prefix, clock=clock)
        register = client.register_script
        self._ingest = register(lua.INGEST)
        self._commit = register(lua.COMMIT)
        self._append = register(lua.APPEND_EVENT)
        self._claim = register(lua.OUTBOX_CLAIM)
        self._ack = register(lua.OUTBOX_ACK)
        self._acquire = register(lua.ACQUIRE_LEASE)
        self._release = register(lua.RELEASE_LEASE)
        self._indexed = register(lua.INDEXED)
        self._assign = register(lua.key_table(self.keys) + lua.ASSIGN)

    @staticmethod
    def from_url(
        url: str, prefix: str | None = None, *, clock: Callable[[], float] | None = None
    ) -> RedisStore:
        """``redis://host:6379/0`` (or rediss://, unix://); every key starts with ``prefix``,
        else with the URL's ``?prefix=acme:``, else with ``sb:``."""
        bare, chosen = _prefix_of(url, prefix)
        client = Redis.from_url(
            bare,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=10,
            retry=Retry(NoBackoff(), 0),  # a lost reply must not run a script twice
        )
        return RedisStore(client, chosen, clock=clock or time.time)

    # lifecycle ---------------------------------------------------------------------------
    @guarded
    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()

    # helpers -----------------------------------------------------------------------------
    def _event_io(self, event: AuditEvent, notify: bool) -> tuple[list[str], list[Any]]:
        """The 7 keys and 6 arguments every event-writing script starts with."""
        k = self.keys
        keys = [k.events, k.thread_events(event.thread_id), k.audit, k.event_counter]
        keys += [k.outbox, k.outbox_items, k.outbox_counter]
        args = [event.id, dump(event), micros(event.at), event.thread_id, int(notify)]
        args.append(self._now_ms())
        return keys, args

    async def _threads(self, ids: Iterable[str]) -> list[Thread]:
        async with self.client.pipeline(transaction=False) as pipe:
            for thread_id in ids:
                pipe.hmget(self.keys.thread(thread_id), THREAD_FIELDS)
            rows = await pipe.execute()
        return [t for row in rows if (t := _thread(row)) is not None]

    # threads and mentions ----------------------------------------------------------------
    @guarded
    async def ingest_mention(
        self, mention: Mention, new_thread: Thread, event: AuditEvent
    ) -> IngestOutcome:
        k, new = self.keys, new_thread
        expected = opt(await self.client.get(k.conversation(mention.conversation))) or ""
        for _ in range(MAX_RETRIES):
            target = expected or new.id
            keys, args = self._event_io(attached(event, expected) if expected else event, True)
            keys += [k.mention(mention.key), k.conversation(mention.conversation)]
            keys += [k.thread(target), k.thread_mentions(target), k.threads]
            keys += [k.threads_in(new.state), k.thread_counter, k.waiting_all]
            args += [expected, mention.key, dump(mention), dump(new), new.version]
            args += [new.mention_count, new.state.value, FIRST_THREAD_NUMBER, target]
            args += [waiting_in(new), held_by(new), k.waiting_head, k.held_head]
            args += [dump_owner(new.owner), dump_time(new.updated_at)]
            status, *rest = (opt(value) for value in await self._ingest(keys=keys, args=args))
            if status == "retry":
                expected = rest[0] or ""
                continue
            thread = (
                await self.get_thread(rest[0] or "") if status == "duplicate" else _thread(rest)
            )
            if thread is None:
                raise StoreError(f"the thread of mention {mention.key!r} is missing")
            return IngestOutcome(IngestStatus(status or ""), thread)
        raise StoreError(f"conversation {mention.conversation!r} kept changing; gave up")

    @guarded
    async def get_thread(self, thread_id: str) -> Thread | None:
        fields = await self.client.hmget(self.keys.thread(thread_id), THREAD_FIELDS)
        return _thread([opt(value) for value in fields])

    @guarded
    async def get_thread_by_number(self, number: int) -> Thread | None:
        ids = await self.client.zrangebyscore(self.keys.threads, number, number)
        return await self.get_thread(text(ids[0])) if ids else None

    async def commit(
        self, thread: Thread, expected_version: int, event: AuditEvent, *, notify: bool = True
    ) -> bool:
        return (await self.compare_and_set(thread, expected_version, event, notify=notify)).stored

    @guarded
    async def compare_and_set(
        self,
        thread: Thread,
        expected_version: int,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        if thread.version <= expected_version:
            raise ValueError("commit needs a thread whose version is above expected_version")
        k = self.keys
        keys, args = self._event_io(event, notify)
        keys += [k.thread(thread.id), k.waiting_all, k.active]
        keys.append(k.closed)
        args += [expected_version, dump(thread), thread.version, thread.mention_count]
        args += [thread.state.value, thread.id, waiting_in(thread), held_by(thread)]
        args += [k.waiting_head, k.held_head, active or "", k.threads_in_head]
        args += [dump_owner(thread.owner), dump_time(thread.updated_at)]
        stored, *now = await self._commit(keys=keys, args=args)
        if int(stored) == 1:
            return CasOutcome(True, thread)
        return CasOutcome(False, _thread([opt(value) for value in now]))

    @guarded
    async def assign(
        self,
        thread_id: str,
        change: Assignment,
        event: AuditEvent,
        *,
        notify: bool = True,
        active: str | None = None,
    ) -> CasOutcome:
        args: list[str | int | float] = [event.id, dump(event), micros(event.at), thread_id]
        args += [
            int(notify),
            self._now_ms(),
            change.owner.key,
            dump_owner(change.owner),
            dump_time(change.updated_at),
        ]
        args += [active or "", ";".join(f"{a}={b}" for a, b in change.moves.items())]
        stored, *now = await self._assign(args=args)
        if int(stored) != 1:
            return CasOutcome(False, _thread([opt(value) for value in now]))
        doc, number, version, count, state = now
        if doc is None:
            raise StoreError(f"thread {thread_id} vanished while it was assigned")
        # The owner and time just written are the assignment's: no need to parse them back.
        thread = Thread.model_validate_json(doc).model_copy(
            update={
                "number": int(number),
                "version": int(version),
                "mention_count": int(count),
                "state": ThreadState(text(state)),
                "owner": change.owner,
                "updated_at": change.updated_at,
            }
        )
        return CasOutcome(True, thread)

    @guarded
    async def append_event(self, event: AuditEvent, *, notify: bool = True) -> None:
        keys, args = self._event_io(event, notify)
        await self._append(keys=keys, args=args)

    @guarded
    async def mentions(self, thread_id: str) -> list[Mention]:
        keys = texts(await self.client.lrange(self.keys.thread_mentions(thread_id), 0, -1))
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(self.keys.mention(key), "doc")
            docs = await pipe.execute()
        return [Mention.model_validate_json(doc) for doc in docs if doc is not None]

    @guarded
    async def get_mention(self, key: str) -> Mention | None:
        doc = await self.client.hget(self.keys.mention(key), "doc")
        return Mention.model_validate_json(doc) if doc is not None else None

    async def _events(self, ids: list[str]) -> list[AuditEvent]:
        docs = await self.client.hmget(self.keys.events, ids) if ids else []
        return [AuditEvent.model_validate_json(doc) for doc in docs if doc is not None]

    @guarded
    async def events(self, thread_id: str) -> list[AuditEvent]:
        ids = await self.client.lrange(self.keys.thread_events(thread_id), 0, -1)
        return await self._events(texts(ids))

    @guarded
    async def get_event(self, event_id: str) -> AuditEvent | None:
        doc = await self.client.hget(self.keys.events, event_id)
        return AuditEvent.model_validate_json(doc) if doc is not None else None

    @guarded
    async def audit(self, since: datetime | None = None) -> list[AuditEvent]:
        low = micros(since) if since is not None else "-inf"
        members = await self.client.zrangebyscore(self.keys.audit, low, "+inf")
        return await self._events([m.split(":", 1)[1] for m in texts(members)])

    @guarded
    async def list_threads(
        self,
        *,
        department: str | None = None,
        states: frozenset[ThreadState] | None = None,
        owner_key: str | None = None,
    ) -> list[Thread]:
        if states is None:
            ids = texts(await self.client.zrange(self.keys.threads, 0, -1))
        else:
            ids = []
            for state in states:
                ids += texts(await self.client.zrange(self.keys.threads_in(state), 0, -1))
        threads = [
            t
            for t in await self._threads(ids)
            if (department is None or t.department == department)
            and (states is None or t.state in states)
            and (owner_key is None or (t.owner is not None and t.owner.key == owner_key))
        ]
        return sorted(threads, key=lambda t: t.number)

    @guarded
    async def waiting_threads(
        self, department: str | None = None, *, limit: int | None = None
    ) -> list[Thread]:
        index = self.keys.waiting_all if department is None else self.keys.waiting(department)
        return await self._read_index(index, limit)

    @guarded
    async def held_threads(self, owner_key: str, *, limit: int | None = None) -> list[Thread]:
        return await self._read_index(self.keys.held(owner_key), limit)

    async def _read_index(self, index: str, limit: int | None) -> list[Thread]:
        if limit is not None and limit <= 0:
            return []
        last = -1 if limit is None else limit - 1
        flat = [
            opt(v) for v in await self._indexed(keys=[index], args=[last, self.keys.thread_head])
        ]
        rows = (flat[i : i + WIDTH] for i in range(0, len(flat), WIDTH))
        return [t for row in rows if (t := _thread(row)) is not None]

    # who is on which call -------------------------------------------------------------------
    @guarded
    async def set_active(self, person_key: str, thread_id: str) -> None:
        await self.client.hset(self.keys.active, person_key, thread_id)

    @guarded
    async def get_active(self, person_key: str) -> str | None:
        return opt(await self.client.hget(self.keys.active, person_key))

    # cards ------------------------------------------------------------------------------
    @guarded
    async def set_card_ref(self, thread_id: str, key: str, ref: CardRef) -> None:
        await self.client.hset(self.keys.thread_cards(thread_id), key, dump(ref))

    @guarded
    async def card_refs(self, thread_id: str) -> dict[str, CardRef]:
        refs = await self.client.hgetall(self.keys.thread_cards(thread_id))
        return {text(key): CardRef.model_validate_json(doc) for key, doc in refs.items()}

    @guarded
    async def outbox_claim(self, lease_seconds: float) -> OutboxItem | None:
        doc = await self._claim(
            keys=[self.keys.outbox, self.keys.outbox_items],
            args=[lease_seconds * 1000, self._now_ms()],
        )
        return OutboxItem.model_validate_json(doc) if doc else None

    @guarded
    async def outbox_ack(self, item_id: str) -> None:
        await self._ack(keys=[self.keys.outbox, self.keys.outbox_items], args=[item_id])

    @guarded
    async def outbox_size(self) -> int:
        return int(await self.client.zcard(self.keys.outbox))

    # sources ------------------------------------------------------------------------------
    @guarded
    async def get_cursor(self, source: str) -> str | None:
        return opt(await self.client.hget(self.keys.cursors, source))

    @guarded
    async def set_cursor(self, source: str, cursor: str | None) -> None:
        if cursor is None:
            await self.client.hdel(self.keys.cursors, source)
        else:
            await self.client.hset(self.keys.cursors, source, cursor)

    @guarded
    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        now = self.clock()
        args: list[str | float] = [holder, now + ttl_seconds, now, lua.gc_ms(ttl_seconds)]
        return bool(await self._acquire(keys=[self.keys.lease(name)], args=args))

    @guarded
    async def release_lease(self, name: str, holder: str) -> None:
        await self._release(keys=[self.keys.lease(name)], args=[holder])

    @guarded
    async def mark_own_post(self, source: str, external_id: str) -> None:
        await self.client.sadd(self.keys.own_posts, f"{source}\x1f{external_id}")

    @guarded
    async def is_own_post(self, source: str, external_id: str) -> bool:
        member = f"{source}\x1f{external_id}"
        return bool(await self.client.sismember(self.keys.own_posts, member))


def _thread(fields: list[str | None]) -> Thread | None:
    doc, number, version, count, state, owner, updated_at = fields
    if doc is None or number is None or version is None or count is None:
        return None
    return load_thread(
        doc,
        number=int(number),
        version=int(version),
        mention_count=int(count),
        state=state,
        owner=owner,
        updated_at=updated_at,
    )


def _prefix_of(url: str, prefix: str | None) -> tuple[str, str]:
    """The URL without ``?prefix=`` and the key prefix to use; ConfigError when it is blank or
    the URL and ``prefix`` disagree."""
    bare, in_url = split_prefix(url)
    if prefix is not None and in_url is not None and prefix != in_url:
        raise ConfigError(
            f"store.prefix {prefix!r} and the URL's ?prefix={in_url} differ; keep one"
        )
    chosen = prefix if prefix is not None else in_url if in_url is not None else DEFAULT_PREFIX
    try:
        return bare, check_prefix(chosen)
    except ValueError as exc:
        raise ConfigError(f"store: {exc}") from None
