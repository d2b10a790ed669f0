"""``/metrics`` carries the clock histograms and the breach and rollover counters, observed as
this process stores the changes of the hand-made history (every thread, not only the period's)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.app import Switchboard
from bot.report.metrics import ReportMetrics
from bot.server import build_app
from bot.store import Store
from tests.report.history import Clock, History, config, write_history


def value(lines: list[str], series: str) -> float:
    [found] = [line for line in lines if line.startswith(series + " ")]
    return float(found.rsplit(" ", 1)[1])


async def test_histograms_and_counters(store: Store) -> None:
    clock = Clock()
    board = Switchboard(config(), store, [], [], clock=clock)
    app = build_app(board)
    assert build_app(board) is not None  # a second app on the same board: still watched once
    assert sum(isinstance(o, ReportMetrics) for o in board.threads.observers) == 1
    await write_history(store, History(store, board.threads, clock))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.get("/metrics")
        lines = (await response.text()).splitlines()
    finally:
        await client.close()
    claim = 'switchboard_time_to_claim_seconds_{}{{department="support",time="business"{}}}'
    # Support's pick-ups in business seconds: T5 32400 (Fri 08:00 -> Mon 09:00: all of
    # Friday's hours), T1 900, T2 240, T6 120 and 600.
    assert value(lines, claim.format("count", "")) == 5
    assert value(lines, claim.format("sum", "")) == 32400 + 900 + 240 + 120 + 600
    assert value(lines, claim.format("bucket", ',le="300"')) == 2
    assert value(lines, claim.format("bucket", ',le="600"')) == 3
    assert value(lines, claim.format("bucket", ',le="900"')) == 4
    assert value(lines, claim.format("bucket", ',le="+Inf"')) == 5
    wall = 'switchboard_time_to_claim_seconds_count{department="social",time="wall"}'
    assert value(lines, wall) == 1
    first = "switchboard_time_to_first_response_seconds_sum"
    assert value(lines, first + '{department="social",time="business"}') == 3600
    assert value(lines, first + '{department="support",time="wall"}') == 63 * 3600 + 1800
    breaches = "switchboard_sla_breaches_total"
    # T5 and T1 picked up late, T3 left waiting 25 min when it rolled over.
    assert value(lines, breaches + '{department="support",clock="claim"}') == 3
    assert not [line for line in lines if line.startswith(breaches + '{department="social"')]
    assert value(lines, 'switchboard_rollovers_total{department="support"}') == 1
    assert "# TYPE switchboard_time_to_claim_seconds histogram" in lines
    assert "# TYPE switchboard_outbox_items gauge" in lines  # the existing families stay
