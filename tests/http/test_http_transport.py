"""The http transport against a real ``chroma run``, one typed operation at a time."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import aiohttp
import anyio
import msgspec
import numpy as np
import numpy.testing  # imported here: a lazy import inside a test would block the loop
import pytest
import trio
from http_scopes import Scope

import chroma_async
from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.registry import create_transport
from chroma_async.retry import RetryingTransport
from chroma_async_http import HttpTransport, wire
from chroma_async_http.testing import ServerProcess

pytestmark = pytest.mark.anyio

HNSW = {"hnsw": {"space": "l2"}}


async def new_collection(
    http: HttpTransport, scope: Scope, name: str = "docs", **kwargs: Any
) -> ops.CollectionModel:
    return await http.send(
        ops.CreateCollection(
            **scope.kw(), name=name, configuration=kwargs.pop("configuration", HNSW), **kwargs
        )
    )


async def build(url: str, **options: Any) -> Any:
    """``create_transport`` off the loop: looking up entry points reads package metadata."""
    return await anyio.to_thread.run_sync(functools.partial(create_transport, url, **options))


def vectors(n: int, dim: int = 4, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


async def test_open_reads_the_servers_pre_flight_checks(http: HttpTransport) -> None:
    caps = http.capabilities
    assert caps.name == "http"
    assert caps.max_batch_size == 5461  # what chroma run 1.5.9 reports
    assert caps.supports_base64 is True
    assert caps.requires_asyncio is True
    assert caps.max_write_concurrency == 1


async def test_entry_points_build_a_retrying_http_transport(chroma_server: ServerProcess) -> None:
    transport = await build(chroma_server.url, max_batch_size=1000)
    assert isinstance(transport, RetryingTransport)
    assert isinstance(transport.inner, HttpTransport)
    await transport.open()
    try:
        assert transport.capabilities.max_batch_size == 1000
        assert await transport.send(ops.Heartbeat()) > 1_600_000_000 * 10**9
        assert await transport.send(ops.GetVersion()) == "1.0.0"
    finally:
        await transport.aclose()


async def test_unknown_options_are_named(chroma_server: ServerProcess) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="timeot"):
        await build(chroma_server.url, timeot=3)


async def test_tenants_and_databases_round_trip(http: HttpTransport) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    await http.send(ops.CreateTenant(name=tenant))
    assert await http.send(ops.GetTenant(name=tenant)) == ops.TenantModel(name=tenant)
    with pytest.raises(errors.UniqueConstraintError):
        await http.send(ops.CreateTenant(name=tenant))
    await http.send(ops.CreateDatabase(tenant=tenant, name="first"))
    await http.send(ops.CreateDatabase(tenant=tenant, name="second"))
    database = await http.send(ops.GetDatabase(tenant=tenant, name="first"))
    assert (database.name, database.tenant) == ("first", tenant)
    listed = await http.send(ops.ListDatabases(tenant=tenant))
    assert [d.name for d in listed] == ["first", "second"]
    assert [
        d.name for d in await http.send(ops.ListDatabases(tenant=tenant, limit=1, offset=1))
    ] == ["second"]
    await http.send(ops.DeleteDatabase(tenant=tenant, name="first"))
    with pytest.raises(errors.NotFoundError, match="first"):
        await http.send(ops.GetDatabase(tenant=tenant, name="first"))
    with pytest.raises(errors.NotFoundError):
        await http.send(ops.GetTenant(name=f"missing-{uuid.uuid4().hex[:6]}"))


async def test_identity_of_an_unauthenticated_server_is_the_default_tenant(
    http: HttpTransport,
) -> None:
    identity = await http.send(ops.GetUserIdentity())
    assert identity.tenant == "default_tenant"
    assert identity.databases == ["default_database"]


async def test_collections_are_created_listed_renamed_and_deleted(
    http: HttpTransport, scope: Scope
) -> None:
    created = await new_collection(
        http,
        scope,
        metadata={"topic": "ai", "n": 1, "x": 0.5, "ok": True},
        configuration={"hnsw": {"space": "cosine", "ef_search": 50}},
    )
    assert created.name == "docs"
    assert (created.tenant, created.database) == (scope.tenant, scope.database)
    assert created.metadata == {"topic": "ai", "n": 1, "x": 0.5, "ok": True}
    assert created.configuration["hnsw"]["space"] == "cosine"
    assert created.configuration["hnsw"]["ef_search"] == 50
    assert None not in created.configuration.values()
    fetched = await http.send(ops.GetCollection(**scope.kw(), name="docs"))
    assert fetched.id == created.id
    with pytest.raises(errors.UniqueConstraintError, match="docs"):
        await new_collection(http, scope)
    again = await new_collection(http, scope, get_or_create=True)
    assert again.id == created.id
    await new_collection(http, scope, name="other")
    assert await http.send(ops.CountCollections(**scope.kw())) == 2
    names = [c.name for c in await http.send(ops.ListCollections(**scope.kw()))]
    assert sorted(names) == ["docs", "other"]  # chroma run's order is not creation order
    first = await http.send(ops.ListCollections(**scope.kw(), limit=1))
    second = await http.send(ops.ListCollections(**scope.kw(), limit=1, offset=1))
    assert [c.name for c in first + second] == names
    await http.send(
        ops.ModifyCollection(
            **scope.kw(), collection_id=created.id, new_name="renamed", new_metadata={"v": 2}
        )
    )
    renamed = await http.send(ops.GetCollection(**scope.kw(), name="renamed"))
    assert (renamed.id, renamed.metadata) == (created.id, {"v": 2})
    await http.send(ops.DeleteCollection(**scope.kw(), name="renamed"))
    with pytest.raises(errors.NotFoundError, match="renamed"):
        await http.send(ops.GetCollection(**scope.kw(), name="renamed"))
    with pytest.raises(errors.NotFoundError):
        await http.send(ops.DeleteCollection(**scope.kw(), name="renamed"))


async def test_records_round_trip_with_exact_float32_embeddings(
    http: HttpTransport, scope: Scope
) -> None:
    collection = await new_collection(http, scope)
    cid = collection.id
    embeddings = vectors(5)
    embeddings[0, 0] = np.float32(1e-39)  # a subnormal survives base64
    ids = [f"id{i}" for i in range(5)]
    await http.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=cid,
            ids=ids,
            embeddings=embeddings,
            metadatas=[{"i": i, "tags": [i, i + 1]} if i % 2 == 0 else None for i in range(5)],
            documents=[f"doc {i}" if i != 3 else None for i in range(5)],
        )
    )
    assert await http.send(ops.CountRecords(**scope.kw(), collection_id=cid)) == 5
    got = await http.send(
        ops.GetRecords(
            **scope.kw(),
            collection_id=cid,
            include=("embeddings", "metadatas", "documents", "uris"),
        )
    )
    assert got.ids == ids
    assert got.embeddings is not None
    assert got.embeddings.dtype == np.float32
    np.testing.assert_array_equal(got.embeddings, embeddings)
    assert got.metadatas == [
        {"i": 0, "tags": [0, 1]},
        None,
        {"i": 2, "tags": [2, 3]},
        None,
        {"i": 4, "tags": [4, 5]},
    ]
    assert got.documents == ["doc 0", "doc 1", "doc 2", None, "doc 4"]
    assert got.uris == [None] * 5

    only_ids = await http.send(
        ops.GetRecords(**scope.kw(), collection_id=cid, ids=["id2", "id0"], include=())
    )
    assert sorted(only_ids.ids) == ["id0", "id2"]
    assert (only_ids.embeddings, only_ids.documents, only_ids.metadatas, only_ids.uris) == (
        None,
        None,
        None,
        None,
    )
    page = await http.send(
        ops.GetRecords(**scope.kw(), collection_id=cid, where={"i": {"$gte": 2}}, limit=1, offset=1)
    )
    assert page.ids == ["id4"]
    assert page.embeddings is None


async def test_query_returns_float32_distances_nearest_first(
    http: HttpTransport, scope: Scope
) -> None:
    collection = await new_collection(http, scope)
    embeddings = vectors(20, seed=1)
    await http.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=collection.id,
            ids=[str(i) for i in range(20)],
            embeddings=embeddings,
            metadatas=[{"even": i % 2 == 0} for i in range(20)],
        )
    )
    queries = embeddings[[3, 8]] + np.float32(0.001)
    result = await http.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=collection.id,
            query_embeddings=queries,
            n_results=3,
            include=("distances", "embeddings", "metadatas"),
        )
    )
    assert [ids[0] for ids in result.ids] == ["3", "8"]
    assert result.distances is not None
    assert result.embeddings is not None
    expected = ((embeddings[None, :, :] - queries[:, None, :]) ** 2).sum(-1)
    for q, (ids, dist, emb) in enumerate(
        zip(result.ids, result.distances, result.embeddings, strict=True)
    ):
        assert dist.dtype == np.float32
        assert list(dist) == sorted(dist)
        np.testing.assert_allclose(dist, expected[q, [int(i) for i in ids]], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(emb, embeddings[[int(i) for i in ids]])
    assert result.documents is None
    assert result.uris is None
    filtered = await http.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=collection.id,
            query_embeddings=queries[:1],
            n_results=20,
            where={"even": True},
            include=(),
        )
    )
    assert sorted(int(i) for i in filtered.ids[0]) == list(range(0, 20, 2))
    assert filtered.distances is None


async def test_update_upsert_and_delete_follow_chromas_semantics(
    http: HttpTransport, scope: Scope
) -> None:
    cid = (await new_collection(http, scope)).id
    base = vectors(3, seed=2)
    await http.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=cid,
            ids=["a", "b", "c"],
            embeddings=base,
            metadatas=[{"k": 1, "keep": "x"}, {"k": 2}, {"k": 3}],
        )
    )
    # add of an existing id is ignored
    await http.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=cid,
            ids=["a"],
            embeddings=vectors(1, seed=9),
            metadatas=[{"k": 100}],
        )
    )
    await http.send(
        ops.UpdateRecords(
            **scope.kw(),
            collection_id=cid,
            ids=["a", "missing"],
            metadatas=[{"k": 10, "keep": None}, {"k": 0}],
        )
    )
    await http.send(
        ops.UpsertRecords(
            **scope.kw(),
            collection_id=cid,
            ids=["b", "d"],
            embeddings=vectors(2, seed=3),
            metadatas=[{"new": True}, {"k": 4}],
        )
    )
    got = await http.send(
        ops.GetRecords(**scope.kw(), collection_id=cid, include=("metadatas", "embeddings"))
    )
    by_id = dict(zip(got.ids, got.metadatas or [], strict=True))
    assert by_id == {"a": {"k": 10}, "b": {"k": 2, "new": True}, "c": {"k": 3}, "d": {"k": 4}}
    assert got.embeddings is not None
    np.testing.assert_array_equal(got.embeddings[0], base[0])
    await http.send(ops.DeleteRecords(**scope.kw(), collection_id=cid, where={"k": {"$gt": 3}}))
    await http.send(ops.DeleteRecords(**scope.kw(), collection_id=cid, ids=["c", "never"]))
    remaining = await http.send(ops.GetRecords(**scope.kw(), collection_id=cid, include=()))
    assert sorted(remaining.ids) == ["b"]


async def test_server_errors_map_onto_the_hierarchy_with_the_servers_message(
    http: HttpTransport, scope: Scope
) -> None:
    cid = (await new_collection(http, scope)).id
    await http.send(
        ops.AddRecords(**scope.kw(), collection_id=cid, ids=["a"], embeddings=vectors(1))
    )
    with pytest.raises(errors.InvalidArgumentError, match="dimension of 4, got 3"):
        await http.send(
            ops.AddRecords(**scope.kw(), collection_id=cid, ids=["b"], embeddings=vectors(1, dim=3))
        )
    with pytest.raises(errors.InvalidArgumentError, match="where"):
        await http.send(ops.GetRecords(**scope.kw(), collection_id=cid, where={"k": {"$bad": 1}}))
    with pytest.raises(errors.NotFoundError):
        await http.send(ops.CountRecords(**scope.kw(), collection_id=uuid.uuid4()))


async def test_a_write_larger_than_the_servers_batch_is_refused_before_sending(
    chroma_server: ServerProcess, scope: Scope, http: HttpTransport
) -> None:
    cid = (await new_collection(http, scope)).id
    small = HttpTransport(chroma_server.url, max_batch_size=10)
    await small.open()
    try:
        assert small.capabilities.max_batch_size == 10
        with pytest.raises(errors.BatchSizeExceededError, match="11 records"):
            await small.send(
                ops.AddRecords(
                    **scope.kw(),
                    collection_id=cid,
                    ids=[str(i) for i in range(11)],
                    embeddings=vectors(11),
                )
            )
    finally:
        await small.aclose()
    assert await http.send(ops.CountRecords(**scope.kw(), collection_id=cid)) == 0


async def test_without_base64_embeddings_go_as_lists_with_the_same_result(
    chroma_server: ServerProcess, scope: Scope, http: HttpTransport
) -> None:
    cid = (await new_collection(http, scope)).id
    plain = HttpTransport(chroma_server.url)
    await plain.open()
    plain._capabilities = msgspec.structs.replace(plain.capabilities, supports_base64=False)
    embeddings = vectors(4, seed=5)
    try:
        await plain.send(
            ops.AddRecords(**scope.kw(), collection_id=cid, ids=list("wxyz"), embeddings=embeddings)
        )
    finally:
        await plain.aclose()
    got = await http.send(ops.GetRecords(**scope.kw(), collection_id=cid, include=("embeddings",)))
    assert got.embeddings is not None
    np.testing.assert_array_equal(got.embeddings, embeddings)


async def test_reset_empties_a_server_that_allows_it(http: HttpTransport) -> None:
    # Runs on its own tenant's data only in effect: every other test makes fresh scopes.
    scope = Scope(tenant="default_tenant", database="default_database")
    await new_collection(http, scope, name=f"r-{uuid.uuid4().hex[:6]}")
    assert await http.send(ops.Reset()) is True
    assert await http.send(ops.CountCollections(**scope.kw())) == 0


def test_decoding_a_response_of_the_wrong_shape_names_the_field() -> None:
    transport = HttpTransport("http://127.0.0.1:9")
    with pytest.raises(errors.VersionMismatchError, match=r"\$\.ids\[0\]"):
        transport._decode(b'{"ids": [1]}', wire.GetWire, "POST /x")


async def test_a_user_supplied_session_is_used_and_left_open(chroma_server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(chroma_server.url, session=session)
        await transport.open()
        assert await transport.send(ops.GetVersion()) == "1.0.0"
        await transport.aclose()
        assert not session.closed
        async with session.get(f"{chroma_server.url}/api/v2/heartbeat") as response:
            assert response.status == 200


async def test_a_closed_transport_refuses_work(chroma_server: ServerProcess) -> None:
    transport = HttpTransport(chroma_server.url)
    await transport.open()
    await transport.aclose()
    await transport.aclose()  # idempotent
    with pytest.raises(errors.ClientClosedError):
        await transport.send(ops.Heartbeat())
    with pytest.raises(errors.ClientClosedError):
        await transport.open()


async def test_an_unreachable_server_is_a_connection_error_naming_the_host() -> None:
    from chroma_async_http.testing import free_port

    port = free_port()
    transport = await build(
        f"http://127.0.0.1:{port}",
        retry=chroma_async.retry.RetryPolicy(max_attempts=2, backoff_base=0.01),
    )
    with pytest.raises(errors.ConnectionError, match=f"127.0.0.1:{port}") as info:
        await transport.open()
    assert info.value.host == f"127.0.0.1:{port}"
    assert info.value.attempts == 2
    await transport.aclose()


def test_under_trio_open_says_the_transport_needs_asyncio(chroma_server: ServerProcess) -> None:
    transport = HttpTransport(chroma_server.url)

    async def main() -> None:
        await transport.open()

    with pytest.raises(errors.TransportError, match="needs asyncio"):
        trio.run(main)


def test_secrets_never_show_in_repr() -> None:
    transport = HttpTransport(
        "https://chroma.example:8443/base",
        api_key="sk-very-secret",
        headers={"Authorization": "Bearer hunter2"},
    )
    text = repr(transport) + repr(
        create_transport("https://chroma.example", api_key="sk-very-secret")
    )
    assert "sk-very-secret" not in text
    assert "hunter2" not in text
    assert "chroma.example:8443/base" in text


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        HttpTransport("http://user:pa55word@host:8000")
    assert "pa55word" not in str(info.value)


async def test_concurrent_first_calls_open_one_session(chroma_server: ServerProcess) -> None:
    transport = HttpTransport(chroma_server.url)
    sessions: set[int] = set()

    async def call() -> None:
        await transport.send(ops.Heartbeat())
        sessions.add(id(transport._session))

    try:
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(call)
        assert len(sessions) == 1
        assert transport.capabilities.max_batch_size == 5461
    finally:
        await transport.aclose()


async def test_a_record_with_a_uri_and_no_metadata_has_no_metadata(
    http: HttpTransport, scope: Scope
) -> None:
    # the server keeps uris inside metadata and answers {} for such a record
    cid = (await new_collection(http, scope)).id
    await http.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=cid,
            ids=["u", "m"],
            embeddings=vectors(2),
            uris=["file:///a", None],
            metadatas=[None, {"k": 1}],
        )
    )
    got = await http.send(
        ops.GetRecords(**scope.kw(), collection_id=cid, include=("metadatas", "uris"))
    )
    assert dict(zip(got.ids, got.metadatas or [], strict=True)) == {"u": None, "m": {"k": 1}}
    assert dict(zip(got.ids, got.uris or [], strict=True)) == {"u": "file:///a", "m": None}
    found = await http.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=cid,
            query_embeddings=vectors(1),
            n_results=2,
            include=("metadatas",),
        )
    )
    assert found.metadatas is not None
    assert dict(zip(found.ids[0], found.metadatas[0], strict=True)) == {"u": None, "m": {"k": 1}}
