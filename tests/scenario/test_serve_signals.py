"""Issue 10: `switchboard serve` drains and exits 0 on SIGTERM in every phase; a port in
use or an unknown host ends with one line naming the key and exit code 2."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import yaml

from tests.boards import DEPARTMENTS, free_port, mention_item, write_items
from tests.clock import eventually


class Serve:
    """A real ``switchboard serve`` process whose stderr is collected as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode().rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def end(self, within: float = 15) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout=within)
        await asyncio.wait_for(self._reader, timeout=5)
        return code


def write_config(tmp_path: Path, store_url: str, host: str, port: int) -> Path:
    items = write_items(tmp_path / "items.json", [mention_item(1)])
    path = tmp_path / "config.yaml"
    config = {
        "store": {"url": store_url},
        "server": {"host": host, "port": port},
        "departments": DEPARTMENTS,
        "sources": [{"name": "sample", "type": "replay", "path": str(items)}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@asynccontextmanager
async def serving(config: Path) -> AsyncIterator[Serve]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot.cli", "serve", "--config", str(config)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    serve = Serve(process)
    try:
        yield serve
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def readyz(port: int) -> int:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/readyz") as answer,
        ):
            return answer.status
    except aiohttp.ClientError:
        return 0


async def stopped_cleanly(serve: Serve) -> None:
    serve.process.send_signal(signal.SIGTERM)
    code = await serve.end()
    assert code == 0, "\n".join(serve.lines)
    assert serve.said("stopping: draining") and serve.lines[-1].endswith("stopped")
    drained = next(n for n, line in enumerate(serve.lines) if "stopping: draining" in line)
    assert not any("Traceback" in line for line in serve.lines[drained:])


async def test_sigterm_while_serving(tmp_path: Path) -> None:
    port = free_port()
    async with serving(
        write_config(tmp_path, f"sqlite:///{tmp_path}/s.db", "127.0.0.1", port)
    ) as serve:
        await eventually(lambda: serve.said("serving on"), within=20)

        async def ready() -> bool:
            return await readyz(port) == 200

        await eventually(ready, within=10)
        await stopped_cleanly(serve)


async def test_sigterm_while_the_store_is_down_and_every_loop_failing(tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    config = write_config(tmp_path, f"redis://127.0.0.1:{dead}/0", "127.0.0.1", port)
    async with serving(config) as serve:
        await eventually(lambda: serve.said("source sample: store unavailable"), within=20)
        assert await readyz(port) == 503
        await stopped_cleanly(serve)


async def test_sigterm_during_start(tmp_path: Path) -> None:
    """The store accepts connections and never answers, so start waits on it."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    blackhole = await asyncio.start_server(hold, "127.0.0.1", 0)
    hole = blackhole.sockets[0].getsockname()[1]
    config = write_config(tmp_path, f"redis://127.0.0.1:{hole}/0", "127.0.0.1", free_port())
    try:
        async with serving(config) as serve:
            await eventually(lambda: bool(accepted), within=20)
            assert not serve.said("serving on")
            await stopped_cleanly(serve)
    finally:
        for writer in accepted:
            writer.close()
        blackhole.close()


async def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"sqlite:///{tmp_path}/s.db", "127.0.0.1", port)
        async with serving(config) as serve:
            assert await serve.end() == 2
    assert serve.lines[-1] == f"switchboard: server.port {port} is already in use on 127.0.0.1"
    assert not serve.said("Traceback")


async def test_an_unknown_host_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/s.db", "no-such-host.invalid", 8080)
    async with serving(config) as serve:
        assert await serve.end() == 2
    # refused when the config is loaded (it names the key and the fix), before any bind
    assert "server.host" in serve.lines[-1] and "no-such-host.invalid" in serve.lines[-1]
    assert "does not resolve" in serve.lines[-1]
    assert not serve.said("Traceback")
