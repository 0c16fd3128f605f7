"""One owner per database directory, private files, paths that cannot escape, formats."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from persistent_helpers import client_on, listdir, opened

import chroma_async
from chroma_async import ClientClosedError, InternalError, InvalidArgumentError
from chroma_async.errors import VersionMismatchError
from chroma_async.operations import Heartbeat
from chroma_async_local.persistent import DatabaseInUseError, PersistentTransport, path_from_url
from chroma_async_local.sqlite_storage import DATABASE_FILE, FORMAT_VERSION

pytestmark = pytest.mark.anyio

_HOLDER = """
import sys, anyio
from chroma_async_local.persistent import PersistentTransport

async def main() -> None:
    transport = PersistentTransport(sys.argv[1])
    await transport.open()
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.read)
    await transport.aclose()

anyio.run(main)
"""


# --- one owner -----------------------------------------------------------------------


async def test_a_second_client_in_this_process_is_refused_at_once(db_path: Path) -> None:
    async with opened(db_path):
        started = time.monotonic()
        with pytest.raises(DatabaseInUseError, match="already open in this process") as caught:
            await chroma_async.connect(f"file:{db_path}")
        assert time.monotonic() - started < 5
        assert str(db_path) in str(caught.value)
        assert f"pid {os.getpid()}" in str(caught.value)
        assert "HttpClient" in str(caught.value)  # how to share a database instead
    async with opened(db_path):  # free again once the first one closed
        pass


async def test_another_process_holding_the_database_is_named_in_the_refusal(
    db_path: Path,
) -> None:
    async with await anyio.open_process(
        [sys.executable, "-c", _HOLDER, str(db_path)], stderr=None
    ) as holder:
        assert holder.stdout is not None
        assert (await holder.stdout.receive()).startswith(b"ready")
        with pytest.raises(DatabaseInUseError) as caught:
            await chroma_async.connect(f"file:{db_path}")
        message = str(caught.value)
        assert str(db_path) in message
        assert f"process {holder.pid}" in message
        assert caught.value.holder.startswith(f"process {holder.pid}")
        holder.kill()  # SIGKILL: the kernel releases the lock with the process
        await holder.wait()
    async with opened(db_path) as transport:
        assert transport.path == db_path


async def test_a_closed_transport_cannot_be_reopened(db_path: Path) -> None:
    transport = PersistentTransport(db_path)
    await transport.open()
    await transport.aclose()
    await transport.aclose()  # idempotent
    with pytest.raises(ClientClosedError, match=str(db_path)):
        await transport.open()


async def test_closing_a_transport_while_it_opens_releases_the_database(db_path: Path) -> None:
    transport = PersistentTransport(db_path)
    refused: list[ClientClosedError] = []

    async def opening() -> None:
        try:
            await transport.open()
        except ClientClosedError as exc:
            refused.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(opening)
        await anyio.lowlevel.checkpoint()  # the open is under way in its worker thread
        await transport.aclose()
    assert refused, "the open should have been refused: the transport was closed meanwhile"
    with pytest.raises(ClientClosedError):
        await transport.send(Heartbeat())
    async with opened(db_path):  # nothing is left holding the lock
        pass


# --- the directory -------------------------------------------------------------------


async def test_files_and_directories_are_private_to_the_user(db_path: Path) -> None:
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("private")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])

        def modes() -> dict[str, int]:
            return {
                str(path.relative_to(db_path)): stat.S_IMODE(path.stat().st_mode)
                for path in [db_path, *db_path.rglob("*")]
            }

        found = await anyio.to_thread.run_sync(modes)
    assert any(name.endswith("-wal") for name in found)
    for name, mode in found.items():
        assert mode & 0o077 == 0, f"{name} has mode {mode:o}"


async def test_names_never_reach_the_file_system(tmp_path: Path) -> None:
    db_path = tmp_path / "inner" / "db"
    hostile = "../../../escaped"
    async with client_on(db_path) as (client, _):
        await client.create_tenant(hostile)
        await client.create_database("../../db-escape", tenant=hostile)
        await client.set_tenant(hostile, "../../db-escape")
        collection = await client.create_collection("etc.passwd")
        await collection.add(ids=["../x"], embeddings=[[1.0]], documents=["/etc/passwd"])
    assert await listdir(tmp_path) == ["inner"]
    assert await listdir(tmp_path / "inner") == ["db"]
    names = set(await listdir(db_path))
    assert names == {DATABASE_FILE, "chroma-async.lock", "snapshots"}
    (snapshot_dir,) = await listdir(db_path / "snapshots")
    assert snapshot_dir == str(collection.id)
    async with client_on(db_path) as (client, _):
        await client.set_tenant(hostile, "../../db-escape")
        assert (await (await client.get_collection("etc.passwd")).get())["ids"] == ["../x"]


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test runs in ``tmp_path`` (a sync fixture: chdir must not run on the loop)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_a_relative_path_is_resolved_against_the_working_directory_at_open(
    in_tmp_path: Path,
) -> None:
    tmp_path = in_tmp_path
    async with chroma_async.connect("file:./relative/db") as client:
        await client.create_collection("here")
    assert await listdir(tmp_path / "relative") == ["db"]


async def test_persistent_client_defaults_to_dot_chroma(in_tmp_path: Path) -> None:
    tmp_path = in_tmp_path
    async with chroma_async.PersistentClient() as client:
        assert client.capabilities.persistent is True
        assert client.capabilities.name == "persistent"
        await client.create_collection("default")
        assert isinstance(await client.heartbeat(), int)
    assert ".chroma" in await listdir(tmp_path)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:./rel/db", "./rel/db"),
        ("file:rel", "rel"),
        ("file:/abs/db", "/abs/db"),
        ("file:///abs/db", "/abs/db"),
        ("FILE:///abs/db", "/abs/db"),
        ("file://localhost/abs/with%20space", "/abs/with space"),
        ("file:/abs/100%", "/abs/100%"),
    ],
)
def test_file_urls_name_a_directory(url: str, path: str) -> None:
    assert path_from_url(url) == path


@pytest.mark.parametrize("url", ["file:", "file://", "file://server/share", "memory://", "db"])
def test_malformed_file_urls_are_rejected_naming_the_url(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="file"):
        path_from_url(url)


@pytest.mark.parametrize(
    "options",
    [
        {"synchronous": "off"},
        {"max_threads": 0},
        {"snapshot_min_changes": 0},
        {"snapshot_ratio": -1},
        {"index_threads": -1},
    ],
)
def test_bad_options_are_rejected_naming_them(options: dict[str, object], db_path: Path) -> None:
    name = next(iter(options))
    with pytest.raises(InvalidArgumentError, match=name):
        PersistentTransport(db_path, **options)  # type: ignore[arg-type]


async def test_synchronous_normal_is_accepted(db_path: Path) -> None:
    async with client_on(db_path, synchronous="normal") as (client, _):
        await (await client.create_collection("normal")).add(ids=["a"], embeddings=[[1.0]])
    async with client_on(db_path) as (client, _):
        assert await (await client.get_collection("normal")).count() == 1


async def test_a_path_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "file"
    await anyio.Path(target).write_text("not a directory")
    with pytest.raises(InvalidArgumentError, match="is a file"):
        await chroma_async.connect(f"file:{target}")


async def test_a_chromadb_directory_is_refused_with_a_hint(db_path: Path) -> None:
    await anyio.Path(db_path).mkdir()
    await anyio.Path(db_path / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="chromadb"):
        await chroma_async.connect(f"file:{db_path}")


# --- the format ----------------------------------------------------------------------


def _pragma(path: Path, statement: str) -> None:
    connection = sqlite3.connect(path / DATABASE_FILE)
    try:
        connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


async def test_a_database_of_a_newer_format_is_refused_clearly(db_path: Path) -> None:
    async with opened(db_path):
        pass
    await anyio.to_thread.run_sync(_pragma, db_path, f"PRAGMA user_version={FORMAT_VERSION + 1}")
    with pytest.raises(VersionMismatchError) as caught:
        await chroma_async.connect(f"file:{db_path}")
    message = str(caught.value)
    assert str(db_path) in message
    assert f"format {FORMAT_VERSION + 1}" in message
    assert "Upgrade" in message
    with pytest.raises(VersionMismatchError):  # again: the refusal released the lock
        await chroma_async.connect(f"file:{db_path}")


async def test_an_older_unknown_format_is_explained(db_path: Path) -> None:
    async with opened(db_path):
        pass
    await anyio.to_thread.run_sync(_pragma, db_path, "PRAGMA user_version=0")
    with pytest.raises(VersionMismatchError, match="format 0"):
        await chroma_async.connect(f"file:{db_path}")


async def test_another_programs_sqlite_file_is_refused(db_path: Path) -> None:
    await anyio.Path(db_path).mkdir()

    def make() -> None:
        connection = sqlite3.connect(db_path / DATABASE_FILE)
        connection.execute("CREATE TABLE theirs (x)")
        connection.commit()
        connection.close()

    await anyio.to_thread.run_sync(make)
    with pytest.raises(InternalError, match="not a chroma-async one"):
        await chroma_async.connect(f"file:{db_path}")


async def test_a_damaged_database_file_is_reported_with_its_path(db_path: Path) -> None:
    await anyio.Path(db_path).mkdir()
    await anyio.Path(db_path / DATABASE_FILE).write_bytes(b"garbage " * 1000)
    with pytest.raises(InternalError, match=DATABASE_FILE):
        await chroma_async.connect(f"file:{db_path}")
