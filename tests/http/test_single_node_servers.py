"""What the http transport does about the defects and gaps of Chroma's single-node servers.

- ``scrub_on_delete``: ``chroma run`` (like chromadb in-process) leaks the array-valued
  metadata of a deleted collection's records into records added later without those keys,
  in any collection of any tenant. The leak is reproduced here with the scrub off, on a
  server of its own (it would leak into other tests' records), and shown gone with it on.
- ``fork``: ``chroma run`` answers 501 and the Python server (the cloud stand-in) has no
  route; both are an ``InternalError`` saying the server cannot fork.
- ``query(ids=...)``: the Python server ignores ``ids``; the transport answers exactly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import numpy.testing
import pytest
from fault_proxy import FaultProxy
from http_scopes import Scope, make_scope

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.retry import RetryingTransport, RetryPolicy
from chroma_async_http import CloudTransport, HttpTransport, exact, wire
from chroma_async_http.testing import CloudServer, ServerProcess, chroma_run
from chroma_async_http.transport import CANNOT_FORK

pytestmark = pytest.mark.anyio

ARRAYS = [{"tags": ["p", "q"], "n": 1}, {"nums": [1, 2]}, {"flag": True}]
LATER = [{"m": 2}, None, {"m": 3}, None]


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``chroma run`` for one test: a leak left behind must not reach other tests."""
    with chroma_run(tmp_path_factory.mktemp("own-chroma-run")) as server:
        yield server


async def collection_in_new_scope(
    transport: HttpTransport, name: str = "docs"
) -> tuple[Scope, ops.CollectionModel]:
    scope = await make_scope(transport)
    created = await transport.send(
        ops.CreateCollection(**scope.kw(), name=name, configuration={"hnsw": {"space": "l2"}})
    )
    return scope, created


async def add(
    transport: HttpTransport,
    scope: Scope,
    collection: ops.CollectionModel,
    ids: list[str],
    metadatas: list[Any],
) -> None:
    await transport.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=collection.id,
            ids=ids,
            embeddings=np.arange(len(ids) * 2, dtype=np.float32).reshape(-1, 2),
            metadatas=metadatas,
        )
    )


async def metadatas_of(
    transport: HttpTransport, scope: Scope, collection: ops.CollectionModel
) -> list[Any]:
    found = await transport.send(
        ops.GetRecords(**scope.kw(), collection_id=collection.id, include=("metadatas",))
    )
    return list(found.metadatas or [])


async def delete_then_add_elsewhere(transport: HttpTransport, what: str) -> list[Any]:
    """Records with arrays in a collection that is deleted (or whose database is), then
    records without arrays in a new tenant: their metadata as read back."""
    scope, doomed = await collection_in_new_scope(transport)
    await add(transport, scope, doomed, ["a", "b", "c"], ARRAYS)
    # a second collection in the doomed database: a database delete must scrub it too
    other = await transport.send(ops.CreateCollection(**scope.kw(), name="other", configuration={}))
    await add(transport, scope, other, ["x"], [{"more": ["r", "s"]}])
    if what == "collection":
        await transport.send(ops.DeleteCollection(**scope.kw(), name="docs"))
        await transport.send(ops.DeleteCollection(**scope.kw(), name="other"))
    else:
        await transport.send(ops.DeleteDatabase(tenant=scope.tenant, name=scope.database))
    later_scope, later = await collection_in_new_scope(transport, "later")
    await add(transport, later_scope, later, ["l1", "l2", "l3", "l4"], LATER)
    return await metadatas_of(transport, later_scope, later)


@pytest.mark.parametrize("what", ["collection", "database"])
async def test_without_the_scrub_a_deleted_collections_arrays_leak_into_later_records(
    own_server: ServerProcess, what: str
) -> None:
    transport = HttpTransport(own_server.url, scrub_on_delete=False)
    await transport.open()
    try:
        got = await delete_then_add_elsewhere(transport, what)
    finally:
        await transport.aclose()
    # chromadb's defect, as the server has it: the arrays of a, b and x come back attached
    # to l1, l2, l3 (row ids reused), though l2 was written without metadata
    leaked = [key for metadata in got if metadata for key in metadata if key != "m"]
    assert set(leaked) >= {"tags", "nums"}, got
    assert got != LATER


@pytest.mark.parametrize("what", ["collection", "database"])
async def test_the_scrub_leaves_nothing_to_leak(own_server: ServerProcess, what: str) -> None:
    transport = HttpTransport(own_server.url)
    assert transport.scrub_on_delete is True
    await transport.open()
    try:
        assert await delete_then_add_elsewhere(transport, what) == LATER
    finally:
        await transport.aclose()


async def test_the_scrub_pages_through_collections_larger_than_a_batch(
    own_server: ServerProcess,
) -> None:
    # batches of 7: 40 records are read in 6 pages and their 20 arrays deleted in 3 batches
    transport = HttpTransport(own_server.url, max_batch_size=7)
    await transport.open()
    try:
        scope, doomed = await collection_in_new_scope(transport)
        ids = [f"r{i:02d}" for i in range(40)]
        metadatas = [{"tags": ["t", str(i)]} if i % 2 else {"i": i} for i in range(40)]
        for start in range(0, 40, 7):
            await add(
                transport, scope, doomed, ids[start : start + 7], metadatas[start : start + 7]
            )
        await transport.send(ops.DeleteCollection(**scope.kw(), name="docs"))
        later_scope, later = await collection_in_new_scope(transport, "later")
        for start in range(0, 40, 7):
            part = [f"l{i:02d}" for i in range(start, min(start + 7, 40))]
            await add(transport, later_scope, later, part, [None] * len(part))
        assert await metadatas_of(transport, later_scope, later) == [None] * 40
    finally:
        await transport.aclose()


async def test_deleting_a_missing_collection_with_the_scrub_is_not_found(
    http: HttpTransport, scope: Scope
) -> None:
    with pytest.raises(errors.NotFoundError, match="nowhere"):
        await http.send(ops.DeleteCollection(**scope.kw(), name="nowhere"))


async def test_a_failed_scrub_did_not_delete_so_the_delete_is_retried(
    proxy: FaultProxy, http: HttpTransport, scope: Scope, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chroma_async.retry")
    created = await http.send(ops.CreateCollection(**scope.kw(), name="docs", configuration={}))
    await add(http, scope, created, ["a"], [{"tags": ["x"]}])
    policy = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
    transport = RetryingTransport(HttpTransport(proxy.url), policy)
    await transport.open()
    try:
        # the scrub's read is applied by the server, its answer lost: a delete may follow
        proxy.applies_to = lambda method, path: path.endswith("/get")
        proxy.forced = ["reset_after"]
        await transport.send(ops.DeleteCollection(**scope.kw(), name="docs"))
    finally:
        await transport.aclose()
    assert proxy.counts["reset_after"] == 1
    retries = [r for r in caplog.records if r.name == "chroma_async.retry"]
    assert [r.__dict__["op"] for r in retries] == ["DeleteCollection"]
    with pytest.raises(errors.NotFoundError):
        await http.send(ops.GetCollection(**scope.kw(), name="docs"))


async def test_a_lost_answer_to_the_delete_itself_is_still_not_repeated(
    proxy: FaultProxy, http: HttpTransport, scope: Scope
) -> None:
    # neither by the retry wrapper nor by aiohttp, which would repeat a DELETE on its own
    await http.send(ops.CreateCollection(**scope.kw(), name="docs", configuration={}))
    policy = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
    inner = HttpTransport(proxy.url)
    transport = RetryingTransport(inner, policy)
    await transport.open()
    assert inner._session is not None
    assert inner._session._retry_connection is False
    try:
        proxy.applies_to = lambda method, path: method == "DELETE"
        proxy.forced = ["reset_after"]
        with pytest.raises(errors.ConnectionError):
            await transport.send(ops.DeleteCollection(**scope.kw(), name="docs"))
    finally:
        await transport.aclose()
    assert proxy.counts["reset_after"] == 1


def test_scrub_on_delete_is_on_for_http_off_for_cloud_and_may_be_chosen() -> None:
    assert HttpTransport("http://localhost:8000").scrub_on_delete is True
    assert HttpTransport("http://localhost:8000", scrub_on_delete=False).scrub_on_delete is False
    cloud = CloudTransport(api_key="k", host="api.trychroma.com")
    assert cloud.scrub_on_delete is False
    assert CloudTransport(api_key="k", host="h", scrub_on_delete=True).scrub_on_delete is True
    with pytest.raises(errors.InvalidArgumentError, match="scrub_on_delete"):
        HttpTransport("http://localhost:8000", scrub_on_delete="yes")  # type: ignore[arg-type]


# --- fork ------------------------------------------------------------------------------------


async def test_chroma_run_cannot_fork_and_says_so(http: HttpTransport, scope: Scope) -> None:
    created = await http.send(ops.CreateCollection(**scope.kw(), name="src", configuration={}))
    with pytest.raises(errors.InternalError) as caught:
        await http.send(ops.ForkCollection(**scope.kw(), collection_id=created.id, new_name="copy"))
    assert type(caught.value) is errors.InternalError
    assert str(caught.value).startswith(CANNOT_FORK)
    assert "501" in str(caught.value)
    names = [c.name for c in await http.send(ops.ListCollections(**scope.kw()))]
    assert names == ["src"]


async def cloud_transport(cloud_server: CloudServer) -> CloudTransport:
    options = cloud_server.options(api_key="admin-token", scrub_on_delete=True)
    transport = CloudTransport(
        host="api.trychroma.com",
        port=options.pop("cloud_port"),
        **options,
    )
    await transport.open()
    return transport


@pytest.fixture
async def cloud(cloud_server: CloudServer) -> AsyncIterator[CloudTransport]:
    transport = await cloud_transport(cloud_server)
    yield transport
    await transport.aclose()


async def test_a_server_without_a_fork_route_cannot_fork_rather_than_not_find(
    cloud: CloudTransport,
) -> None:
    scope = await make_scope(cloud)
    created = await cloud.send(ops.CreateCollection(**scope.kw(), name="src", configuration={}))
    for collection_id in (created.id, uuid.UUID(int=0)):
        with pytest.raises(errors.InternalError) as caught:
            await cloud.send(
                ops.ForkCollection(**scope.kw(), collection_id=collection_id, new_name="copy")
            )
        assert type(caught.value) is errors.InternalError
        assert str(caught.value).startswith(CANNOT_FORK)
        assert "404" in str(caught.value)


async def test_a_missing_route_is_a_version_mismatch_not_a_missing_collection(
    cloud: CloudTransport,
) -> None:
    with pytest.raises(errors.VersionMismatchError, match="does not offer this request"):
        await cloud._call("GET", "/no/such/route", object)


# --- query with ids on a server that ignores them --------------------------------------------


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
async def test_a_query_whose_ids_the_server_ignored_is_answered_exactly(
    cloud: CloudTransport, space: str
) -> None:
    scope = await make_scope(cloud)
    created = await cloud.send(
        ops.CreateCollection(**scope.kw(), name="qcol", configuration={"hnsw": {"space": space}})
    )
    rng = np.random.default_rng(5)
    data = rng.standard_normal((60, 8)).astype(np.float32)
    ids = [f"id{i:02d}" for i in range(60)]
    await cloud.send(
        ops.AddRecords(
            **scope.kw(),
            collection_id=created.id,
            ids=ids,
            embeddings=data,
            metadatas=[{"even": i % 2 == 0} for i in range(60)],
            documents=[f"doc {i}" for i in range(60)],
            uris=[f"u{i}" if i % 3 else None for i in range(60)],
        )
    )
    wanted = [ids[i] for i in range(0, 60, 3)] + ["missing"]  # 20 records, 10 of them even
    queries = rng.standard_normal((2, 8)).astype(np.float32)
    include = ("documents", "metadatas", "distances", "embeddings", "uris")
    result = await cloud.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=created.id,
            query_embeddings=queries,
            n_results=4,
            ids=wanted,
            where={"even": True},
            include=include,
        )
    )
    allowed = [i for i in range(0, 60, 3) if i % 2 == 0]
    table = exact.distances(space, queries.astype(np.float64), data[allowed].astype(np.float64))
    assert result.distances is not None
    assert result.embeddings is not None
    assert result.documents is not None
    assert result.metadatas is not None
    assert result.uris is not None
    for row in range(2):
        order = [allowed[j] for j in np.argsort(table[row], kind="stable")[:4]]
        assert result.ids[row] == [ids[i] for i in order]
        assert result.distances[row].dtype == np.float32
        numpy.testing.assert_allclose(
            result.distances[row], np.sort(table[row])[:4], rtol=1e-5, atol=1e-5
        )
        # as the server stores them (in cosine space it may differ in the last bit)
        numpy.testing.assert_allclose(result.embeddings[row], data[order], rtol=1e-6)
        assert result.documents[row] == [f"doc {i}" for i in order]
        assert result.metadatas[row] == [{"even": True}] * 4
        assert result.uris[row] == [f"u{i}" if i % 3 else None for i in order]
    assert cloud._spaces == {created.id: space}


async def test_a_query_restricted_to_ids_matching_nothing_is_empty(cloud: CloudTransport) -> None:
    scope = await make_scope(cloud)
    created = await cloud.send(ops.CreateCollection(**scope.kw(), name="qcol", configuration={}))
    await add(cloud, scope, created, ["a", "b"], [{"g": 1}, {"g": 2}])
    result = await cloud.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=created.id,
            query_embeddings=np.zeros((1, 2), np.float32),
            ids=["a"],
            where={"g": 2},
            include=("distances", "embeddings"),
        )
    )
    assert result.ids == [[]]
    assert result.distances is not None
    assert result.distances[0].shape == (0,)
    assert result.embeddings is not None
    assert result.embeddings[0].shape == (0, 0)


async def test_chroma_run_honours_query_ids_itself(http: HttpTransport, scope: Scope) -> None:
    created = await http.send(ops.CreateCollection(**scope.kw(), name="qcol", configuration={}))
    await add(http, scope, created, ["a", "b", "c"], [None, None, None])
    result = await http.send(
        ops.QueryRecords(
            **scope.kw(),
            collection_id=created.id,
            query_embeddings=np.zeros((1, 2), np.float32),
            ids=["c", "b"],
        )
    )
    assert result.ids == [["b", "c"]]
    assert http._spaces == {}  # answered by the server: no exact ranking here


# --- exact ranking, pure ---------------------------------------------------------------------


def found(vectors: list[list[float]], **columns: Any) -> wire.GetWire:
    return wire.GetWire(ids=[f"r{i}" for i in range(len(vectors))], embeddings=vectors, **columns)


@pytest.mark.parametrize(
    ("space", "query", "expected"),
    [
        ("l2", [0.0, 2.0], [4.0, 5.0, 29.0, 2.0]),  # squared
        ("cosine", [1.0, 0.0], [1.0, 0.0, 0.0, 1.0 - 1.0 / np.sqrt(2.0)]),  # zero vector: 1
        ("ip", [1.0, 2.0], [1.0, 0.0, -4.0, -2.0]),  # 1 - dot
    ],
)
def test_distances_are_chromas(space: str, query: list[float], expected: list[float]) -> None:
    records = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [1.0, 1.0]])
    got = exact.distances(space, np.array([query]), records)
    numpy.testing.assert_allclose(got, [expected], atol=1e-12)


def test_an_unknown_space_is_named() -> None:
    with pytest.raises(errors.VersionMismatchError, match="manhattan"):
        exact.distances("manhattan", np.zeros((1, 2)), np.zeros((1, 2)))


def test_space_of_reads_hnsw_then_spann_then_defaults_to_l2() -> None:
    assert exact.space_of({"hnsw": {"space": "ip"}, "spann": None}) == "ip"
    assert exact.space_of({"hnsw": None, "spann": {"space": "cosine"}}) == "cosine"
    assert exact.space_of({}) == "l2"
    assert exact.space_of(None) == "l2"


def test_rank_exactly_keeps_n_results_nearest_first_and_ties_in_given_order() -> None:
    records = found(
        [[2.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 3.0]],
        metadatas=[{"k": 1}, {}, None, {"k": 4}],
        documents=None,
    )
    result = exact.rank_exactly(
        records,
        np.zeros((1, 2), np.float32),
        "l2",
        3,
        ["metadatas", "documents", "distances"],
    )
    assert result.ids == [["r1", "r2", "r0"]]
    assert result.distances is not None
    numpy.testing.assert_array_equal(result.distances[0], np.array([1, 1, 4], np.float32))
    assert result.metadatas == [[None, None, {"k": 1}]]  # {} is Chroma's "no metadata"
    assert result.documents == [[None, None, None]]
    assert result.embeddings is None
    assert result.uris is None
