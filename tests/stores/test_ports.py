"""Both stores implement every role port, with the ports' exact signatures."""

from __future__ import annotations

import inspect

import pytest

from bot.storage import (
    ROLE_PORTS,
    CardOutbox,
    Coordination,
    Health,
    IngestStore,
    KeyValue,
    Presence,
    ReplyLedger,
    ReplyStore,
    Retention,
    RetentionStore,
    SourceState,
    ThreadRepository,
    ThreadStore,
    Timers,
)
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore

PORTS: dict[type, set[str]] = {
    ThreadRepository: {
        "ingest_mention",
        "get_thread",
        "get_thread_by_number",
        "commit",
        "compare_and_set",
        "assign",
        "append_event",
        "mentions",
        "get_mention",
        "events",
        "get_event",
        "audit",
        "audit_page",
        "audit_rows",
        "list_threads",
        "waiting_threads",
        "held_threads",
    },
    Retention: {"archive_closed", "get_archived", "get_archived_by_number"},
    CardOutbox: {"set_card_ref", "card_refs", "outbox_claim", "outbox_ack", "outbox_size"},
    Coordination: {"acquire_lease", "release_lease"},
    SourceState: {"get_cursor", "set_cursor", "mark_own_post", "is_own_post"},
    ReplyLedger: {"reply_begin", "reply_finish", "get_reply", "pending_replies"},
    Presence: {"set_active", "get_active"},
    KeyValue: {"kv_get", "kv_put", "kv_put_if_absent", "kv_delete"},
    Timers: {"schedule", "cancel", "cancel_prefix", "take_due", "next_due", "finish"},
    Health: {"ping"},
}


def methods(port: type) -> set[str]:
    return {name for name, value in vars(port).items() if inspect.iscoroutinefunction(value)}


def test_each_port_has_exactly_its_methods() -> None:
    assert set(ROLE_PORTS) == set(PORTS)
    for port, names in PORTS.items():
        assert methods(port) == names, port.__name__
    assert Store.__abstractmethods__ == {"close"}.union(*PORTS.values())


def typed(store: SQLiteStore | RedisStore) -> list[object]:
    """Checked by mypy: a store is assignable to every port and every combination."""
    threads: ThreadRepository = store
    cards: CardOutbox = store
    leases: Coordination = store
    sources: SourceState = store
    replies: ReplyLedger = store
    presence: Presence = store
    kv: KeyValue = store
    timers: Timers = store
    health: Health = store
    thread_store: ThreadStore = store
    reply_store: ReplyStore = store
    ingest_store: IngestStore = store
    retention: Retention = store
    retention_store: RetentionStore = store
    full: Store = store
    combined: list[object] = [thread_store, reply_store, ingest_store, retention_store, full]
    ports = [threads, cards, leases, sources, replies, presence, kv, timers, health, retention]
    return [*ports, *combined]


@pytest.mark.parametrize("cls", [SQLiteStore, RedisStore])
def test_stores_implement_every_port_with_its_signatures(cls: type[Store]) -> None:
    assert not cls.__abstractmethods__
    for port, names in PORTS.items():
        assert issubclass(cls, port)
        for name in names:
            implemented = inspect.signature(getattr(cls, name))
            assert implemented == inspect.signature(getattr(port, name)), f"{cls.__name__}.{name}"
            assert inspect.iscoroutinefunction(getattr(cls, name))


async def test_store_instances_pass_runtime_port_checks() -> None:
    sqlite = SQLiteStore(":memory:")
    redis = RedisStore.from_url("redis://127.0.0.1:1/0")  # never connects
    try:
        for store in (sqlite, redis):
            assert len(typed(store)) == 15
            assert all(isinstance(store, port) for port in ROLE_PORTS)
    finally:
        await sqlite.close()
        await redis.close()
