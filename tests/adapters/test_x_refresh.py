"""Issue 13: the X user token refreshed with the rotating refresh token, the pair shared by
every replica through the store, against the loopback X fake's token endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.http import HttpClient, HttpStatusError
from adapters.support import coerce_settings
from adapters.x import NOT_TRIED, XSettings, XSource
from adapters.x_auth import LOCK_TTL, LOCKS, PAIRS, XTokenRefused
from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Mention
from bot.errors import ConfigError, SourceError
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.adapters.fakes.x_fake import UNAUTHORIZED, XFake
from tests.boards import board_for, mention_item, write_items
from tests.clock import FakeTime, eventually
from tests.stores import conftest as stores
from tests.stores.conftest import Backend, FakeClock
from tests.tcp_proxy import TcpProxy

REFUSED = (
    "x-main: the refresh token was refused; authorize the app again and set sources[].refresh_token"
)
TOKEN = "/2/oauth2/token"


backend = stores.backend
"""SQLite and Redis: the store contract suite's fixture."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[XFake]:
    server = XFake(clock=clock)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def configured(fake: XFake) -> str:
    """The refresh token the operator put in the config (from one authorization)."""
    return fake.authorize()


@pytest.fixture
async def make(
    fake: XFake, clock: FakeClock, time: FakeTime, configured: str
) -> AsyncIterator[Any]:
    opened: list[XSource] = []

    def build(
        store: Store | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **kw: Any,
    ) -> XSource:
        settings = XSettings(
            name="x-main",
            type="x",
            base_url=fake.url,
            bearer_token="app-bearer",
            user_id="783214",
            page_size=5,
            refresh_token=kw.pop("refresh_token", configured),
            client_id=kw.pop("client_id", fake.client_id),
            **kw,
        )
        http = HttpClient(settings.base_url, label="x-main", backoff=0.01, timeout=5)
        source = XSource(settings, http=http, clock=clock, sleep=sleep or time.sleep)
        if store is not None:
            source.attach(store)
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()


async def mention(fake: XFake, source: XSource, text: str = "@brand hi") -> Mention:
    fake.add_tweet(fake.user(1), text)
    batch = await source.fetch(None)
    return batch.mentions[-1]


def bearer_of_posts(fake: XFake) -> list[str]:
    return [c.headers["Authorization"] for c in fake.calls("/2/tweets", "POST")]


async def stored_pair(store: Store) -> dict[str, Any]:
    text = await store.kv_get(PAIRS, "x-main")
    assert text is not None
    pair: dict[str, Any] = json.loads(text)
    return pair


async def test_a_public_client_refreshes_with_its_client_id_and_posts_with_the_new_token(
    fake: XFake, make: Any, configured: str, backend: Backend, clock: FakeClock
) -> None:
    store = backend.open(clock=clock)
    source = make(store)
    await source.reply(await mention(fake, source), "On it!", "k1")

    (call,) = fake.calls(TOKEN)
    assert call.content_type == "application/x-www-form-urlencoded"
    assert dict(pair.split("=") for pair in call.body.decode().split("&")) == {
        "grant_type": "refresh_token",
        "refresh_token": configured,
        "client_id": fake.client_id,
    }
    assert "Authorization" not in call.headers
    [issued] = fake.access_tokens
    assert bearer_of_posts(fake) == [f"Bearer {issued}"]
    pair = await stored_pair(store)
    assert pair["access_token"] == issued and pair["refresh_token"] in fake.refresh_tokens
    assert pair["expires_at"] == clock.now + 7200
    assert configured not in fake.refresh_tokens, "X rotated the configured token away"


async def test_a_confidential_client_authenticates_with_basic_auth(fake: XFake, make: Any) -> None:
    fake.client_secret = "c2VjcmV0LXNlY3JldA"
    source = make(client_secret=fake.client_secret)
    await source.reply(await mention(fake, source), "Thanks!", "k1")
    (call,) = fake.calls(TOKEN)
    expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {expected}"
    assert "client_id" not in call.body.decode()
    assert len(fake.posted) == 1


async def test_a_confidential_client_without_its_secret_is_told_what_to_set(
    fake: XFake, make: Any
) -> None:
    fake.client_secret = "c2VjcmV0LXNlY3JldA"
    source = make()
    target = await mention(fake, source)
    with pytest.raises(SourceError) as caught:
        await source.reply(target, "Thanks!", "k1")
    assert "unauthorized_client" in str(caught.value)
    assert "set client_secret if the app is a confidential client" in str(caught.value)
    assert fake.posted == []


async def test_the_token_is_refreshed_shortly_before_it_expires_never_after(
    fake: XFake, make: Any, clock: FakeClock
) -> None:
    source = make()
    target = await mention(fake, source)
    assert len(fake.calls(TOKEN)) == 1, "the first poll obtains a token (none was stored)"
    clock.advance(7200 - 301)
    await source.reply(target, "First answer", "k1")
    assert len(fake.calls(TOKEN)) == 1
    clock.advance(2)  # less than five minutes left: the next use refreshes first
    await source.reply(target, "Second answer", "k2")
    assert len(fake.calls(TOKEN)) == 2
    first, second = bearer_of_posts(fake)  # one attempt each: no 401 on the way
    assert first != second and len(fake.posted) == 2

    clock.advance(7200 - 200)
    await source.fetch(None)  # a poll keeps the token fresh even when nobody replies
    assert len(fake.calls(TOKEN)) == 3


async def test_a_401_refreshes_once_and_the_post_is_retried_once(fake: XFake, make: Any) -> None:
    source = make()
    target = await mention(fake, source)
    [early] = fake.access_tokens
    fake.revoke(early)  # X stops taking it before its expiry
    result = await source.reply(target, "Sorted!", "k1")
    assert len(fake.calls(TOKEN)) == 2
    [renewed] = fake.access_tokens
    assert bearer_of_posts(fake) == [f"Bearer {early}", f"Bearer {renewed}"]
    assert [p["id"] for p in fake.posted] == [result.external_id]

    fake.fail("/2/tweets", 401, UNAUTHORIZED, times=2, method="POST")
    with pytest.raises(HttpStatusError) as caught:
        await source.reply(target, "Another one", "k2")
    assert caught.value.status == 401
    assert len(fake.calls("/2/tweets", "POST")) == 4, "one retry, not a loop"
    assert len(fake.calls(TOKEN)) == 3


async def test_the_rotated_pair_is_stored_and_another_replica_and_a_restart_use_it(
    fake: XFake, make: Any, backend: Backend, clock: FakeClock
) -> None:
    store = backend.open(clock=clock)
    first = make(store)
    target = await mention(fake, first)
    rotated = (await stored_pair(store))["refresh_token"]
    second = make(backend.open(clock=clock))  # another replica, same config
    await second.reply(target, "From the second replica", "k1")
    assert len(fake.calls(TOKEN)) == 1, "the second replica used the stored token"
    [token] = fake.access_tokens
    assert bearer_of_posts(fake) == [f"Bearer {token}"]

    clock.advance(7200)
    await second.reply(target, "Later, from the second replica", "k2")
    assert len(fake.calls(TOKEN)) == 2
    assert f"refresh_token={rotated}&" in fake.calls(TOKEN)[-1].body.decode() + "&"

    restarted = make(backend.open(clock=clock))
    await restarted.reply(target, "After a restart", "k3")
    assert len(fake.calls(TOKEN)) == 2
    assert len(set(bearer_of_posts(fake)[1:])) == 1


async def test_two_replicas_refreshing_at_once_call_the_token_endpoint_once(
    fake: XFake, make: Any, backend: Backend, clock: FakeClock, time: FakeTime
) -> None:
    one, two = make(backend.open(clock=clock)), make(backend.open(clock=clock))
    fake.token_gate = asyncio.Event()
    assert one.auth is not None and two.auth is not None
    first = asyncio.create_task(one.auth.access_token())
    second = asyncio.create_task(two.auth.access_token())
    await eventually(lambda: len(fake.calls(TOKEN)) == 1 and time.sleeping == 1)
    fake.token_gate.set()
    await eventually(lambda: first.done() or second.done())
    await time.advance(1)
    tokens = await asyncio.wait_for(asyncio.gather(first, second), timeout=5)
    assert len(fake.calls(TOKEN)) == 1
    assert tokens[0] == tokens[1] and tokens[0] in fake.access_tokens


async def test_a_lock_left_by_a_replica_that_died_delays_the_refresh_only_until_it_lapses(
    fake: XFake, make: Any, backend: Backend, clock: FakeClock
) -> None:
    store = backend.open(clock=clock)
    assert await store.kv_put_if_absent(LOCKS, "x-main", "a-replica-that-died", ttl=LOCK_TTL)

    async def leap(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    source = make(store, sleep=leap)
    assert source.auth is not None
    started = clock.now
    token = await source.auth.access_token()
    assert token in fake.access_tokens and len(fake.calls(TOKEN)) == 1
    assert LOCK_TTL <= clock.now - started <= LOCK_TTL + 1


@pytest.mark.redis
async def test_a_rotated_pair_the_store_missed_is_stored_once_it_answers_again(
    fake: XFake, make: Any, clock: FakeClock, redis_url: str, redis_prefix: str
) -> None:
    """X forgets the old refresh token as it answers: a pair the store could not take then
    stays in the process and is stored by its next call, so nothing has to authorize again."""
    async with TcpProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        flaky = RedisStore.from_url(proxy.url("redis"), prefix=redis_prefix, clock=clock)
        direct = RedisStore.from_url(redis_url, prefix=redis_prefix, clock=clock)
        try:
            source = make(flaky)
            assert source.auth is not None
            fake.token_gate = asyncio.Event()
            refreshing = asyncio.create_task(source.auth.access_token())
            await eventually(lambda: len(fake.calls(TOKEN)) == 1)
            await proxy.cut()
            fake.token_gate.set()
            token = await asyncio.wait_for(refreshing, timeout=10)
            assert token in fake.access_tokens
            assert await direct.kv_get(PAIRS, "x-main") is None

            await proxy.restore()
            assert await source.auth.access_token() == token
            other = make(direct)
            await other.reply(await mention(fake, other), "Nothing was lost", "k1")
            assert len(fake.calls(TOKEN)) == 1 and bearer_of_posts(fake) == [f"Bearer {token}"]
        finally:
            await flaky.close()
            await direct.close()


@pytest.mark.parametrize("code", ["invalid_request", "invalid_grant"])
async def test_a_refused_refresh_is_reported_posting_fails_and_reading_goes_on(
    fake: XFake,
    make: Any,
    backend: Backend,
    clock: FakeClock,
    code: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.refused_code = code
    fake.refresh_tokens.clear()  # the user revoked the app
    source = make(backend.open(clock=clock))
    fake.add_tweet(fake.user(1), "@brand are you there?")
    with caplog.at_level(logging.WARNING):
        batch = await source.fetch(None)
    assert [m.text for m in batch.mentions] == ["@brand are you there?"]
    assert REFUSED in caplog.text
    assert (await source.health())["x-main user token"].state == REFUSED
    with pytest.raises(XTokenRefused, match=REFUSED.replace("[]", r"\[\]")):
        await source.reply(batch.mentions[0], "Hello", "k1")
    assert fake.calls("/2/tweets", "POST") == []

    other = make(backend.open(clock=clock))  # another replica learns it from the store
    calls = len(fake.calls(TOKEN))
    assert (await other.health())["x-main user token"].state == REFUSED
    with pytest.raises(XTokenRefused):
        await other.reply(batch.mentions[0], "Hello", "k1")
    assert len(fake.calls(TOKEN)) == calls, "a refused chain is not tried again"
    assert len((await other.fetch(None)).mentions) == 1


async def test_a_new_refresh_token_in_the_config_replaces_a_refused_chain(
    fake: XFake, make: Any, backend: Backend, clock: FakeClock
) -> None:
    fake.refresh_tokens.clear()
    old = make(backend.open(clock=clock))
    target = await mention(fake, old)
    assert (await old.health())["x-main user token"].state == REFUSED

    authorized_again = make(backend.open(clock=clock), refresh_token=fake.authorize())
    await authorized_again.reply(target, "Back again", "k1")
    assert len(fake.posted) == 1
    assert (await old.health())["x-main user token"].state.startswith("ok: valid until")
    await old.reply(target, "The replica with the old config uses the new chain", "k2")
    assert len(fake.posted) == 2


async def test_readyz_names_the_refused_token_and_stays_ready(
    fake: XFake, make: Any, tmp_path: Path
) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 's.sqlite3'}")
    sample = board_for(store, write_items(tmp_path / "i.json", [mention_item(1)]))
    fake.refresh_tokens.clear()
    source = make()
    board = Switchboard(sample.config, sample.store, [source], sample.surfaces)
    try:
        assert source.auth is not None and source.auth.shared
        with pytest.raises(XTokenRefused):
            await source.check()
        report = await board.readiness()
        assert report["platforms"] == {"x-main user token": REFUSED}
        assert report["ready"] is True, "reading goes on: not a reason to leave service"
    finally:
        await sample.store.close()


async def test_check_uses_a_stored_token_and_refreshes_only_when_due(
    fake: XFake, make: Any, backend: Backend, clock: FakeClock
) -> None:
    store = backend.open(clock=clock)
    described = await make(store).check()
    assert described.startswith("X @brand (Brand Inc.), id 783214")
    assert "the refresh token keeps the user token valid (valid until" in described
    assert len(fake.calls(TOKEN)) == 1
    await make(store).check()
    assert len(fake.calls(TOKEN)) == 1, "a check does not burn a refresh it does not need"
    assert (await stored_pair(store))["refresh_token"] in fake.refresh_tokens


async def test_check_without_the_store_never_spends_the_refresh_token(
    fake: XFake, make: Any, configured: str
) -> None:
    described = await make().check()
    assert described == f"X id 783214: the bearer token reads mentions; {NOT_TRIED}"
    assert fake.calls(TOKEN) == [] and configured in fake.refresh_tokens


async def test_tokens_stay_out_of_the_log_arguments(
    fake: XFake, make: Any, configured: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    source = make()
    with caplog.at_level(logging.DEBUG):
        target = await mention(fake, source)
        clock.advance(7200)
        await source.reply(target, "Logged without secrets", "k1")
        fake.refresh_tokens.clear()
        clock.advance(7200)
        with pytest.raises(XTokenRefused):
            await source.reply(target, "Refused", "k2")
    assert len(fake.calls(TOKEN)) == 3
    secrets = [configured, *fake.access_tokens, *(f"refresh-{n}" for n in range(1, 6))]
    everything = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "user token refreshed" in everything
    assert not [s for s in secrets if s in everything]


def test_a_refresh_token_needs_the_client_id() -> None:
    raw = {"name": "x-main", "type": "x", "bearer_token": "b", "refresh_token": "r"}
    with pytest.raises(
        ConfigError, match=r"sources\[x-main\]: client_id: .*required with refresh_token"
    ):
        coerce_settings(XSettings, raw)
    assert coerce_settings(XSettings, {**raw, "refresh_token": ""}).client_id == ""


@pytest.mark.parametrize("refresh", ["", "refresh-from-the-authorization"])
def test_the_example_config_refreshes_when_a_refresh_token_is_set(
    monkeypatch: pytest.MonkeyPatch, refresh: str
) -> None:
    text = (Path(__file__).parents[2] / "switchboard.example.yaml").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)):
        monkeypatch.setenv(name, "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("X_REFRESH_TOKEN", refresh)
    monkeypatch.setenv("X_CLIENT_ID", "Y2xpZW50LWlk")
    config = parse_config(yaml.safe_load(text), "switchboard.example.yaml")
    [entry] = [e for e in config.sources if e["type"] == "x"]
    source = XSource.from_settings(entry)
    assert (source.auth is not None) is bool(refresh)
    if source.auth is not None:
        assert source.auth.client_id == "Y2xpZW50LWlk"
