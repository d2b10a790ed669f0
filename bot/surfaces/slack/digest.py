"""Storm digests and notices as Block Kit: ``bot.storm.ports.Digest`` -> a Slack message.

A digest is a header section, then one section per ``GROUP`` lines, each with a static select
of its threads (``action_id`` ``sb_claim``, the option ``value`` the encoded claim action): a
pick goes through the card buttons' path (``buttons.py``) like the Claim button. A line whose
thread has its own card says so and leaves the select. Every public string is escaped like
on cards (``escape.mrkdwn`` / ``escape.plain``); the original is linked with our own label.

Limits held by construction: at most 1 + ceil(50 / ``GROUP``) blocks; a line is at most
``LINE`` characters, so a section stays far below 3,000 and a whole digest below the roughly
13,000 characters Slack takes in one message's blocks (``msg_blocks_too_long``); option text
at most ``OPTION`` characters and its value well under 150.
"""

from __future__ import annotations

from typing import Any

from bot.actions import Action, Verb
from bot.cards import age
from bot.storm.ports import Digest, DigestLine, StormNotice
from bot.surfaces.slack.blocks import ACTION_PREFIX, NETWORKS, Block, text_obj
from bot.surfaces.slack.escape import fit, link, mrkdwn, plain, safe_url

DIGEST_EVENT = "switchboard_digest"
CLAIM_ACTION = f"{ACTION_PREFIX}{Verb.CLAIM.value}"
GROUP = 10
LINE = 190
HANDLE = 32
TEXT = 72
OPTION = 40
LINK_URL = 120
"""A longer URL is not linked from a line (the thread's card links it)."""
CARDED = "→ card"


def network_name(network: str) -> str:
    return NETWORKS.get(network) or fit(network, 16, mrkdwn)[0]


def line_text(line: DigestLine, digest: Digest) -> str:
    """One thread, escaped: `T-n` network · handle — start of the text · link · age."""
    who = " ".join(line.author_handle.split())
    handle = fit(who, HANDLE, mrkdwn)[0] if who else "?"
    words = " ".join(line.text.split())
    url = safe_url(line.permalink)
    shown = f" · {link(url, 'open the original')}" if url and len(url) <= LINK_URL else ""
    tail = f"{shown} · {age(line.arrived, digest.now)}"
    if line.carded:
        tail += f" · *{CARDED}*"
    head = f"`{line.short_id}` {network_name(line.network)} · {handle} — "
    room = max(8, min(TEXT, LINE - len(head) - len(tail)))
    text = fit(words, room, mrkdwn)[0] if words else "(no text)"
    whole = head + text + tail
    return whole if len(whole) <= LINE else fit(line.short_id + " " + words, LINE, mrkdwn)[0]


def claim_option(line: DigestLine) -> dict[str, Any]:
    who = " ".join(line.author_handle.split())
    label = fit(f"{line.short_id} · {who}", OPTION, plain)[0]
    return {
        "text": text_obj(label, "plain_text"),
        "value": Action(Verb.CLAIM, line.thread_id).encode(),
    }


def group_block(lines: list[DigestLine], digest: Digest) -> Block:
    block: Block = {
        "type": "section",
        "text": text_obj("\n".join(line_text(line, digest) for line in lines)),
    }
    open_lines = [line for line in lines if not line.carded]
    if open_lines:
        block["accessory"] = {
            "type": "static_select",
            "action_id": CLAIM_ACTION,
            "placeholder": text_obj("Claim…", "plain_text"),
            "options": [claim_option(line) for line in open_lines],
        }
    return block


def digest_blocks(digest: Digest) -> list[Block]:
    title = fit(digest.department_title, 80, mrkdwn)[0]
    count = len(digest.lines)
    state = "full" if digest.full else f"{count} of {digest.capacity}"
    header = (
        f"*Storm digest {digest.number + 1} · {title}* — {count} new threads ({state}). "
        "Pick one under *Claim…* to take it; a thread someone acts on gets its own card."
    )
    blocks: list[Block] = [{"type": "section", "text": text_obj(header)}]
    lines = list(digest.lines)
    for start in range(0, len(lines), GROUP):
        blocks.append(group_block(lines[start : start + GROUP], digest))
    return blocks


def digest_message(digest: Digest, *, with_metadata: bool = True) -> dict[str, Any]:
    """``{"text", "blocks"[, "metadata"]}`` for ``chat.postMessage`` / ``chat.update``."""
    title = plain(digest.department_title)[:80]
    message: dict[str, Any] = {
        "text": f"Storm digest {digest.number + 1} · {title}: {len(digest.lines)} new threads",
        "blocks": digest_blocks(digest),
    }
    if with_metadata:
        message["metadata"] = {"event_type": DIGEST_EVENT, "event_payload": {"key": digest.key}}
    return message


def notice_text(notice: StormNotice) -> str:
    """The storm's start or end, in mrkdwn (handles escaped)."""
    title = fit(notice.department_title, 80, mrkdwn)[0]
    span = f"{notice.minutes} minute{'s' if notice.minutes != 1 else ''}"
    if not notice.ended:
        return (
            f":rotating_light: *Storm in {title}*: {notice.mentions} new mentions in {span} — "
            "showing digests instead of one card each. Claim from a digest or `/claim T-n`."
        )
    networks = ", ".join(f"{network_name(n)} {c}" for n, c in notice.networks.items()) or "none"
    authors = ", ".join(
        f"{fit(handle, HANDLE, mrkdwn)[0]} ({count})" for handle, count in notice.top_authors
    )
    text = (
        f"*Storm in {title} is over*: {notice.mentions} threads in digests over {span} "
        f"({networks}); {notice.waiting} still waiting for someone to act."
    )
    return text + (f" Most active authors: {authors}." if authors else "")
