"""SlackWebApi on virtual time: 429s retried within a bound, long waits deferred to the caller,
channels paced and held after a 429. Nothing here waits for real."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.surfaces.slack.webapi import SlackCallError, SlackWebApi
from tests.clock import FakeTime

from .fake_slack import FakeSlack

CHANNEL = "C0BILLING"


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def slack(time: FakeTime) -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(clock=time.monotonic)
    fake.add_channel(CHANNEL, "billing")
    fake.add_channel("C0SUPPORT", "support")
    await fake.start()
    yield fake
    await fake.close()


def api_for(fake: FakeSlack, time: FakeTime) -> SlackWebApi:
    return SlackWebApi(fake.token, fake.api_url, clock=time.monotonic, sleep=time.leap)


async def test_429s_are_retried_twice_then_raise_with_retry_after(
    slack: FakeSlack, time: FakeTime
) -> None:
    slack.rate_limit("users.info", times=5, retry_after=2)
    with pytest.raises(SlackCallError) as raised:
        await api_for(slack, time).call("users.info", user="U0ALICE")
    assert raised.value.error == "ratelimited" and raised.value.retry_after == 2.0
    assert len(slack.calls("users.info")) == 3
    assert time.slept == [2.0, 2.0]


async def test_a_short_storm_inside_the_bound_goes_unnoticed(
    slack: FakeSlack, time: FakeTime
) -> None:
    slack.rate_limit("chat.postMessage", times=2, retry_after=1)
    data = await api_for(slack, time).post(CHANNEL, text="hello")
    assert data["ok"] and len(slack.messages_in(CHANNEL)) == 1
    first, _, third = slack.calls("chat.postMessage")
    assert third.at - first.at == 2.0


async def test_a_long_retry_after_is_deferred_and_holds_the_channel(
    slack: FakeSlack, time: FakeTime
) -> None:
    api = api_for(slack, time)
    slack.rate_limit("chat.postMessage", times=1, retry_after=30)
    with pytest.raises(SlackCallError) as raised:
        await api.post(CHANNEL, text="one")
    assert raised.value.retry_after == 30.0 and time.slept == []
    await time.advance(10)
    with pytest.raises(SlackCallError) as held:
        await api.post(CHANNEL, text="two")
    assert held.value.retry_after == pytest.approx(20.0)
    assert len(slack.calls("chat.postMessage")) == 1, "a held channel is not even tried"
    await api.post("C0SUPPORT", text="elsewhere")  # other channels are not held
    await time.advance(20)
    await api.post(CHANNEL, text="three")
    assert [m["text"] for m in slack.messages_in(CHANNEL)] == ["three"]


async def test_posts_to_a_channel_are_paced_one_a_second(slack: FakeSlack, time: FakeTime) -> None:
    api = api_for(slack, time)
    for n in range(3):
        await api.post(CHANNEL, text=f"m{n}")
    await api.post("C0SUPPORT", text="other")
    at = {c.params["text"]: c.at for c in slack.calls("chat.postMessage")}
    assert [at["m0"], at["m1"], at["m2"]] == [0.0, 1.0, 2.0]
    assert at["other"] == 2.0, "another channel does not wait for this one"
