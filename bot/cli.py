"""The ``switchboard`` command: serve, demo, check, report, audit, --version."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from adapters.base import connect_sources
from bot import __version__, logs
from bot.app import Switchboard, build_sources
from bot.config import Config, describe, load_config, load_section
from bot.domain import utcnow
from bot.errors import SwitchboardError
from bot.findings import Finding, Outcome
from bot.naming import about_source
from bot.store import Store, open_store

log = logging.getLogger("switchboard")


async def serve(config: Config, path: str | None = None) -> int:
    """Run until SIGTERM/SIGINT, which drain and end with 0 in every phase, start included;
    SIGHUP reads the config file (``path``) again: departments, routing, service levels."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("starting")
    from bot.platforms import install_platforms, local_surfaces
    from bot.server import build_app

    board = Switchboard.from_config(config, local_surfaces(config))
    loop.add_signal_handler(signal.SIGHUP, lambda: board.reload(path))
    app = build_app(board)
    closers = install_platforms(board, app, config)
    runner = web.AppRunner(app, access_log=None)
    starting = asyncio.create_task(_start(board, app, runner, config))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            starting.result()
            log.info("serving on http://%s:%d", config.server.host, config.server.port)
            await stop.wait()
        log.info("stopping: draining the loops and connections")
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        drain = [board.stop, *closers, runner.cleanup]
        for step in drain:
            try:
                await step()
            except Exception:
                log.exception("could not close cleanly; going on")
    log.info("stopped")
    return 0


async def _start(
    board: Switchboard, app: web.Application, runner: web.AppRunner, config: Config
) -> None:
    from bot.platforms import start_platforms

    await runner.setup()
    host, port = config.server.host, config.server.port
    try:
        await web.TCPSite(runner, host, port).start()
    except socket.gaierror as exc:
        raise SwitchboardError(f"server.host {host!r} cannot be resolved: {exc.strerror}") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SwitchboardError(f"server.port {port} is already in use on {host}") from None
        reason = exc.strerror or str(exc)
        raise SwitchboardError(f"server.host {host!r} / server.port {port}: {reason}") from None
    await board.start()
    await start_platforms(app, config)


def teams_package(path: str | None, out: str, version: str) -> int:
    """Build the Teams app zip from the config's ``teams:`` section alone (the other sections'
    environment variables need not be set on the machine that builds it)."""
    from pydantic import ValidationError

    from bot.surfaces.teams.package import build_package
    from bot.teams_config import TeamsSettings

    try:
        settings = TeamsSettings.model_validate(load_section(path, "teams"))
    except ValidationError as exc:
        raise SwitchboardError(f"teams: is invalid:\n{describe(exc)}") from None
    written = build_package(settings, out, version)
    print(f"wrote {written}: upload it in Teams > Apps > Manage your apps > Upload an app")
    return 0


async def _check_platforms(config: Config, show: Callable[[Finding], None]) -> None:
    if config.slack is not None:
        from bot.surfaces.slack.check import check_slack
        from bot.surfaces.slack.surface import SlackSurface

        surface = SlackSurface.from_config(config)
        try:
            for finding in await check_slack(config.slack, surface, config.departments):
                show(finding)
        finally:
            await surface.close()
    if config.teams is not None:
        from bot.surfaces.teams.check import check_teams

        for finding in await check_teams(config.teams):
            show(finding)


async def check(config: Config) -> int:
    """Prove every credential and place the config names, one line each; 1 if any failed."""

    counts = f"{len(config.departments)} departments, {len(config.sources)} sources"
    findings = [Finding.ok("config", counts)]

    def show(finding: Finding) -> None:
        findings.append(finding)
        print(finding.line(), flush=True)

    print(findings[0].line())
    store = open_store(config.store.url, prefix=config.store.prefix)
    writable = False
    try:  # a real write, as /readyz does (an entry that expires by itself)
        await store.kv_put("health.check", "switchboard-check", utcnow().isoformat(), ttl=60)
        writable = True
        show(Finding.ok("store", f"{config.store.url.split('@')[-1]} takes writes"))
    except SwitchboardError as exc:
        show(Finding.fail("store", str(exc)))
    try:
        await _check_platforms(config, show)
        sources = build_sources(config)
        if writable:  # sources that keep shared state (X's rotating refresh token) use it
            connect_sources(sources, store)
        for source in sources:
            try:
                show(Finding.ok(f"source {source.name}", await source.check()))
            except SwitchboardError as exc:
                label, _, detail = about_source(source.network, source.name, str(exc)).partition(
                    ": "
                )
                show(Finding.fail(f"source {label}", detail))
            finally:
                await source.close()
    finally:
        await store.close()
    failed = sum(f.outcome is Outcome.FAIL for f in findings)
    warned = sum(f.outcome is Outcome.WARN for f in findings)
    verdict = "not ready to serve" if failed else "ready to serve"
    print(f"{len(findings)} checks: {failed} failed, {warned} warnings — {verdict}")
    return 1 if failed else 0


def parse_since(text: str | None, option: str = "--since") -> datetime | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return datetime.now(UTC) - timedelta(**{unit[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SwitchboardError(
            f"{option} {text!r}: use an ISO time (2026-11-01T09:00) or an age like 2h, 3d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def report(
    config: Config, since: str, until: str | None, departments: Sequence[str], fmt: str
) -> int:
    from bot.report import Reports
    from bot.report.render import render
    from bot.report.service import policy_table
    from bot.service import Directory

    directory = Directory(config.departments)
    chosen = [directory.get(name).name for name in departments] or None
    start = parse_since(since)
    end = parse_since(until, "--until") or datetime.now(UTC)
    if start is not None and start >= end:
        raise SwitchboardError(f"--since {since!r} is not before --until ({end:%Y-%m-%d %H:%M})")
    store = open_store(config.store.url, prefix=config.store.prefix)
    try:
        policies = policy_table(d.sla_policy for d in config.departments)
        built = await Reports(store, policies).build(start, end, chosen)
    finally:
        await store.close()
    sys.stdout.write(render(built, fmt))
    return 0


async def audit(
    config: Config,
    since: str | None,
    until: str | None,
    thread: str | None,
    person: str | None,
    fmt: str,
) -> int:
    """Stream the audit log to stdout (``bot.audit_export``)."""
    from bot import audit_export

    store = open_store(config.store.url, prefix=config.store.prefix)
    try:
        thread_id = await _thread_id(store, thread) if thread else None
        stream = audit_export.events(
            store,
            parse_since(since),
            parse_since(until, "--until"),
            thread_id=thread_id,
            person=person,
        )
        await audit_export.write(stream, sys.stdout, fmt)
    finally:
        await store.close()
    return 0


async def _thread_id(store: Store, ref: str) -> str:
    """The id of thread ``T-1042`` (``1042``, or an id), archived threads included."""
    number = ref.strip()[2:] if ref.strip()[:2].upper() == "T-" else ref.strip()
    if number.isdigit():
        found = await store.get_thread_by_number(int(number))
        if found is not None:
            return found.id
        gone = await store.get_archived_by_number(int(number))
        if gone is not None:
            return gone.id
    elif (by_id := await store.get_thread(ref)) is not None:
        return by_id.id
    raise SwitchboardError(f"--thread {ref!r}: no such thread")


def logging_options(suppress: bool) -> argparse.ArgumentParser:
    """The logging flags, accepted before the subcommand and after it (``suppress``: a flag
    not given after it leaves what was given before)."""
    options = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    options.add_argument(
        "--log-level",
        choices=logs.LEVELS,
        default=default,
        help=f"(default: ${logs.LEVEL_ENV} or info)",
    )
    options.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=default,
        help=f"(default: ${logs.FORMAT_ENV} or text)",
    )
    options.add_argument(
        "-v", "--verbose", action="store_true", default=default or False, help="debug logging"
    )
    return options


def parser() -> argparse.ArgumentParser:
    logging_flags = logging_options(suppress=True)
    common = argparse.ArgumentParser(add_help=False, parents=[logging_flags])
    common.add_argument("--config", help="config file (default: $SWITCHBOARD_CONFIG)")
    top = argparse.ArgumentParser(
        prog="switchboard",
        description="Public mentions into Slack and Teams: claim, reply, transfer.",
        parents=[logging_options(suppress=False)],
    )
    top.add_argument("--version", action="version", version=f"switchboard {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", parents=[common], help="run the bot and its HTTP server")
    demo = sub.add_parser(
        "demo", parents=[logging_flags], help="try it locally: sample mentions, shell surface"
    )
    demo.add_argument("--script", help="run the commands in this file, then exit")
    demo.add_argument("--as", dest="user", default="alice", help="who you are (default alice)")
    sub.add_parser("check", parents=[common], help="validate config and test each connection")
    report_p = sub.add_parser(
        "report", parents=[common], help="first-response and SLA figures from the audit log"
    )
    report_p.add_argument("--since", default="7d", help="ISO time or age such as 7d (default)")
    report_p.add_argument("--until", help="ISO time or age (default: now)")
    report_p.add_argument(
        "--department", action="append", default=[], help="only this department (repeatable)"
    )
    report_p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    audit_p = sub.add_parser("audit", parents=[common], help="stream the audit log")
    audit_p.add_argument("--since", help="ISO time or age such as 2h, 3d")
    audit_p.add_argument("--until", help="ISO time or age (default: now)")
    audit_p.add_argument("--thread", help="only this thread's events (T-1042)")
    audit_p.add_argument("--person", help="only events by this person (id, name or surface:id)")
    audit_p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    package = sub.add_parser(
        "teams-package", parents=[common], help="build the Teams app package (zip)"
    )
    package.add_argument("--out", default="switchboard-teams.zip", help="zip file to write")
    package.add_argument("--app-version", default=__version__, help="manifest version")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        level = (
            "debug"
            if args.verbose
            else logs.choose(args.log_level, logs.LEVEL_ENV, logs.LEVELS, "info")
        )
        fmt = logs.choose(args.log_format, logs.FORMAT_ENV, logs.FORMATS, "text")
    except ValueError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    logs.configure(level, fmt)
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            return asyncio.run(run_demo(args.script, args.user))
        if args.command == "teams-package":  # needs the teams section only
            return teams_package(args.config, args.out, args.app_version)
        config = load_config(args.config)
        logs.remember_secrets(config)
        if args.command == "serve":
            return asyncio.run(serve(config, args.config))
        if args.command == "check":
            return asyncio.run(check(config))
        if args.command == "report":
            return asyncio.run(report(config, args.since, args.until, args.department, args.format))
        return asyncio.run(
            audit(config, args.since, args.until, args.thread, args.person, args.format)
        )
    except SwitchboardError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
