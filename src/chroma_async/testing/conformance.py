"""The conformance suite: what every transport must do, as reusable pytest test classes.

A transport is done when it passes this suite (DESIGN §6). Like fsspec's
``fsspec/tests/abstract``, the tests are mixin classes; a transport's test module subclasses
them and provides **one fixture**, ``client_factory``::

    # tests/test_conformance.py of a transport package
    import pytest

    import chroma_async
    from chroma_async.testing.conformance import ConformanceSuite


    class TestMyTransport(ConformanceSuite):
        @pytest.fixture
        def client_factory(self) -> ClientFactory:
            def connect(settings: chroma_async.Settings | None = None):
                return chroma_async.connect("my-scheme://...", settings=settings)

            return connect

``client_factory`` returns a callable ``factory(settings=None)`` that returns what
:func:`chroma_async.connect` returns: an object that is awaitable (giving an open
``AsyncClient``) and an async context manager (opening it, and closing it on exit).
Each call must give a **fresh, isolated** client: its current tenant and database hold no
collections, and nothing one call's client writes is visible through another call's
client (for a server, connect each call to a new tenant and database). ``settings`` must
reach the client: the suite passes ``Settings(allow_reset=True)`` to test ``reset``.

The suite runs under every backend of the ``anyio_backend`` fixture (anyio's pytest
plugin: asyncio and trio by default). A transport that needs asyncio overrides it::

    @pytest.fixture
    def anyio_backend() -> str:
        return "asyncio"

Pick parts with the individual classes (``RecordWriteTests``, ``WhereTests``, ...) or take
everything with :class:`ConformanceSuite`. Where the right answer was in doubt it was
asked of ``chromadb`` 1.5.9 (in-process), and the expected values below are its answers.
Deliberate differences from chromadb are named where they are tested (for example
``UniqueConstraintError`` where chromadb in-process raises ``InternalError``, and
``fork``, which chromadb implements only on its servers).

This module ships in the product: it imports only chroma_async (and its anyio), pytest and
numpy.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Generator, Sequence
from typing import Any, Protocol

import anyio
import numpy as np
import numpy.testing  # imported here, not first on the event loop: its import reads files
import numpy.typing as npt
import pytest

from chroma_async import (
    AsyncClient,
    AsyncCollection,
    AuthorizationError,
    ClientClosedError,
    DuplicateIDError,
    InvalidArgumentError,
    NotFoundError,
    Settings,
    UniqueConstraintError,
)

__all__ = [
    "ClientFactory",
    "CollectionTests",
    "ConcurrencyTests",
    "ConformanceSuite",
    "DistanceTests",
    "EmbeddingFunctionTests",
    "EmbeddingInputTests",
    "GetTests",
    "LifecycleTests",
    "OpeningClient",
    "QueryTests",
    "RecordWriteTests",
    "TenancyTests",
    "ValidationTests",
    "WhereDocumentTests",
    "WhereTests",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class OpeningClient(Protocol):
    """What :func:`chroma_async.connect` returns: awaitable and an async context manager."""

    def __await__(self) -> Generator[Any, None, AsyncClient]: ...

    async def __aenter__(self) -> AsyncClient: ...

    async def __aexit__(self, *exc_info: Any) -> Any: ...


class ClientFactory(Protocol):
    """The ``client_factory`` fixture's value: makes a fresh, isolated client per call."""

    def __call__(self, settings: Settings | None = None) -> OpeningClient: ...


# --- helpers ------------------------------------------------------------------------------


def unique_name(prefix: str) -> str:
    """A collection/tenant/database name no other test uses (servers are shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def random_vectors(count: int, dim: int, seed: int) -> F32:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


def exact_distances(space: str, queries: npt.ArrayLike, data: npt.ArrayLike) -> F64:
    """Chroma's distances, in float64: l2 is squared L2, cosine is 1 − cos, ip is 1 − dot."""
    q = np.asarray(queries, dtype=np.float64)
    d = np.asarray(data, dtype=np.float64)
    if space == "l2":
        result: F64 = ((q[:, None, :] - d[None, :, :]) ** 2).sum(axis=-1)
        return result
    if space == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        dn = d / np.linalg.norm(d, axis=1, keepdims=True)
        return np.asarray(1.0 - qn @ dn.T, dtype=np.float64)
    if space == "ip":
        return np.asarray(1.0 - q @ d.T, dtype=np.float64)
    raise ValueError(space)


class TextEmbedding:
    """A deterministic embedding function (Chroma's protocol) that records its threads."""

    dim = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[int] = set()

    @staticmethod
    def vector(text: str) -> list[float]:
        return [
            float(len(text)),
            float(text.count("a")),
            float(text.count("e")) + 1.0,
            float(text.count(" ")),
        ]

    def __call__(self, input: list[str]) -> list[list[float]]:
        self.calls.append(list(input))
        self.threads.add(threading.get_ident())
        return [self.vector(text) for text in input]


class AsyncTextEmbedding(TextEmbedding):
    """The same embedding as an ``async def __call__``."""

    async def __call__(self, input: list[str]) -> list[list[float]]:  # type: ignore[override]
        return super().__call__(input)


# --- the suite ----------------------------------------------------------------------------


class _ClientTests:
    """Fixtures shared by every part of the suite."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def client_factory(self) -> ClientFactory:
        raise NotImplementedError(
            "subclass the conformance tests and override the 'client_factory' fixture; "
            "see chroma_async.testing.conformance"
        )

    @pytest.fixture
    async def client(self, client_factory: ClientFactory) -> AsyncIterator[AsyncClient]:
        async with client_factory() as client:
            yield client

    @pytest.fixture
    async def collection(self, client: AsyncClient) -> AsyncCollection:
        return await client.create_collection("conformance")


class LifecycleTests(_ClientTests):
    """Opening, closing, system calls and ``reset``."""

    async def test_heartbeat_returns_nanoseconds_since_the_epoch(self, client: AsyncClient) -> None:
        beat = await client.heartbeat()
        assert isinstance(beat, int)
        assert abs(beat / 1e9 - time.time()) < 3600

    async def test_get_version_returns_a_version_string(self, client: AsyncClient) -> None:
        version = await client.get_version()
        assert isinstance(version, str)
        assert version

    async def test_get_max_batch_size_is_a_positive_int(self, client: AsyncClient) -> None:
        size = await client.get_max_batch_size()
        assert isinstance(size, int)
        assert size > 0

    async def test_get_user_identity_names_a_tenant_and_databases(
        self, client: AsyncClient
    ) -> None:
        identity = await client.get_user_identity()
        assert isinstance(identity.tenant, str)
        assert all(isinstance(name, str) for name in identity.databases)

    async def test_awaited_client_is_open_and_closes(self, client_factory: ClientFactory) -> None:
        client = await client_factory()
        try:
            assert await client.count_collections() == 0
        finally:
            await client.close()
        with pytest.raises(ClientClosedError):
            await client.count_collections()

    async def test_async_with_closes_the_client_on_exit(
        self, client_factory: ClientFactory
    ) -> None:
        async with client_factory() as client:
            await client.heartbeat()
        with pytest.raises(ClientClosedError):
            await client.heartbeat()

    async def test_async_with_on_an_awaited_client_closes_it(
        self, client_factory: ClientFactory
    ) -> None:
        client = await client_factory()
        async with client:
            await client.heartbeat()
        with pytest.raises(ClientClosedError):
            await client.heartbeat()

    async def test_close_is_idempotent(self, client_factory: ClientFactory) -> None:
        client = await client_factory()
        await client.close()
        await client.close()
        with pytest.raises(ClientClosedError):
            await client.list_collections()

    async def test_every_client_call_after_close_raises_client_closed_error(
        self, client_factory: ClientFactory
    ) -> None:
        client = await client_factory()
        await client.close()
        with pytest.raises(ClientClosedError):
            await client.create_collection("after-close")
        with pytest.raises(ClientClosedError):
            await client.get_collection("after-close")
        with pytest.raises(ClientClosedError):
            await client.get_version()
        with pytest.raises(ClientClosedError):
            await client.list_databases()

    async def test_collection_calls_after_close_raise_client_closed_error(
        self, client_factory: ClientFactory
    ) -> None:
        client = await client_factory()
        collection = await client.create_collection("closing")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        await client.close()
        with pytest.raises(ClientClosedError):
            await collection.count()
        with pytest.raises(ClientClosedError):
            await collection.add(ids=["b"], embeddings=[[1.0, 2.0]])
        with pytest.raises(ClientClosedError):
            await collection.get()
        with pytest.raises(ClientClosedError):
            await collection.query(query_embeddings=[[1.0, 2.0]])

    async def test_reset_is_refused_unless_allowed_and_deletes_nothing(
        self, client: AsyncClient
    ) -> None:
        await client.create_collection("kept")
        with pytest.raises(AuthorizationError):
            await client.reset()
        assert (await client.get_collection("kept")).name == "kept"

    async def test_reset_with_allow_reset_deletes_every_collection(
        self, client_factory: ClientFactory
    ) -> None:
        async with client_factory(settings=Settings(allow_reset=True)) as client:
            collection = await client.create_collection("doomed")
            await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
            assert await client.reset() is True
            with pytest.raises(NotFoundError):
                await client.get_collection("doomed")

    async def test_tenant_and_database_properties_follow_set_database(
        self, client: AsyncClient
    ) -> None:
        name = unique_name("db")
        await client.create_database(name)
        tenant = client.tenant
        await client.set_database(name)
        assert client.database == name
        assert client.tenant == tenant


class TenancyTests(_ClientTests):
    """Tenants, databases, and that nothing leaks between them."""

    async def test_created_tenant_can_be_fetched(self, client: AsyncClient) -> None:
        name = unique_name("tenant")
        await client.create_tenant(name)
        assert (await client.get_tenant(name))["name"] == name

    async def test_creating_an_existing_tenant_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        # chromadb in-process raises InternalError here; ours is deliberate.
        name = unique_name("tenant")
        await client.create_tenant(name)
        with pytest.raises(UniqueConstraintError, match=name):
            await client.create_tenant(name)

    async def test_getting_a_missing_tenant_raises_not_found_error(
        self, client: AsyncClient
    ) -> None:
        name = unique_name("missing")
        with pytest.raises(NotFoundError, match=name):
            await client.get_tenant(name)

    @pytest.mark.parametrize("name", ["ab", ""])
    async def test_too_short_tenant_names_are_rejected(
        self, client: AsyncClient, name: str
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await client.create_tenant(name)

    async def test_created_database_can_be_fetched(self, client: AsyncClient) -> None:
        tenant, name = unique_name("tenant"), unique_name("db")
        await client.create_tenant(tenant)
        await client.create_database(name, tenant=tenant)
        database = await client.get_database(name, tenant=tenant)
        assert database["name"] == name
        assert database["tenant"] == tenant
        assert isinstance(database["id"], uuid.UUID)

    async def test_creating_an_existing_database_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        name = unique_name("db")
        await client.create_database(name)
        with pytest.raises(UniqueConstraintError, match=name):
            await client.create_database(name)

    async def test_getting_a_missing_database_raises_not_found_error(
        self, client: AsyncClient
    ) -> None:
        name = unique_name("missing")
        with pytest.raises(NotFoundError, match=name):
            await client.get_database(name)

    async def test_creating_a_database_in_a_missing_tenant_raises_not_found_error(
        self, client: AsyncClient
    ) -> None:
        tenant = unique_name("missing")
        with pytest.raises(NotFoundError, match=tenant):
            await client.create_database(unique_name("db"), tenant=tenant)

    async def test_too_short_database_names_are_rejected(self, client: AsyncClient) -> None:
        with pytest.raises(InvalidArgumentError, match="ab"):
            await client.create_database("ab")

    async def test_list_databases_lists_a_tenants_databases_and_pages(
        self, client: AsyncClient
    ) -> None:
        tenant = unique_name("tenant")
        await client.create_tenant(tenant)
        names = {unique_name("db") for _ in range(4)}
        for name in names:
            await client.create_database(name, tenant=tenant)
        listed = [db["name"] for db in await client.list_databases(tenant=tenant)]
        assert set(listed) == names
        assert len(listed) == 4
        first = await client.list_databases(limit=3, tenant=tenant)
        rest = await client.list_databases(limit=3, offset=3, tenant=tenant)
        assert [db["name"] for db in [*first, *rest]] == listed

    async def test_deleted_database_is_gone(self, client: AsyncClient) -> None:
        name = unique_name("db")
        await client.create_database(name)
        await client.delete_database(name)
        with pytest.raises(NotFoundError):
            await client.get_database(name)
        with pytest.raises(NotFoundError):
            await client.delete_database(name)

    async def test_deleting_a_database_deletes_its_collections(self, client: AsyncClient) -> None:
        home, name = client.database, unique_name("db")
        await client.create_database(name)
        await client.set_database(name)
        collection = await client.create_collection("inside")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        await client.set_database(home)
        await client.delete_database(name)
        await client.create_database(name)
        await client.set_database(name)
        assert await client.list_collections() == []
        with pytest.raises(NotFoundError):
            await client.get_collection("inside")

    async def test_collections_of_the_same_name_in_two_databases_are_separate(
        self, client: AsyncClient
    ) -> None:
        home, other = client.database, unique_name("db")
        await client.create_database(other)
        here = await client.create_collection("shared-name")
        await here.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        await client.set_database(other)
        assert await client.count_collections() == 0
        there = await client.create_collection("shared-name", metadata={"where": "other"})
        await there.add(ids=["c"], embeddings=[[1.0, 1.0, 1.0]])
        assert there.id != here.id
        assert (await there.get())["ids"] == ["c"]
        await client.set_database(home)
        again = await client.get_collection("shared-name")
        assert again.id == here.id
        assert again.metadata is None
        assert (await again.get())["ids"] == ["a", "b"]

    async def test_collections_of_the_same_name_in_two_tenants_are_separate(
        self, client: AsyncClient
    ) -> None:
        home_tenant, home_db = client.tenant, client.database
        here = await client.create_collection("tenant-shared")
        await here.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"tags": ["x", "y"]}])
        tenant, database = unique_name("tenant"), unique_name("db")
        await client.create_tenant(tenant)
        await client.create_database(database, tenant=tenant)
        await client.set_tenant(tenant, database=database)
        assert (client.tenant, client.database) == (tenant, database)
        assert await client.list_collections() == []
        there = await client.create_collection("tenant-shared")
        await there.add(ids=["a"], embeddings=[[3.0, 4.0]], metadatas=[{"n": 1}])
        got = await there.get(include=["metadatas", "embeddings"])
        assert got["metadatas"] == [{"n": 1}]
        await client.set_tenant(home_tenant, database=home_db)
        got = await here.get(include=["metadatas", "embeddings"])
        assert got["metadatas"] == [{"tags": ["x", "y"]}]
        assert got["embeddings"] is not None
        np.testing.assert_allclose(got["embeddings"], [[1.0, 0.0]])

    async def test_switching_to_a_missing_tenant_or_database_fails_and_changes_nothing(
        self, client: AsyncClient
    ) -> None:
        tenant, database = client.tenant, client.database
        missing = unique_name("missing")
        with pytest.raises(NotFoundError):
            await client.set_tenant(missing)
        with pytest.raises(NotFoundError):
            await client.set_database(missing)
        assert (client.tenant, client.database) == (tenant, database)


class CollectionTests(_ClientTests):
    """Creating, finding, listing, modifying, forking and deleting collections."""

    async def test_create_collection_returns_its_name_id_and_metadata(
        self, client: AsyncClient
    ) -> None:
        collection = await client.create_collection("books", metadata={"topic": "sf", "n": 1})
        assert collection.name == "books"
        assert isinstance(collection.id, uuid.UUID)
        assert collection.metadata == {"topic": "sf", "n": 1}
        assert await collection.count() == 0

    async def test_collection_without_metadata_has_metadata_none(self, client: AsyncClient) -> None:
        assert (await client.create_collection("plain")).metadata is None

    async def test_default_configuration_is_chromas_hnsw_defaults(
        self, client: AsyncClient
    ) -> None:
        hnsw = (await client.create_collection("defaults")).configuration["hnsw"]
        assert hnsw["space"] == "l2"
        assert hnsw["ef_construction"] == 100
        assert hnsw["ef_search"] == 100
        assert hnsw["max_neighbors"] == 16

    async def test_creating_an_existing_collection_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        # chromadb in-process raises InternalError here; ours is deliberate.
        await client.create_collection("twice")
        with pytest.raises(UniqueConstraintError, match="twice"):
            await client.create_collection("twice")

    async def test_get_or_create_returns_the_existing_collection_unchanged(
        self, client: AsyncClient
    ) -> None:
        first = await client.create_collection("existing", metadata={"v": 1})
        again = await client.create_collection("existing", metadata={"v": 2}, get_or_create=True)
        also = await client.get_or_create_collection("existing", metadata={"v": 3})
        assert again.id == first.id == also.id
        assert (await client.get_collection("existing")).metadata == {"v": 1}

    async def test_get_or_create_collection_creates_a_missing_collection(
        self, client: AsyncClient
    ) -> None:
        created = await client.get_or_create_collection("fresh", metadata={"v": 1})
        assert created.metadata == {"v": 1}
        assert (await client.get_collection("fresh")).id == created.id

    async def test_get_collection_returns_the_stored_collection(self, client: AsyncClient) -> None:
        created = await client.create_collection(
            "stored", metadata={"k": "v"}, configuration={"hnsw": {"space": "ip"}}
        )
        fetched = await client.get_collection("stored")
        assert (fetched.id, fetched.name, fetched.metadata) == (created.id, "stored", {"k": "v"})
        assert fetched.configuration["hnsw"]["space"] == "ip"

    async def test_getting_a_missing_collection_raises_not_found_error_naming_it(
        self, client: AsyncClient
    ) -> None:
        with pytest.raises(NotFoundError, match="nowhere"):
            await client.get_collection("nowhere")

    async def test_deleting_a_missing_collection_raises_not_found_error_naming_it(
        self, client: AsyncClient
    ) -> None:
        with pytest.raises(NotFoundError, match="nowhere"):
            await client.delete_collection("nowhere")

    async def test_deleted_collection_is_gone_with_its_records(self, client: AsyncClient) -> None:
        # chromadb 1.5.9 (in-process and server) attaches the array values of a deleted
        # collection's records to records added later, in any collection: ours must not.
        keeper = await client.create_collection("keeper")
        old = await client.create_collection("short-lived")
        await old.add(
            ids=["a", "b"],
            embeddings=[[1.0], [2.0]],
            metadatas=[{"tags": ["p", "q"], "n": 1}, {"nums": [1, 2]}],
        )
        await client.delete_collection("short-lived")
        with pytest.raises(NotFoundError):
            await client.get_collection("short-lived")
        new = await client.create_collection("short-lived")
        assert new.id != old.id
        assert await new.count() == 0
        await new.add(
            ids=["c", "d", "e"],
            embeddings=[[1.0], [2.0], [3.0]],
            metadatas=[{"m": 2}, None, {"m": 3}],
        )
        await keeper.add(ids=["k"], embeddings=[[1.0]], metadatas=[{"m": 1}])
        assert (await new.get())["metadatas"] == [{"m": 2}, None, {"m": 3}]
        assert (await keeper.get())["metadatas"] == [{"m": 1}]
        assert (await new.get(where={"tags": {"$contains": "p"}}))["ids"] == []

    async def test_a_handle_of_a_deleted_collection_raises_not_found_error(
        self, client: AsyncClient
    ) -> None:
        handle = await client.create_collection("dangling")
        await client.delete_collection("dangling")
        with pytest.raises(NotFoundError):
            await handle.count()
        with pytest.raises(NotFoundError):
            await handle.add(ids=["a"], embeddings=[[1.0, 2.0]])

    async def test_list_and_count_collections_see_every_collection(
        self, client: AsyncClient
    ) -> None:
        names = {"one-col", "two-col", "three-col"}
        for name in names:
            await client.create_collection(name)
        listed = await client.list_collections()
        assert all(isinstance(collection, AsyncCollection) for collection in listed)
        assert {collection.name for collection in listed} == names
        assert await client.count_collections() == 3

    async def test_list_collections_pages_with_limit_and_offset(self, client: AsyncClient) -> None:
        for i in range(5):
            await client.create_collection(f"page-{i}")
        everything = [collection.name for collection in await client.list_collections()]
        pages: list[str] = []
        for offset in (0, 2, 4):
            pages += [c.name for c in await client.list_collections(limit=2, offset=offset)]
        assert pages == everything
        assert await client.list_collections(limit=0) == []
        assert await client.list_collections(offset=5) == []
        assert [c.name for c in await client.list_collections(offset=3)] == everything[3:]

    async def test_modify_renames_and_keeps_the_records(self, client: AsyncClient) -> None:
        collection = await client.create_collection("before", metadata={"k": 1})
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        await collection.modify(name="after")
        assert collection.name == "after"
        with pytest.raises(NotFoundError):
            await client.get_collection("before")
        renamed = await client.get_collection("after")
        assert renamed.id == collection.id
        assert renamed.metadata == {"k": 1}
        assert (await renamed.get())["ids"] == ["a"]

    async def test_modify_metadata_replaces_it(self, client: AsyncClient) -> None:
        collection = await client.create_collection("meta", metadata={"old": 1, "kept": 2})
        await collection.modify(metadata={"new": "x"})
        assert collection.metadata == {"new": "x"}
        assert (await client.get_collection("meta")).metadata == {"new": "x"}

    async def test_renaming_onto_an_existing_name_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        await client.create_collection("taken")
        collection = await client.create_collection("mover")
        with pytest.raises(UniqueConstraintError, match="taken"):
            await collection.modify(name="taken")
        assert collection.name == "mover"
        assert (await client.get_collection("mover")).id == collection.id

    async def test_modify_configuration_changes_ef_search(self, client: AsyncClient) -> None:
        collection = await client.create_collection("tuned")
        await collection.modify(configuration={"hnsw": {"ef_search": 50}})
        hnsw = (await client.get_collection("tuned")).configuration["hnsw"]
        assert hnsw["ef_search"] == 50
        assert hnsw["space"] == "l2"

    async def test_modify_configuration_cannot_change_the_space(self, client: AsyncClient) -> None:
        collection = await client.create_collection("fixed-space")
        with pytest.raises(InvalidArgumentError, match="space"):
            await collection.modify(configuration={"hnsw": {"space": "ip"}})
        assert (await client.get_collection("fixed-space")).configuration["hnsw"]["space"] == "l2"

    async def test_fork_copies_the_records_into_an_independent_collection(
        self, client: AsyncClient
    ) -> None:
        # chromadb implements fork only on its servers; the semantics are theirs.
        source = await client.create_collection("origin", metadata={"m": 1})
        vectors = random_vectors(3, 4, seed=1)
        await source.add(
            ids=["a", "b", "c"],
            embeddings=vectors,
            metadatas=[{"n": 1}, {"tags": ["t"]}, None],
            documents=["doc a", None, "doc c"],
        )
        fork = await source.fork("copy")
        assert fork.name == "copy"
        assert fork.id != source.id
        include: Any = ["embeddings", "metadatas", "documents"]
        copied, original = await fork.get(include=include), await source.get(include=include)
        assert copied["ids"] == original["ids"] == ["a", "b", "c"]
        assert copied["metadatas"] == original["metadatas"]
        assert copied["documents"] == original["documents"]
        assert copied["embeddings"] is not None
        np.testing.assert_allclose(copied["embeddings"], vectors)
        await fork.add(ids=["d"], embeddings=random_vectors(1, 4, seed=2))
        await source.delete(ids=["a"])
        assert (await fork.get())["ids"] == ["a", "b", "c", "d"]
        assert (await source.get())["ids"] == ["b", "c"]
        hits = await fork.query(query_embeddings=vectors[:1], n_results=1)
        assert hits["ids"] == [["a"]]

    async def test_forking_onto_an_existing_name_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        await client.create_collection("fork-target")
        source = await client.create_collection("fork-source")
        with pytest.raises(UniqueConstraintError, match="fork-target"):
            await source.fork("fork-target")

    @pytest.mark.parametrize("name", ["ab", "-abc", "abc-", "has space", "ünicode", "a" * 513])
    async def test_invalid_collection_names_are_rejected_naming_the_name(
        self, client: AsyncClient, name: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await client.create_collection(name)
        assert name[:64] in str(caught.value)
        assert await client.count_collections() == 0

    async def test_nested_collection_metadata_is_rejected(self, client: AsyncClient) -> None:
        with pytest.raises(InvalidArgumentError, match="inner"):
            await client.create_collection("nested", metadata={"inner": {"x": 1}})
        assert await client.count_collections() == 0


class DistanceTests(_ClientTests):
    """Spaces and their distances, against numpy: l2², 1 − cos, 1 − dot."""

    @pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
    async def test_query_distances_and_order_match_numpy(
        self, client: AsyncClient, space: str
    ) -> None:
        collection = await client.create_collection(
            f"space-{space}", configuration={"hnsw": {"space": space}}
        )
        assert collection.configuration["hnsw"]["space"] == space
        data, queries = random_vectors(60, 8, seed=3), random_vectors(3, 8, seed=4)
        ids = [f"id{i}" for i in range(60)]
        await collection.add(ids=ids, embeddings=data)
        result = await collection.query(query_embeddings=queries, n_results=60)
        assert result["distances"] is not None
        expected = exact_distances(space, queries, data)
        for row, (got_ids, got_distances) in enumerate(
            zip(result["ids"], result["distances"], strict=True)
        ):
            order = np.argsort(expected[row], kind="stable")
            assert got_ids == [ids[i] for i in order]
            np.testing.assert_allclose(got_distances, expected[row][order], rtol=1e-4, atol=1e-4)

    async def test_space_can_be_given_as_legacy_hnsw_space_metadata(
        self, client: AsyncClient
    ) -> None:
        collection = await client.create_collection("legacy", metadata={"hnsw:space": "cosine"})
        assert collection.configuration["hnsw"]["space"] == "cosine"
        await collection.add(ids=["a"], embeddings=[[3.0, 4.0]])
        result = await collection.query(query_embeddings=[[1.0, 0.0]], n_results=1)
        assert result["distances"] is not None
        assert result["distances"][0][0] == pytest.approx(0.4, abs=1e-5)

    async def test_cosine_space_returns_the_embeddings_as_given(self, client: AsyncClient) -> None:
        collection = await client.create_collection(
            "cos-raw", configuration={"hnsw": {"space": "cosine"}}
        )
        await collection.add(ids=["a"], embeddings=[[3.0, 4.0]])
        got = await collection.get(include=["embeddings"])
        assert got["embeddings"] is not None
        np.testing.assert_allclose(got["embeddings"], [[3.0, 4.0]])

    async def test_an_unknown_space_is_rejected_naming_it(self, client: AsyncClient) -> None:
        with pytest.raises(InvalidArgumentError, match="manhattan"):
            await client.create_collection("odd", configuration={"hnsw": {"space": "manhattan"}})
        assert await client.count_collections() == 0


class RecordWriteTests(_ClientTests):
    """add, upsert, update and delete, with Chroma's semantics."""

    async def test_add_then_get_returns_every_field(self, collection: AsyncCollection) -> None:
        vectors = random_vectors(3, 5, seed=5)
        metadatas: list[Any] = [
            {"s": "x", "n": 7, "f": 2.0, "b": True, "ls": ["p", "q"], "ln": [1, 2], "lb": [False]},
            None,
            {"lf": [0.5, 1.5]},
        ]
        await collection.add(
            ids=["a", "b", "c"],
            embeddings=vectors,
            metadatas=metadatas,
            documents=["doc a", "doc b", None],
            uris=["file:///a", None, "s3://c"],
        )
        assert await collection.count() == 3
        got = await collection.get(include=["embeddings", "metadatas", "documents", "uris"])
        assert got["ids"] == ["a", "b", "c"]
        assert got["metadatas"] == metadatas
        assert got["documents"] == ["doc a", "doc b", None]
        assert got["uris"] == ["file:///a", None, "s3://c"]
        assert isinstance(got["embeddings"], np.ndarray)
        assert got["embeddings"].dtype == np.float32
        np.testing.assert_array_equal(got["embeddings"], vectors)

    async def test_metadata_values_keep_their_types(self, collection: AsyncCollection) -> None:
        await collection.add(
            ids=["a"],
            embeddings=[[1.0, 2.0]],
            metadatas=[{"b": True, "n": 1, "f": 2.0, "s": "1", "ln": [1], "lb": [True]}],
        )
        got = (await collection.get())["metadatas"]
        assert got is not None
        meta = got[0]
        assert meta is not None
        assert type(meta["b"]) is bool
        assert type(meta["n"]) is int
        assert type(meta["f"]) is float
        assert type(meta["s"]) is str
        assert meta["ln"] == [1]
        assert isinstance(meta["ln"], list)
        assert type(meta["ln"][0]) is int
        assert isinstance(meta["lb"], list)
        assert type(meta["lb"][0]) is bool

    async def test_add_of_an_existing_id_leaves_it_unchanged(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(
            ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"v": 1}], documents=["one"]
        )
        await collection.add(
            ids=["a", "b"],
            embeddings=[[9.0, 9.0], [0.0, 1.0]],
            metadatas=[{"v": 2}, {"v": 3}],
            documents=["two", "three"],
        )
        got = await collection.get(include=["embeddings", "metadatas", "documents"])
        assert got["ids"] == ["a", "b"]
        assert got["metadatas"] == [{"v": 1}, {"v": 3}]
        assert got["documents"] == ["one", "three"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 0.0], [0.0, 1.0]])

    async def test_upsert_inserts_new_ids_and_replaces_existing_ones(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(
            ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"x": 1, "y": "k"}], documents=["old"]
        )
        await collection.upsert(
            ids=["a", "z"],
            embeddings=[[2.0, 2.0], [3.0, 3.0]],
            metadatas=[{"x": None, "w": True}, {"q": 1.5}],
            documents=["new", "zed"],
        )
        got = await collection.get(include=["embeddings", "metadatas", "documents"])
        assert got["ids"] == ["a", "z"]
        # metadata merges: 'y' is kept, 'x' (None) is removed, 'w' is added
        assert got["metadatas"] == [{"y": "k", "w": True}, {"q": 1.5}]
        assert got["documents"] == ["new", "zed"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[2.0, 2.0], [3.0, 3.0]])

    async def test_upsert_without_metadata_keeps_the_existing_metadata_and_document(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(
            ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"x": 1}], documents=["d"]
        )
        await collection.upsert(ids=["a"], embeddings=[[0.0, 1.0]])
        got = await collection.get(include=["embeddings", "metadatas", "documents"])
        assert got["metadatas"] == [{"x": 1}]
        assert got["documents"] == ["d"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[0.0, 1.0]])

    async def test_upsert_of_a_new_id_with_only_none_values_stores_no_metadata(
        self, collection: AsyncCollection
    ) -> None:
        await collection.upsert(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"x": None}])
        assert (await collection.get())["metadatas"] == [None]

    async def test_update_changes_only_the_given_fields_and_merges_metadata(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(
            ids=["a", "b"],
            embeddings=[[1.0, 0.0], [0.0, 1.0]],
            metadatas=[{"x": 1, "y": 2}, {"x": 3}],
            documents=["doc a", "doc b"],
        )
        await collection.update(ids=["a"], metadatas=[{"y": None, "z": [1, 2]}])
        await collection.update(ids=["b"], documents=["changed"], embeddings=[[5.0, 5.0]])
        got = await collection.get(include=["embeddings", "metadatas", "documents"])
        assert got["metadatas"] == [{"x": 1, "z": [1, 2]}, {"x": 3}]
        assert got["documents"] == ["doc a", "changed"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 0.0], [5.0, 5.0]])

    async def test_update_removing_every_key_leaves_metadata_none(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"x": 1, "y": 2}])
        await collection.update(ids=["a"], metadatas=[{"x": None, "y": None}])
        assert (await collection.get())["metadatas"] == [None]
        await collection.update(ids=["a"], metadatas=[{"z": 1}])
        assert (await collection.get())["metadatas"] == [{"z": 1}]

    async def test_update_of_a_missing_id_is_a_no_op(self, collection: AsyncCollection) -> None:
        await collection.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"v": 1}])
        await collection.update(ids=["a", "ghost"], metadatas=[{"v": 2}, {"v": 3}])
        got = await collection.get()
        assert got["ids"] == ["a"]
        assert got["metadatas"] == [{"v": 2}]
        assert await collection.count() == 1

    async def test_delete_by_ids_ignores_missing_ids(self, collection: AsyncCollection) -> None:
        await collection.add(ids=["a", "b", "c"], embeddings=[[1.0], [2.0], [3.0]])
        await collection.delete(ids=["b", "ghost"])
        assert (await collection.get())["ids"] == ["a", "c"]

    async def test_delete_by_where(self, collection: AsyncCollection) -> None:
        await collection.add(
            ids=["a", "b", "c"],
            embeddings=[[1.0], [2.0], [3.0]],
            metadatas=[{"n": 1}, {"n": 2}, {"tags": ["x"]}],
        )
        await collection.delete(where={"n": {"$gte": 2}})
        assert (await collection.get())["ids"] == ["a", "c"]
        await collection.delete(where={"tags": {"$contains": "x"}})
        assert (await collection.get())["ids"] == ["a"]

    async def test_delete_by_where_document(self, collection: AsyncCollection) -> None:
        await collection.add(
            ids=["a", "b", "c"],
            embeddings=[[1.0], [2.0], [3.0]],
            documents=["keep", "drop me", None],
        )
        await collection.delete(where_document={"$contains": "drop"})
        assert (await collection.get())["ids"] == ["a", "c"]

    async def test_delete_with_ids_and_where_deletes_their_intersection(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(
            ids=["a", "b", "c"],
            embeddings=[[1.0], [2.0], [3.0]],
            metadatas=[{"n": 1}, {"n": 2}, {"n": 2}],
        )
        await collection.delete(ids=["a", "b"], where={"n": 2})
        assert (await collection.get())["ids"] == ["a", "c"]

    async def test_delete_without_a_selector_is_rejected(self, collection: AsyncCollection) -> None:
        await collection.add(ids=["a"], embeddings=[[1.0]])
        with pytest.raises(InvalidArgumentError):
            await collection.delete()
        assert await collection.count() == 1

    async def test_deleted_ids_can_be_added_again_at_the_end(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(ids=["a", "b", "c"], embeddings=[[1.0], [2.0], [3.0]])
        await collection.delete(ids=["a"])
        await collection.add(ids=["a"], embeddings=[[4.0]], metadatas=[{"again": True}])
        got = await collection.get(include=["embeddings", "metadatas"])
        assert got["ids"] == ["b", "c", "a"]
        assert got["metadatas"] == [None, None, {"again": True}]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[2.0], [3.0], [4.0]])

    async def test_a_write_larger_than_the_max_batch_size_is_applied_whole(
        self, client: AsyncClient, collection: AsyncCollection
    ) -> None:
        size = await client.get_max_batch_size()
        if size > 20_000:
            pytest.skip(f"this transport's batches ({size} records) exceed what this test writes")
        count = size + 7
        ids = [f"r{i}" for i in range(count)]
        await collection.add(ids=ids, embeddings=random_vectors(count, 2, seed=6))
        assert await collection.count() == count
        assert (await collection.get(include=[]))["ids"] == ids


class GetTests(_ClientTests):
    """get and peek: result shape, include, order, limit and offset."""

    @pytest.fixture
    async def filled(self, collection: AsyncCollection) -> AsyncCollection:
        await collection.add(
            ids=["e", "b", "d", "a", "c"],
            embeddings=[[5.0, 0.0], [2.0, 0.0], [4.0, 0.0], [1.0, 0.0], [3.0, 0.0]],
            metadatas=[{"i": 0}, {"i": 1}, None, {"i": 3}, {"i": 4}],
            documents=["doc e", None, "doc d", "doc a", "doc c"],
            uris=["u-e", "u-b", None, "u-a", "u-c"],
        )
        return collection

    async def test_get_has_chromas_keys_and_default_include(self, filled: AsyncCollection) -> None:
        got = await filled.get()
        assert set(got) == {
            "ids",
            "embeddings",
            "documents",
            "uris",
            "included",
            "data",
            "metadatas",
        }
        assert got["included"] == ["metadatas", "documents"]
        assert got["embeddings"] is None
        assert got["uris"] is None
        assert got["data"] is None
        assert got["documents"] == ["doc e", None, "doc d", "doc a", "doc c"]
        assert got["metadatas"] == [{"i": 0}, {"i": 1}, None, {"i": 3}, {"i": 4}]

    async def test_get_returns_records_in_insertion_order(self, filled: AsyncCollection) -> None:
        assert (await filled.get())["ids"] == ["e", "b", "d", "a", "c"]

    async def test_get_by_ids_returns_insertion_order_and_skips_missing_ids(
        self, filled: AsyncCollection
    ) -> None:
        got = await filled.get(ids=["c", "ghost", "b"])
        assert got["ids"] == ["b", "c"]
        assert got["documents"] == [None, "doc c"]

    @pytest.mark.parametrize(
        "include",
        [
            [],
            ["embeddings"],
            ["documents"],
            ["metadatas"],
            ["uris"],
            ["documents", "embeddings"],
            ["embeddings", "metadatas", "documents", "uris"],
        ],
    )
    async def test_get_returns_exactly_the_included_fields(
        self, filled: AsyncCollection, include: list[Any]
    ) -> None:
        got = await filled.get(include=include)
        assert got["ids"] == ["e", "b", "d", "a", "c"]
        assert got["included"] == include
        expected: dict[str, Any] = {
            "documents": ["doc e", None, "doc d", "doc a", "doc c"],
            "metadatas": [{"i": 0}, {"i": 1}, None, {"i": 3}, {"i": 4}],
            "uris": ["u-e", "u-b", None, "u-a", "u-c"],
        }
        for field, value in expected.items():
            assert got[field] == (value if field in include else None)  # type: ignore[literal-required]
        if "embeddings" in include:
            assert got["embeddings"] is not None
            np.testing.assert_array_equal(got["embeddings"][:, 0], [5.0, 2.0, 4.0, 1.0, 3.0])
        else:
            assert got["embeddings"] is None

    @pytest.mark.parametrize(
        ("limit", "offset"), [(2, None), (2, 2), (None, 3), (10, 4), (0, None), (3, 100)]
    )
    async def test_limit_and_offset_slice_the_insertion_order(
        self, filled: AsyncCollection, limit: int | None, offset: int | None
    ) -> None:
        everything = ["e", "b", "d", "a", "c"]
        start = offset or 0
        stop = None if limit is None else start + limit
        got = await filled.get(limit=limit, offset=offset)
        assert got["ids"] == everything[start:stop]

    async def test_limit_and_offset_apply_after_the_filter(self, filled: AsyncCollection) -> None:
        got = await filled.get(where={"i": {"$gte": 1}}, limit=2, offset=1)
        assert got["ids"] == ["a", "c"]

    @pytest.mark.parametrize(("limit", "offset"), [(-1, None), (None, -1)])
    async def test_negative_limit_or_offset_is_rejected(
        self, filled: AsyncCollection, limit: int | None, offset: int | None
    ) -> None:
        with pytest.raises(InvalidArgumentError, match="-1"):
            await filled.get(limit=limit, offset=offset)

    async def test_distances_cannot_be_included_in_get(self, filled: AsyncCollection) -> None:
        with pytest.raises(InvalidArgumentError, match="distances"):
            await filled.get(include=["distances"])

    async def test_peek_returns_the_first_records_with_embeddings(
        self, filled: AsyncCollection
    ) -> None:
        got = await filled.peek(limit=2)
        assert got["ids"] == ["e", "b"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[5.0, 0.0], [2.0, 0.0]])
        assert got["documents"] == ["doc e", None]
        assert set(got["included"]) == {"metadatas", "documents", "embeddings"}
        assert (await filled.peek())["ids"] == ["e", "b", "d", "a", "c"]

    async def test_get_of_an_empty_collection_returns_empty_lists(
        self, collection: AsyncCollection
    ) -> None:
        got = await collection.get()
        assert got["ids"] == []
        assert got["documents"] == []
        assert got["metadatas"] == []


# Metadata of the records the where/where_document tables run on.
_FILTER_RECORDS: list[tuple[str, Any, str | None]] = [
    (
        "r1",
        {"n": 1, "f": 0.5, "s": "apple", "b": True, "tags": ["red", "green"], "nums": [1, 2, 3]},
        "the quick brown fox",
    ),
    (
        "r2",
        {"n": 2, "f": 1.5, "s": "banana", "b": False, "tags": ["blue"], "nums": [4]},
        "jumps over the lazy dog",
    ),
    ("r3", {"n": 3, "f": 2.5, "s": "cherry", "b": True}, "Quick thinking"),
    ("r4", {"n": 4, "s": "apple", "tags": ["green"], "flts": [0.5, 1.5]}, "fox and hound 2024"),
    ("r5", None, None),
    ("r6", {"f": -1.0, "b": False, "nums": [3, 5], "bools": [True]}, "lazy afternoon"),
]

# (where, ids chromadb 1.5.9 returns). $ne, $nin and $not_contains also match records that
# lack the key; scalar operators never match array values; $contains is for arrays only.
WHERE_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"n": 2}, ["r2"]),
    ({"n": {"$eq": 2}}, ["r2"]),
    ({"s": "apple"}, ["r1", "r4"]),
    ({"b": True}, ["r1", "r3"]),
    ({"b": False}, ["r2", "r6"]),
    ({"f": 0.5}, ["r1"]),
    ({"n": 2.0}, ["r2"]),
    ({"n": True}, []),
    ({"n": {"$ne": 2}}, ["r1", "r3", "r4", "r5", "r6"]),
    ({"s": {"$ne": "apple"}}, ["r2", "r3", "r5", "r6"]),
    ({"b": {"$ne": True}}, ["r2", "r4", "r5", "r6"]),
    ({"n": {"$gt": 2}}, ["r3", "r4"]),
    ({"n": {"$gte": 2}}, ["r2", "r3", "r4"]),
    ({"n": {"$lt": 2}}, ["r1"]),
    ({"n": {"$lte": 2}}, ["r1", "r2"]),
    ({"f": {"$gt": 1}}, ["r2", "r3"]),
    ({"f": {"$lt": 0}}, ["r6"]),
    ({"f": {"$gte": 1.5}}, ["r2", "r3"]),
    ({"n": {"$gt": 1.5}}, ["r2", "r3", "r4"]),
    ({"n": {"$in": [1, 3]}}, ["r1", "r3"]),
    ({"s": {"$in": ["apple", "cherry"]}}, ["r1", "r3", "r4"]),
    ({"b": {"$in": [False]}}, ["r2", "r6"]),
    ({"n": {"$nin": [1, 3]}}, ["r2", "r4", "r5", "r6"]),
    ({"s": {"$nin": ["apple"]}}, ["r2", "r3", "r5", "r6"]),
    ({"tags": {"$contains": "green"}}, ["r1", "r4"]),
    ({"tags": {"$not_contains": "green"}}, ["r2", "r3", "r5", "r6"]),
    ({"nums": {"$contains": 3}}, ["r1", "r6"]),
    ({"nums": {"$not_contains": 3}}, ["r2", "r3", "r4", "r5"]),
    ({"flts": {"$contains": 1.5}}, ["r4"]),
    ({"bools": {"$contains": True}}, ["r6"]),
    ({"tags": "green"}, []),
    ({"tags": {"$in": ["blue", "red"]}}, []),
    ({"tags": {"$ne": "blue"}}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"tags": {"$nin": ["blue"]}}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"nums": {"$gt": 3}}, []),
    ({"s": {"$contains": "app"}}, []),
    ({"s": {"$not_contains": "app"}}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"missing": 1}, []),
    ({"missing": {"$ne": 1}}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"missing": {"$nin": [1]}}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"$and": [{"n": {"$gte": 2}}, {"s": "apple"}]}, ["r4"]),
    ({"$or": [{"n": 1}, {"b": False}]}, ["r1", "r2", "r6"]),
    (
        {
            "$and": [
                {"$or": [{"s": "apple"}, {"s": "cherry"}]},
                {"$or": [{"b": True}, {"tags": {"$contains": "green"}}]},
            ]
        },
        ["r1", "r3", "r4"],
    ),
    (
        {"$or": [{"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 4}}]}, {"f": {"$lt": 0}}]},
        ["r2", "r3", "r6"],
    ),
]

WHERE_DOCUMENT_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"$contains": "fox"}, ["r1", "r4"]),
    ({"$contains": "Quick"}, ["r3"]),
    ({"$contains": "quick"}, ["r1"]),
    ({"$not_contains": "fox"}, ["r2", "r3", "r5", "r6"]),
    ({"$regex": "^[Qq]uick"}, ["r3"]),
    ({"$regex": "\\d{4}"}, ["r4"]),
    ({"$not_regex": "lazy"}, ["r1", "r3", "r4", "r5"]),
    ({"$and": [{"$contains": "fox"}, {"$not_contains": "quick"}]}, ["r4"]),
    ({"$or": [{"$contains": "dog"}, {"$regex": "^lazy"}]}, ["r2", "r6"]),
    (
        {"$and": [{"$or": [{"$contains": "fox"}, {"$contains": "dog"}]}, {"$not_regex": "hound"}]},
        ["r1", "r2"],
    ),
]


class _FilterFixtures(_ClientTests):
    @pytest.fixture
    async def records(self, collection: AsyncCollection) -> AsyncCollection:
        await collection.add(
            ids=[record[0] for record in _FILTER_RECORDS],
            embeddings=[[float(i), 1.0] for i in range(len(_FILTER_RECORDS))],
            metadatas=[record[1] for record in _FILTER_RECORDS],
            documents=[record[2] for record in _FILTER_RECORDS],
        )
        return collection


class WhereTests(_FilterFixtures):
    """Every metadata operator, on scalars and arrays, combined and nested."""

    @pytest.mark.parametrize(("where", "expected"), WHERE_CASES, ids=repr)
    async def test_get_with_where_returns_the_matching_records(
        self, records: AsyncCollection, where: dict[str, Any], expected: list[str]
    ) -> None:
        assert (await records.get(where=where))["ids"] == expected

    @pytest.mark.parametrize(("where", "expected"), WHERE_CASES[::4], ids=repr)
    async def test_query_with_where_returns_only_matching_records(
        self, records: AsyncCollection, where: dict[str, Any], expected: list[str]
    ) -> None:
        result = await records.query(query_embeddings=[[0.0, 1.0]], where=where, n_results=10)
        assert result["ids"] == [expected]  # the embeddings are ordered as the ids

    @pytest.mark.parametrize(("where", "expected"), WHERE_CASES[1::5], ids=repr)
    async def test_delete_with_where_deletes_the_matching_records(
        self, records: AsyncCollection, where: dict[str, Any], expected: list[str]
    ) -> None:
        await records.delete(where=where)
        remaining = [record[0] for record in _FILTER_RECORDS if record[0] not in expected]
        assert (await records.get())["ids"] == remaining

    async def test_where_and_where_document_combine_with_and(
        self, records: AsyncCollection
    ) -> None:
        got = await records.get(where={"n": {"$gt": 1}}, where_document={"$contains": "fox"})
        assert got["ids"] == ["r4"]

    @pytest.mark.parametrize(
        ("where", "named"),
        [
            ({"n": {"$bad": 1}}, "$bad"),
            ({"$and": [{"n": 1}, {"n": {"$bad": 2}}]}, "$bad"),
            ({"$xor": [{"n": 1}, {"n": 2}]}, "$xor"),
            ({"s": {"$gt": "a"}}, "$gt"),
            ({"n": {"$in": 2}}, "$in"),
            ({"n": {"$in": []}}, "$in"),
            ({"n": {"$in": [2, "x"]}}, "$in"),
            ({"n": {"$eq": None}}, "$eq"),
            ({"$and": [{"n": 1}]}, "$and"),
            ({"$or": []}, "$or"),
            ({"n": {"$gt": 1}, "s": "apple"}, "where"),
            ({}, "where"),
        ],
        ids=repr,
    )
    async def test_malformed_where_is_rejected_naming_the_problem(
        self, records: AsyncCollection, where: dict[str, Any], named: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await records.get(where=where)
        assert named in str(caught.value)


class WhereDocumentTests(_FilterFixtures):
    """Every document operator, combined and nested."""

    @pytest.mark.parametrize(("where_document", "expected"), WHERE_DOCUMENT_CASES, ids=repr)
    async def test_get_with_where_document_returns_the_matching_records(
        self, records: AsyncCollection, where_document: dict[str, Any], expected: list[str]
    ) -> None:
        assert (await records.get(where_document=where_document))["ids"] == expected

    @pytest.mark.parametrize(("where_document", "expected"), WHERE_DOCUMENT_CASES[::3], ids=repr)
    async def test_query_with_where_document_returns_only_matching_records(
        self, records: AsyncCollection, where_document: dict[str, Any], expected: list[str]
    ) -> None:
        result = await records.query(
            query_embeddings=[[0.0, 1.0]], where_document=where_document, n_results=10
        )
        assert result["ids"] == [expected]

    @pytest.mark.parametrize(
        ("where_document", "named"),
        [
            ({"$bad": "x"}, "$bad"),
            ({"$contains": ""}, "$contains"),
            ({"$contains": 3}, "$contains"),
            ({"$regex": "("}, "("),
            ({"$and": [{"$contains": "a"}, {"$nope": "b"}]}, "$nope"),
            ({}, "where_document"),
        ],
        ids=repr,
    )
    async def test_malformed_where_document_is_rejected_naming_the_problem(
        self, records: AsyncCollection, where_document: dict[str, Any], named: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await records.get(where_document=where_document)
        assert named in str(caught.value)


class QueryTests(_ClientTests):
    """query: shape, n_results, ids, include, and exact filtered results."""

    @pytest.fixture
    async def small(self, collection: AsyncCollection) -> AsyncCollection:
        await collection.add(
            ids=["a", "b", "c", "d"],
            embeddings=[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]],
            metadatas=[{"g": 1}, {"g": 2}, {"g": 1}, None],
            documents=["doc a", "doc b", None, "doc d"],
            uris=["u-a", None, "u-c", "u-d"],
        )
        return collection

    async def test_query_has_chromas_keys_and_default_include(self, small: AsyncCollection) -> None:
        result = await small.query(query_embeddings=[[0.0, 0.0]], n_results=2)
        assert set(result) == {
            "ids",
            "embeddings",
            "documents",
            "uris",
            "included",
            "data",
            "metadatas",
            "distances",
        }
        assert result["included"] == ["metadatas", "documents", "distances"]
        assert result["ids"] == [["a", "b"]]
        assert result["documents"] == [["doc a", "doc b"]]
        assert result["metadatas"] == [[{"g": 1}, {"g": 2}]]
        assert result["distances"] is not None
        np.testing.assert_allclose(result["distances"], [[0.0, 1.0]], atol=1e-6)
        assert result["embeddings"] is None
        assert result["uris"] is None

    async def test_n_results_larger_than_the_collection_returns_everything(
        self, small: AsyncCollection
    ) -> None:
        result = await small.query(query_embeddings=[[1.8, 0.0]], n_results=100)
        assert result["ids"] == [["b", "c", "a", "d"]]
        assert result["distances"] is not None
        np.testing.assert_allclose(result["distances"], [[0.64, 1.44, 3.24, 17.64]], rtol=1e-5)

    async def test_each_query_gets_its_own_list(self, small: AsyncCollection) -> None:
        result = await small.query(
            query_embeddings=np.array([[0.0, 0.0], [6.0, 0.0]]), n_results=2, include=[]
        )
        assert result["ids"] == [["a", "b"], ["d", "c"]]
        assert result["included"] == []
        assert result["distances"] is None
        assert result["metadatas"] is None

    async def test_a_single_one_dimensional_query_embedding_is_one_query(
        self, small: AsyncCollection
    ) -> None:
        result = await small.query(query_embeddings=np.array([6.0, 0.0]), n_results=1)
        assert result["ids"] == [["d"]]

    async def test_query_with_ids_searches_only_those_records(self, small: AsyncCollection) -> None:
        result = await small.query(query_embeddings=[[0.0, 0.0]], ids=["d", "c"], n_results=5)
        assert result["ids"] == [["c", "d"]]

    async def test_query_includes_embeddings_uris_and_distances_per_query(
        self, small: AsyncCollection
    ) -> None:
        result = await small.query(
            query_embeddings=[[5.0, 0.0], [0.0, 0.0]],
            n_results=2,
            include=["embeddings", "uris", "distances"],
        )
        assert result["included"] == ["embeddings", "uris", "distances"]
        assert result["ids"] == [["d", "c"], ["a", "b"]]
        assert result["uris"] == [["u-d", "u-c"], ["u-a", None]]
        assert result["embeddings"] is not None
        assert len(result["embeddings"]) == 2
        np.testing.assert_array_equal(result["embeddings"][0], [[6.0, 0.0], [3.0, 0.0]])
        np.testing.assert_array_equal(result["embeddings"][1], [[0.0, 0.0], [1.0, 0.0]])
        assert result["documents"] is None

    async def test_query_of_an_empty_collection_returns_one_empty_list_per_query(
        self, collection: AsyncCollection
    ) -> None:
        result = await collection.query(query_embeddings=[[1.0, 2.0]], n_results=3)
        assert result["ids"] == [[]]
        assert result["distances"] == [[]]

    async def test_a_filter_matching_nothing_returns_empty_lists(
        self, small: AsyncCollection
    ) -> None:
        result = await small.query(query_embeddings=[[0.0, 0.0]], where={"g": 99}, n_results=3)
        assert result["ids"] == [[]]

    @pytest.mark.parametrize("n_results", [0, -1])
    async def test_non_positive_n_results_is_rejected(
        self, small: AsyncCollection, n_results: int
    ) -> None:
        with pytest.raises(InvalidArgumentError, match=str(n_results)):
            await small.query(query_embeddings=[[0.0, 0.0]], n_results=n_results)

    async def test_a_query_of_the_wrong_dimension_is_rejected_naming_both(
        self, small: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await small.query(query_embeddings=[[1.0, 2.0, 3.0]])
        assert "2" in str(caught.value)
        assert "3" in str(caught.value)

    async def test_a_query_without_embeddings_or_texts_is_rejected(
        self, small: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await small.query(n_results=1)

    @pytest.fixture
    async def large(self, client: AsyncClient) -> tuple[AsyncCollection, F32]:
        collection = await client.create_collection(
            "filtered", configuration={"hnsw": {"space": "l2"}}
        )
        data = random_vectors(3000, 16, seed=7)
        await collection.add(
            ids=[f"id{i}" for i in range(3000)],
            embeddings=data,
            metadatas=[{"cat": i % 100, "half": i % 2, "rare": i % 1000 == 0} for i in range(3000)],
        )
        return collection, data

    @staticmethod
    def _truth(
        data: F32, queries: F32, allowed: Sequence[int], k: int
    ) -> tuple[list[list[str]], F64]:
        allowed_arr = np.asarray(allowed)
        distances = exact_distances("l2", queries, data[allowed_arr])
        order = np.argsort(distances, axis=1, kind="stable")[:, :k]
        ids = [[f"id{allowed_arr[j]}" for j in row] for row in order]
        return ids, np.take_along_axis(distances, order, axis=1)

    async def test_a_selective_filter_returns_the_exact_filtered_top_k(
        self, large: tuple[AsyncCollection, F32]
    ) -> None:
        collection, data = large
        queries = random_vectors(5, 16, seed=8)
        expected_ids, expected_distances = self._truth(data, queries, range(7, 3000, 100), 10)
        result = await collection.query(query_embeddings=queries, where={"cat": 7}, n_results=10)
        assert result["ids"] == expected_ids
        assert result["distances"] is not None
        np.testing.assert_allclose(result["distances"], expected_distances, rtol=1e-4)

    async def test_a_filter_with_fewer_matches_than_n_results_returns_every_match(
        self, large: tuple[AsyncCollection, F32]
    ) -> None:
        collection, data = large
        queries = random_vectors(3, 16, seed=9)
        expected_ids, _ = self._truth(data, queries, [0, 1000, 2000], 10)
        result = await collection.query(
            query_embeddings=queries, where={"rare": True}, n_results=10
        )
        assert result["ids"] == expected_ids
        expected_ids, _ = self._truth(data, queries, range(7, 3000, 100), 50)
        result = await collection.query(query_embeddings=queries, where={"cat": 7}, n_results=50)
        assert result["ids"] == expected_ids

    async def test_a_broad_filter_returns_n_results_correct_matches(
        self, large: tuple[AsyncCollection, F32]
    ) -> None:
        collection, data = large
        queries = random_vectors(5, 16, seed=10)
        expected_ids, _ = self._truth(data, queries, range(1, 3000, 2), 10)
        result = await collection.query(
            query_embeddings=queries, where={"half": 1}, n_results=10, include=["distances"]
        )
        assert result["distances"] is not None
        found = 0
        for row, (ids, distances) in enumerate(
            zip(result["ids"], result["distances"], strict=True)
        ):
            assert len(ids) == 10, "never fewer results than matching records"
            indices = [int(i[2:]) for i in ids]
            assert all(i % 2 == 1 for i in indices)
            truth = exact_distances("l2", queries[row : row + 1], data[indices])[0]
            np.testing.assert_allclose(distances, truth, rtol=1e-4)
            assert distances == sorted(distances)
            found += len(set(ids) & set(expected_ids[row]))
        assert found / 50 >= 0.9, f"recall@10 {found / 50:.2f} below 0.9 for a 50% filter"

    async def test_a_where_document_filter_returns_every_match_up_to_n_results(
        self, collection: AsyncCollection
    ) -> None:
        data = random_vectors(400, 8, seed=11)
        await collection.add(
            ids=[f"id{i}" for i in range(400)],
            embeddings=data,
            documents=[f"needle {i}" if i % 50 == 0 else f"hay {i}" for i in range(400)],
        )
        query = random_vectors(1, 8, seed=12)
        result = await collection.query(
            query_embeddings=query, where_document={"$contains": "needle"}, n_results=20
        )
        expected = exact_distances("l2", query, data[::50])[0]
        assert result["ids"] == [[f"id{50 * i}" for i in np.argsort(expected, kind="stable")]]

    async def test_unfiltered_query_of_a_small_collection_is_exact(
        self, collection: AsyncCollection
    ) -> None:
        data = random_vectors(200, 8, seed=13)
        await collection.add(ids=[f"id{i}" for i in range(200)], embeddings=data)
        queries = random_vectors(4, 8, seed=14)
        result = await collection.query(query_embeddings=queries, n_results=5)
        truth = np.argsort(exact_distances("l2", queries, data), axis=1, kind="stable")[:, :5]
        assert result["ids"] == [[f"id{i}" for i in row] for row in truth]


class EmbeddingInputTests(_ClientTests):
    """Embeddings as lists or numpy arrays of any numeric dtype; bad ones rejected whole."""

    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int32])
    async def test_numpy_embeddings_of_any_numeric_dtype_are_stored_as_float32(
        self, collection: AsyncCollection, dtype: type[np.generic]
    ) -> None:
        values = np.array([[1, 2, 3], [4, 5, 6]], dtype=dtype)
        await collection.add(ids=["a", "b"], embeddings=values)
        got = await collection.get(include=["embeddings"])
        assert got["embeddings"] is not None
        assert got["embeddings"].dtype == np.float32
        assert got["embeddings"].shape == (2, 3)
        np.testing.assert_array_equal(got["embeddings"], values.astype(np.float32))

    async def test_lists_of_ints_and_floats_are_accepted(self, collection: AsyncCollection) -> None:
        await collection.add(ids=["a", "b"], embeddings=[[1, 2], [0.5, 2.5]])
        got = await collection.get(include=["embeddings"])
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 2.0], [0.5, 2.5]])

    async def test_a_single_id_and_one_dimensional_embedding_add_one_record(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(ids="solo", embeddings=np.array([1.0, 2.0]))
        await collection.upsert(ids="duo", embeddings=[3.0, 4.0], metadatas={"k": 1})
        got = await collection.get(include=["embeddings", "metadatas"])
        assert got["ids"] == ["solo", "duo"]
        assert got["metadatas"] == [None, {"k": 1}]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 2.0], [3.0, 4.0]])

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
    async def test_non_finite_values_are_rejected_and_nothing_is_written(
        self, collection: AsyncCollection, bad: float
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["ok", "bad"], embeddings=[[1.0, 2.0], [bad, 2.0]])
        assert await collection.count() == 0

    async def test_a_dimension_other_than_the_collections_is_rejected_naming_both(
        self, collection: AsyncCollection
    ) -> None:
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        with pytest.raises(InvalidArgumentError) as caught:
            await collection.add(ids=["b"], embeddings=[[1.0, 2.0, 3.0]])
        assert "2" in str(caught.value)
        assert "3" in str(caught.value)
        with pytest.raises(InvalidArgumentError):
            await collection.upsert(ids=["a"], embeddings=[[1.0, 2.0, 3.0]])
        with pytest.raises(InvalidArgumentError):
            await collection.update(ids=["a"], embeddings=[[1.0, 2.0, 3.0]])
        got = await collection.get(include=["embeddings"])
        assert got["ids"] == ["a"]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0, 2.0]])

    async def test_ragged_embeddings_in_one_batch_are_rejected(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [1.0, 2.0, 3.0]])
        assert await collection.count() == 0

    async def test_as_many_embeddings_as_ids_are_required(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a", "b"], embeddings=[[1.0, 2.0]])
        assert await collection.count() == 0


class EmbeddingFunctionTests(_ClientTests):
    """Chroma's embedding-function protocol, sync (off the loop) and async."""

    @pytest.fixture(params=[TextEmbedding, AsyncTextEmbedding], ids=["sync", "async"])
    def embedding_function(self, request: pytest.FixtureRequest) -> TextEmbedding:
        function: TextEmbedding = request.param()
        return function

    async def test_documents_only_writes_are_embedded_by_the_function(
        self, client: AsyncClient, embedding_function: TextEmbedding
    ) -> None:
        collection = await client.create_collection(
            "embedded", embedding_function=embedding_function
        )
        docs = ["a cat", "the eagle", "bee sees trees"]
        await collection.add(ids=["a", "b", "c"], documents=docs)
        got = await collection.get(include=["embeddings", "documents"])
        assert got["documents"] == docs
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [TextEmbedding.vector(d) for d in docs])
        await collection.upsert(ids=["a", "d"], documents=["a bat", "new one"])
        await collection.update(ids=["b"], documents=["eagle eye"])
        got = await collection.get(include=["embeddings", "documents"])
        docs = ["a bat", "eagle eye", "bee sees trees", "new one"]
        assert got["documents"] == docs
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [TextEmbedding.vector(d) for d in docs])

    async def test_query_texts_are_embedded_by_the_function(
        self, client: AsyncClient, embedding_function: TextEmbedding
    ) -> None:
        collection = await client.create_collection("texts", embedding_function=embedding_function)
        await collection.add(ids=["short", "long"], documents=["ab", "a much longer text here"])
        result = await collection.query(query_texts=["xy", "another much longer text"], n_results=1)
        assert result["ids"] == [["short"], ["long"]]

    async def test_get_collection_with_an_embedding_function_uses_it(
        self, client: AsyncClient, embedding_function: TextEmbedding
    ) -> None:
        await client.create_collection("later")
        collection = await client.get_collection("later", embedding_function=embedding_function)
        await collection.add(ids=["x"], documents=["hello there"])
        assert embedding_function.calls == [["hello there"]]

    async def test_a_sync_function_runs_off_the_event_loop_thread(
        self, client: AsyncClient
    ) -> None:
        function = TextEmbedding()
        collection = await client.create_collection("threaded", embedding_function=function)
        await collection.add(ids=["x"], documents=["text"])
        assert function.threads
        assert threading.get_ident() not in function.threads

    async def test_documents_without_an_embedding_function_are_rejected_clearly(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError, match="embedding"):
            await collection.add(ids=["a"], documents=["no function"])
        assert await collection.count() == 0
        with pytest.raises(InvalidArgumentError, match="embedding"):
            await collection.query(query_texts=["no function"])

    async def test_a_function_returning_the_wrong_count_is_rejected(
        self, client: AsyncClient
    ) -> None:
        def broken(input: list[str]) -> list[list[float]]:
            return [[1.0, 2.0]]

        collection = await client.create_collection("broken", embedding_function=broken)
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a", "b"], documents=["one", "two"])
        assert await collection.count() == 0


class ValidationTests(_ClientTests):
    """Bad input raises the right class, names the value, and writes nothing."""

    async def test_duplicate_ids_raise_duplicate_id_error_naming_the_id(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(DuplicateIDError, match="twin"):
            await collection.add(ids=["twin", "other", "twin"], embeddings=[[1.0], [2.0], [3.0]])
        with pytest.raises(DuplicateIDError, match="twin"):
            await collection.upsert(ids=["twin", "twin"], embeddings=[[1.0], [2.0]])
        assert await collection.count() == 0

    @pytest.mark.parametrize(
        ("ids", "named"), [([""], "ID"), ([5], "5"), (["ok", None], "None")], ids=repr
    )
    async def test_ids_must_be_non_empty_strings(
        self, collection: AsyncCollection, ids: list[Any], named: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await collection.add(ids=ids, embeddings=[[1.0]] * len(ids))
        assert named.lower() in str(caught.value).lower()
        assert await collection.count() == 0

    @pytest.mark.parametrize(
        ("metadata", "named"),
        [
            ({"nested": {"x": 1}}, "nested"),
            ({}, "metadata"),
            ({"mixed": [1, "x"]}, "mixed"),
            ({"empty": []}, "empty"),
            ({"none": None}, "none"),
            ({"obj": object()}, "obj"),
            ({5: "int key"}, "5"),
        ],
        ids=[
            "nested-dict",
            "empty-dict",
            "mixed-list",
            "empty-list",
            "none-in-add",
            "object",
            "int-key",
        ],
    )
    async def test_invalid_metadata_is_rejected_and_nothing_is_written(
        self, collection: AsyncCollection, metadata: dict[Any, Any], named: str
    ) -> None:
        with pytest.raises(InvalidArgumentError) as caught:
            await collection.add(
                ids=["good", "bad"], embeddings=[[1.0], [2.0]], metadatas=[{"fine": 1}, metadata]
            )
        assert named in str(caught.value)
        assert await collection.count() == 0

    async def test_a_rejected_update_changes_nothing(self, collection: AsyncCollection) -> None:
        await collection.add(
            ids=["a", "b"], embeddings=[[1.0], [2.0]], metadatas=[{"v": 1}, {"v": 2}]
        )
        nested: Any = {"v": {"deep": 1}}
        with pytest.raises(InvalidArgumentError):
            await collection.update(ids=["a", "b"], metadatas=[{"v": 10}, nested])
        with pytest.raises(InvalidArgumentError):
            await collection.upsert(
                ids=["a", "c"], embeddings=[[5.0], [float("nan")]], metadatas=[{"v": 5}, {"v": 6}]
            )
        got = await collection.get(include=["metadatas", "embeddings"])
        assert got["ids"] == ["a", "b"]
        assert got["metadatas"] == [{"v": 1}, {"v": 2}]
        assert got["embeddings"] is not None
        np.testing.assert_array_equal(got["embeddings"], [[1.0], [2.0]])

    async def test_columns_of_different_lengths_are_rejected(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a"], embeddings=[[1.0]], metadatas=[{"a": 1}, {"b": 2}])
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a", "b"], embeddings=[[1.0], [2.0]], documents=["only one"])
        assert await collection.count() == 0

    async def test_documents_must_be_strings(self, collection: AsyncCollection) -> None:
        with pytest.raises(InvalidArgumentError, match="5"):
            await collection.add(ids=["a"], embeddings=[[1.0]], documents=[5])  # type: ignore[list-item]
        assert await collection.count() == 0

    async def test_an_unknown_include_is_rejected_naming_it(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError, match="bogus"):
            await collection.get(include=["bogus"])
        with pytest.raises(InvalidArgumentError, match="bogus"):
            await collection.query(query_embeddings=[[1.0]], include=["bogus"])

    async def test_an_add_without_embeddings_or_documents_is_rejected(
        self, collection: AsyncCollection
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await collection.add(ids=["a"])
        assert await collection.count() == 0


class ConcurrencyTests(_ClientTests):
    """Many coroutines on one client: nothing lost, every write visible once acknowledged."""

    async def test_concurrent_writers_and_readers_end_in_the_serial_state(
        self, collection: AsyncCollection
    ) -> None:
        vectors = random_vectors(160, 8, seed=15)
        seen_after_write: list[bool] = []

        async def writer(worker: int) -> None:
            for batch in range(4):
                start = worker * 20 + batch * 5
                ids = [f"w{i}" for i in range(start, start + 5)]
                await collection.add(
                    ids=ids,
                    embeddings=vectors[start : start + 5],
                    metadatas=[{"worker": worker}] * 5,
                )
                # read-your-writes: once add returns, every later read sees it
                seen_after_write.append((await collection.get(ids=ids))["ids"] == ids)

        async def reader() -> None:
            for _ in range(6):
                result = await collection.query(query_embeddings=vectors[:2], n_results=3)
                assert all(len(row) <= 3 for row in result["ids"])

        async with anyio.create_task_group() as group:
            for worker in range(8):
                group.start_soon(writer, worker)
            for _ in range(4):
                group.start_soon(reader)

        assert seen_after_write == [True] * 32
        assert await collection.count() == 160
        got = await collection.get(include=["embeddings", "metadatas"], where={"worker": 3})
        assert sorted(got["ids"]) == sorted(f"w{i}" for i in range(60, 80))
        assert got["embeddings"] is not None
        order = [int(record[1:]) for record in got["ids"]]
        np.testing.assert_array_equal(got["embeddings"], vectors[order])

    async def test_concurrent_upserts_of_the_same_ids_leave_one_whole_version(
        self, collection: AsyncCollection
    ) -> None:
        ids = [f"r{i}" for i in range(10)]

        async def upsert(version: int) -> None:
            await collection.upsert(
                ids=ids,
                embeddings=np.full((10, 3), float(version), dtype=np.float32),
                metadatas=[{"version": version}] * 10,
            )

        async with anyio.create_task_group() as group:
            for version in range(6):
                group.start_soon(upsert, version)

        got = await collection.get(include=["embeddings", "metadatas"])
        assert got["ids"] == ids
        assert got["metadatas"] is not None
        assert got["embeddings"] is not None
        for metadata, embedding in zip(got["metadatas"], got["embeddings"], strict=True):
            assert metadata is not None
            stored = metadata["version"]
            assert isinstance(stored, int)
            np.testing.assert_array_equal(embedding, [float(stored)] * 3)


class ConformanceSuite(
    LifecycleTests,
    TenancyTests,
    CollectionTests,
    DistanceTests,
    RecordWriteTests,
    GetTests,
    WhereTests,
    WhereDocumentTests,
    QueryTests,
    EmbeddingInputTests,
    EmbeddingFunctionTests,
    ValidationTests,
    ConcurrencyTests,
):
    """Every conformance test. Subclass it and provide the ``client_factory`` fixture."""
