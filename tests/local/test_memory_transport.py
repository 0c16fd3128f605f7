"""MemoryTransport through ``send``: lifecycle, catalog rules, records, concurrency."""

from __future__ import annotations

import random
import uuid
from typing import Any

import anyio
import anyio.lowlevel
import numpy as np
import pytest
from local_engine_helpers import DEFAULT, clustered, new_collection, unknown_collection

from chroma_async import __version__
from chroma_async.errors import (
    ClientClosedError,
    InvalidArgumentError,
    NotFoundError,
    UniqueConstraintError,
)
from chroma_async.operations import (
    AddRecords,
    CountCollections,
    CountRecords,
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    DeleteRecords,
    ForkCollection,
    GetCollection,
    GetDatabase,
    GetRecords,
    GetTenant,
    GetUserIdentity,
    GetVersion,
    Heartbeat,
    ListCollections,
    ListDatabases,
    ModifyCollection,
    QueryRecords,
    Reset,
    UpdateRecords,
    UpsertRecords,
)
from chroma_async.registry import create_transport
from chroma_async.transport import Transport
from chroma_async_local import MemoryTransport

pytestmark = pytest.mark.anyio


def f32(rows: list[list[float]]) -> np.ndarray[Any, Any]:
    return np.asarray(rows, dtype=np.float32)


# --- lifecycle ------------------------------------------------------------------------


def test_memory_url_resolves_to_the_transport_through_the_entry_point() -> None:
    # Synchronous: reading entry points touches the disk, which the loop guard forbids.
    transport = create_transport("memory://", max_threads=2)
    assert isinstance(transport, MemoryTransport)
    assert isinstance(transport, Transport)
    caps = transport.capabilities
    assert (caps.name, caps.persistent, caps.max_batch_size) == ("memory", False, 4096)


async def test_send_before_open_and_after_close_raise_client_closed() -> None:
    transport = MemoryTransport()
    with pytest.raises(ClientClosedError, match="not open"):
        await transport.send(Heartbeat())
    await transport.open()
    assert await transport.send(Heartbeat()) > 0
    await transport.aclose()
    await transport.aclose()  # idempotent
    with pytest.raises(ClientClosedError, match=r"closed.*Heartbeat"):
        await transport.send(Heartbeat())


async def test_bad_options_name_the_value() -> None:
    with pytest.raises(InvalidArgumentError, match=r"max_threads.*0"):
        MemoryTransport.from_url("memory://", max_threads=0)


async def test_system_operations(transport: MemoryTransport) -> None:
    assert await transport.send(GetVersion()) == __version__
    identity = await transport.send(GetUserIdentity())
    assert (identity.user_id, identity.tenant, identity.databases) == (
        "",
        "default_tenant",
        ["default_database"],
    )
    before = await transport.send(Heartbeat())
    assert await transport.send(Heartbeat()) >= before


async def test_each_transport_is_its_own_world() -> None:
    first, second = MemoryTransport(), MemoryTransport()
    await first.open()
    await second.open()
    try:
        await new_collection(first, "shared-name")
        await new_collection(second, "shared-name")
        assert await second.send(CountCollections(**DEFAULT)) == 1
        await first.aclose()
        assert await second.send(GetCollection(**DEFAULT, name="shared-name"))
    finally:
        await first.aclose()
        await second.aclose()


# --- tenants, databases, collections ----------------------------------------------------


async def test_tenants_and_databases(transport: MemoryTransport) -> None:
    await transport.send(CreateTenant(name="acme"))
    with pytest.raises(UniqueConstraintError, match=r"Tenant \[acme\] already exists"):
        await transport.send(CreateTenant(name="acme"))
    assert (await transport.send(GetTenant(name="acme"))).name == "acme"
    with pytest.raises(NotFoundError, match=r"Tenant \[nope\] not found"):
        await transport.send(GetTenant(name="nope"))
    await transport.send(CreateDatabase(tenant="acme", name="db1"))
    await transport.send(CreateDatabase(tenant="acme", name="db2"))
    with pytest.raises(UniqueConstraintError, match=r"Database \[db1\] already exists"):
        await transport.send(CreateDatabase(tenant="acme", name="db1"))
    db = await transport.send(GetDatabase(tenant="acme", name="db1"))
    assert (db.name, db.tenant) == ("db1", "acme")
    with pytest.raises(NotFoundError, match=r"Database \[dx\] not found"):
        await transport.send(GetDatabase(tenant="acme", name="dx"))
    listed = await transport.send(ListDatabases(tenant="acme"))
    assert [d.name for d in listed] == ["db1", "db2"]
    assert [d.name for d in await transport.send(ListDatabases(tenant="acme", offset=1))] == ["db2"]
    assert await transport.send(ListDatabases(tenant="nobody")) == []
    with pytest.raises(NotFoundError, match=r"Tenant \[nobody\] not found"):
        await transport.send(CreateDatabase(tenant="nobody", name="db1"))
    default = await transport.send(ListDatabases(tenant="default_tenant"))
    assert [d.name for d in default] == ["default_database"]
    with pytest.raises(NotFoundError, match=r"Database \[dx\] not found"):
        await transport.send(DeleteDatabase(tenant="acme", name="dx"))


async def test_deleting_a_database_deletes_its_collections(transport: MemoryTransport) -> None:
    await transport.send(CreateDatabase(tenant="default_tenant", name="scratch"))
    where: dict[str, Any] = {"tenant": "default_tenant", "database": "scratch"}
    col = await new_collection(transport, "temp", database="scratch")
    await transport.send(AddRecords(**col, ids=["a"], embeddings=f32([[1, 0]])))
    await transport.send(DeleteDatabase(tenant="default_tenant", name="scratch"))
    with pytest.raises(NotFoundError, match="does not exist"):
        await transport.send(CountRecords(**col))
    await transport.send(CreateDatabase(tenant="default_tenant", name="scratch"))
    assert await transport.send(ListCollections(**where)) == []


async def test_collection_lifecycle(transport: MemoryTransport) -> None:
    for name in ("zeta", "alpha", "mid"):
        await new_collection(transport, name)
    listed = await transport.send(ListCollections(**DEFAULT))
    assert [c.name for c in listed] == ["zeta", "alpha", "mid"]  # oldest first
    page = await transport.send(ListCollections(**DEFAULT, limit=1, offset=1))
    assert [c.name for c in page] == ["alpha"]
    with pytest.raises(UniqueConstraintError, match=r"Collection \[zeta\] already exists"):
        await new_collection(transport, "zeta")
    existing = await transport.send(
        CreateCollection(
            **DEFAULT, name="zeta", configuration={}, metadata={"m": 1}, get_or_create=True
        )
    )
    assert existing.metadata is None
    assert existing.id == listed[0].id
    with pytest.raises(NotFoundError, match=r"Collection \[nope\] does not exist"):
        await transport.send(GetCollection(**DEFAULT, name="nope"))
    with pytest.raises(NotFoundError, match=r"Collection \[nope\] does not exist"):
        await transport.send(DeleteCollection(**DEFAULT, name="nope"))
    await transport.send(DeleteCollection(**DEFAULT, name="alpha"))
    assert await transport.send(CountCollections(**DEFAULT)) == 2
    missing_db: dict[str, Any] = {"tenant": "default_tenant", "database": "nodb"}
    assert await transport.send(ListCollections(**missing_db)) == []
    with pytest.raises(InvalidArgumentError, match=r"Database \[nodb\] does not exist"):
        await transport.send(CreateCollection(**missing_db, name="x-y-z", configuration={}))


async def test_configuration_is_resolved_and_dimension_reported(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport, "cos", space="cosine")
    model = await transport.send(GetCollection(**DEFAULT, name="cos"))
    assert model.configuration["hnsw"]["space"] == "cosine"
    assert model.configuration["hnsw"]["ef_search"] == 100
    assert model.dimension is None
    await transport.send(AddRecords(**col, ids=["a"], embeddings=f32([[1, 0, 0]])))
    assert (await transport.send(GetCollection(**DEFAULT, name="cos"))).dimension == 3
    with pytest.raises(InvalidArgumentError, match=r"space.*'hamming'"):
        await transport.send(
            CreateCollection(**DEFAULT, name="bad", configuration={"hnsw": {"space": "hamming"}})
        )


async def test_modify_renames_replaces_metadata_and_updates_ef_search(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport, "zeta")
    await new_collection(transport, "alpha")
    with pytest.raises(UniqueConstraintError, match=r"\[alpha\]"):
        await transport.send(ModifyCollection(**col, new_name="alpha"))
    await transport.send(ModifyCollection(**col, new_name="zeta"))  # same name: fine
    await transport.send(
        ModifyCollection(
            **col,
            new_name="zeta2",
            new_metadata={"n": 2},
            new_configuration={"hnsw": {"ef_search": 50}},
        )
    )
    model = await transport.send(GetCollection(**DEFAULT, name="zeta2"))
    assert (model.metadata, model.configuration["hnsw"]["ef_search"]) == ({"n": 2}, 50)
    with pytest.raises(NotFoundError):
        await transport.send(GetCollection(**DEFAULT, name="zeta"))
    with pytest.raises(InvalidArgumentError, match="space cannot change"):
        await transport.send(ModifyCollection(**col, new_configuration={"hnsw": {"space": "ip"}}))


async def test_fork_is_an_independent_copy(transport: MemoryTransport) -> None:
    col = await new_collection(transport, "source")
    await transport.send(
        AddRecords(
            **col, ids=["a", "b"], embeddings=f32([[1, 0], [0, 1]]), metadatas=[{"k": 1}, None]
        )
    )
    fork = await transport.send(ForkCollection(**col, new_name="forked"))
    assert fork.id != col["collection_id"]
    fork_col: dict[str, Any] = {**DEFAULT, "collection_id": fork.id}
    await transport.send(AddRecords(**fork_col, ids=["c"], embeddings=f32([[1, 1]])))
    await transport.send(DeleteRecords(**col, ids=["a"]))
    assert await transport.send(CountRecords(**col)) == 1
    assert (await transport.send(GetRecords(**fork_col))).ids == ["a", "b", "c"]
    with pytest.raises(UniqueConstraintError):
        await transport.send(ForkCollection(**col, new_name="forked"))


async def test_reset_leaves_only_the_defaults(transport: MemoryTransport) -> None:
    await transport.send(CreateTenant(name="acme"))
    await new_collection(transport, "gone")
    assert await transport.send(Reset()) is True
    assert await transport.send(ListCollections(**DEFAULT)) == []
    with pytest.raises(NotFoundError):
        await transport.send(GetTenant(name="acme"))
    await new_collection(transport, "again")


async def test_records_of_an_unknown_or_foreign_collection_are_not_found(
    transport: MemoryTransport,
) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        await transport.send(CountRecords(**unknown_collection()))
    col = await new_collection(transport, "mine")
    await transport.send(CreateTenant(name="other"))
    await transport.send(CreateDatabase(tenant="other", name="default_database"))
    foreign = {**col, "tenant": "other"}
    with pytest.raises(NotFoundError, match=str(col["collection_id"])):
        await transport.send(GetRecords(**foreign))


# --- records ----------------------------------------------------------------------------


async def test_records_round_trip_with_filters(transport: MemoryTransport) -> None:
    col = await new_collection(transport)
    await transport.send(
        AddRecords(
            **col,
            ids=["a", "b", "c"],
            embeddings=f32([[1, 0], [0, 1], [1, 1]]),
            metadatas=[{"lang": "en"}, {"lang": "fr"}, None],
            documents=["hello world", "bonjour", None],
            uris=["u://a", None, None],
        )
    )
    got = await transport.send(
        GetRecords(**col, where={"lang": "en"}, include=("embeddings", "uris", "documents"))
    )
    assert got.ids == ["a"]
    assert got.embeddings is not None
    assert got.embeddings.tolist() == [[1, 0]]
    assert (got.uris, got.documents, got.metadatas) == (["u://a"], ["hello world"], None)
    res = await transport.send(
        QueryRecords(
            **col,
            query_embeddings=f32([[1, 0], [0, 1]]),
            n_results=5,
            where_document={"$not_contains": "hello"},
            include=("distances", "metadatas", "embeddings"),
        )
    )
    assert res.ids == [["c", "b"], ["b", "c"]]
    assert res.distances is not None
    assert [d.tolist() for d in res.distances] == [[1.0, 2.0], [0.0, 1.0]]
    assert res.metadatas == [[None, {"lang": "fr"}], [{"lang": "fr"}, None]]
    restricted = await transport.send(
        QueryRecords(**col, query_embeddings=f32([[1, 0]]), n_results=1, ids=["b", "c"])
    )
    assert restricted.ids == [["c"]]
    await transport.send(UpdateRecords(**col, ids=["b", "zz"], metadatas=[{"lang": "de"}, None]))
    await transport.send(UpsertRecords(**col, ids=["d"], embeddings=f32([[2, 2]])))
    await transport.send(DeleteRecords(**col, where={"lang": "en"}))
    final = await transport.send(GetRecords(**col))
    assert (final.ids, final.metadatas) == (["b", "c", "d"], [{"lang": "de"}, None, None])


async def test_query_on_an_empty_collection_returns_one_empty_list_per_query(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport)
    res = await transport.send(QueryRecords(**col, query_embeddings=f32([[1, 0], [0, 1]])))
    assert res.ids == [[], []]
    assert res.documents == [[], []]


async def test_delete_without_selector_is_rejected(transport: MemoryTransport) -> None:
    col = await new_collection(transport)
    await transport.send(AddRecords(**col, ids=["a"], embeddings=f32([[1, 0]])))
    with pytest.raises(InvalidArgumentError, match="ids, where or where_document"):
        await transport.send(DeleteRecords(**col))
    assert await transport.send(CountRecords(**col)) == 1


async def test_collections_databases_and_tenants_do_not_leak(
    transport: MemoryTransport,
) -> None:
    await transport.send(CreateTenant(name="t2"))
    await transport.send(CreateDatabase(tenant="t2", name="default_database"))
    one = await new_collection(transport, "same")
    two = await new_collection(transport, "same", tenant="t2")
    await transport.send(
        AddRecords(**one, ids=["x"], embeddings=f32([[1, 0]]), metadatas=[{"tags": ["a"]}])
    )
    await transport.send(DeleteCollection(**DEFAULT, name="same"))
    await transport.send(
        AddRecords(**two, ids=["x"], embeddings=f32([[0, 1]]), metadatas=[{"k": 1}])
    )
    got = await transport.send(GetRecords(**two, include=("metadatas", "embeddings")))
    assert got.metadatas == [{"k": 1}]
    assert (await transport.send(GetRecords(**two, where={"tags": {"$contains": "a"}}))).ids == []


# --- concurrency ------------------------------------------------------------------------


async def test_concurrent_writers_and_readers_end_equal_to_the_serial_model(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport)
    data = clustered(400, dim=8, seed=11)
    model: dict[str, list[float]] = {}
    rng = random.Random(3)

    async def writer(worker: int) -> None:
        for step in range(10):
            ids = [f"w{worker}-{step}-{i}" for i in range(4)]
            rows = data[rng.randrange(0, 396) :][:4]
            await transport.send(AddRecords(**col, ids=ids, embeddings=rows))
            model.update({i: r.tolist() for i, r in zip(ids, rows, strict=True)})
            # read-your-writes: the write is visible as soon as it returned
            seen = await transport.send(GetRecords(**col, ids=ids))
            assert seen.ids == ids
            if step % 3 == 0:
                await transport.send(DeleteRecords(**col, ids=ids[:1]))
                model.pop(ids[0])

    async def reader() -> None:
        for _ in range(15):
            res = await transport.send(QueryRecords(**col, query_embeddings=data[:2], n_results=3))
            assert len(res.ids) == 2
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for worker in range(8):
            tg.start_soon(writer, worker)
        for _ in range(4):
            tg.start_soon(reader)
    got = await transport.send(GetRecords(**col, include=("embeddings",)))
    assert got.embeddings is not None
    assert dict(zip(got.ids, got.embeddings.tolist(), strict=True)) == model
    assert await transport.send(CountRecords(**col)) == len(model)


async def test_a_cancelled_write_is_applied_whole_or_not_at_all(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport)
    batch = 4096
    data = clustered(batch, dim=64, seed=5)
    outcomes: set[int] = set()
    for attempt in range(6):
        ids = [f"{attempt}-{i}" for i in range(batch)]
        with anyio.move_on_after(0.001 * attempt):
            await transport.send(AddRecords(**col, ids=ids, embeddings=data))
        got = await transport.send(GetRecords(**col, ids=ids, include=()))
        assert len(got.ids) in (0, batch)
        outcomes.add(len(got.ids))
        if got.ids:
            res = await transport.send(
                QueryRecords(**col, query_embeddings=data[:1], n_results=1, ids=ids)
            )
            assert res.ids == [[ids[0]]]
    assert batch in outcomes


async def test_a_waiting_write_cancelled_before_it_starts_writes_nothing(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport)
    data = clustered(4096, dim=64, seed=6)
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            transport.send, AddRecords(**col, ids=[str(i) for i in range(4096)], embeddings=data)
        )
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await transport.send(AddRecords(**col, ids=["late"], embeddings=data[:1]))
    assert (await transport.send(GetRecords(**col, ids=["late"]))).ids == []
    assert await transport.send(CountRecords(**col)) == 4096


async def test_collection_ids_are_uuids(transport: MemoryTransport) -> None:
    col = await new_collection(transport)
    assert isinstance(col["collection_id"], uuid.UUID)


async def test_concurrent_queries_are_answered_as_if_sent_alone(
    transport: MemoryTransport,
) -> None:
    """Concurrent queries of one shape share a batch search; each still gets its own
    answer, and queries of other shapes are not mixed in."""
    col = await new_collection(transport, space="cosine")
    data = clustered(600, dim=8, seed=21)
    metadatas: list[dict[str, Any] | None] = [{"c": i % 3} for i in range(600)]
    await transport.send(
        AddRecords(**col, ids=[str(i) for i in range(600)], embeddings=data, metadatas=metadatas)
    )
    shapes: list[dict[str, Any]] = [
        {"n_results": 3},
        {"n_results": 5, "where": {"c": 1}},
        {"n_results": 2, "include": ("embeddings", "distances")},
    ]
    ops = [
        QueryRecords(**col, query_embeddings=data[i : i + 1 + i % 2], **shapes[i % 3])
        for i in range(30)
    ]
    alone = [await transport.send(op) for op in ops]
    together: list[Any] = [None] * len(ops)

    async def run(i: int) -> None:
        together[i] = await transport.send(ops[i])

    async with anyio.create_task_group() as tg:
        for i in range(len(ops)):
            tg.start_soon(run, i)
    for a, b in zip(alone, together, strict=True):
        assert a.ids == b.ids
        assert [d.tolist() for d in a.distances or []] == [d.tolist() for d in b.distances]
        if a.embeddings is not None:
            assert [e.tolist() for e in a.embeddings] == [e.tolist() for e in b.embeddings]


async def test_an_error_in_a_shared_query_batch_reaches_every_caller(
    transport: MemoryTransport,
) -> None:
    col = await new_collection(transport)
    await transport.send(AddRecords(**col, ids=["a"], embeddings=f32([[1, 0, 0]])))
    errors: list[BaseException] = []

    async def run() -> None:
        try:
            await transport.send(QueryRecords(**col, query_embeddings=f32([[1, 0]])))
        except InvalidArgumentError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(run)
    assert len(errors) == 5
    assert all("dimension of 3, got 2" in str(e) for e in errors)
