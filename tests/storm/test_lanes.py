"""The dispatcher's lane: items of threads people act on go first, each thread's items stay
in order, and the new cards waiting per department are counted (the storm's backlog)."""

from __future__ import annotations

from bot.domain import CardRef, EventKind, OutboxItem
from bot.lanes import Entry, Lane
from bot.ports import Card


class Quiet:
    """A surface that is never called (the lane only queues)."""

    name = "quiet"

    def channel_for(self, department: str) -> str | None:
        return department

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        raise AssertionError("not called")

    async def update_card(self, ref: CardRef, card: Card) -> None:
        raise AssertionError("not called")

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        raise AssertionError("not called")

    async def close(self) -> None:
        return None


def entry(n: int, thread: str, kind: EventKind, department: str = "billing") -> Entry:
    item = OutboxItem(id=f"o{n}", thread_id=thread, event_id=f"e{n}")
    return Entry(item, {"quiet"}, kind=kind, department=department)


def drain(lane: Lane) -> list[str]:
    order = []
    while lane:
        head = lane.head()
        order.append(head.item.id)
        lane.remove(head)
    return order


def test_acted_on_threads_go_first_with_their_earlier_items() -> None:
    lane = Lane(Quiet())
    for n in range(5):
        lane.push(entry(n, f"t{n}", EventKind.OPENED))
    lane.push(entry(5, "t3", EventKind.CLAIMED))
    lane.push(entry(6, "t1", EventKind.ATTACHED))
    lane.push(entry(7, "t1", EventKind.TRANSFERRED))
    assert drain(lane) == ["o3", "o5", "o1", "o6", "o7", "o0", "o2", "o4"]


def test_the_entry_being_worked_is_never_moved() -> None:
    lane = Lane(Quiet())
    lane.push(entry(0, "t0", EventKind.OPENED))
    lane.push(entry(1, "t1", EventKind.OPENED))
    working = lane.head()
    lane.push(entry(2, "t0", EventKind.CLAIMED))
    lane.remove(working)
    assert drain(lane) == ["o2", "o1"]


def test_new_cards_waiting_are_counted_per_department() -> None:
    lane = Lane(Quiet())
    for n in range(3):
        lane.push(entry(n, f"t{n}", EventKind.OPENED))
    lane.push(entry(3, "t9", EventKind.OPENED, "support"))
    lane.push(entry(4, "t0", EventKind.NOTE))
    assert dict(lane.opens) == {"billing": 3, "support": 1}
    lane.remove(lane.head())
    assert dict(lane.opens) == {"billing": 2, "support": 1}
    drain(lane)
    assert not lane.opens
