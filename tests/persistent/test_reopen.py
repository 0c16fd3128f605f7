"""What is written stays written: every kind of data survives closing and reopening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.testing  # imported here, not first on the event loop: its import reads files
import pytest
from persistent_helpers import client_on, everything, vectors

import chroma_async
from chroma_async import NotFoundError

pytestmark = pytest.mark.anyio


async def test_records_with_every_field_survive_reopening_exactly(db_path: Path) -> None:
    data = vectors(6, dim=5, seed=1)
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("docs")
        await collection.add(
            ids=[f"r{i}" for i in range(6)],
            embeddings=data,
            metadatas=[
                {"s": "text", "i": 7, "f": 0.25, "b": True},
                {"tags": ["x", "y"], "nums": [1, 2, 3]},
                {"floats": [0.5, 1.5], "flags": [True, False]},
                None,
                {"big": 2**62, "neg": -1.0e300},
                {"unicode": "é漢字🙂"},
            ],
            documents=["alpha", None, "gamma 🙂", "", "epsilon", "zeta"],
            uris=["s3://a", None, "file:///c", None, "u", None],
        )
        await collection.upsert(
            ids=["r1", "new"],
            embeddings=data[:2] * 2,
            metadatas=[{"tags": None, "extra": 1}, {"k": "v"}],
        )
        await collection.update(ids=["r0"], metadatas=[{"i": None, "j": 8}], documents=["ALPHA"])
        await collection.update(ids=["r2"], embeddings=data[5:6])
        await collection.delete(ids=["r3"])
        await collection.delete(where={"big": {"$gt": 0}})
        before = await everything(collection)
        query = await collection.query(query_embeddings=data[:3], n_results=4)
    assert set(before) == {"r0", "r1", "r2", "r5", "new"}
    async with client_on(db_path) as (client, transport):
        collection = await client.get_collection("docs")
        assert await everything(collection) == before
        assert await collection.count() == 5
        again = await collection.query(query_embeddings=data[:3], n_results=4)
        assert again["ids"] == query["ids"]
        np.testing.assert_array_equal(
            np.asarray(again["distances"]), np.asarray(query["distances"])
        )
        assert [r.source for r in transport.load_reports.values()] == ["snapshot"]


async def test_embeddings_are_stored_as_the_exact_float32_values(db_path: Path) -> None:
    awkward = np.array([[1e-38, -0.0, 1.5e19], [np.float32(1) / 3, 1e-45, -7.5]], dtype=np.float32)
    async with client_on(db_path, snapshot_on_close=False) as (client, _):
        collection = await client.create_collection("exact")
        await collection.add(ids=["a", "b"], embeddings=awkward)
    async with client_on(db_path) as (client, transport):
        got = await (await client.get_collection("exact")).get(include=["embeddings"])
        assert got["embeddings"] is not None
        assert got["embeddings"].tobytes() == awkward.tobytes()
        assert [r.source for r in transport.load_reports.values()] == ["sqlite"]


async def test_tenants_databases_and_collections_survive_reopening(db_path: Path) -> None:
    async with client_on(db_path) as (client, _):
        await client.create_tenant("acme")
        await client.create_database("sales", tenant="acme")
        await client.create_database("scratch")
        await client.set_tenant("acme", "sales")
        first = await client.create_collection(
            "first", metadata={"owner": "ann"}, configuration={"hnsw": {"space": "cosine"}}
        )
        await first.add(ids=["a"], embeddings=[[1.0, 0.0]])
        second = await client.create_collection("second")
        await client.create_collection("doomed")
        await client.delete_collection("doomed")
        await second.modify(name="renamed", metadata={"v": 2})
        await first.modify(configuration={"hnsw": {"ef_search": 77}})
        database = await client.get_database("sales", tenant="acme")
        await client.set_tenant("default_tenant", "default_database")
        await client.delete_database("scratch")
        await client.create_collection("home")
    async with client_on(db_path) as (client, _):
        assert (await client.get_tenant("acme"))["name"] == "acme"
        assert (await client.get_database("sales", tenant="acme"))["id"] == database["id"]
        with pytest.raises(NotFoundError):
            await client.get_database("scratch")
        assert [c.name for c in await client.list_collections()] == ["home"]
        await client.set_tenant("acme", "sales")
        collections = await client.list_collections()
        assert [c.name for c in collections] == ["first", "renamed"]
        first_again, renamed = collections
        assert first_again.id == first.id
        assert first_again.metadata == {"owner": "ann"}
        assert first_again.configuration["hnsw"]["space"] == "cosine"
        assert first_again.configuration["hnsw"]["ef_search"] == 77
        assert renamed.id == second.id
        assert renamed.metadata == {"v": 2}
        with pytest.raises(NotFoundError):
            await client.get_collection("doomed")
        with pytest.raises(NotFoundError):
            await client.get_collection("second")
        # a later collection is listed after the restored ones
        await client.create_collection("third")
        assert [c.name for c in await client.list_collections()] == ["first", "renamed", "third"]


async def test_deleting_a_database_deletes_its_collections_for_good(db_path: Path) -> None:
    async with client_on(db_path) as (client, _):
        await client.create_database("gone")
        await client.set_database("gone")
        collection = await client.create_collection("inside")
        await collection.add(ids=["a"], embeddings=[[1.0]])
        await client.set_database("default_database")
        await client.delete_database("gone")
        await client.create_database("gone")
    async with client_on(db_path) as (client, _):
        await client.set_database("gone")
        assert await client.list_collections() == []


async def test_a_fork_is_persisted_and_independent_of_its_source(db_path: Path) -> None:
    data = vectors(20, seed=2)
    async with client_on(db_path, snapshot_on_close=False) as (client, _):
        source = await client.create_collection("source")
        await source.add(ids=[str(i) for i in range(20)], embeddings=data)
        fork = await source.fork("fork")
        await fork.delete(ids=["0", "1"])
        await source.upsert(ids=["2"], embeddings=data[:1], metadatas=[{"from": "source"}])
        fork_state, source_state = await everything(fork), await everything(source)
    async with client_on(db_path) as (client, _):
        assert await everything(await client.get_collection("fork")) == fork_state
        assert await everything(await client.get_collection("source")) == source_state
        assert len(fork_state) == 18
        assert len(source_state) == 20


async def test_reset_is_persisted(db_path: Path) -> None:
    settings = chroma_async.Settings(allow_reset=True)
    async with client_on(db_path, settings=settings) as (client, _):
        await client.create_tenant("acme")
        collection = await client.create_collection("doomed")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert await client.reset() is True
        kept = await client.create_collection("after")
        await kept.add(ids=["b"], embeddings=[[3.0]])
    async with client_on(db_path) as (client, _):
        assert [c.name for c in await client.list_collections()] == ["after"]
        with pytest.raises(NotFoundError):
            await client.get_tenant("acme")
        assert await (await client.get_collection("after")).count() == 1


async def test_writes_after_reopening_continue_where_the_data_left_off(db_path: Path) -> None:
    data = vectors(30, seed=3)
    for round_number in range(3):
        async with client_on(db_path, snapshot_on_close=round_number != 1) as (client, _):
            collection = await client.get_or_create_collection("grow")
            start = round_number * 10
            await collection.add(
                ids=[str(i) for i in range(start, start + 10)],
                embeddings=data[start : start + 10],
                metadatas=[{"round": round_number} for _ in range(10)],
            )
            await collection.delete(ids=[str(start)])
            if round_number:
                await collection.upsert(ids=["1"], embeddings=data[29:30])
    async with client_on(db_path) as (client, _):
        collection = await client.get_collection("grow")
        got = await collection.get(include=["embeddings", "metadatas"])
        assert got["ids"] == [str(i) for i in range(30) if i % 10]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"][0], data[29])
        hits = await collection.query(query_embeddings=data[12:13], n_results=1)
        assert hits["ids"] == [["12"]]


async def test_a_collection_whose_records_were_all_deleted_reopens_empty(db_path: Path) -> None:
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("emptied")
        await collection.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
        await collection.delete(ids=["a", "b"])
        await client.create_collection("never-written")
    async with client_on(db_path) as (client, _):
        collection = await client.get_collection("emptied")
        assert await collection.count() == 0
        with pytest.raises(chroma_async.InvalidArgumentError, match="dimension of 2"):
            await collection.add(ids=["c"], embeddings=[[1.0, 2.0, 3.0]])
        await collection.add(ids=["c"], embeddings=[[5.0, 6.0]])
        assert (await collection.query(query_embeddings=[[5.0, 6.0]], n_results=1))["ids"] == [
            ["c"]
        ]
        assert await (await client.get_collection("never-written")).count() == 0


async def test_index_search_answers_the_same_after_reopening(db_path: Path) -> None:
    # brute_force_limit below the collection size: queries go through the usearch index,
    # which is reloaded from its snapshot.
    data = vectors(600, dim=16, seed=4)
    queries = vectors(5, dim=16, seed=5)
    async with client_on(db_path, brute_force_limit=16) as (client, _):
        collection = await client.create_collection("indexed")
        await collection.add(ids=[str(i) for i in range(600)], embeddings=data)
        before = await collection.query(query_embeddings=queries, n_results=10)
    async with client_on(db_path, brute_force_limit=16) as (client, _):
        after = await (await client.get_collection("indexed")).query(
            query_embeddings=queries, n_results=10
        )
    assert after["ids"] == before["ids"]


async def test_text_that_cannot_be_stored_is_rejected_and_nothing_is_written(
    db_path: Path,
) -> None:
    async with client_on(db_path) as (client, _):
        collection = await client.create_collection("texts")
        await collection.add(ids=["ok"], embeddings=[[1.0, 2.0]])
        with pytest.raises(chroma_async.InvalidArgumentError, match="cannot be stored"):
            await collection.add(
                ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]], documents=["fine", "\ud800"]
            )
        with pytest.raises(chroma_async.InvalidArgumentError, match="cannot be stored"):
            await collection.add(ids=["c"], embeddings=[[1.0, 2.0]], metadatas=[{"k": "\udfff"}])
        await collection.add(ids=["later"], embeddings=[[5.0, 6.0]])  # still in service
        assert (await collection.get())["ids"] == ["ok", "later"]
    async with client_on(db_path) as (client, _):
        assert (await (await client.get_collection("texts")).get())["ids"] == ["ok", "later"]
