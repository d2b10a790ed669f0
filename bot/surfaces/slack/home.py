"""App Home: my open threads, and my departments' unclaimed queues due first (each row with its
service-level clock as of the view, ``bot.sla.badge``) and their ages, each with buttons (the
same ``sb_<verb>`` actions as the cards)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.actions import Action, Verb
from bot.cards import age
from bot.domain import Person, Thread
from bot.surfaces.slack.blocks import ACTION_PREFIX, NETWORKS, text_obj
from bot.surfaces.slack.escape import fit, mrkdwn
from bot.surfaces.slack.webapi import SlackCallError

if TYPE_CHECKING:
    from bot.sla.badge import Badge
    from bot.surfaces.slack.inbound import SlackInbound

MINE_SHOWN = 15
QUEUE_SHOWN = 8
MAX_BLOCKS = 100
EVENTS = ("app_home_opened",)


def _button(label: str, verb: Verb, thread: Thread, style: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{verb.value}",
        "text": text_obj(label, "plain_text"),
        "value": Action(verb, thread.id).encode(),
    }
    if style:
        element["style"] = style
    return element


async def _row(
    inbound: SlackInbound,
    thread: Thread,
    buttons: list[dict[str, Any]],
    badge: Badge | None = None,
) -> list[Any]:
    mentions = await inbound.desk.mentions(thread)
    first = mentions[0]
    when = age(first.created_at, inbound.desk.clock())
    network = NETWORKS.get(thread.network, thread.network)
    handle = fit(first.author.handle, 80, mrkdwn)[0]
    owner = f" · {fit(thread.owner.label, 60, mrkdwn)[0]}" if thread.owner else ""
    snippet = fit(" ".join(first.text.split()), 200, mrkdwn)[0]
    clock = f" · {mrkdwn(badge.list_text())}" if badge else ""
    line = (
        f"*{thread.short_id}* · {network} · {handle} · {when} · {thread.state.value}{owner}"
        f"{clock}\n{snippet}"
    )
    return [
        {"type": "section", "text": text_obj(line)},
        {"type": "actions", "elements": buttons},
    ]


async def home_view(inbound: SlackInbound, user: str, notice: str = "") -> dict[str, Any]:
    desk = inbound.desk
    blocks: list[Any] = []
    if notice:
        blocks.append(
            {"type": "section", "text": text_obj(f":warning: {fit(notice, 2900, mrkdwn)[0]}")}
        )
    blocks.append({"type": "header", "text": text_obj("Your open threads", "plain_text")})
    departments = []
    for dept in desk.departments():
        try:
            if await inbound.surface.is_member(user, dept.name):
                departments.append(dept)
        except SlackCallError:
            continue
    home = await desk.home(
        Person(surface=inbound.surface.name, id=user), departments or desk.departments()
    )
    mine = home.mine
    for thread in mine[:MINE_SHOWN]:
        buttons = [
            _button("Reply", Verb.REPLY, thread, "primary"),
            _button("Transfer", Verb.TRANSFER, thread),
            _button("Resolve", Verb.RESOLVE, thread),
            _button("Release", Verb.RELEASE, thread),
        ]
        blocks += await _row(inbound, thread, buttons)
    if not mine:
        blocks.append({"type": "context", "elements": [text_obj("Nothing is yours right now.")]})
    for dept, waiting in home.waiting:
        if len(blocks) + 3 > MAX_BLOCKS:
            break
        blocks.append(
            {
                "type": "header",
                "text": text_obj(fit(f"Waiting in {dept.label}", 150)[0], "plain_text"),
            }
        )
        for queued in waiting[:QUEUE_SHOWN]:
            if len(blocks) + 2 > MAX_BLOCKS:
                break
            thread = queued.thread
            buttons = [
                _button("Claim", Verb.CLAIM, thread, "primary"),
                _button("Transfer", Verb.TRANSFER, thread),
            ]
            blocks += await _row(inbound, thread, buttons, queued.badge)
        more = len(waiting) - QUEUE_SHOWN
        if not waiting or more > 0:
            plus = "+" if len(waiting) >= home.window else ""
            text = f"{more}{plus} more waiting." if more > 0 else "Nothing waiting."
            if len(blocks) < MAX_BLOCKS:
                blocks.append({"type": "context", "elements": [text_obj(text)]})
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


async def publish(inbound: SlackInbound, user: str, notice: str = "") -> None:
    await inbound.api.call(
        "views.publish", user_id=user, view=await home_view(inbound, user, notice)
    )


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not await inbound.first_delivery(body):
            return
        inbound.spawn(publish(inbound, str(event["user"])), "app home")

    async def notice(user: str, text: str) -> None:
        await publish(inbound, user, text)

    inbound.home_notice = notice
    bolt.event(EVENTS[0])(opened)
