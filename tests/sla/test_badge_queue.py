"""Due first on both stores: the shell's ``queue`` across two departments of different targets,
claim-next taking what ``queue`` lists first, a queue longer than the window, and the shell's
card with its badge."""

from __future__ import annotations

import re

from bot.app import Switchboard
from bot.cards import render_card
from bot.config import parse_config
from bot.domain import Author, Mention, Person, Thread
from bot.sla.queue import WINDOW
from bot.surfaces.shell import ShellCommands, render_text
from tests.clock import FakeTime
from tests.stores.conftest import Backend

CONFIG = parse_config(
    {
        "departments": [
            {"name": "billing", "sla": {"claim": "10m"}},
            {"name": "support", "sla": {"claim": "30m", "first_response": "15m"}},
        ],
        "routing": {
            "default_department": "billing",
            "rules": [{"department": "support", "keywords": ["help"]}],
        },
    }
)
BOB = Person(surface="shell", id="bob", name="bob")


def mention(n: int, text: str, time: FakeTime) -> Mention:
    return Mention(
        source="sample",
        network="mastodon",
        external_id=str(n),
        conversation_key=str(n),
        author=Author(id=f"a{n}", handle=f"user{n}@example.social"),
        text=text,
        created_at=time.now(),
    )


async def arrive(board: Switchboard, n: int, text: str, time: FakeTime) -> Thread:
    outcome = await board.threads.ingest(mention(n, text, time))
    assert outcome is not None
    return outcome.thread


def listed(text: str) -> list[str]:
    return re.findall(r"^(T-\d+)", text, re.M)


async def test_queue_across_departments_is_due_first_and_claim_next_follows(
    backend: Backend,
) -> None:
    time = FakeTime()
    board = Switchboard(CONFIG, backend.open(), [], clock=time.now)
    shell = ShellCommands(board.desk)
    s1 = await arrive(board, 1, "help please", time)  # support: first reply due 09:15
    await time.advance(60)
    b1 = await arrive(board, 2, "invoice", time)  # billing: claim due 09:11
    await time.advance(8 * 60)
    b2 = await arrive(board, 3, "invoice", time)  # billing 09:09: claim due 09:19
    await time.advance(60)
    s2 = await arrive(board, 4, "help again", time)  # support 09:10: first reply due 09:25

    text = await shell.run("queue", BOB)  # 09:10
    assert listed(text) == [b1.short_id, s1.short_id, b2.short_id, s2.short_id]
    lines = text.splitlines()
    assert "⚠ claim: 1 min left (due 09:11)" in lines[0]
    assert "⏱ first reply due in 5 min (09:15)" in lines[1]
    assert "⏱ claim due in 9 min (09:19)" in lines[2]
    assert (await shell.run("claim", BOB)) == f"You have {b1.short_id}.", "due first, not oldest"
    assert listed(await shell.run("queue support", BOB)) == [s1.short_id, s2.short_id]

    await time.advance(10 * 60)  # 09:20: b2 is overdue
    assert "⛔ claim overdue 1 min (since 09:19)" in (await shell.run("queue billing", BOB))
    assert listed(await shell.run("queue", BOB)) == [s1.short_id, b2.short_id, s2.short_id]


async def test_a_long_queue_orders_its_oldest_window(backend: Backend) -> None:
    time = FakeTime()
    board = Switchboard(CONFIG, backend.open(), [], clock=time.now)
    for n in range(WINDOW + 1):
        await arrive(board, n, "invoice", time)
        await time.advance(1)
    text = await ShellCommands(board.desk).run("queue billing", BOB)
    shown = listed(text)
    assert len(shown) == WINDOW and shown[0] == "T-1001" and "T-1101" not in shown
    assert text.endswith(f"(the oldest {WINDOW} waiting, due first; more wait behind them)")


async def test_the_shell_card_shows_the_badge(backend: Backend) -> None:
    time = FakeTime()
    store = backend.open()
    board = Switchboard(CONFIG, store, [], clock=time.now)
    thread = await arrive(board, 1, "help \x1b[31mred\x1b[0m", time)
    departments = {d.name: d for d in CONFIG.departments}
    await time.advance(13 * 60)
    card = render_card(
        thread,
        await store.mentions(thread.id),
        await store.events(thread.id),
        departments,
        time.now(),
        None,
    )
    out = render_text(card)
    assert out.splitlines()[1] == "│ ⚠ First reply due 09:15 — 2 min left at 09:13"
    assert "\x1b" not in out
