"""Signed webhook source, driven through a real aiohttp server routing POST /hooks/{source}."""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.rss import RssSource
from adapters.webhook import WebhookSource, sign
from bot.domain import Author, Mention
from bot.errors import ConfigError, ReadOnlySource, SourceError, StoreError
from bot.ports import PushSource, Source
from tests.adapters.fakes import FakeServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhook"
SECRET = "s3cret-s3cret-s3cret"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Hook:
    client: TestClient[web.Request, web.Application]
    source: WebhookSource
    stored: list[Mention] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    fail_with: Exception | None = None

    async def accept(self, mention: Mention) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.stored.append(mention)

    async def post(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {
            "Content-Type": "application/json",
            "X-Switchboard-Timestamp": ts,
            "X-Switchboard-Signature": sign(secret, ts, body),
            **(headers or {}),
        }
        sent = {k: v for k, v in sent.items() if v}
        async with self.client.post("/hooks/forum", data=body, headers=sent) as resp:
            return resp.status, await resp.json()


def settings(**overrides: Any) -> dict[str, Any]:
    return {"name": "forum", "type": "webhook", "secret": SECRET, **overrides}


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    source = WebhookSource.from_settings(settings(max_body_bytes=8192))
    app = web.Application()
    holder: list[Hook] = []

    async def route(request: web.Request) -> web.StreamResponse:
        assert request.match_info["source"] == source.name
        return await source.handle(request, holder[0].accept)

    app.router.add_post("/hooks/{source}", route)
    client = TestClient(TestServer(app))
    await client.start_server()
    holder.append(Hook(client, source))
    yield holder[0]
    await client.close()
    await source.close()


async def test_a_signed_mention_is_stored_before_the_202(hook: Hook) -> None:
    hook.gate = asyncio.Event()
    answer = asyncio.create_task(hook.post(sample("single.json")))
    await asyncio.wait_for(hook.entered.wait(), 5)
    await asyncio.sleep(0.05)

    assert not answer.done()
    hook.gate.set()
    status, body = await answer

    assert (status, body) == (202, {"accepted": 1})
    (mention,) = hook.stored
    assert mention.source == "forum" and mention.network == "webhook"
    assert mention.external_id == "post-8812"
    assert mention.conversation_key == "topic-311"
    assert mention.author == Author(
        id="u-42",
        handle="ada",
        display_name="Ada L.",
        profile_url="https://forum.example.com/u/ada",
    )
    assert mention.permalink == "https://forum.example.com/t/311#post-8812"
    assert mention.created_at == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert mention.reply_data == {"id": "post-8812", "url": mention.permalink}


async def test_a_batch_is_stored_in_order(hook: Hook) -> None:
    status, body = await hook.post(sample("batch.json"))

    assert (status, body) == (202, {"accepted": 2})
    first, second = hook.stored
    assert (first.external_id, first.conversation_key, first.author.id) == ("1001", "1001", "77")
    assert (second.external_id, second.conversation_key) == ("1002", "1001")
    assert second.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "another-secret-of-ours"}, "signature does not match"),
        ({"headers": {"X-Switchboard-Signature": ""}}, "missing X-Switchboard-Signature"),
        ({"headers": {"X-Switchboard-Timestamp": ""}}, "missing X-Switchboard-Timestamp"),
        ({"headers": {"X-Switchboard-Signature": "md5=abc"}}, "sha256=<hex>"),
        ({"timestamp": int(time.time()) - 301}, "outside the 300 s window"),
        ({"timestamp": int(time.time()) + 400}, "outside the 300 s window"),
    ],
)
async def test_unsigned_or_stale_requests_get_401(
    hook: Hook, change: dict[str, Any], reason: str
) -> None:
    status, body = await hook.post(sample("single.json"), **change)

    assert status == 401
    assert reason in body["error"]
    assert hook.stored == []


async def test_a_replayed_signature_on_another_body_is_refused(hook: Hook) -> None:
    ts = str(int(time.time()))
    signature = sign(SECRET, ts, sample("single.json"))
    status, body = await hook.post(
        sample("batch.json"),
        headers={"X-Switchboard-Timestamp": ts, "X-Switchboard-Signature": signature},
    )
    assert (status, body) == (401, {"error": "signature does not match"})


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"id": "1", "text": ', "body is not valid JSON"),
        (b'["not", "an", "object"]', "body: must be a JSON object"),
        (b'{"id": "1", "text": "hi"}', "author: missing"),
        (b'{"author": {"id": "u", "handle": "h"}, "text": "hi"}', "id: missing"),
        (b'{"id": "1", "author": {"id": "u"}, "text": "hi"}', "author.handle: missing"),
        (b'{"id": "1", "author": {"id": "u", "handle": "h"}}', "text: missing"),
        (b'{"id": true, "author": {"id": "u", "handle": "h"}, "text": "x"}', "id: must be"),
        (
            b'{"id": "1", "author": {"id": "u", "handle": "h"}, "text": "x", '
            b'"url": "javascript:alert(1)"}',
            "url: must be an http(s) URL",
        ),
        (
            b'{"id": "1", "author": {"id": "u", "handle": "h"}, "text": "x", '
            b'"created_at": "last week"}',
            "created_at: not an ISO 8601",
        ),
        (
            b'{"mentions": [{"id": "1", "author": {"id": "u", "handle": "h"}, "text": "x"}, '
            b'{"id": "2", "author": {"id": "u", "handle": "h"}}]}',
            "mentions[1].text: missing",
        ),
        (b'{"mentions": []}', "mentions: must be a non-empty array"),
    ],
)
async def test_malformed_bodies_get_400_naming_the_problem(
    hook: Hook, payload: bytes, reason: str
) -> None:
    status, body = await hook.post(payload)

    assert status == 400
    assert reason in body["error"]
    assert hook.stored == []


async def test_an_oversized_body_gets_413(hook: Hook) -> None:
    big = json.dumps({"id": "1", "author": {"id": "u", "handle": "h"}, "text": "x" * 9000}).encode()
    status, body = await hook.post(big)
    assert status == 413 and "8192" in body["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    ts = str(int(time.time()))
    headers = {"X-Switchboard-Timestamp": ts, "X-Switchboard-Signature": sign(SECRET, ts, big)}
    async with hook.client.post("/hooks/forum", data=chunks(), headers=headers) as resp:
        assert resp.status == 413
    assert hook.stored == []


async def test_a_store_failure_answers_503_so_the_sender_retries(hook: Hook) -> None:
    hook.fail_with = StoreError("redis is down")
    status, body = await hook.post(sample("single.json"))
    assert status == 503 and "retry" in body["error"]

    hook.fail_with = None
    status, _ = await hook.post(sample("single.json"))
    assert status == 202 and len(hook.stored) == 1


async def test_hostile_text_stays_plain_text(hook: Hook) -> None:
    payload = {
        "id": "evil\u202e1",
        "author": {"id": "m", "handle": "mallory\u0007", "display_name": "<@U123> \u202eadmin"},
        "text": "<!channel> <@U123> click <a href='https://evil.example'>here</a>\x00",
    }
    status, _ = await hook.post(json.dumps(payload).encode())

    assert status == 202
    (mention,) = hook.stored
    assert mention.text == "<!channel> <@U123> click <a href='https://evil.example'>here</a>"
    assert mention.external_id == "evil1"
    assert mention.author.handle == "mallory"
    assert mention.author.display_name == "<@U123> admin"


async def test_fetch_is_empty_and_without_reply_url_the_source_is_read_only() -> None:
    source = WebhookSource.from_settings(settings())
    mention = source.parse(json.loads(sample("single.json")))[0]

    batch = await source.fetch("kept")

    assert (list(batch.mentions), batch.cursor, batch.more) == ([], "kept", False)
    assert source.reply_limit() is None
    with pytest.raises(
        ReadOnlySource, match=re.escape("https://forum.example.com/t/311#post-8812")
    ):
        await source.reply(mention, "thanks", "k1")
    assert "read-only" in await source.check()


class ReplyReceiver(FakeServer):
    """The sender's reply endpoint: checks our signature and dedupes on idempotency_key."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: dict[str, dict[str, Any]] = {}
        self.app.router.add_post("/replies", self._reply)

    async def _reply(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Switchboard-Timestamp"]
        if not hmac.compare_digest(
            sign(SECRET, ts, body), request.headers["X-Switchboard-Signature"]
        ):
            return web.json_response({"error": "bad signature"}, status=401)
        data = json.loads(body)
        assert request.headers["Idempotency-Key"] == data["idempotency_key"]
        key = data["idempotency_key"]
        if key not in self.posted:
            number = len(self.posted) + 1
            self.posted[key] = {**data, "id": f"r{number}"}
        reply_id = self.posted[key]["id"]
        return web.json_response({"id": reply_id, "url": f"https://forum.example.com/p/{reply_id}"})


async def test_replies_are_signed_posted_and_idempotent() -> None:
    receiver = ReplyReceiver()
    await receiver.start()
    source = WebhookSource.from_settings(settings(reply_url=f"{receiver.url}/replies"))
    mention = source.parse(json.loads(sample("single.json")))[0]
    try:
        first = await source.reply(mention, "We are on it — sorry!", "key-1")
        again = await source.reply(mention, "We are on it — sorry!", "key-1")
        receiver.fail("/replies", 503, {"error": "busy"}, headers={"Retry-After": "30"})
        with pytest.raises(SourceError) as busy:
            await source.reply(mention, "second", "key-2")
        receiver.fail("/replies", 200, "<html>ok</html>")
        with pytest.raises(SourceError, match="without"):
            await source.reply(mention, "second", "key-2")
    finally:
        await source.close()
        await receiver.close()

    assert first == again
    assert first.external_id == "r1" and first.url == "https://forum.example.com/p/r1"
    assert list(receiver.posted) == ["key-1"]
    assert receiver.posted["key-1"]["in_reply_to"] == "post-8812"
    assert receiver.posted["key-1"]["text"] == "We are on it — sorry!"
    assert busy.value.retry_after == 30
    limit = source.reply_limit()
    assert limit is not None and limit.limit == 10_000


def test_a_short_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="secret"):
        WebhookSource.from_settings(settings(secret="short"))


def test_the_webhook_is_a_declared_push_source_and_a_feed_is_not() -> None:
    hook = WebhookSource.from_settings(settings())
    feed = RssSource.from_settings({"name": "f", "type": "rss", "url": "https://x.example/f"})
    assert isinstance(hook, PushSource) and isinstance(hook, Source)
    assert isinstance(feed, Source) and not isinstance(feed, PushSource)


async def test_a_503_without_retry_after_still_says_when_to_retry() -> None:
    receiver = ReplyReceiver()
    await receiver.start()
    source = WebhookSource.from_settings(settings(reply_url=f"{receiver.url}/replies"))
    mention = source.parse(json.loads(sample("single.json")))[0]
    later = "Tue, 14 Nov 2023 22:13:30 GMT"
    try:
        receiver.fail("/replies", 503, {"error": "busy"})
        with pytest.raises(SourceError, match="HTTP 503") as busy:
            await source.reply(mention, "hi", "key-9")
        receiver.fail("/replies", 429, {"error": "slow"}, headers={"Retry-After": later})
        with pytest.raises(SourceError, match="rate limited") as limited:
            await source.reply(mention, "hi", "key-9")
    finally:
        await source.close()
        await receiver.close()

    assert busy.value.retry_after == 60
    assert limited.value.retry_after == 0


def mention_with(**fields: Any) -> bytes:
    item: dict[str, Any] = {"id": "1", "author": {"id": "u", "handle": "h"}, "text": "hi"}
    for key, value in fields.items():
        if key.startswith("author_"):
            item["author"][key.removeprefix("author_")] = value
        else:
            item[key] = value
    return json.dumps(item).encode()


HOSTILE: dict[str, tuple[bytes | None, dict[str, str], str]] = {
    "deep arrays": (b"[" * 4000 + b"]" * 4000, {}, "body is nested deeper than 16 levels"),
    "deep objects": (
        b'{"a":' * 1200 + b"1" + b"}" * 1200,
        {},
        "body is nested deeper than 16 levels",
    ),
    "nested 17 levels": (
        mention_with(extra=json.loads("[" * 16 + "]" * 16)),
        {},
        "body is nested deeper than 16 levels",
    ),
    "400-digit id": (mention_with(id=10**399), {}, "body has a number longer than 32 characters"),
    "huge float": (mention_with(score=1e308).replace(b"1e+308", b"1e999"), {}, "out of range"),
    "NaN": (
        mention_with().replace(b'"hi"}', b'"hi", "x": NaN}'),
        {},
        "body has NaN, which is not a JSON number",
    ),
    "400-digit timestamp": (None, {"X-Switchboard-Timestamp": "9" * 400}, "unix seconds"),
    "word timestamp": (None, {"X-Switchboard-Timestamp": "yesterday"}, "unix seconds"),
    "zero-width id": (mention_with(id="\u200b\u2060\ufeff"), {}, "id: must not be empty"),
    "braille-blank id": (mention_with(id="\u2800\u2800"), {}, "id: shows nothing"),
    "soft-hyphen id": (mention_with(id="\u00ad"), {}, "id: shows nothing"),
    "filler handle": (mention_with(author_handle="\u115f\u1160"), {}, "handle: shows nothing"),
    "zero-width text": (mention_with(text="\u200b\u200c\u200d\u2063"), {}, "text: missing"),
    "marks-only text": (mention_with(text="\u0301\ufe0f\u034f \u3000"), {}, "text: shows"),
    "tags-only text": (mention_with(text="\U000e0041\U000e0042"), {}, "text: missing"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_bodies_and_headers_get_400_with_a_reason(hook: Hook, case: str) -> None:
    payload, headers, reason = HOSTILE[case]
    status, body = await hook.post(payload or sample("single.json"), headers=headers)

    assert status == 400, body
    assert reason in body["error"]
    assert hook.stored == []


async def test_the_bounds_leave_real_mentions_alone(hook: Hook) -> None:
    big_id = 2**63 - 1
    payload = mention_with(id=big_id, text="caf\u00e9 \U0001f469\u200d\U0001f4bb", score=0.5)
    status, body = await hook.post(payload)

    assert (status, body) == (202, {"accepted": 1})
    assert hook.stored[0].external_id == str(big_id)
