"""The SQLite schema, versioned with ``PRAGMA user_version``, and how a database is opened."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from bot.domain import Thread
from bot.errors import ConfigError, StoreError
from bot.storage import UpgradeProgress
from bot.store.codec import held_by, waiting_in
from bot.store.migrate import DROP, cursor_move, lease_move

SCHEMA_VERSION = 6
SCHEMA = """
CREATE TABLE threads (
    id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, version INTEGER NOT NULL,
    department TEXT NOT NULL, state TEXT NOT NULL, owner_key TEXT, doc TEXT NOT NULL);
CREATE INDEX threads_by_state ON threads (state, number);
CREATE TABLE conversations (conversation TEXT PRIMARY KEY, thread_id TEXT NOT NULL);
CREATE TABLE mentions (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX mentions_by_thread ON mentions (thread_id, seq);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL,
    at_us INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX events_by_thread ON events (thread_id, seq);
CREATE INDEX events_by_time ON events (at_us, seq);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL, visible_at REAL NOT NULL);
CREATE INDEX outbox_by_visibility ON outbox (visible_at, seq);
CREATE TABLE active (person_key TEXT PRIMARY KEY, thread_id TEXT NOT NULL);
CREATE TABLE cards (
    thread_id TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (thread_id, key));
CREATE TABLE cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL);
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE own_posts (
    source TEXT NOT NULL, external_id TEXT NOT NULL, PRIMARY KEY (source, external_id));
CREATE TABLE replies (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    lease_until REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX replies_by_status ON replies (status, seq);
"""
"""Schema 1, the first release; later versions are steps from it (``UPGRADES``)."""

KV_SCHEMA = """
CREATE TABLE kv (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at REAL,
    PRIMARY KEY (namespace, key));
CREATE INDEX kv_by_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
"""


def _script(conn: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _to_2(conn: sqlite3.Connection, now: float, progress: UpgradeProgress) -> None:
    """Add ``kv``; move the lookups kept in cursors and leases into it (``bot.store.migrate``)."""
    progress.begin(2)
    _script(conn, KV_SCHEMA)
    put = "INSERT OR IGNORE INTO kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
    for source, cursor in conn.execute("SELECT source, cursor FROM cursors").fetchall():
        if (move := cursor_move(source)) is not None:
            until = None if move.ttl is None else now + move.ttl
            conn.execute(put, (move.namespace, move.key, cursor, until))
            conn.execute("DELETE FROM cursors WHERE source = ?", (source,))
    leases = conn.execute("SELECT name, holder, expires_at FROM leases").fetchall()
    for name, holder, expires_at in leases:
        if (move := lease_move(name)) is None:
            continue
        if move is not DROP and expires_at > now:
            value = holder if move.value is None else move.value
            conn.execute(put, (move.namespace, move.key, value, expires_at))
        conn.execute("DELETE FROM leases WHERE name = ?", (name,))


QUERY_SCHEMA = """
ALTER TABLE threads ADD COLUMN waiting TEXT;
ALTER TABLE threads ADD COLUMN held TEXT;
CREATE INDEX threads_waiting ON threads (waiting, number) WHERE waiting IS NOT NULL;
CREATE INDEX threads_waiting_all ON threads (number) WHERE waiting IS NOT NULL;
CREATE INDEX threads_held ON threads (held, number) WHERE held IS NOT NULL;
"""
"""Schema 3: ``waiting`` is the department whose queue holds the thread and ``held`` the key
of the person holding it open (``bot.store.codec``), NULL otherwise; partial indexes on each."""

BATCH = 10_000


def _to_3(conn: sqlite3.Connection, now: float, progress: UpgradeProgress) -> None:
    """Add the ``waiting`` and ``held`` columns and their indexes; fill them for every thread."""
    progress.begin(3, conn.execute("SELECT COUNT(*) FROM threads").fetchone()[0])
    _script(conn, QUERY_SCHEMA)
    page = "SELECT number, doc FROM threads WHERE number > ? ORDER BY number LIMIT ?"
    sql = "UPDATE threads SET waiting = ?, held = ? WHERE number = ?"
    last = -1
    while batch := conn.execute(page, (last, BATCH)).fetchall():
        last = batch[-1][0]
        threads = [(number, Thread.model_validate_json(doc)) for number, doc in batch]
        values = [(waiting_in(t) or None, held_by(t) or None, n) for n, t in threads]
        conn.executemany(sql, values)
        progress.done += len(batch)


def _closed_us(row: str) -> str:
    """SQL: when the thread whose JSON document is ``<row>.doc`` was closed, in epoch
    microseconds. SQLite keeps dates to the millisecond (rounded to the nearest), so this is
    that millisecond plus half of one: never before the real time, at most 1 ms after."""
    at = ", ".join(
        f"json_extract({row}.doc, '$.{field}')" for field in ("resolved_at", "updated_at")
    )
    at = f"COALESCE({at})"
    seconds, millis = f"strftime('%s', {at})", f"substr(strftime('%f', {at}), 4)"
    ms = f"CAST({seconds} AS INTEGER) * 1000 + CAST({millis} AS INTEGER)"
    return f"(({ms}) * 1000 + 500)"


RETENTION_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS closed ( thread_id TEXT PRIMARY KEY, closed_us INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS closed_by_time ON closed (closed_us, thread_id)",
    "CREATE TABLE IF NOT EXISTS archived ("
    " id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, doc TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS threads_closed_new AFTER INSERT ON threads"
    " WHEN NEW.state = 'resolved' BEGIN"
    f" INSERT OR REPLACE INTO closed (thread_id, closed_us) VALUES (NEW.id, {_closed_us('NEW')});"
    " END",
    "CREATE TRIGGER IF NOT EXISTS threads_closed AFTER UPDATE OF state ON threads"
    " WHEN NEW.state = 'resolved' AND OLD.state <> 'resolved' BEGIN"
    f" INSERT OR REPLACE INTO closed (thread_id, closed_us) VALUES (NEW.id, {_closed_us('NEW')});"
    " END",
    "CREATE TRIGGER IF NOT EXISTS threads_reopened AFTER UPDATE OF state ON threads"
    " WHEN NEW.state <> 'resolved' AND OLD.state = 'resolved' BEGIN"
    " DELETE FROM closed WHERE thread_id = NEW.id; END",
    "CREATE TRIGGER IF NOT EXISTS threads_removed AFTER DELETE ON threads BEGIN"
    " DELETE FROM closed WHERE thread_id = OLD.id; END",
)
"""Schema 4: ``closed`` indexes every resolved thread (spam included) by the time it was
closed, kept by triggers in the statement that changes the thread's state, whichever path
writes it; ``archived`` keeps the tombstone of each archived thread (``bot.storage.Retention``).
A thread resolved again (resolved -> resolved, e.g. marked as spam) keeps its closing time."""


def _to_4(conn: sqlite3.Connection, now: float, progress: UpgradeProgress) -> None:
    """Add ``closed`` and ``archived`` and the triggers; index every resolved thread. Each
    statement does nothing once done (a file turned back to an older version upgrades again)."""
    resolved = "FROM threads WHERE state = 'resolved'"
    progress.begin(4, conn.execute(f"SELECT COUNT(*) {resolved}").fetchone()[0])
    for statement in RETENTION_SCHEMA:
        conn.execute(statement)
    page = f"SELECT number {resolved} AND number > ? ORDER BY number LIMIT ?"
    fill = (
        f"INSERT OR IGNORE INTO closed (thread_id, closed_us) SELECT id, {_closed_us('threads')}"
        f" {resolved} AND number > ? AND number <= ?"
    )
    last = -1
    while batch := conn.execute(page, (last, BATCH)).fetchall():
        conn.execute(fill, (last, batch[-1][0]))
        last = batch[-1][0]
        progress.done += len(batch)


TIMERS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS timers ("
    " key TEXT PRIMARY KEY, due_us INTEGER NOT NULL, next_us INTEGER NOT NULL,"
    " payload TEXT NOT NULL, holder TEXT NOT NULL DEFAULT '',"
    " attempts INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 1)",
    "CREATE INDEX IF NOT EXISTS timers_by_next ON timers (next_us, key)",
)
"""Schema 5: the due-time index (``bot.storage.Timers``). ``next_us`` is when the timer can
next be taken, in epoch microseconds: its due time, or the end of its holder's lease."""


def _to_5(conn: sqlite3.Connection, now: float, progress: UpgradeProgress) -> None:
    """Add ``timers`` (empty: no earlier release kept timers)."""
    progress.begin(5)
    for statement in TIMERS_SCHEMA:
        conn.execute(statement)


AUDIT_SCHEMA = (
    "CREATE TRIGGER IF NOT EXISTS events_never_updated BEFORE UPDATE ON events BEGIN"
    " SELECT RAISE(ABORT, 'the audit log is append-only: events are never changed'); END",
    "CREATE TRIGGER IF NOT EXISTS events_never_deleted BEFORE DELETE ON events BEGIN"
    " SELECT RAISE(ABORT, 'the audit log is append-only: events are never deleted'); END",
)
"""Schema 6: the audit log is append-only, enforced by the file itself (whoever writes to it)."""


def _to_6(conn: sqlite3.Connection, now: float, progress: UpgradeProgress) -> None:
    """Refuse every UPDATE and DELETE of an event from now on."""
    progress.begin(6)
    for statement in AUDIT_SCHEMA:
        conn.execute(statement)


Step = Callable[[sqlite3.Connection, float, UpgradeProgress], None]
UPGRADES: dict[int, Step] = {2: _to_2, 3: _to_3, 4: _to_4, 5: _to_5, 6: _to_6}
"""Schema version -> the step that upgrades the version before it, in one transaction."""


def sqlite_path(url: str) -> str:
    """``sqlite:///relative/file``, ``sqlite:////absolute/file`` or ``sqlite:///:memory:``."""
    head = "sqlite:///"
    path = url[len(head) :] if url[: len(head)].lower() == head else ""
    if not path:
        raise ConfigError(
            f"store.url: {url!r} is not a SQLite URL; use sqlite:///relative/file.sqlite3, "
            "sqlite:////absolute/file.sqlite3 or sqlite:///:memory:"
        )
    return path if path == ":memory:" else os.path.expanduser(path)


def _wal(conn: sqlite3.Connection, attempts: int = 200) -> None:
    """Switch to WAL. On a new file another process may be creating the schema: switching
    then fails at once (SQLite does not wait for it), so try again for up to about 2 s."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01)


def open_database(
    path: str,
    clock: Callable[[], float],
    report: Callable[[UpgradeProgress | None], None] | None = None,
) -> sqlite3.Connection:
    """Open (creating or upgrading) the database: WAL, full sync, explicit transactions.

    ``clock`` dates what an upgrade moves (the remaining time of migrated leases); ``report``
    is handed the progress of an upgrade when one starts (updated as it goes), None at the end."""
    folder = os.path.dirname(os.path.abspath(path))
    if path != ":memory:" and not os.path.isdir(folder):
        raise StoreError(f"cannot open SQLite store {path}: no directory {folder}")
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        _wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"SQLite store {path} has schema version {version}; this build "
                f"knows up to {SCHEMA_VERSION}. Upgrade social-switchboard."
            )
        if version == 0:
            _script(conn, SCHEMA)
            version = 1
        if version < SCHEMA_VERSION:
            progress = UpgradeProgress(version, SCHEMA_VERSION)
            if report is not None:
                report(progress)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                UPGRADES[step](conn, clock(), progress)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    finally:
        if report is not None:
            report(None)
    return conn
