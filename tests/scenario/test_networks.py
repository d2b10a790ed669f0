"""Each network end to end through the real product, on that network's loopback fake.

A mention in -> a thread routed to its department -> a card -> a public reply out (threaded,
exactly once) -> the thread REPLIED with the reply's link; our own reply never comes back as a
mention, and the customer's follow-up lands in the same thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.actions import Verb
from bot.app import Switchboard, build_sources
from bot.config import parse_config
from bot.domain import EventKind, Thread, ThreadState
from bot.interaction import Interaction, Response
from bot.server import build_app
from bot.store import Store
from tests.adapters.fakes.rss_fake import RssFake, atom
from tests.boards import DEPARTMENTS, person, real_store
from tests.scenario.networks_helpers import (
    FAST,
    NETWORKS,
    BlueskyNetwork,
    MastodonNetwork,
    ReplyReceiver,
    XNetwork,
    cards_of,
    connected,
    poll,
)

ROOT = Path(__file__).resolve().parents[2]
ALICE = person("alice")
REPLY = "Sorry about that! It is fixed now, details: https://status.acme.example/incidents/42"


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "redis":
        request.getfixturevalue("redis_url")  # skips when no Redis answers
    async with real_store(request.param, tmp_path) as opened:
        yield opened


async def reply(board: Switchboard, thread: Thread, text: str, key: str) -> Response:
    return await board.handle(
        Interaction(
            surface="shell",
            actor=ALICE,
            verb=Verb.REPLY,
            thread_ref=thread.short_id,
            text=text,
            key=key,
        )
    )


async def only_thread(board: Switchboard) -> Thread:
    threads = await board.store.list_threads()
    assert len(threads) == 1, [t.short_id for t in threads]
    return threads[0]


def labels(card: dict[str, Any]) -> list[str]:
    return [action["label"] for action in card["actions"]]


@pytest.mark.parametrize("network", sorted(NETWORKS))
async def test_a_mention_becomes_a_thread_and_is_answered_on_its_network(
    network: str, store: Store, tmp_path: Path
) -> None:
    net = NETWORKS[network]()
    await net.fake.start()
    cards = tmp_path / "cards.jsonl"
    try:
        async with connected(store, cards, [net.entry(f"{network}-main")]) as board:
            mention_id = net.post(net.first_text)
            await poll(board)

            thread = await only_thread(board)
            assert thread.network == network and thread.source == f"{network}-main"
            assert thread.department == net.department and thread.state is ThreadState.NEW
            [first] = await board.store.mentions(thread.id)
            assert first.external_id == mention_id
            await board.dispatcher.drain()
            [posted] = [e for e in cards_of(cards, thread.id) if e["op"] == "post"]
            assert posted["ref"]["channel"] == net.department
            card = posted["card"]
            assert card["network"] == network and card["state"] == "new"
            assert net.first_text in card["text"]
            assert card["permalink"].startswith("https://")
            assert "Reply" in labels(card) and not card["read_only"]
            assert card["reply_limit"] == net.limit

            answer = await reply(board, thread, REPLY, "composer-1")
            assert answer.ok, answer.text
            [landed] = net.landed()
            assert landed.in_reply_to == mention_id
            assert landed.root == first.conversation_key
            assert REPLY in landed.text
            assert landed.url in answer.text
            again = await reply(board, thread, REPLY, "composer-1")
            assert again.ok and landed.url in again.text
            assert net.writes() == 1 and len(net.landed()) == 1

            thread = await board.threads.find(thread.id)
            assert thread.state is ThreadState.REPLIED and thread.owner == ALICE
            replied = [
                e for e in await board.store.events(thread.id) if e.kind is EventKind.REPLIED
            ]
            assert [e.data["url"] for e in replied] == [landed.url]
            await board.dispatcher.drain()
            shown = cards_of(cards, thread.id)[-1]["card"]
            assert shown["state"] == "replied" and shown["owner"] == "alice"
            assert any(landed.url in line for line in shown["history"])

            net.echo(landed.external_id)
            await poll(board)
            assert await only_thread(board) == thread
            assert len(await board.store.mentions(thread.id)) == 1
            own_key = f"{network}-main\x1f{landed.external_id}"
            assert await board.store.get_mention(own_key) is None

            follow_up = net.post("thanks, but it still fails for me", reply_to=landed.external_id)
            await poll(board)
            after = await only_thread(board)
            assert after.id == thread.id and after.mention_count == 2
            assert [m.external_id for m in await board.store.mentions(thread.id)] == [
                mention_id,
                follow_up,
            ]
            kinds = [e.kind for e in await board.store.events(thread.id)]
            assert EventKind.ATTACHED in kinds
            await board.dispatcher.drain()
            shown = cards_of(cards, thread.id)[-1]["card"]
            assert any("still fails for me" in line for line in shown["follow_ups"])
    finally:
        await net.fake.close()


@pytest.mark.parametrize("network", sorted(NETWORKS))
async def test_a_reply_whose_answer_was_lost_is_posted_once(network: str, tmp_path: Path) -> None:
    """The write reaches the network but its answer does not: the adapter's own checks (or a
    retry with the same key) find the post instead of making a second one."""
    net = NETWORKS[network]()
    await net.fake.start()
    try:
        async with (
            real_store("sqlite", tmp_path) as store,
            connected(store, tmp_path / "cards.jsonl", [net.entry(f"{network}-main")]) as board,
        ):
            net.post(net.first_text)
            await poll(board)
            thread = await only_thread(board)
            net.break_next_write()
            first = await reply(board, thread, REPLY, "composer-1")
            retried = await reply(board, thread, REPLY, "composer-1")
            assert retried.ok, (first.text, retried.text)
            [landed] = net.landed()
            assert landed.url in retried.text
            events = await board.store.events(thread.id)
            assert [e.data["url"] for e in events if e.kind is EventKind.REPLIED] == [landed.url]
            assert (await board.threads.find(thread.id)).reply_count == 1
    finally:
        await net.fake.close()


async def test_an_alert_feed_is_read_only_and_points_to_the_original(tmp_path: Path) -> None:
    fake = RssFake()
    await fake.start()
    article = "https://blog.example.com/2024/acme-review"

    def alert(entry_id: str, link: str, title: str) -> dict[str, str]:
        wrapped = f"https://www.google.com/url?rct=j&sa=t&url={quote(link, safe='')}&ct=ga"
        return {
            "id": f"tag:google.com,2013:googlealerts/feed:{entry_id}",
            "title": title,
            "link": wrapped,
            "content": f"<b>Acme</b> review &amp; more from {entry_id}",
            "published": "2024-05-01T09:00:00Z",
            "author": "",
        }

    first = alert("1001", article, "Acme review: <b>Acme</b> is slow")
    url = fake.publish("/alerts/acme.xml", atom([first]))
    cards = tmp_path / "cards.jsonl"
    entry = {"name": "alerts", "type": "rss", "url": url, "poll_interval": FAST}
    try:
        async with (
            real_store("sqlite", tmp_path) as store,
            connected(store, cards, [entry]) as board,
        ):
            await poll(board)
            thread = await only_thread(board)
            assert thread.network == "rss" and thread.department == "press"
            await board.dispatcher.drain()
            [posted] = [e for e in cards_of(cards, thread.id) if e["op"] == "post"]
            card = posted["card"]
            assert card["read_only"] is True and card["reply_limit"] is None
            assert "Reply" not in labels(card) and "Claim" in labels(card)
            assert card["permalink"] == article
            assert card["text"].startswith("Acme review: Acme is slow")

            refused = await reply(board, thread, "Thanks for the review!", "composer-1")
            assert not refused.ok
            assert "read-only" in refused.text and article in refused.text
            unchanged = await board.threads.find(thread.id)
            assert unchanged.state is ThreadState.NEW and unchanged.reply_count == 0
            assert await board.store.get_reply("composer-1") is None

            await poll(board)
            assert fake.requests[-1].headers.get("If-None-Match")
            assert await only_thread(board) == unchanged

            comment = alert("1002", f"{article}#comment-7", "Comment on Acme review")
            fake.publish("/alerts/acme.xml", atom([comment, first]))
            await poll(board)
            after = await only_thread(board)
            assert after.id == thread.id and after.mention_count == 2
    finally:
        await fake.close()


SECRET = "whsec-0123456789abcdef0123"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
    }


def hook_body(mention_id: str, text: str, **extra: Any) -> bytes:
    payload = {
        "id": mention_id,
        "conversation_id": "thread-9",
        "author": {"id": "u-42", "handle": "ada", "display_name": "Ada L."},
        "text": text,
        "url": f"https://forum.example.com/t/9#{mention_id}",
        **extra,
    }
    return json.dumps(payload).encode()


async def test_a_signed_webhook_mention_is_stored_before_the_202_and_answered(
    store: Store, tmp_path: Path
) -> None:
    receiver = ReplyReceiver(SECRET)
    await receiver.start()
    entry = {
        "name": "forum",
        "type": "webhook",
        "secret": SECRET,
        "reply_url": f"{receiver.url}/replies",
        "max_body_bytes": 4096,
    }
    cards = tmp_path / "cards.jsonl"
    try:
        async with (
            connected(store, cards, [entry]) as board,
            TestClient(TestServer(build_app(board))) as client,
        ):
            body = hook_body("post-123", "Is the export down for anyone else?")
            accepted = await client.post("/hooks/forum", data=body, headers=signed(body))
            assert accepted.status == 202 and await accepted.json() == {"accepted": 1}
            thread = await only_thread(board)
            assert thread.department == "support" and thread.network == "webhook"
            [stored] = await board.store.mentions(thread.id)
            assert stored.external_id == "post-123" and stored.author.handle == "ada"
            await board.dispatcher.drain()
            [posted] = [e for e in cards_of(cards, thread.id) if e["op"] == "post"]
            assert "Reply" in labels(posted["card"]) and posted["card"]["reply_limit"] == 10_000

            answer = await reply(board, thread, "We are on it, Ada.", "composer-1")
            assert answer.ok, answer.text
            assert (await reply(board, thread, "We are on it, Ada.", "composer-1")).ok
            [sent] = receiver.calls("/replies", "POST")
            assert sent.json["in_reply_to"] == "post-123"
            assert sent.json["text"] == "We are on it, Ada."
            assert sent.json["idempotency_key"] == "composer-1"
            [made] = receiver.replies.values()
            assert made["url"] in answer.text
            replied = await board.threads.find(thread.id)
            assert replied.state is ThreadState.REPLIED
            events = await board.store.events(thread.id)
            assert [e.data["url"] for e in events if e.kind is EventKind.REPLIED] == [made["url"]]

            echo = hook_body(made["id"], "We are on it, Ada.")
            echoed = await client.post("/hooks/forum", data=echo, headers=signed(echo))
            assert echoed.status == 202
            assert await board.store.get_mention(f"forum\x1f{made['id']}") is None

            batch = json.dumps(
                {
                    "mentions": [
                        json.loads(hook_body("post-124", "Still failing here")),
                        json.loads(
                            hook_body("post-200", "love the new theme", conversation_id="t-2")
                        ),
                    ]
                }
            ).encode()
            both = await client.post("/hooks/forum", data=batch, headers=signed(batch))
            assert both.status == 202 and await both.json() == {"accepted": 2}
            threads = await board.store.list_threads()
            assert len(threads) == 2 and threads[0].id == thread.id
            mentions = await board.store.mentions(thread.id)
            assert [m.external_id for m in mentions] == ["post-123", "post-124"]

            before = await board.store.list_threads()
            fresh = hook_body("post-300", "hello")
            forged = await client.post(
                "/hooks/forum", data=fresh, headers=signed(fresh, "not-the-secret-at-all")
            )
            assert forged.status == 401 and "signature" in (await forged.json())["error"]
            huge = hook_body("post-301", "x" * 5000)
            too_big = await client.post("/hooks/forum", data=huge, headers=signed(huge))
            assert too_big.status == 413
            broken = b'{"id": "post-302", "text": '
            bad_json = await client.post("/hooks/forum", data=broken, headers=signed(broken))
            assert bad_json.status == 400 and "JSON" in (await bad_json.json())["error"]
            no_author = json.dumps({"id": "post-303", "text": "hi"}).encode()
            missing = await client.post("/hooks/forum", data=no_author, headers=signed(no_author))
            assert missing.status == 400 and "author" in (await missing.json())["error"]
            assert await board.store.list_threads() == before
            for mention_id in ("post-300", "post-301", "post-302", "post-303"):
                assert await board.store.get_mention(f"forum\x1f{mention_id}") is None
    finally:
        await receiver.close()


async def wait_until(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_failing_source_shows_in_readyz_while_the_others_keep_ingesting(
    tmp_path: Path,
) -> None:
    broken, healthy = MastodonNetwork(), XNetwork()
    await broken.fake.start()
    await healthy.fake.start()
    broken.fake.fail("/api/v1/accounts/verify_credentials", 500, {"error": "boom"}, times=10**6)
    healthy.post("first")
    entries = [broken.entry("mastodon-main"), healthy.entry("x-main")]
    stop = asyncio.Event()
    try:
        async with (
            real_store("sqlite", tmp_path) as store,
            connected(store, tmp_path / "cards.jsonl", entries) as board,
            TestClient(TestServer(build_app(board))) as client,
        ):

            async def threads(n: int) -> bool:
                return len(await board.store.list_threads()) >= n

            async def reported() -> bool:
                return board.ingestor.health["mastodon-main"].failing

            running = asyncio.create_task(board.ingestor.run(stop))
            try:
                assert await wait_until(lambda: threads(1), 5)
                assert await wait_until(reported, 10), board.ingestor.health
                healthy.post("second, while mastodon is down")
                assert await wait_until(lambda: threads(2), 5)

                ready = await client.get("/readyz")
                assert ready.status == 200
                report = await ready.json()
                assert report["ready"] is True and report["degraded"] is True
                assert report["sources"]["x-main"] == "ok"
                failing = report["sources"]["mastodon-main"]
                assert failing.startswith("failing: ") and "HTTP 500" in failing
                metrics = await (await client.get("/metrics")).text()
                assert 'switchboard_source_failing{source="mastodon-main"} 1' in metrics
                assert 'switchboard_source_mentions_total{source="x-main"} 2' in metrics

                assert all(t.network == "x" for t in await board.store.list_threads())
            finally:
                stop.set()
                await asyncio.wait_for(running, timeout=5)
    finally:
        await broken.fake.close()
        await healthy.fake.close()


async def test_check_names_the_source_with_a_bad_token_and_exits_1(tmp_path: Path) -> None:
    mastodon, bluesky, x = MastodonNetwork(), BlueskyNetwork(), XNetwork()
    for net in (mastodon, bluesky, x):
        await net.fake.start()
    sources = [
        {**mastodon.entry("mastodon-main"), "access_token": "${MASTODON_TOKEN}"},
        {**bluesky.entry("bluesky-main"), "app_password": "${BLUESKY_APP_PASSWORD}"},
        {
            **x.entry("x-main"),
            "bearer_token": "${X_BEARER_TOKEN}",
            "user_token": "${X_ACCESS_TOKEN}",
        },
    ]
    config = tmp_path / "switchboard.yaml"
    store = f"sqlite:///{tmp_path / 'check.sqlite3'}"
    config.write_text(
        yaml.safe_dump({"store": {"url": store}, "departments": DEPARTMENTS, "sources": sources})
    )
    env = {
        **os.environ,
        "MASTODON_TOKEN": "revoked-token-123",
        "BLUESKY_APP_PASSWORD": bluesky.fake.password,
        "X_BEARER_TOKEN": x.fake.app_token,
        "X_ACCESS_TOKEN": x.fake.user_token,
    }
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "check",
            "--config",
            str(config),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        for net in (mastodon, bluesky, x):
            await net.fake.close()
    stdout = out.decode()
    assert process.returncode == 1, stdout + err.decode()
    lines = stdout.splitlines()
    [fail] = [line for line in lines if line.startswith("FAIL")]
    assert fail.startswith("FAIL source mastodon-main: the credentials were rejected")
    assert "HTTP 401" in fail and "access_token" in fail
    assert any(
        line.startswith("ok   source bluesky-main: Bluesky @brand.bsky.social") for line in lines
    )
    assert any(line.startswith("ok   source x-main: X @brand") for line in lines)
    assert "revoked-token-123" not in stdout + err.decode()


EXAMPLE_SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "MASTODON_TOKEN",
    "BLUESKY_APP_PASSWORD",
    "REDDIT_CLIENT_ID",
    "REDDIT_CLIENT_SECRET",
    "REDDIT_PASSWORD",
    "X_BEARER_TOKEN",
    "X_ACCESS_TOKEN",
)


async def test_the_example_config_connects_every_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network, and no replay of invented mentions that would reach real channels."""
    text = (ROOT / "switchboard.example.yaml").read_text(encoding="utf-8")
    for name in EXAMPLE_SECRETS:
        monkeypatch.setenv(name, "set-by-test")
    monkeypatch.setenv("WEBHOOK_SECRET", "0123456789abcdef0123456789abcdef")
    config = parse_config(yaml.safe_load(text), "switchboard.example.yaml")
    sources = build_sources(config)
    try:
        assert {s.network for s in sources} == {
            "mastodon",
            "bluesky",
            "reddit",
            "x",
            "rss",
            "webhook",
        }
        limits = {s.network: s.reply_limit() for s in sources}
        assert limits["rss"] is None and limits["webhook"] is None  # no reply_url: read-only
        assert limits["mastodon"] is not None and limits["x"] is not None
    finally:
        for source in sources:
            await source.close()


async def test_check_proves_the_x_refresh_token_and_keeps_the_rotated_pair(tmp_path: Path) -> None:
    """`switchboard check` gives the X source the store: the refresh token is tried once, the
    rotated pair is kept, and a second check reuses it instead of spending another refresh."""
    x = XNetwork()
    await x.fake.start()
    try:
        configured = x.fake.authorize()
        entry = {**x.entry("x-main"), "refresh_token": configured, "client_id": x.fake.client_id}
        config = tmp_path / "switchboard.yaml"
        store = f"sqlite:///{tmp_path / 'check.sqlite3'}"
        config.write_text(
            yaml.safe_dump(
                {"store": {"url": store}, "departments": DEPARTMENTS, "sources": [entry]}
            )
        )
        outputs = []
        for _ in range(2):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "check",
                "--config",
                str(config),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)
            assert process.returncode == 0, out.decode() + err.decode()
            outputs.append(out.decode())
        for stdout in outputs:
            assert "the refresh token keeps the user token valid (valid until" in stdout
            assert configured not in stdout
        assert len(x.fake.calls("/2/oauth2/token")) == 1
        assert configured not in x.fake.refresh_tokens  # rotated, and the new one kept
    finally:
        await x.fake.close()
