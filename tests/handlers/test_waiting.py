"""One definition of waiting: ``queue`` lists exactly what claim-next would take."""

from __future__ import annotations

from bot.app import Switchboard
from bot.domain import OPEN_STATES, ThreadState, is_waiting
from tests.handlers.conftest import Say, alice, bob


async def claim_next_order(board: Switchboard, say: Say, department: str) -> list[str]:
    """What claim-next hands out, one after another, until nothing waits (then undone)."""
    taken: list[str] = []
    while True:
        response = await say(bob, "claim", channel_department=department)
        if not response.ok:
            assert response.text == "Nothing is waiting in this queue."
            break
        assert response.thread is not None
        taken.append(response.thread.short_id)
    for short in taken:
        assert (await say(bob, f"release {short}")).ok
    return taken


def listed(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.startswith("T-")]


async def test_claim_reply_release_waits_again_and_claim_next_finds_it(
    board: Switchboard, say: Say
) -> None:
    assert (await say(alice, "claim T-1001")).ok
    assert (await say(alice, "reply T-1001 Hi! How can we help?")).ok
    assert (await say(alice, "release T-1001")).ok
    thread = await board.desk.thread("T-1001")
    assert thread.state is ThreadState.REPLIED and thread.owner is None
    assert listed((await say(bob, "queue social")).text) == ["T-1001"]
    response = await say(bob, "claim", channel_department="social")
    assert response.ok and response.thread is not None
    assert response.thread.short_id == "T-1001" and response.thread.owner == bob


async def test_every_state_agrees_between_queue_and_claim_next(
    board: Switchboard, say: Say
) -> None:
    for n in range(5, 12):
        await board.threads.ingest(
            board.sources[0].mention_from(  # type: ignore[attr-defined]
                {
                    "external_id": f"s-{n}",
                    "conversation_key": f"s-{n}",
                    "author": {"id": f"s{n}", "handle": f"s{n}@example.social"},
                    "text": "hello again",
                }
            )
        )
    # T-1005 new; T-1006 claimed; T-1007 replied (owned); T-1008 replied then released;
    # T-1009 transferred here from billing; T-1010 transferred to a person; T-1011 resolved;
    # T-1001 spam.
    for line in ("claim T-1006", "reply T-1007 thanks", "reply T-1008 thanks", "release T-1008"):
        assert (await say(alice, line)).ok, line
    await say(alice, "transfer T-1009 billing")
    assert (await say(alice, "transfer T-1009 social back to you")).ok
    await board.threads.transfer(
        (await board.desk.thread("T-1010")).id, alice, "billing", to_person=bob
    )
    await board.threads.transfer(
        (await board.desk.thread("T-1010")).id, bob, "social", to_person=bob
    )
    assert (await say(alice, "resolve T-1011")).ok
    assert (await say(alice, "spam T-1001")).ok

    states = {t.short_id: t for t in await board.store.list_threads(department="social")}
    seen = {t.state for t in states.values()}
    assert {ThreadState.NEW, ThreadState.CLAIMED, ThreadState.REPLIED} <= seen
    assert {ThreadState.TRANSFERRED, ThreadState.RESOLVED} <= seen
    expected = sorted(s for s, t in states.items() if is_waiting(t))
    assert expected == ["T-1005", "T-1008", "T-1009"]
    queued = listed((await say(bob, "queue social")).text)
    assert sorted(queued) == expected
    assert queued == expected, "no department here has a timed clock: oldest first"
    assert await claim_next_order(board, say, "social") == queued
    waiting = await board.desk.waiting("social")
    assert [t.short_id for t in waiting] == expected
    assert all(t.state in OPEN_STATES and t.owner is None for t in waiting)
