"""The card renderer: thread + mentions + history -> a platform-neutral ``Card``.

Strings taken from the public stay raw here; each surface escapes them for its markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.actions import Action, Verb
from bot.config import Department
from bot.domain import AuditEvent, EventKind, Mention, Thread, ThreadState
from bot.ports import Card, CardAction, ReplyLimit
from bot.settings.policy import SlaPolicy
from bot.sla.alert import alert
from bot.sla.badge import Policies, badge


def age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} days ago"


def _minutes(seconds: object) -> str:
    rounded = round(float(seconds or 0) / 60) if isinstance(seconds, int | float) else 0
    return f"{rounded} min" if rounded > 0 else "less than a minute"


def _late(data: dict[str, object]) -> str:
    late = data.get("late")
    return f" (late by {_minutes(late)})" if isinstance(late, int | float) and late else ""


def _unmet(data: dict[str, object]) -> str:
    first = data.get("clock") == "first_response"
    return "no public reply to this" if first else "nobody has claimed this"


def history_line(event: AuditEvent, departments: dict[str, Department]) -> str | None:
    who = event.actor.label if event.actor else "switchboard"
    data = event.data

    def title(name: object) -> str:
        dept = departments.get(str(name))
        return dept.label if dept else str(name)

    match event.kind:
        case EventKind.CLAIMED:
            return f"Claimed by {who}"
        case EventKind.RELEASED:
            return f"Released by {who}"
        case EventKind.TAKEN_OVER:
            return f"Taken over by {who}"
        case EventKind.TRANSFERRED:
            note = f" — {data['note']}" if data.get("note") else ""
            return f"Transferred to {title(data.get('to'))} by {who}{note}"
        case EventKind.SENT_BACK:
            note = f" — {data['note']}" if data.get("note") else ""
            return f"Sent back by {who}{note}"
        case EventKind.REPLIED:
            link = f" {data['url']}" if data.get("url") else ""
            return f"Replied publicly by {who}: {data.get('text', '')}{link}"
        case EventKind.REPLY_FAILED:
            return f"Reply by {who} failed: {data.get('error', '')}"
        case EventKind.NOTE:
            return f"Note from {who}: {data.get('text', '')}"
        case EventKind.DRAFT_APPROVED:
            return f"Draft reply by {data.get('author', '')} approved by {who}"
        case EventKind.DRAFT_REJECTED:
            if data.get("author") == who:
                return f"Draft reply withdrawn by {who}"
            return f"Draft reply by {data.get('author', '')} rejected by {who}"
        case EventKind.RESOLVED:
            return f"Resolved by {who}"
        case EventKind.SPAM:
            return f"Marked as spam by {who}"
        case EventKind.REOPENED:
            return "Reopened by a follow-up from the author"
        case EventKind.ATTACHED:
            return "Follow-up received"
        case EventKind.SLA_REMINDER:
            waited, left = _minutes(data.get("waited")), _minutes(data.get("left"))
            return f"Reminder: {_unmet(data)} for {waited} (due in {left}){_late(data)}"
        case EventKind.SLA_BREACHED:
            target = _minutes(data.get("target"))
            return alert(f"SLA breached: {_unmet(data)} within {target}{_late(data)}", data)
        case EventKind.SLA_ROLLOVER_REFUSED:
            return alert(
                f"Not rolled over to {title(data.get('to'))}: it came from there; "
                f"please pick it up here{_late(data)}",
                data,
            )
    return None


def policies_of(departments: dict[str, Department]) -> Policies:
    """The service level of each configured department, by name."""

    def policy(name: str) -> SlaPolicy | None:
        dept = departments.get(name)
        return dept.sla_policy if dept else None

    return policy


def actions_for(thread: Thread, read_only: bool) -> tuple[CardAction, ...]:
    if thread.state is ThreadState.RESOLVED:
        return ()

    def act(label: str, verb: Verb, style: str = "") -> CardAction:
        return CardAction(label, Action(verb, thread.id).encode(), style)

    first = act("Release", Verb.RELEASE) if thread.owner else act("Claim", Verb.CLAIM, "primary")
    buttons = [first]
    if not read_only:
        buttons.append(act("Reply", Verb.REPLY))
    buttons += [act("Transfer", Verb.TRANSFER), act("Resolve", Verb.RESOLVE)]
    if thread.owner:
        buttons.append(act("Take over", Verb.TAKE_OVER))
    if thread.transfers:
        buttons.append(act("Send back", Verb.SEND_BACK))
    buttons.append(act("Mark as spam", Verb.SPAM, "danger"))
    return tuple(buttons)


def render_card(
    thread: Thread,
    mentions: Sequence[Mention],
    events: Sequence[AuditEvent],
    departments: dict[str, Department],
    now: datetime,
    reply_limit: ReplyLimit | None,
    *,
    placement: int | None = None,
) -> Card:
    """The card for ``thread``. For an earlier ``placement`` (the thread moved on) the card
    carries a banner saying where it went and offers no actions."""
    first = mentions[0]
    dept = departments.get(thread.department)
    banner = ""
    if placement is not None and placement < thread.placement:
        move = thread.transfers[placement]
        where = departments.get(move.to_department)
        label = where.label if where else move.to_department
        person = f" ({move.to_person.label})" if move.to_person else ""
        note = f" — {move.note}" if move.note else ""
        verb = "Sent back" if move.send_back else "Transferred"
        banner = f"{verb} to {label}{person} by {move.by.label}{note}"
    lines = [line for e in events if (line := history_line(e, departments))]
    read_only = reply_limit is None
    clock = None if banner else badge(thread, events, policies_of(departments), now)
    return Card(
        thread_id=thread.id,
        short_id=thread.short_id,
        network=thread.network,
        source=thread.source,
        author_name=first.author.display_name,
        author_handle=first.author.handle,
        author_url=first.author.profile_url,
        text=first.text,
        permalink=mentions[-1].permalink or first.permalink,
        age=age(first.created_at, now),
        state=thread.state.value,
        owner=thread.owner.label if thread.owner else "",
        department=thread.department,
        department_title=dept.label if dept else thread.department,
        history=tuple(lines),
        actions=() if banner else actions_for(thread, read_only),
        banner=banner,
        read_only=read_only,
        follow_ups=tuple(f"{m.author.handle}: {m.text}" for m in mentions[1:]),
        reply_limit=reply_limit.limit if reply_limit else None,
        placement=thread.placement if placement is None else placement,
        badge=clock.card_text() if clock else "",
        badge_level=clock.level.value if clock else "",
    )
