"""SlackSurface against the fake Slack Web API: exactly-once cards, 429s, pacing, people."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.config import Department, SlackSettings
from bot.domain import CardRef
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackCallError, SlackWebApi
from tests.clock import FakeTime

from .fake_slack import FakeSlack
from .hostile import HOSTILE, assert_inert
from .test_blocks import make_card

DEPARTMENTS = (
    Department(name="billing", title="Billing", slack_channel="C0BILLING"),
    Department(
        name="support", title="Support", slack_channel="#support", slack_usergroup="S0SUPPORT"
    ),
    Department(name="press", title="PR"),
)


@pytest.fixture
def workspace(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user("U0ALICE", "alice", display_name="Alice A.")
    fake_slack.add_user("U0BOB", "bob", real_name="Bob B.", display_name="")
    fake_slack.add_user("U0GUEST", "gus", is_restricted=True)
    fake_slack.add_user("U0SINGLE", "sam", is_ultra_restricted=True)
    fake_slack.add_channel("C0BILLING", "billing", members=["U0ALICE", "U0BOT"])
    fake_slack.add_channel("C0SUPPORT", "support", members=["U0BOB", "U0BOT"])
    fake_slack.add_usergroup("S0SUPPORT", "support-team", ["U0ALICE"])
    return fake_slack


def surface_for(fake: FakeSlack, pace: float = 0.05, time: FakeTime | None = None) -> SlackSurface:
    """The surface on the fake; with ``time``, its pacing and retries wait on virtual time."""
    settings = SlackSettings.model_validate(fake.settings())
    if time is None:
        return SlackSurface(settings, DEPARTMENTS, per_channel_interval=pace)
    api = SlackWebApi(
        settings.bot_token,
        settings.api_url,
        per_channel_interval=pace,
        clock=time.monotonic,
        sleep=time.leap,
    )
    return SlackSurface(settings, DEPARTMENTS, api=api)


async def test_card_is_posted_once_per_key(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    assert surface.channel_for("billing") == "C0BILLING"
    assert surface.channel_for("press") is None and surface.channel_for("nope") is None
    ref = await surface.post_card("C0BILLING", make_card(), "th-1:0:slack")
    again = await surface.post_card("C0BILLING", make_card(), "th-1:0:slack")
    assert ref == again
    (posted,) = workspace.messages_in("C0BILLING")
    assert ref == CardRef(
        surface="slack",
        channel="C0BILLING",
        message_id=posted["ts"],
        department="billing",
        placement=0,
    )
    assert posted["metadata"]["event_payload"]["key"] == "th-1:0:slack"
    (call,) = workspace.calls("chat.postMessage")
    assert call.headers["Authorization"] == f"Bearer {workspace.token}"
    assert call.params["unfurl_links"] is False and call.params["unfurl_media"] is False


async def test_a_restarted_process_finds_the_card_in_history(workspace: FakeSlack) -> None:
    first = await surface_for(workspace).post_card("C0BILLING", make_card(), "th-1:0:slack")
    workspace.add_message("C0BILLING", "people talking in between")
    restarted = surface_for(workspace)
    again = await restarted.find_card("C0BILLING", make_card(), "th-1:0:slack")
    assert again is not None and again.message_id == first.message_id
    assert len(workspace.calls("chat.postMessage")) == 1
    (history,) = workspace.calls("conversations.history")
    assert history.params["include_all_metadata"] in (True, "true", "1")


async def test_posting_never_reads_the_history(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    for n in range(5):
        await surface.post_card("C0BILLING", make_card(), f"th-{n}:0:slack")
    assert len(workspace.calls("chat.postMessage")) == 5
    assert workspace.calls("conversations.history") == []


async def test_key_already_in_history_is_found_and_the_next_scan_starts_there(
    workspace: FakeSlack,
) -> None:
    earlier = workspace.add_message(
        "C0BILLING",
        "T-1042 card from before the crash",
        bot_id=workspace.bot_id,
        metadata={"event_type": "switchboard_card", "event_payload": {"key": "th-9:0:slack"}},
    )
    surface = surface_for(workspace)
    ref = await surface.find_card("C0BILLING", make_card(), "th-9:0:slack")
    assert ref is not None and ref.message_id == earlier["ts"]
    assert await surface.find_card("C0BILLING", make_card(), "th-10:0:slack") is None
    assert workspace.calls("chat.postMessage") == []
    (second_scan,) = workspace.calls("conversations.history")[1:]
    assert float(second_scan.params["oldest"]) >= float(earlier["ts"])


async def test_an_activity_line_is_found_in_the_cards_thread(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    ref = await surface.post_card("C0BILLING", make_card(), "th-1:0:slack")
    await surface.notify(ref, "Claimed by alice", "ev-1:slack")
    restarted = surface_for(workspace)
    assert await restarted.find_line(ref, "ev-1:slack")
    assert not await restarted.find_line(ref, "ev-2:slack")
    assert len(workspace.calls("conversations.replies")) == 2


async def test_channel_names_resolve_and_the_bot_joins_when_needed(workspace: FakeSlack) -> None:
    workspace.channels["C0SUPPORT"]["is_member"] = False
    surface = surface_for(workspace)
    ref = await surface.post_card("#support", make_card(department="support"), "k1")
    assert ref.channel == "C0SUPPORT"
    assert [c.method for c in workspace.calls() if c.method.startswith("conv")] == [
        "conversations.list",
        "conversations.join",
    ]
    assert len(workspace.messages_in("C0SUPPORT")) == 1
    with pytest.raises(SlackCallError, match="no channel #nowhere"):
        await surface.post_card("#nowhere", make_card(), "k2")


async def test_update_and_activity_line(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    ref = await surface.post_card("C0BILLING", make_card(), "th-1:0:slack")
    await surface.update_card(ref, make_card(state="resolved", actions=()))
    message = workspace.message("C0BILLING", ref.message_id)
    assert "Resolved" in str(message["blocks"]) and message["metadata"]["event_payload"]["key"]
    await surface.notify(ref, "Claimed by alice: <!channel> *now*", "ev-1:slack")
    await surface.notify(ref, "Claimed by alice: <!channel> *now*", "ev-1:slack")
    (line,) = workspace.thread("C0BILLING", ref.message_id)
    assert line["text"] == "Claimed by alice: &lt;!channel&gt; ∗now∗"


async def test_update_of_a_deleted_card_is_logged_not_raised(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    ref = await surface.post_card("C0BILLING", make_card(), "k")
    workspace.fail("chat.update", "message_not_found")
    await surface.update_card(ref, make_card())
    workspace.fail("chat.update", "invalid_blocks")
    with pytest.raises(SlackCallError, match="invalid_blocks"):
        await surface.update_card(ref, make_card())


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_text_on_the_wire_pings_nobody(workspace: FakeSlack, hostile: str) -> None:
    surface = surface_for(workspace)
    card = make_card(
        text=hostile, author_name=hostile, author_handle=hostile, permalink=hostile, owner=hostile
    )
    ref = await surface.post_card("C0BILLING", card, "k")
    await surface.update_card(ref, card)
    await surface.notify(ref, f"Note from alice: {hostile}", "ev")
    await surface.ephemeral("C0BILLING", "U0ALICE", f"Unknown department '{hostile}'.")
    sent = [c.params for c in workspace.calls() if c.method.startswith("chat.")]
    assert len(sent) == 4
    assert_inert(sent)


async def test_rate_limited_post_is_retried_after_retry_after(workspace: FakeSlack) -> None:
    workspace.rate_limit("chat.postMessage", times=1, retry_after=1)
    time = FakeTime()
    surface = surface_for(workspace, time=time)
    await surface.post_card("C0BILLING", make_card(), "k")
    assert len(workspace.calls("chat.postMessage")) == 2
    assert time.seconds >= 1.0 and 1.0 in time.slept
    assert len(workspace.messages_in("C0BILLING")) == 1


async def test_rate_limited_update_and_notify_still_arrive(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    ref = await surface.post_card("C0BILLING", make_card(), "k")
    workspace.rate_limit("chat.update", times=2, retry_after=0)
    await surface.update_card(ref, make_card(state="resolved"))
    assert len(workspace.calls("chat.update")) == 3
    assert "Resolved" in str(workspace.message("C0BILLING", ref.message_id)["blocks"])


async def test_posts_to_one_channel_are_paced_without_holding_up_another(
    workspace: FakeSlack,
) -> None:
    time = FakeTime()
    surface = surface_for(workspace, pace=1.0, time=time)
    billing = [
        surface.post_card("C0BILLING", make_card(short_id=f"T-{n}"), f"b{n}") for n in range(5)
    ]
    support = surface.post_card("C0SUPPORT", make_card(department="support"), "s0")
    await asyncio.gather(*billing, support)
    posts = workspace.calls("chat.postMessage")
    channels = [c.params["channel"] for c in posts]
    assert channels.count("C0BILLING") == 5 and channels.index("C0SUPPORT") <= 1, channels
    assert time.seconds >= 4.0, "five posts to one channel need four one-second gaps"
    assert sum(time.slept) <= 4.0 + 1e-6, time.slept
    shown = [m["text"].split(" · ")[0] for m in workspace.messages_in("C0BILLING")]
    assert sorted(shown) == [f"T-{n}" for n in range(5)]


async def test_user_info_marks_guests_and_is_cached(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    alice = await surface.user_info("U0ALICE")
    assert (alice.surface, alice.id, alice.name, alice.is_guest) == (
        "slack",
        "U0ALICE",
        "Alice A.",
        False,
    )
    assert (await surface.user_info("U0BOB")).name == "Bob B."
    assert (await surface.user_info("U0GUEST")).is_guest
    assert (await surface.user_info("U0SINGLE")).is_guest
    await surface.user_info("U0ALICE")
    assert len(workspace.calls("users.info")) == 4
    with pytest.raises(SlackCallError, match="user_not_found"):
        await surface.user_info("U0NOBODY")


async def test_membership_by_user_group_else_channel(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    assert await surface.is_member("U0ALICE", "support")
    assert not await surface.is_member("U0BOB", "support")
    assert await surface.is_member("U0ALICE", "billing")
    assert not await surface.is_member("U0BOB", "billing")
    assert not await surface.is_member("U0ALICE", "press")
    assert not await surface.is_member("U0ALICE", "unknown")
    await surface.is_member("U0BOB", "billing")
    assert len(workspace.calls("conversations.members")) == 1
    assert len(workspace.calls("usergroups.users.list")) == 1


async def test_ephemeral_goes_to_one_person(workspace: FakeSlack) -> None:
    surface = surface_for(workspace)
    await surface.ephemeral("C0BILLING", "U0ALICE", "T-1 is already claimed by <@U0BOB>")
    (sent,) = workspace.ephemerals
    assert sent["user"] == "U0ALICE"
    assert sent["text"] == "T-1 is already claimed by &lt;@U0BOB&gt;"
    with pytest.raises(SlackCallError, match="user_not_in_channel"):
        await surface.ephemeral("C0SUPPORT", "U0ALICE", "hi")


async def test_bad_token_is_a_clear_error(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0BILLING", "billing")
    settings = SlackSettings(bot_token="xoxb-wrong", signing_secret="s", api_url=fake_slack.api_url)
    surface = SlackSurface(settings, DEPARTMENTS)
    with pytest.raises(SlackCallError, match="invalid_auth"):
        await surface.post_card("C0BILLING", make_card(), "k")
    assert not fake_slack.messages_in("C0BILLING")


async def test_the_fake_speaks_slacks_wire_format(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0BILLING", "billing")
    url = fake_slack.api_url
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]'
    async with aiohttp.ClientSession() as http:
        form = {"token": fake_slack.token, "channel": "C0BILLING", "text": "hi", "blocks": blocks}
        async with http.post(url + "chat.postMessage", data=form) as resp:
            posted = await resp.json()
        assert posted["ok"] and posted["channel"] == "C0BILLING" and posted["ts"]
        assert fake_slack.calls("chat.postMessage")[0].obj("blocks")[0]["type"] == "section"
        async with http.post(url + "auth.test") as resp:
            assert await resp.json() == {"ok": False, "error": "not_authed"}
        bearer = {"Authorization": f"Bearer {fake_slack.token}"}
        bad = {
            "channel": "C0BILLING",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        }
        async with http.post(url + "chat.postMessage", json=bad, headers=bearer) as resp:
            refused = await resp.json()
        assert resp.status == 200 and refused["error"] == "invalid_blocks"
        assert "must be less than 151 characters" in refused["errors"][0]
        fake_slack.rate_limit("chat.update", retry_after=3)
        async with http.post(url + "chat.update", json={}, headers=bearer) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "3"
            assert (await resp.json())["error"] == "ratelimited"
        async with http.post(url + "nope.nothing", headers=bearer) as resp:
            assert (await resp.json())["error"] == "unknown_method"
    assert [c.method for c in fake_slack.calls()][-2:] == ["chat.update", "nope.nothing"]


async def test_people_are_looked_up_again_once_the_cache_expires(workspace: FakeSlack) -> None:
    time = FakeTime()
    settings = SlackSettings.model_validate(workspace.settings())
    surface = SlackSurface(settings, DEPARTMENTS, cache_seconds=120, clock=time.monotonic)
    await surface.user_info("U0ALICE")
    await time.advance(119)
    await surface.user_info("U0ALICE")
    assert len(workspace.calls("users.info")) == 1
    await time.advance(2)
    await surface.user_info("U0ALICE")
    assert len(workspace.calls("users.info")) == 2
