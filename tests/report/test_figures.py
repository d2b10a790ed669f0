"""The report's figures on a hand-made history, on both stores (worked out in the comments)."""

from __future__ import annotations

from typing import Any

from bot.report import Reports
from bot.report.render import rows
from bot.report.service import policy_table
from bot.store import Store
from tests.report.history import MONDAY, SINCE, UNTIL, History, bob, carol, config, write_history

H = 3600


def by_name(found: list[dict[str, Any]], scope: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in found if r["scope"] == scope}


async def report_rows(store: Store, **kw: Any) -> list[dict[str, Any]]:
    policies = policy_table(d.sla_policy for d in config().departments)
    report = await Reports(store, policies, page=3).build(SINCE, UNTIL, **kw)
    return rows(report)


async def test_department_figures_follow_the_threads_of_the_period(store: Store) -> None:
    await write_history(store)
    found = await report_rows(store)
    departments = by_name(found, "department")
    assert set(departments) == {"support", "social"}
    support = departments["support"]
    counts = {k: support[k] for k in ("received", "claimed", "replied", "transferred")}
    assert counts == {"received": 5, "claimed": 4, "replied": 1, "transferred": 1}
    assert (support["rolled_over"], support["resolved"], support["spam"]) == (1, 1, 1)
    # Claim waits in business time: T1 900 s (across the weekend), T2 240, T6 120 and 600.
    assert support["claim_timed"] == 4
    assert (support["claim_median_business_s"], support["claim_p90_business_s"]) == (240, 900)
    # Wall time: T1 waited Fri 17:50 -> Mon 09:05.
    assert (support["claim_median_wall_s"], support["claim_p90_wall_s"]) == (240, 63 * H + 900)
    # Within 10 min: T2, T6 (twice, 600 s is within); late: T1, T3 (25 min, rolled over)
    # and T6 again (reopened at 13:30, still waiting at 14:00).
    assert (support["claim_within_target"], support["claim_breaches"]) == (3, 3)
    assert support["claim_attainment_pct"] == 50.0
    # T1's first reply: 10 min on Friday + 20 on Monday; wall 63 h 30 min.
    assert support["first_reply_median_business_s"] == 1800
    assert support["first_reply_median_wall_s"] == 63 * H + 1800
    assert (support["first_reply_within_target"], support["first_reply_breaches"]) == (1, 0)

    social = departments["social"]
    assert (social["received"], social["claimed"], social["replied"]) == (0, 1, 1)
    assert social["resolved"] == 0  # T2 was resolved after the period
    # T2 waited 30 min in social (target 30 min: within); T3 still waits at 14:00 (155 min).
    assert social["claim_median_business_s"] == 1800
    assert (social["claim_within_target"], social["claim_breaches"]) == (1, 1)
    # T2's first reply: 10 min in support + 50 in social, within social's 2 h; T3 unanswered
    # for 25 + 155 min by the end: late.
    assert social["first_reply_median_business_s"] == H
    assert (social["first_reply_within_target"], social["first_reply_breaches"]) == (1, 1)
    assert social["first_reply_attainment_pct"] == 50.0


async def test_person_figures(store: Store) -> None:
    await write_history(store)
    people = by_name(await report_rows(store), "person")
    assert set(people) == {"alice", "bob", "carol"}  # the rollover is nobody's
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    assert (alice["claimed"], alice["replied"], alice["resolved"], alice["spam"]) == (2, 1, 1, 1)
    assert (alice["claim_median_business_s"], alice["claim_p90_business_s"]) == (600, 900)
    assert (alice["claim_within_target"], alice["claim_breaches"]) == (1, 1)
    assert (bob["claimed"], bob["transferred"], bob["replied"]) == (2, 1, 0)
    assert (bob["claim_median_business_s"], bob["claim_p90_business_s"]) == (120, 240)
    assert bob["first_reply_median_business_s"] is None
    assert (carol["claimed"], carol["replied"], carol["first_reply_median_wall_s"]) == (1, 1, H)


async def test_a_department_filter_keeps_only_its_rows(store: Store) -> None:
    await write_history(store)
    found = await report_rows(store, departments=["social"])
    assert [r["name"] for r in found if r["scope"] == "department"] == ["social"]
    people = by_name(found, "person")
    assert set(people) == {"carol"}
    assert by_name(found, "department")["social"]["claim_breaches"] == 1


async def test_a_transfer_to_a_person_starts_no_wait(store: Store) -> None:
    h = History(store)
    h.at(MONDAY, "10:00")
    thread = await h.open(1)
    h.at(MONDAY, "10:05")
    await h.threads.transfer(thread.id, bob, "social", "for you", to_person=carol)
    h.at(MONDAY, "11:05")  # 60 min later: past social's 30 min claim target, but nobody waited
    await h.reply(thread, carol)
    departments = by_name(await report_rows(store), "department")
    assert departments["support"]["claim_timed"] == 0
    assert departments["support"]["claim_breaches"] == 0  # it left the queue after 5 min
    social = departments["social"]
    assert (social["claim_timed"], social["claim_breaches"]) == (0, 0)
    assert social["first_reply_median_business_s"] == 65 * 60
