"""The badge a card shows: which clock, how urgent, and the words — across business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import AuditEvent, EventKind, Person, Thread, ThreadState, Transfer
from bot.settings.calendar import BusinessCalendar
from bot.settings.policy import Clock, SlaPolicy
from bot.sla.badge import Badge, Level, Policies, badge, due_first_key, when

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar.parse("Europe/Berlin", ["mon-fri 09:00-18:00"])
ALICE = Person(surface="slack", id="U1", name="alice")
M = timedelta(minutes=1)


def berlin(d: int, h: int, mi: int = 0, mo: int = 12) -> datetime:
    """2026-12-``d`` (the 7th is a Monday) at ``h:mi`` in Berlin, as UTC."""
    return datetime(2026, mo, d, h, mi, tzinfo=BERLIN).astimezone(UTC)


def thread(opened: datetime, **fields: object) -> Thread:
    values: dict[str, object] = {
        "id": "t1",
        "number": 1001,
        "department": "support",
        "source": "m",
        "network": "mastodon",
        "conversation": "c",
        "created_at": opened,
        "updated_at": opened,
    }
    values.update(fields)
    return Thread.model_validate(values)


def event(kind: EventKind, at: datetime, n: int = 0) -> AuditEvent:
    return AuditEvent(id=f"e{n}-{kind.value}", thread_id="t1", kind=kind, at=at)


def policies(*found: SlaPolicy) -> Policies:
    by_name = {p.department: p for p in found}
    return by_name.get


SUPPORT = SlaPolicy("support", first_response=timedelta(hours=1), claim=10 * M, calendar=OFFICE)


def shown(t: Thread, events: list[AuditEvent], now: datetime, *known: SlaPolicy) -> Badge:
    found = badge(t, events, policies(*(known or (SUPPORT,))), now)
    assert found is not None
    return found


def test_a_mention_arriving_on_saturday_is_due_on_monday() -> None:
    opened = berlin(5, 11)  # Saturday
    t = thread(opened)
    got = shown(t, [event(EventKind.OPENED, opened)], berlin(5, 12))
    assert got.clock is Clock.CLAIM and got.level is Level.DUE
    assert got.card_text() == "⏱ Claim due Mon 09:10"
    assert got.list_text() == "⏱ claim due Mon 09:10"
    assert got.due == berlin(7, 9, 10)


def test_due_then_warning_after_the_last_reminder_then_overdue() -> None:
    opened = berlin(7, 9)
    t, events = thread(opened), [event(EventKind.OPENED, opened)]

    early = shown(t, events, berlin(7, 9, 6))
    assert early.level is Level.DUE
    assert early.card_text() == "⏱ Claim due 09:10"
    assert early.list_text() == "⏱ claim due in 4 min (09:10)"

    fifty = shown(t, events, berlin(7, 9, 5))
    assert fifty.level is Level.DUE, "the 50% reminder is not the last mark"

    warned = shown(t, events, berlin(7, 9, 8))
    assert warned.level is Level.WARNING
    assert warned.card_text() == "⚠ Claim due 09:10 — 2 min left at 09:08"
    assert warned.list_text() == "⚠ claim: 2 min left (due 09:10)"

    late = shown(t, events, berlin(7, 9, 18))
    assert late.level is Level.OVERDUE
    assert late.card_text() == "⛔ Claim overdue since 09:10"
    assert late.list_text() == "⛔ claim overdue 8 min (since 09:10)"

    at_due = shown(t, events, berlin(7, 9, 10))
    assert at_due.level is Level.OVERDUE, "due at the breach itself"


def test_overdue_counts_business_time_across_the_weekend() -> None:
    opened = berlin(4, 17, 45)  # Friday; due 17:55
    t = thread(opened)
    got = shown(t, [event(EventKind.OPENED, opened)], berlin(7, 9, 5))
    assert got.list_text() == "⛔ claim overdue 10 min (since Fri 17:55)"
    assert got.card_text() == "⛔ Claim overdue since Fri 17:55"


def test_a_release_starts_the_claim_clock_again() -> None:
    opened = berlin(7, 9)
    events = [
        event(EventKind.OPENED, opened),
        event(EventKind.CLAIMED, berlin(7, 9, 2)),
        event(EventKind.NOTE, berlin(7, 9, 3)),
        event(EventKind.RELEASED, berlin(7, 9, 20)),
    ]
    t = thread(opened, state=ThreadState.NEW)
    got = shown(t, events, berlin(7, 9, 21))
    assert got.clock is Clock.CLAIM and got.card_text() == "⏱ Claim due 09:30"


def test_the_nearer_clock_shows_and_a_held_thread_shows_its_first_reply() -> None:
    quick = SlaPolicy("support", first_response=15 * M, claim=30 * M, calendar=OFFICE)
    opened = berlin(7, 10)
    waiting = thread(opened)
    events = [event(EventKind.OPENED, opened)]
    got = shown(waiting, events, berlin(7, 10, 1), quick)
    assert got.clock is Clock.FIRST_RESPONSE and got.card_text() == "⏱ First reply due 10:15"

    held = thread(opened, state=ThreadState.CLAIMED, owner=ALICE)
    claimed = [*events, event(EventKind.CLAIMED, berlin(7, 10, 2))]
    got = shown(held, claimed, berlin(7, 10, 2), quick)
    assert got.clock is Clock.FIRST_RESPONSE and got.card_text() == "⏱ First reply due 10:15"
    assert shown(held, claimed, berlin(7, 10, 2)).card_text() == "⏱ First reply due 11:00"


def test_a_reply_stops_the_first_response_clock_and_a_release_after_it_shows_the_claim() -> None:
    opened = berlin(7, 10)
    events = [
        event(EventKind.OPENED, opened),
        event(EventKind.CLAIMED, berlin(7, 10, 1)),
        event(EventKind.REPLIED, berlin(7, 10, 3)),
    ]
    replied = thread(opened, state=ThreadState.REPLIED, owner=ALICE, reply_count=1)
    assert badge(replied, events, policies(SUPPORT), berlin(7, 10, 4)) is None
    released = thread(opened, state=ThreadState.REPLIED, reply_count=1)
    again = [*events, event(EventKind.RELEASED, berlin(7, 10, 5))]
    got = shown(released, again, berlin(7, 10, 6))
    assert got.clock is Clock.CLAIM and got.card_text() == "⏱ Claim due 10:15"


def test_no_badge_without_a_target_or_once_resolved_or_in_an_unknown_department() -> None:
    no_claim = SlaPolicy("support", first_response=timedelta(hours=1), calendar=OFFICE)
    opened = berlin(7, 10)
    events = [event(EventKind.OPENED, opened)]
    only_first = shown(thread(opened), events, berlin(7, 10, 1), no_claim)
    assert only_first.clock is Clock.FIRST_RESPONSE, "no claim target: the claim is not timed"

    released_after_reply = thread(opened, state=ThreadState.REPLIED, reply_count=1)
    replied = [*events, event(EventKind.REPLIED, berlin(7, 10, 2))]
    assert badge(released_after_reply, replied, policies(no_claim), berlin(7, 10, 3)) is None

    resolved = thread(opened, state=ThreadState.RESOLVED, owner=ALICE)
    closing = [*events, event(EventKind.RESOLVED, berlin(7, 10, 2))]
    assert badge(resolved, closing, policies(SUPPORT), berlin(7, 10, 3)) is None

    reopened = thread(opened, state=ThreadState.NEW)
    later = [*closing, event(EventKind.REOPENED, berlin(7, 11))]
    got = shown(reopened, later, berlin(7, 11, 1))
    assert got.clock is Clock.CLAIM and got.card_text() == "⏱ Claim due 11:10"
    assert badge(reopened, later, policies(), berlin(7, 11, 1)) is None


def test_first_response_keeps_the_time_spent_before_a_transfer() -> None:
    anytime = SlaPolicy(
        "social", first_response=timedelta(hours=1), calendar=BusinessCalendar("Europe/Berlin")
    )
    late_office = SlaPolicy(
        "billing",
        first_response=timedelta(hours=1),
        calendar=BusinessCalendar.parse("Europe/Berlin", ["mon-fri 10:00-18:00"]),
    )
    opened = berlin(7, 9)
    move = Transfer(
        from_department="social", to_department="billing", by=ALICE, at=berlin(7, 9, 40)
    )
    t = thread(opened, department="billing", state=ThreadState.TRANSFERRED, transfers=(move,))
    events = [event(EventKind.OPENED, opened), event(EventKind.TRANSFERRED, move.at)]
    got = shown(t, events, berlin(7, 9, 45), anytime, late_office)
    assert got.clock is Clock.FIRST_RESPONSE
    assert got.card_text() == "⏱ First reply due 10:20", "40 min spent; 20 left from 10:00"

    nearly = move.model_copy(update={"at": berlin(7, 9, 50)})
    used = t.model_copy(update={"transfers": (nearly,)})
    warned = shown(used, events, berlin(7, 9, 51), anytime, late_office)
    assert warned.level is Level.WARNING, "past the last mark before it even arrived"
    assert warned.card_text() == "⚠ First reply due 10:10 — 10 min left at 09:51"


def test_far_dates_say_the_day_and_month() -> None:
    assert when(berlin(14, 9, 10), berlin(7, 9), BERLIN) == "Mon 14 Dec 09:10"
    assert when(berlin(8, 9, 10), berlin(7, 9), BERLIN) == "Tue 09:10"
    assert when(berlin(7, 17, 5), berlin(7, 9), BERLIN) == "17:05"


def test_due_first_then_oldest_and_untimed_last() -> None:
    opened = berlin(7, 9)
    older_untimed = thread(opened, id="a", number=1)
    later_due_sooner = thread(berlin(7, 9, 5), id="b", number=2)
    first_due = thread(berlin(7, 9, 1), id="c", number=3)
    same_due_newer = thread(berlin(7, 9, 2), id="d", number=4)
    now = berlin(7, 9, 6)

    def due(at: datetime) -> Badge:
        return Badge(Clock.CLAIM, Level.DUE, at, at - now, now, BERLIN)

    rows: list[tuple[Thread, Badge | None]] = [
        (older_untimed, None),
        (later_due_sooner, due(berlin(7, 9, 12))),
        (first_due, due(berlin(7, 9, 11))),
        (same_due_newer, due(berlin(7, 9, 11))),
    ]
    rows.sort(key=lambda row: due_first_key(*row))
    assert [t.id for t, _ in rows] == ["c", "d", "b", "a"]
