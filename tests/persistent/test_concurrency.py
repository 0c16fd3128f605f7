"""Many coroutines at once: the final state is the serial one, in memory and on disk."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from persistent_helpers import client_on, everything, vectors

import chroma_async

pytestmark = pytest.mark.anyio

WRITERS = 24
PER_WRITER = 10
DIM = 8


def writer_ids(writer: int) -> list[str]:
    return [f"w{writer}-{j}" for j in range(PER_WRITER)]


async def writer(collection: chroma_async.AsyncCollection, number: int) -> None:
    """Writes its own ids only, so the final state does not depend on the interleaving;
    checks that it reads its own writes."""
    ids = writer_ids(number)
    data = vectors(PER_WRITER, DIM, seed=number)
    await collection.add(
        ids=ids, embeddings=data, metadatas=[{"w": number, "j": j} for j in range(PER_WRITER)]
    )
    assert (await collection.get(ids=ids))["ids"] == ids
    await anyio.sleep(random.random() / 100)
    await collection.upsert(ids=ids[:5], embeddings=data[:5] * -1, metadatas=[{"up": True}] * 5)
    await collection.update(ids=ids[5:8], metadatas=[{"j": None, "late": 1}] * 3)
    await collection.delete(ids=ids[8:])
    got = await collection.get(where={"w": number}, include=["metadatas"])
    assert got["ids"] == ids[:8]


def model_state(writers: int) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for number in range(writers):
        ids = writer_ids(number)
        data = vectors(PER_WRITER, DIM, seed=number)
        for j, record_id in enumerate(ids[:8]):
            metadata: dict[str, Any] = {"w": number, "j": j}
            embedding = data[j]
            if j < 5:
                embedding = data[j] * -1
                metadata["up"] = True
            else:
                del metadata["j"]
                metadata["late"] = 1
            state[record_id] = (tuple(embedding.tolist()), metadata, None, None)
    return state


async def reader(collection: chroma_async.AsyncCollection, stop: anyio.Event) -> int:
    queries = 0
    probe = vectors(2, DIM, seed=999)
    while not stop.is_set():
        result = await collection.query(
            query_embeddings=probe, n_results=5, where={"w": {"$gte": 0}}
        )
        for ids, distances in zip(result["ids"], result["distances"] or [], strict=True):
            assert len(ids) == len(distances) <= 5
            assert list(distances) == sorted(distances)
        assert await collection.count() >= 0
        queries += 1
    return queries


async def test_many_writers_and_readers_of_one_collection_end_in_the_serial_state(
    db_path: Path,
) -> None:
    async with client_on(db_path, snapshot_min_changes=50, snapshot_ratio=0.0) as (client, _):
        collection = await client.create_collection("shared")
        stop = anyio.Event()
        counts: list[int] = []

        async def read() -> None:
            counts.append(await reader(collection, stop))

        async with anyio.create_task_group() as readers:
            for _ in range(4):
                readers.start_soon(read)
            async with anyio.create_task_group() as writers:
                for number in range(WRITERS):
                    writers.start_soon(writer, collection, number)
            stop.set()
        assert sum(counts) > 0
        expected = model_state(WRITERS)
        assert await everything(collection) == expected
    async with client_on(db_path) as (client, _):
        assert await everything(await client.get_collection("shared")) == expected


async def test_catalog_changes_racing_record_writes_persist_consistently(db_path: Path) -> None:
    async with client_on(db_path) as (client, _):
        main = await client.create_collection("main")

        async def churn(number: int) -> None:
            name = f"churn-{number}"
            other = await client.create_collection(name)
            await other.add(ids=["x"], embeddings=[[float(number)] * DIM])
            if number % 2:
                await client.delete_collection(name)
            else:
                await other.modify(name=f"kept-{number}", metadata={"n": number})

        async with anyio.create_task_group() as group:
            for number in range(WRITERS):
                group.start_soon(writer, main, number)
            for number in range(8):
                group.start_soon(churn, number)
            group.start_soon(main.fork, "main-fork")
        before = {c.name: await everything(c) for c in await client.list_collections()}
    assert set(before) == {"main", "main-fork", "kept-0", "kept-2", "kept-4", "kept-6"}
    async with client_on(db_path) as (client, _):
        after = {c.name: await everything(c) for c in await client.list_collections()}
    assert after == before


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.01, 0.05])
async def test_a_cancelled_write_is_whole_or_absent_and_disk_agrees_with_memory(
    db_path: Path, delay: float
) -> None:
    data = vectors(3000, DIM, seed=5)
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("cancelled")
        await collection.add(ids=["first"], embeddings=data[:1])
        with anyio.move_on_after(delay):
            await collection.add(ids=[str(i) for i in range(3000)], embeddings=data)
        count = await collection.count()
        assert count in (1, 3001)
        before = await everything(collection)
    async with client_on(db_path) as (client, _):
        assert await everything(await client.get_collection("cancelled")) == before
