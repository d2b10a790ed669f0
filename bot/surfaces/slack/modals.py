"""The reply composer and the transfer dialog (Slack modals), and the shortcuts that open them.

The composer knows the network's limit and refuses too-long text inside the modal
(``response_action: errors``); its submission is keyed ``slack:view:<view id>`` so a double
submit never posts twice. Text this thread already got in the last ten minutes (from any
composer) turns the modal into a warning with a "Send it again" box; submitting with the box
ticked posts it again (``bot.intent.again_key``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.actions import Verb
from bot.domain import Thread
from bot.errors import SwitchboardError
from bot.intent import again_key
from bot.interaction import Interaction
from bot.surfaces.slack import drafts
from bot.surfaces.slack.blocks import NETWORKS, text_obj
from bot.surfaces.slack.escape import OPTION_TEXT, fit
from bot.surfaces.slack.inbound import SlackInbound, code_block, to_plain
from bot.surfaces.slack.webapi import SlackCallError

log = logging.getLogger(__name__)
REPLY_VIEW = "sb_reply_modal"
TRANSFER_VIEW = "sb_transfer_modal"
PUBLIC_REPLY_SHORTCUT = "sb_public_reply"
DIRECTORY_SHORTCUT = "sb_directory"
PROBE = "."
AGAIN = "again"
INPUT_LIMIT = 3000
_HANDLE = re.compile(r"[^\w.@-]")


def plain_obj(text: str, limit: int) -> dict[str, Any]:
    return text_obj(fit(text, limit)[0], "plain_text")


async def reply_refusal(inbound: SlackInbound, thread: Thread, user: str, text: str) -> None:
    """Raise what makes ``text`` unpostable by ``user`` now (guest, policy, limit...)."""
    actor = await inbound.actor(user)
    is_member = await inbound.member_flag(user, thread.department)
    await inbound.desk.check_reply(thread, actor, text, is_member=is_member)


def again_blocks(warning: str) -> list[dict[str, Any]]:
    """The warning that this text was already sent, and the box that sends it anyway."""
    return [
        {"type": "section", "text": plain_obj(f"⚠ {warning}", 3000)},
        {
            "type": "input",
            "block_id": AGAIN,
            "optional": True,
            "label": plain_obj("Post it anyway?", 100),
            "element": {
                "type": "checkboxes",
                "action_id": AGAIN,
                "options": [
                    {"text": plain_obj("Send it again", 75), "value": AGAIN},
                ],
            },
        },
    ]


async def reply_view(
    inbound: SlackInbound, thread: Thread, draft: str, meta: str, warning: str = ""
) -> dict[str, Any]:
    mention = (await inbound.desk.mentions(thread))[-1]
    limit = inbound.desk.reply_limit(thread)
    network = NETWORKS.get(thread.network, thread.network)
    approval = inbound.desk.needs_approval(thread)
    handle = _HANDLE.sub("", mention.author.handle.lstrip("@"))[:100]
    initial = draft or (f"@{handle} " if handle else "")
    allowed = f"{network} allows {limit.limit} {limit.unit}." if limit else ""
    after = "An approver will post it." if approval else "It is posted as soon as you send it."
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "text", "multiline": True}
    if initial:
        element["initial_value"] = initial[:INPUT_LIMIT]
    return {
        "type": "modal",
        "callback_id": REPLY_VIEW,
        "private_metadata": meta,
        "title": plain_obj(f"Reply on {thread.short_id}", 24),
        "submit": plain_obj("Send for approval" if approval else "Reply publicly", 24),
        "close": plain_obj("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": plain_obj(
                    f"Replying publicly on {network} to @{mention.author.handle}:", 300
                ),
            },
            {"type": "context", "elements": [plain_obj(" ".join(mention.text.split()), 600)]},
            {
                "type": "input",
                "block_id": "reply",
                "label": plain_obj("Your public reply", 100),
                "element": element,
                "hint": plain_obj(f"{allowed} Everyone can see it. {after}".strip(), 300),
            },
            *(again_blocks(warning) if warning else []),
        ],
    }


async def open_reply(
    inbound: SlackInbound,
    *,
    trigger_id: str,
    thread_id: str,
    user: str,
    channel: str = "",
    thread_ts: str = "",
    draft: str = "",
) -> None:
    """Open the composer, or say privately why this person cannot reply here."""
    try:
        thread = await inbound.desk.thread(thread_id)
        await reply_refusal(inbound, thread, user, PROBE)
        meta = json.dumps({"t": thread.id, "c": channel, "ts": thread_ts})
        view = await reply_view(inbound, thread, draft, meta)
    except SwitchboardError as exc:
        await inbound.tell(user, exc.user_text(), channel=channel, thread_ts=thread_ts)
        return
    await inbound.api.call("views.open", trigger_id=trigger_id, view=view)


def transfer_view(inbound: SlackInbound, thread: Thread, meta: str) -> dict[str, Any]:
    options = []
    for dept in inbound.desk.departments():
        if dept.name == thread.department:
            continue
        where = f" · {dept.slack_channel}" if dept.slack_channel.startswith("#") else ""
        label = fit(f"{dept.label}{where}", OPTION_TEXT)[0]
        options.append({"text": text_obj(label, "plain_text"), "value": dept.name})
    here = inbound.desk.department(thread.department).label
    return {
        "type": "modal",
        "callback_id": TRANSFER_VIEW,
        "private_metadata": meta,
        "title": plain_obj(f"Transfer {thread.short_id}", 24),
        "submit": plain_obj("Transfer", 24),
        "close": plain_obj("Cancel", 24),
        "blocks": [
            {"type": "section", "text": plain_obj(f"Now in {here}. Move it to:", 300)},
            {
                "type": "input",
                "block_id": "department",
                "label": plain_obj("Department", 50),
                "element": {
                    "type": "static_select",
                    "action_id": "department",
                    "placeholder": plain_obj("Choose a department", 150),
                    "options": options[:100],
                },
            },
            {
                "type": "input",
                "block_id": "person",
                "optional": True,
                "label": plain_obj("To a person there (optional)", 50),
                "element": {"type": "users_select", "action_id": "person"},
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain_obj("Note for them (optional)", 50),
                "element": {"type": "plain_text_input", "action_id": "note", "multiline": True},
            },
        ],
    }


async def open_transfer(
    inbound: SlackInbound, *, trigger_id: str, thread_id: str, user: str, channel: str = ""
) -> None:
    try:
        thread = await inbound.desk.thread(thread_id)
    except SwitchboardError as exc:
        await inbound.tell(user, exc.user_text(), channel=channel)
        return
    meta = json.dumps({"t": thread.id, "c": channel})
    await inbound.api.call(
        "views.open", trigger_id=trigger_id, view=transfer_view(inbound, thread, meta)
    )


def _values(view: dict[str, Any]) -> dict[str, Any]:
    return dict((view.get("state") or {}).get("values") or {})


def _meta(view: dict[str, Any]) -> dict[str, str]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def reply_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        values = _values(view)
        text = str(((values.get("reply") or {}).get("text") or {}).get("value") or "")
        ticked = ((values.get(AGAIN) or {}).get(AGAIN) or {}).get("selected_options") or []
        again = any(isinstance(o, dict) and o.get("value") == AGAIN for o in ticked)
        user = str(body["user"]["id"])
        try:
            thread = await inbound.desk.thread(meta.get("t") or None)
            await reply_refusal(inbound, thread, user, text)
        except SwitchboardError as exc:
            await ack(response_action="errors", errors={"reply": exc.user_text()[:300]})
            return
        sent = None if again else await inbound.desk.earlier_reply(thread.id, text)
        if sent is not None:
            warning = sent.refusal(inbound.desk.clock()).user_text()
            raw_meta = str(view.get("private_metadata") or "")
            warned = await reply_view(inbound, thread, text, raw_meta, warning)
            await ack(response_action="update", view=warned)
            return
        await ack()
        key = f"slack:view:{view['id']}"
        work = drafts.submit(
            inbound,
            thread_id=thread.id,
            actor=await inbound.actor(user),
            text=text,
            key=again_key(key) if again else key,
            channel=meta.get("c", ""),
            thread_ts=meta.get("ts", ""),
        )
        inbound.spawn(work, "reply")

    async def transfer_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        values, meta = _values(view), _meta(view)
        picked = ((values.get("department") or {}).get("department") or {}).get("selected_option")
        person = ((values.get("person") or {}).get("person") or {}).get("selected_user")
        note = ((values.get("note") or {}).get("note") or {}).get("value") or ""
        user = str(body["user"]["id"])

        async def work() -> None:
            actor = await inbound.actor(user)
            interaction = Interaction(
                inbound.surface.name,
                actor,
                Verb.TRANSFER,
                thread_ref=meta.get("t") or None,
                department=str((picked or {}).get("value") or "") or None,
                text=str(note),
                to_person=await inbound.person(str(person)) if person else None,
            )
            await inbound.run(interaction, channel=meta.get("c", ""))

        inbound.spawn(work(), "transfer")

    async def public_reply(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        user = str(body["user"]["id"])
        parent = str(message.get("thread_ts") or message.get("ts") or "")

        async def work() -> None:
            thread_id = await inbound.thread_at(channel, parent, context.bot_id or "")
            if thread_id is None:
                text = "Use “Send as public reply” on a message in a switchboard card's thread."
                await inbound.tell(user, text, channel=channel)
                return
            await open_reply(
                inbound,
                trigger_id=str(body["trigger_id"]),
                thread_id=thread_id,
                user=user,
                channel=channel,
                thread_ts=parent,
                draft=to_plain(str(message.get("text") or ""))[:INPUT_LIMIT],
            )

        inbound.spawn(work(), "public reply shortcut")

    async def directory(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()

        async def work() -> None:
            actor = await inbound.actor(str(body["user"]["id"]))
            response = await inbound.desk.handle(
                Interaction(inbound.surface.name, actor, Verb.DIRECTORY)
            )
            view = {
                "type": "modal",
                "title": plain_obj("Switchboard directory", 24),
                "close": plain_obj("Close", 24),
                "blocks": [{"type": "section", "text": text_obj(code_block(response.text))}],
            }
            try:
                await inbound.api.call("views.open", trigger_id=str(body["trigger_id"]), view=view)
            except SlackCallError as exc:
                log.warning("could not open the directory: %s", exc)

        inbound.spawn(work(), "directory")

    bolt.view_submission(REPLY_VIEW)(reply_submitted)
    bolt.view_submission(TRANSFER_VIEW)(transfer_submitted)
    bolt.message_shortcut(PUBLIC_REPLY_SHORTCUT)(public_reply)
    bolt.global_shortcut(DIRECTORY_SHORTCUT)(directory)
