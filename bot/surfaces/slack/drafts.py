"""Public replies from Slack, by the department's reply policy.

``open`` / ``members``: the composer's text is posted at once (exactly once per key).
``approval``: the reply verb makes it a draft, shown here to the approvers in the card's
thread with Approve / Reject; approving posts it. A reply typed as ``@switchboard reply …``
becomes a draft its author confirms with a button; if the thread already got that text in
the last ten minutes, the author is told so and offered "Send it again". The rules live in
``bot.drafts``; this module only shows drafts and turns their buttons into verbs.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import Verb
from bot.domain import Draft, Person
from bot.errors import AlreadySent, SwitchboardError
from bot.intent import again_key
from bot.interaction import Interaction, Response
from bot.surfaces.slack.blocks import text_obj
from bot.surfaces.slack.escape import SECTION_TEXT, fit, group_mention, link, mrkdwn, plain
from bot.surfaces.slack.inbound import SlackInbound
from bot.surfaces.slack.webapi import SlackCallError

log = logging.getLogger(__name__)
APPROVE = "sb_approve"
REJECT = "sb_reject"
SEND = "sb_send_draft"
SEND_AGAIN = "sb_send_draft_again"
CANCEL = "sb_cancel_draft"
DRAFT_ACTIONS = (APPROVE, REJECT, SEND, SEND_AGAIN, CANCEL)
VERBS = {
    APPROVE: Verb.APPROVE,
    REJECT: Verb.REJECT,
    SEND: Verb.SEND_DRAFT,
    SEND_AGAIN: Verb.SEND_DRAFT,
    CANCEL: Verb.REJECT,
}


def draft_blocks(draft: Draft, heading: str, buttons: list[tuple[str, str, str]]) -> list[Any]:
    shown = fit(draft.text, SECTION_TEXT)[0]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": text_obj(heading)},
        {"type": "section", "text": text_obj(shown, "plain_text")},
    ]
    if buttons:
        elements = []
        for action_id, label, style in buttons:
            button = {
                "type": "button",
                "action_id": action_id,
                "text": text_obj(label, "plain_text"),
                "value": draft.id,
            }
            if style:
                button["style"] = style
            elements.append(button)
        blocks.append({"type": "actions", "elements": elements})
    return blocks


async def submit(
    inbound: SlackInbound,
    *,
    thread_id: str,
    actor: Person,
    text: str,
    key: str,
    channel: str = "",
    thread_ts: str = "",
) -> Response:
    """The composer was submitted: posted now, or (``approval``) sent to the approvers."""
    thread = await inbound.desk.thread(thread_id)
    interaction = Interaction(
        inbound.surface.name,
        actor,
        Verb.REPLY,
        thread_ref=thread.id,
        text=text,
        key=key,
        is_member=await inbound.member_flag(actor.id, thread.department),
    )
    response = await inbound.run(interaction, channel=channel, thread_ts=thread_ts)
    if response.ok and response.draft is not None:
        return await show(inbound, response, channel, thread_ts)
    return response


async def show(inbound: SlackInbound, response: Response, channel: str, thread_ts: str) -> Response:
    """Show a draft the verbs just recorded: to the approvers, or to its author to confirm."""
    draft = response.draft
    assert draft is not None
    if not draft.needs_approval:
        await offer_confirm(inbound, draft, channel, thread_ts)
        return response
    try:
        await post_for_approval(inbound, draft)
    except SwitchboardError as exc:
        await inbound.tell(draft.author.id, exc.user_text(), channel=channel, thread_ts=thread_ts)
        return Response(exc.user_text(), ok=False)
    await inbound.tell(draft.author.id, response.text, channel=channel, thread_ts=thread_ts)
    return response


async def post_for_approval(inbound: SlackInbound, draft: Draft) -> None:
    """Show the draft to the approvers: in the card's thread, else the department channel."""
    dept = inbound.desk.department(draft.thread.department)
    group = group_mention(dept.slack_usergroup)
    who = mrkdwn(draft.author.label)
    heading = (
        f"{group + ' ' if group else ''}*Public reply for approval* on {draft.thread.short_id}, "
        f"drafted by {who}. Approving posts it publicly."
    )
    message: dict[str, Any] = {
        "text": fit(f"Draft reply by {draft.author.label} on {draft.thread.short_id}", 300, mrkdwn)[
            0
        ],
        "blocks": draft_blocks(
            draft, heading, [(APPROVE, "Approve and post", "primary"), (REJECT, "Reject", "danger")]
        ),
    }
    ref = await inbound.current_card(draft.thread.id)
    if ref is not None:
        await inbound.api.post(ref.channel, thread_ts=ref.message_id, **message)
        return
    channel = inbound.surface.channel_for(dept.name)
    if not channel:
        raise SwitchboardError(f"{dept.label} has no Slack channel for approvals.")
    await inbound.api.post(await inbound.surface.resolve_channel(channel), **message)


async def offer_confirm(
    inbound: SlackInbound, draft: Draft, channel: str, thread_ts: str, warning: str = ""
) -> None:
    """Ask the author, privately, to confirm a reply typed as a chat command; with
    ``warning`` (the thread already got this text) offer to send it again."""
    heading = (
        f"Send this public reply on {draft.thread.short_id}? Everyone on "
        f"{mrkdwn(draft.thread.network)} will see it."
    )
    send = (SEND, "Send publicly", "primary")
    if warning:
        heading = f"{mrkdwn(warning)} Send it again anyway?"
        send = (SEND_AGAIN, "Send it again", "primary")
    blocks = draft_blocks(draft, heading, [send, (CANCEL, "Cancel", "")])
    params: dict[str, Any] = {
        "channel": channel,
        "user": draft.author.id,
        "text": fit(f"Confirm your public reply on {draft.thread.short_id}", 300, plain)[0],
        "blocks": blocks,
    }
    if thread_ts:
        params["thread_ts"] = thread_ts
    await inbound.api.call("chat.postEphemeral", **params)


async def _decided(inbound: SlackInbound, body: dict[str, Any], draft: Draft, line: str) -> None:
    channel = (body.get("channel") or {}).get("id") or ""
    ts = (body.get("container") or {}).get("message_ts") or ""
    if not channel or not ts or (body.get("container") or {}).get("is_ephemeral"):
        return
    message = {"text": line, "blocks": draft_blocks(draft, line, [])}
    try:
        await inbound.api.call("chat.update", channel=channel, ts=ts, **message)
    except SlackCallError as exc:
        log.warning("could not update the approval message %s: %s", ts, exc)


async def on_draft_action(inbound: SlackInbound, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    action_id = str(action.get("action_id", ""))
    draft_id = str(action.get("value", ""))
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id") or "")
    thread_ts = str((body.get("container") or {}).get("thread_ts") or "")
    actor = await inbound.actor(user)
    try:
        draft = await inbound.desk.draft(draft_id)
        is_member = await inbound.surface.is_member(user, draft.thread.department)
    except SwitchboardError as exc:
        await inbound.tell(user, exc.user_text(), channel=channel, thread_ts=thread_ts)
        return
    interaction = Interaction(
        inbound.surface.name,
        actor,
        VERBS.get(action_id, Verb.REJECT),
        thread_ref=draft.thread.id,
        draft_id=draft.id,
        is_member=is_member,
        key=again_key(f"slack:{draft.id}") if action_id == SEND_AGAIN else "",
    )
    response = await inbound.desk.handle(interaction)
    if not response.ok and action_id == SEND and AlreadySent.said_in(response.text):
        await offer_confirm(inbound, draft, channel, thread_ts, warning=response.text)
        return
    if response.ok and action_id == APPROVE:
        sent = response.reply
        where = f": {link(sent.url)}" if sent and sent.url else "."
        line = f"Approved by {mrkdwn(actor.label)} and posted publicly{where}"
        await _decided(inbound, body, draft, line)
    elif response.ok and action_id == REJECT:
        await _decided(inbound, body, draft, f"Rejected by {mrkdwn(actor.label)}; not posted.")
    if not response.ok or action_id in (SEND, SEND_AGAIN, CANCEL):
        await inbound.tell(user, response.text, channel=channel, thread_ts=thread_ts)


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def draft_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        inbound.spawn(on_draft_action(inbound, body), "draft decision")

    for action_id in DRAFT_ACTIONS:
        bolt.action(action_id)(draft_button)
