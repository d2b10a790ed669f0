"""Contract: what one store instance wrote, the next one finds (restart / another replica)."""

from __future__ import annotations

from bot.domain import CardRef, ReplyStatus, ThreadState
from bot.store import IngestStatus

from .builders import event, ingest, mention, person
from .conftest import Backend
from .test_replies import record


async def test_data_survives_a_restart(backend: Backend) -> None:
    first, original = backend.open(), mention(1, conversation="root")
    thread = (await ingest(first, original)).thread
    claimed = thread.evolve(owner=person("alice"), state=ThreadState.CLAIMED)
    claim = event(thread.id, actor=person("alice"))
    assert await first.commit(claimed, thread.version, claim)
    ref = CardRef(
        surface="slack", channel="C1", message_id="1.1", department="support", placement=0
    )
    await first.set_card_ref(thread.id, "slack:0", ref)
    await first.set_active(person("alice").key, thread.id)
    await first.set_cursor("mastodon-main", "110")
    await first.mark_own_post("mastodon-main", "200")
    await first.reply_begin(record(), 30)
    await first.reply_finish(record().key, ReplyStatus.SENT, external_id="201")
    await first.close()

    second = backend.open()
    assert await second.get_thread(thread.id) == claimed
    assert await second.mentions(thread.id) == [original]
    assert (await second.events(thread.id))[-1] == claim
    assert await second.card_refs(thread.id) == {"slack:0": ref}
    assert await second.get_active(person("alice").key) == thread.id
    assert await second.get_cursor("mastodon-main") == "110"
    assert await second.is_own_post("mastodon-main", "200")
    stored = await second.get_reply(record().key)
    assert stored is not None and stored.status is ReplyStatus.SENT
    assert await second.outbox_size() == 2
    follow_up = await ingest(second, mention(2, conversation="root"))
    assert (follow_up.status, follow_up.thread.id) == (IngestStatus.ATTACHED, thread.id)
    assert (await ingest(second, mention(1))).status is IngestStatus.DUPLICATE
    assert (await ingest(second, mention(3))).thread.number == 1002


async def test_two_instances_share_one_state(backend: Backend) -> None:
    a, b = backend.open(), backend.open()
    thread = (await ingest(a, mention(1))).thread
    assert await b.get_thread(thread.id) == thread
    assert (await ingest(b, mention(1))).status is IngestStatus.DUPLICATE
    assert await b.acquire_lease("poll", "replica-b", 5)
    assert not await a.acquire_lease("poll", "replica-a", 5)
    item = await a.outbox_claim(30)
    assert item is not None and item.thread_id == thread.id
    assert await b.outbox_claim(30) is None
