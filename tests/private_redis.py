"""A throw-away redis-server of a test's own on a free loopback port (no persistence), for
tests that reconfigure, cut off or watch Redis and so must never touch the shared one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.boards import free_port
from tests.clock import eventually


@asynccontextmanager
async def private_redis(directory: Path) -> AsyncIterator[int]:
    """Start one, wait until it answers, yield its port; stop it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/ensure-redis installs it)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir"]
    server = subprocess.Popen(  # noqa: ASYNC220
        [*args, str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0")

    async def answers() -> bool:
        try:
            return bool(await client.ping())
        except (OSError, aioredis.ConnectionError):
            return False

    try:
        await eventually(answers, within=5)
        yield port
    finally:
        await client.aclose()
        server.terminate()
        server.wait(timeout=5)
