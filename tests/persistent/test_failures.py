"""When the disk fails: nothing half-done is ever seen, and reopening tells the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from persistent_helpers import client_on, everything, vectors

import chroma_async
from chroma_async import InternalError
from chroma_async_local.sqlite_storage import SqliteStorage

pytestmark = pytest.mark.anyio


def _disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(28, "No space left on device")


async def test_a_failed_commit_puts_the_transport_out_of_service(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("fragile")
        await collection.add(ids=["kept"], embeddings=vectors(1))
        before = await everything(collection)
        monkeypatch.setattr(SqliteStorage, "commit", _disk_full)
        with pytest.raises(InternalError, match="No space left on device") as caught:
            await collection.add(ids=["lost"], embeddings=vectors(1, seed=1))
        assert "open the database again" in str(caught.value)
        monkeypatch.undo()
        # Memory may be ahead of the disk now: every call says so instead of answering.
        with pytest.raises(InternalError, match="open the database again"):
            await collection.get()
        with pytest.raises(InternalError, match="open the database again"):
            await client.list_collections()
    async with client_on(db_path) as (client, _):
        assert await everything(await client.get_collection("fragile")) == before


async def test_a_failed_catalog_change_puts_the_transport_out_of_service(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_on(db_path) as (client, _):
        await client.create_collection("first")
        monkeypatch.setattr(SqliteStorage, "insert_collection", _disk_full)
        with pytest.raises(InternalError, match="creating collection 'second'"):
            await client.create_collection("second")
        monkeypatch.undo()
        with pytest.raises(InternalError):
            await client.count_collections()
    async with client_on(db_path) as (client, _):
        assert [c.name for c in await client.list_collections()] == ["first"]


async def test_a_failed_reset_changes_nothing_and_keeps_the_transport_in_service(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = chroma_async.Settings(allow_reset=True)
    async with client_on(db_path, settings=settings) as (client, _):
        await client.create_collection("survivor")
        monkeypatch.setattr(SqliteStorage, "reset", _disk_full)
        with pytest.raises(InternalError, match="could not reset"):
            await client.reset()
        monkeypatch.undo()
        assert [c.name for c in await client.list_collections()] == ["survivor"]
