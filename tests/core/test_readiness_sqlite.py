"""Issue 10, finding 3 on SQLite itself: /readyz is 503 while the database's disk is full or
its file is read-only.

A full disk is a small tmpfs of the test's own (1 MiB) filled to the last byte; a read-only
file is an immutable one. Both are real refusals of real writes; both need privileges (the
tests run as root in CI), and skip without them.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_app
from bot.store.sqlite import SQLiteStore
from tests.boards import board_for, mention_item, write_items


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted at ``tmp_path / "disk"``."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = mount("-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(disk))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk has no byte left; its path."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


async def readyz(client: TestClient[web.Request, web.Application]) -> tuple[int, dict[str, object]]:
    answer = await client.get("/readyz")
    body: dict[str, object] = await answer.json()
    return answer.status, body


async def test_not_ready_while_the_sqlite_disk_is_full(small_disk: Path, tmp_path: Path) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    store = SQLiteStore.from_url(f"sqlite:///{small_disk / 'switchboard.sqlite3'}")
    board = board_for(store, items)
    try:
        async with TestClient(TestServer(build_app(board))) as client:
            assert (await readyz(client))[0] == 200
            filler = fill(small_disk)
            status, body = await readyz(client)
            assert status == 503 and body["ready"] is False, body
            assert body["broken"] == ["store"]
            assert "disk is full" in str(body["store"])
            await store.ping()  # what the old check asked: it still answers

            filler.unlink()
            status, body = await readyz(client)
            assert status == 200 and body["broken"] == [], body
    finally:
        await store.close()


def chattr(flag: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True, check=False)


async def test_not_ready_while_the_sqlite_file_is_read_only(tmp_path: Path) -> None:
    """The file is made immutable (``chattr +i``), which even root cannot write: SQLite opens
    it read-only, reads go on, every write is refused."""
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    path = tmp_path / "switchboard.sqlite3"
    first = SQLiteStore.from_url(f"sqlite:///{path}")
    board = board_for(first, items)
    assert await board.ingestor.poll_once(board.sources[0]) is False
    await first.close()
    done = chattr("+i", path)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {done.stderr.strip()}")
    store = SQLiteStore.from_url(f"sqlite:///{path}")
    try:
        async with TestClient(TestServer(build_app(board_for(store, items)))) as client:
            status, body = await readyz(client)
            assert status == 503 and body["ready"] is False, body
            assert body["broken"] == ["store"]
            assert "readonly database" in str(body["store"])
            assert len(await store.list_threads()) == 1  # reads still answer
            chattr("-i", path)
            status, body = await readyz(client)  # the refused write dropped the connection
            assert status == 200 and body["broken"] == [], body
    finally:
        chattr("-i", path)
        await store.close()
