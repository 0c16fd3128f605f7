"""Snapshots make reopening fast and are never trusted: damaged ones are rebuilt from SQLite."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from persistent_helpers import client_on, everything, index_problem, listdir, stores_of, vectors

from chroma_async_local import snapshots
from chroma_async_local.sqlite_storage import DATABASE_FILE

pytestmark = pytest.mark.anyio


async def generations(db_path: Path, collection_id: uuid.UUID) -> list[str]:
    directory = db_path / snapshots.SNAPSHOTS_DIR / str(collection_id)
    if not await anyio.Path(directory).exists():
        return []
    return await listdir(directory)


async def fill(db_path: Path, count: int = 40, **options: Any) -> tuple[uuid.UUID, dict[str, Any]]:
    """A collection "snap" with ``count`` records, closed (so snapshotted by default)."""
    async with client_on(db_path, **options) as (client, _):
        collection = await client.create_collection("snap")
        await collection.add(
            ids=[f"r{i}" for i in range(count)],
            embeddings=vectors(count, seed=7),
            metadatas=[{"i": i, "even": i % 2 == 0} for i in range(count)],
            documents=[f"document {i}" for i in range(count)],
        )
        return collection.id, await everything(collection)


async def test_closing_writes_a_snapshot_that_the_next_open_loads(db_path: Path) -> None:
    collection_id, state = await fill(db_path)
    assert await generations(db_path, collection_id) == [f"{1:020d}"]
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert (report.source, report.snapshot_seq, report.replayed) == ("snapshot", 1, 0)
        assert await everything(await client.get_collection("snap")) == state


async def test_writes_after_the_snapshot_are_replayed_from_sqlite(db_path: Path) -> None:
    collection_id, _ = await fill(db_path, count=100)
    async with client_on(db_path, snapshot_on_close=False) as (client, _):
        collection = await client.get_collection("snap")
        await collection.add(ids=[f"n{i}" for i in range(50)], embeddings=vectors(50, seed=8))
        await collection.update(ids=[f"r{i}" for i in range(10)], metadatas=[{"u": 1}] * 10)
        await collection.upsert(ids=[f"r{i}" for i in range(10, 15)], embeddings=vectors(5))
        await collection.delete(ids=[f"r{i}" for i in range(20, 27)])
        state = await everything(collection)
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert (report.source, report.snapshot_seq, report.replayed) == ("snapshot", 1, 72)
        assert await everything(await client.get_collection("snap")) == state
        assert await anyio.to_thread.run_sync(index_problem, stores_of(transport)["snap"]) is None


async def test_enough_writes_trigger_a_background_snapshot(db_path: Path) -> None:
    async with client_on(
        db_path, snapshot_min_changes=100, snapshot_ratio=0.0, snapshot_on_close=False
    ) as (client, _):
        collection = await client.create_collection("snap")
        data = vectors(250, seed=9)
        for start in range(0, 250, 50):
            await collection.add(
                ids=[str(i) for i in range(start, start + 50)], embeddings=data[start : start + 50]
            )
        state = await everything(collection)
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection.id]
        assert report.source == "snapshot"
        assert report.snapshot_seq is not None
        assert report.snapshot_seq >= 2
        assert report.replayed == 50 * (5 - report.snapshot_seq)
        assert await everything(await client.get_collection("snap")) == state


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated vectors": ("vectors.npy", _truncate),
    "flipped byte in the index": ("index.usearch", _flip_a_byte),
    "emptied index": ("index.usearch", lambda p: p.write_bytes(b"")),
    "flipped byte in the rows": ("rows.msgpack", _flip_a_byte),
    "missing rows": ("rows.msgpack", lambda p: p.unlink()),
    "missing manifest": ("manifest.json", lambda p: p.unlink()),
    "garbage manifest": ("manifest.json", lambda p: p.write_text("{not json")),
    "manifest of another format": (
        "manifest.json",
        lambda p: p.write_text(p.read_text().replace('"format":1', '"format":999')),
    ),
    "missing generation": (None, lambda p: shutil.rmtree(p)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_a_damaged_or_missing_snapshot_is_rebuilt_from_sqlite(
    db_path: Path, damage: str
) -> None:
    collection_id, state = await fill(db_path)
    (generation,) = await generations(db_path, collection_id)
    directory = db_path / snapshots.SNAPSHOTS_DIR / str(collection_id) / generation
    name, harm = DAMAGE[damage]
    await anyio.to_thread.run_sync(harm, directory / name if name else directory)
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert report.source == "sqlite"
        if name is not None:
            assert any(name in problem for problem in report.problems), report.problems
        collection = await client.get_collection("snap")
        assert await everything(collection) == state
        hits = await collection.query(query_embeddings=vectors(40, seed=7)[:3], n_results=1)
        assert hits["ids"] == [["r0"], ["r1"], ["r2"]]
        assert await anyio.to_thread.run_sync(index_problem, stores_of(transport)["snap"]) is None
    # the rebuilt collection was snapshotted again
    async with client_on(db_path) as (_, transport):
        assert transport.load_reports[collection_id].source == "snapshot"


async def test_a_snapshot_newer_than_the_database_is_not_trusted(db_path: Path) -> None:
    # The database lost its last writes (here: an old copy of its file put back), while the
    # snapshot saw them. Keys of the lost records would be reused by later writes.
    collection_id, first_state = await fill(db_path)
    backup = db_path.parent / "backup.sqlite3"
    await anyio.to_thread.run_sync(shutil.copy, db_path / DATABASE_FILE, backup)
    async with client_on(db_path) as (client, _):
        await (await client.get_collection("snap")).add(ids=["later"], embeddings=vectors(1))
    await anyio.to_thread.run_sync(shutil.copy, backup, db_path / DATABASE_FILE)
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert report.source == "sqlite"
        assert any("newer than the database" in problem for problem in report.problems)
        assert await everything(await client.get_collection("snap")) == first_state


async def test_a_snapshot_older_than_the_kept_changes_is_not_trusted(db_path: Path) -> None:
    collection_id, _ = await fill(db_path)
    snapshot_dir = db_path / snapshots.SNAPSHOTS_DIR / str(collection_id)
    old = db_path.parent / "old-generation"
    await anyio.to_thread.run_sync(shutil.copytree, snapshot_dir / f"{1:020d}", old)
    async with client_on(db_path) as (client, _):
        collection = await client.get_collection("snap")
        await collection.delete(ids=["r0"])
        state = await everything(collection)
    # Only the old generation is left; the changes since it were forgotten by SQLite.
    await anyio.to_thread.run_sync(shutil.rmtree, snapshot_dir / f"{2:020d}")
    await anyio.to_thread.run_sync(shutil.copytree, old, snapshot_dir / f"{1:020d}")
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert report.source == "sqlite"
        assert any("older than the changes" in problem for problem in report.problems)
        assert await everything(await client.get_collection("snap")) == state


async def test_leftovers_of_interrupted_snapshots_and_deleted_collections_are_removed(
    db_path: Path,
) -> None:
    collection_id, _ = await fill(db_path)
    root = db_path / snapshots.SNAPSHOTS_DIR

    def litter() -> None:
        (root / str(collection_id) / "tmp-interrupted").mkdir()
        (root / str(uuid.uuid4()) / f"{3:020d}").mkdir(parents=True)
        (root / "stray-file").write_text("x")

    await anyio.to_thread.run_sync(litter)
    async with client_on(db_path):
        assert await listdir(root) == [str(collection_id)]
        assert await listdir(root / str(collection_id)) == [f"{1:020d}"]


async def test_deleting_a_collection_removes_its_snapshots(db_path: Path) -> None:
    collection_id, _ = await fill(db_path)
    async with client_on(db_path) as (client, _):
        await client.delete_collection("snap")
    assert await listdir(db_path / snapshots.SNAPSHOTS_DIR) == []
    assert collection_id  # (the directory was named by it)


async def test_a_fork_is_snapshotted_when_it_is_made(db_path: Path) -> None:
    await fill(db_path)
    async with client_on(db_path, snapshot_on_close=False) as (client, _):
        fork = await (await client.get_collection("snap")).fork("forked")
        state = await everything(fork)
    async with client_on(db_path) as (client, transport):
        assert transport.load_reports[fork.id].source == "snapshot"
        assert await everything(await client.get_collection("forked")) == state


async def test_a_snapshot_that_cannot_be_written_leaves_the_previous_one(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection_id, _ = await fill(db_path)

    def broken_fsync(path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots, "_fsync_directory", broken_fsync)
    async with client_on(db_path) as (client, _):
        collection = await client.get_collection("snap")
        await collection.delete(ids=["r1", "r2"])
        state = await everything(collection)
    monkeypatch.undo()
    assert await generations(db_path, collection_id) == [f"{1:020d}"]  # no temporary left
    async with client_on(db_path) as (client, transport):
        report = transport.load_reports[collection_id]
        assert (report.source, report.snapshot_seq, report.replayed) == ("snapshot", 1, 2)
        assert await everything(await client.get_collection("snap")) == state
