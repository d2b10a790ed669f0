"""The one aiohttp server: health, readiness, metrics, webhooks; surfaces add their routes."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot import logs
from bot.app import Switchboard
from bot.domain import Mention
from bot.ports import PushSource
from bot.report.metrics import ReportMetrics
from bot.settings.policy import SlaPolicy

APP_KEY: web.AppKey[Switchboard] = web.AppKey("switchboard", Switchboard)
HOOK_RETRY = 1
"""Seconds a webhook sender is asked to wait while too many deliveries are in flight."""
METRICS_KEY: web.AppKey[ReportMetrics] = web.AppKey("report_metrics", ReportMetrics)


REQUEST_ID = "X-Request-Id"


@web.middleware
async def request_ids(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every log line written while a request is answered names it (``request_id``): the
    caller's ``X-Request-Id`` when it sends a sane one, else a new id; the answer carries it."""
    given = request.headers.get(REQUEST_ID, "")
    rid = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex[:16]
    token = logs.request_id.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID] = rid
        raise
    finally:
        logs.request_id.reset(token)
    response.headers[REQUEST_ID] = rid
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    report = await request.app[APP_KEY].readiness()
    return web.json_response(report, status=200 if report["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    board = request.app[APP_KEY]
    lines = [
        "# HELP switchboard_outbox_items Card changes waiting to reach the chat surfaces.",
        "# TYPE switchboard_outbox_items gauge",
        f"switchboard_outbox_items {await board.store.outbox_size()}",
        "# HELP switchboard_source_mentions_total Mentions stored per source.",
        "# TYPE switchboard_source_mentions_total counter",
    ]
    health = board.ingestor.health.values()
    lines += [f'switchboard_source_mentions_total{{source="{h.name}"}} {h.stored}' for h in health]
    lines += [
        "# HELP switchboard_source_failing Whether a source keeps failing (1) or not (0).",
        "# TYPE switchboard_source_failing gauge",
    ]
    lines += [f'switchboard_source_failing{{source="{h.name}"}} {int(h.failing)}' for h in health]
    lines += [
        "# HELP switchboard_source_late_total Mentions found only by re-reading the window behind"
        " the cursor (the network delivered them out of order).",
        "# TYPE switchboard_source_late_total counter",
    ]
    lines += [f'switchboard_source_late_total{{source="{h.name}"}} {h.late}' for h in health]
    lines += [
        "# HELP switchboard_source_unread_total Items a source could not read (beyond its"
        " backfill horizon, or no longer served by the network).",
        "# TYPE switchboard_source_unread_total counter",
    ]
    lines += [f'switchboard_source_unread_total{{source="{h.name}"}} {h.unread}' for h in health]
    lines += [
        "# HELP switchboard_source_last_success_timestamp_seconds When the source was last polled"
        " successfully (Unix time; absent before the first success).",
        "# TYPE switchboard_source_last_success_timestamp_seconds gauge",
    ]
    lines += [
        f'switchboard_source_last_success_timestamp_seconds{{source="{h.name}"}} '
        f"{h.last_ok.timestamp():.3f}"
        for h in health
        if h.last_ok is not None
    ]
    lines += [
        "# HELP switchboard_webhook_requests_total Webhook deliveries, by how they were answered"
        " (accepted: 202 after storing; busy: 503 with Retry-After; refused: 4xx).",
        "# TYPE switchboard_webhook_requests_total counter",
    ]
    answered = request.app[HOOKS_KEY].answered
    lines += [
        f'switchboard_webhook_requests_total{{outcome="{o}"}} {answered[o]}'
        for o in ("accepted", "busy", "refused", "error")
    ]
    lines += request.app[METRICS_KEY].lines()
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")


async def hook(request: web.Request) -> web.StreamResponse:
    board = request.app[APP_KEY]
    name = request.match_info["source"]
    source = next((s for s in board.sources if s.name == name), None)
    if not isinstance(source, PushSource):
        return web.json_response({"error": f"no webhook source named {name!r}"}, status=404)
    gate = request.app[HOOKS_KEY]
    if gate.busy >= board.config.server.hooks_in_flight:  # the store is not keeping up
        gate.count(503)
        busy = {"error": "too many deliveries are being stored; retry later"}
        return web.json_response(busy, status=503, headers={"Retry-After": str(HOOK_RETRY)})

    async def accept(mention: Mention) -> None:
        await board.threads.ingest(mention)

    gate.busy += 1
    try:
        response = await source.handle(request, accept)
    finally:
        gate.busy -= 1
    gate.count(response.status)
    return response


@dataclass
class HookGate:
    """Webhook deliveries being stored now, and how every one was answered (for /metrics)."""

    busy: int = 0
    answered: Counter[str] = field(default_factory=Counter)

    def count(self, status: int) -> None:
        outcome = {202: "accepted", 503: "busy"}.get(status, "refused" if status < 500 else "error")
        self.answered[outcome] += 1


HOOKS_KEY: web.AppKey[HookGate] = web.AppKey("hooks", HookGate)


def _report_metrics(board: Switchboard) -> ReportMetrics:
    """The clock metrics, watching this process's changes (once per board)."""
    for observer in board.threads.observers:
        if isinstance(observer, ReportMetrics):
            return observer

    def policies(name: str) -> SlaPolicy | None:  # the running config's, reloads included
        found = board.config.department(name)
        return found.sla_policy if found is not None else None

    metrics = ReportMetrics(board.store, policies)
    board.threads.observers.append(metrics)
    return metrics


def build_app(board: Switchboard) -> web.Application:
    app = web.Application(client_max_size=1024**2, middlewares=[request_ids])
    app[APP_KEY] = board
    app[METRICS_KEY] = _report_metrics(board)
    app[HOOKS_KEY] = HookGate()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/hooks/{source}", hook)
    return app
