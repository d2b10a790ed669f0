"""Read-only verbs: the directory, my threads, a queue, one thread, help."""

from __future__ import annotations

from datetime import datetime

from bot.cards import age, history_line
from bot.domain import Thread
from bot.interaction import Interaction, Response
from bot.settings.policy import Rota
from bot.sla.badge import Badge
from bot.sla.queue import WINDOW, due_first
from handlers.base import Context, target

HELP = """\
claim [T-12]                  take a thread (no id: the first `queue` lists)
release [T-12]                put it back in the queue
takeover [T-12]               take a thread someone else holds
note [T-12] <text>            internal note (never public)
reply [T-12] <text>           reply publicly on the network (a draft to approve
                              where the department's replies need approval)
draft [T-12] <text>           record a reply to send later with `send`
send [T-12]                   send your draft publicly
approve [T-12]                approve (and post) a colleague's draft
reject [T-12]                 reject a draft (or withdraw your own)
transfer [T-12] <dept> [note] move it to another department
send-back [T-12] [note]       return it to the department it came from
resolve [T-12]                close it (a follow-up from the author reopens it)
spam [T-12]                   close it as spam
show [T-12]                   the thread and its history
directory                     departments, channels, who is on duty
mine                          your open threads
queue [dept]                  waiting threads, what is due first, then oldest
report [dept] [7d]            first-response and SLA figures (your departments, 7 days)
Without T-12 a command acts on your active thread (the last one you claimed or acted on)."""


async def _line(ctx: Context, thread: Thread, now: datetime, badge: Badge | None = None) -> str:
    mentions = await ctx.threads.store.mentions(thread.id)
    first = mentions[0]
    snippet = " ".join(first.text.split())
    if len(snippet) > 60:
        snippet = snippet[:59] + "…"
    owner = f" · {thread.owner.label}" if thread.owner else ""
    clock = f"{badge.list_text()} · " if badge else ""
    return (
        f"{thread.short_id} [{thread.department}] {thread.state.value}{owner} · "
        f"{first.network} @{first.author.handle.lstrip('@')} · {age(first.created_at, now)} · "
        f"{clock}{snippet}"
    )


async def directory(ctx: Context, interaction: Interaction) -> Response:
    now = ctx.threads.clock()
    lines = ["Departments:"]
    for dept in ctx.threads.directory:
        policy = dept.sla_policy
        where = [w for w in (dept.slack_channel, dept.teams_channel and "Teams") if w]
        lines.append(
            f"  {dept.name:<12} {dept.label} · {' + '.join(where) or 'no channel'} · "
            f"on duty: {_on_duty(policy.rota, now)} · replies: {dept.reply_policy}"
        )
        rollover = f" · rolls over to {policy.rollover_to}" if policy.rollover_to else ""
        lines.append(
            f"  {'':<12} {policy.calendar.describe_next(now)} · "
            f"{policy.describe_targets()}{rollover}"
        )
    return Response("\n".join(lines))


def _on_duty(rota: Rota, now: datetime) -> str:
    if not rota.people:
        return "nobody listed"
    present = rota.on_duty(now)
    return ", ".join(present) if present else "nobody now"


async def mine(ctx: Context, interaction: Interaction) -> Response:
    threads = await ctx.threads.held_by(interaction.actor)
    if not threads:
        return Response("You have no open threads.")
    now = ctx.threads.clock()
    return Response("\n".join([await _line(ctx, t, now) for t in threads]))


async def queue(ctx: Context, interaction: Interaction) -> Response:
    department = interaction.department or interaction.channel_department
    if department:
        department = ctx.threads.directory.get(department).name
    waiting = await due_first(ctx.threads, department)
    if not waiting:
        return Response("Nothing is waiting.")
    now = ctx.threads.clock()
    lines = [await _line(ctx, q.thread, now, q.badge) for q in waiting]
    if len(waiting) >= WINDOW:
        lines.append(f"(the oldest {WINDOW} waiting, due first; more wait behind them)")
    return Response("\n".join(lines))


async def show(ctx: Context, interaction: Interaction) -> Response:
    thread = await target(ctx, interaction)
    now = ctx.threads.clock()
    lines = [await _line(ctx, thread, now)]
    for mention in await ctx.threads.store.mentions(thread.id):
        lines.append(f"  @{mention.author.handle.lstrip('@')}: {mention.text}")
    departments = {d.name: d for d in ctx.threads.directory}
    for event in await ctx.threads.store.events(thread.id):
        said = history_line(event, departments)
        if said is None:  # the kinds a card does not show as a line
            where = departments.get(str(event.data.get("department", "")))
            said = f"{event.kind.value.replace('_', ' ').capitalize()}" + (
                f" in {where.label}" if where else ""
            )
        lines.append(f"  - {event.at:%a %H:%M} {said}")
    return Response("\n".join(lines), thread=thread)


async def help_(ctx: Context, interaction: Interaction) -> Response:
    return Response(HELP)
