"""Issue 10, finding 2 as an operator meets it: `switchboard serve` with a polled source on
Redis; Redis goes away for a few seconds and comes back. Polling resumes by itself, /readyz
is 503 during the outage and 200 after it, and SIGTERM then drains and exits 0.

Redis is a private ``redis-server`` behind a loopback TCP proxy that the test cuts and
restores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.boards import free_port
from tests.clock import eventually
from tests.private_redis import private_redis
from tests.scenario.test_serve_signals import readyz, serving, stopped_cleanly, write_config
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def redis_port(tmp_path: Path) -> AsyncIterator[int]:
    async with private_redis(tmp_path) as port:
        yield port


@pytest.mark.timeout(90)
async def test_polling_and_readiness_come_back_after_a_redis_outage(
    redis_port: int, tmp_path: Path
) -> None:
    port = free_port()
    async with TcpProxy(redis_port) as proxy:
        config = write_config(tmp_path, proxy.url("redis"), "127.0.0.1", port)
        async with serving(config) as serve:

            async def ready_is(status: int) -> bool:
                return await readyz(port) == status

            await eventually(lambda: serve.said("serving on"), within=20)
            await eventually(lambda: ready_is(200), within=10)

            await proxy.cut()
            await eventually(lambda: serve.said("source sample: store unavailable"), within=15)
            await eventually(lambda: ready_is(503), within=10)

            await proxy.restore()
            await eventually(lambda: serve.said("source sample: store available again"), within=20)
            await eventually(lambda: ready_is(200), within=10)
            assert serve.process.returncode is None
            await stopped_cleanly(serve)
