"""Every Redis key the store uses, built from one configurable prefix.

Each kind of key has its own namespace word followed by ``:`` so no id (however hostile the
text) can make one kind of key collide with another.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from bot.domain import ThreadState

DEFAULT_PREFIX = "sb:"


def check_prefix(prefix: str) -> str:
    """``prefix`` when it can start every key: not empty, no blanks or control characters."""
    if not prefix or any(ch.isspace() or not ch.isprintable() for ch in prefix):
        raise ValueError(
            f"the Redis key prefix {prefix!r} must be non-empty, without spaces or control "
            "characters; use e.g. acme: (every key then starts with it)"
        )
    return prefix


def split_prefix(url: str) -> tuple[str, str | None]:
    """``url`` without its ``prefix`` query parameter, and that parameter (None: absent):
    ``redis://host:6379/0?prefix=acme:`` -> (``redis://host:6379/0``, ``acme:``)."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    found = [value for name, value in pairs if name == "prefix"]
    if not found:
        return url, None
    rest = urlencode([(name, value) for name, value in pairs if name != "prefix"])
    return f"{base}?{rest}" if rest else base, found[-1]


class Keys:
    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _k(self, kind: str, ident: str = "") -> str:
        return f"{self.prefix}{kind}:{ident}" if ident else f"{self.prefix}{kind}"

    # threads: hash {doc, number, version, mention_count, state, waiting, held}; waiting and
    # held name the department queue and the person index holding the thread ('' = none)
    def thread(self, thread_id: str) -> str:
        return self._k("thread", thread_id)

    def thread_mentions(self, thread_id: str) -> str:
        return self._k("thread_mentions", thread_id)

    def thread_events(self, thread_id: str) -> str:
        return self._k("thread_events", thread_id)

    @property
    def thread_events_head(self) -> str:
        """The start of every thread's event list key."""
        return f"{self.prefix}thread_events:"

    def thread_cards(self, thread_id: str) -> str:
        return self._k("thread_cards", thread_id)

    @property
    def threads(self) -> str:
        """Sorted set of every thread id, scored by thread number."""
        return self._k("threads")

    def threads_in(self, state: ThreadState) -> str:
        """Sorted set of the thread ids in ``state``, scored by thread number."""
        return self._k("threads_in", state.value)

    @property
    def thread_head(self) -> str:
        """The start of every thread key (scripts that read the threads an index names)."""
        return f"{self.prefix}thread:"

    def waiting(self, department: str) -> str:
        """Sorted set of the waiting thread ids of ``department``, scored by thread number."""
        return self._k("waiting", department)

    @property
    def waiting_head(self) -> str:
        """The start of every department's waiting key (the scripts append the department)."""
        return f"{self.prefix}waiting:"

    @property
    def waiting_all(self) -> str:
        """Sorted set of every waiting thread id, scored by thread number."""
        return self._k("waiting_all")

    def held(self, owner_key: str) -> str:
        """Sorted set of the open thread ids a person holds, scored by thread number."""
        return self._k("held", owner_key)

    @property
    def held_head(self) -> str:
        return f"{self.prefix}held:"

    @property
    def threads_in_head(self) -> str:
        """The start of every 'threads in state' key (the commit script appends the state)."""
        return f"{self.prefix}threads_in:"

    @property
    def thread_counter(self) -> str:
        return self._k("counter", "thread")

    # mentions: hash {doc, thread}; conversation -> thread id
    def mention(self, key: str) -> str:
        return self._k("mention", key)

    def conversation(self, conversation: str) -> str:
        return self._k("conversation", conversation)

    # audit
    @property
    def events(self) -> str:
        """Hash event id -> event JSON."""
        return self._k("events")

    @property
    def audit(self) -> str:
        """Sorted set of ``<seq>:<event id>`` scored by the event time in microseconds."""
        return self._k("audit")

    @property
    def event_counter(self) -> str:
        return self._k("counter", "event")

    # outbox
    @property
    def outbox(self) -> str:
        """Sorted set of item ids scored by the time (ms) they become visible."""
        return self._k("outbox")

    @property
    def outbox_items(self) -> str:
        return self._k("outbox_items")

    @property
    def outbox_counter(self) -> str:
        return self._k("counter", "outbox")

    # people, cards, sources
    @property
    def active(self) -> str:
        return self._k("active")

    @property
    def cursors(self) -> str:
        return self._k("cursors")

    def lease(self, name: str) -> str:
        """Hash {holder, until}: until in epoch seconds (schema 1: a string with a PX)."""
        return self._k("lease", name)

    @property
    def leases(self) -> str:
        """The start of every lease key (to scan them)."""
        return f"{self.prefix}lease:"

    @property
    def own_posts(self) -> str:
        return self._k("own_posts")

    # public replies: hash {doc, status, lease_until}
    def reply(self, key: str) -> str:
        return self._k("reply", key)

    @property
    def replies_pending(self) -> str:
        return self._k("replies_pending")

    # key-value entries: hash {value, until}
    def kv(self, namespace: str, key: str) -> str:
        """The namespace's length goes first, so no text in either part can make two
        (namespace, key) pairs share an entry."""
        return self._k("kv", f"{len(namespace)}:{namespace}:{key}")

    # retention (schema 4)
    @property
    def closed(self) -> str:
        """Sorted set of the resolved thread ids (spam included), scored by the time they were
        closed, in microseconds."""
        return self._k("closed")

    @property
    def archived(self) -> str:
        """Hash thread id -> the archived thread's tombstone JSON."""
        return self._k("archived")

    @property
    def archived_numbers(self) -> str:
        """Hash thread number -> the same tombstone JSON."""
        return self._k("archived_numbers")

    @property
    def mention_head(self) -> str:
        """The start of every mention key (the archive script appends the mention key)."""
        return f"{self.prefix}mention:"

    @property
    def schema(self) -> str:
        """The schema version of the data under this prefix (absent: schema 1)."""
        return self._k("schema")

    # the due-time index (``bot.storage.Timers``)
    @property
    def timers(self) -> str:
        """Sorted set of timer keys scored by when each can next be taken, in microseconds:
        its due time, or the end of its holder's lease."""
        return self._k("timers")

    @property
    def timer_docs(self) -> str:
        """Hash timer key -> JSON {due (us, as text), payload, holder, attempts, generation}."""
        return self._k("timer_docs")

    @property
    def timer_names(self) -> str:
        """Sorted set of every timer key, all scored 0, read by range (cancel by prefix)."""
        return self._k("timer_names")
