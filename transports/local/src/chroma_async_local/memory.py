"""The ``memory://`` transport: the in-process engine, its data gone when it closes.

Each :class:`MemoryTransport` is its own world: tenants, databases and collections are
never shared with another transport. Catalog operations (tenants, databases, collection
names) are a few dict operations and run on the event loop; every record operation runs
in a worker thread through :func:`anyio.to_thread.run_sync` with the transport's own
:class:`anyio.CapacityLimiter`, under the collection's readers–writer lock: reads run
together, a write runs alone, and a write that has started is finished even when its
caller is cancelled (the thread call is shielded), so a batch is applied whole or not at
all. After ``await send(write)`` returns, every later read sees the write.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import numpy as np

from chroma_async.errors import ClientClosedError, InvalidArgumentError
from chroma_async.filters import DocNode, WhereNode, parse_where, parse_where_document
from chroma_async.operations import (
    AddRecords,
    CollectionModel,
    CountCollections,
    CountRecords,
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DatabaseModel,
    DeleteCollection,
    DeleteDatabase,
    DeleteRecords,
    ForkCollection,
    GetCollection,
    GetDatabase,
    GetRecords,
    GetResponse,
    GetTenant,
    GetUserIdentity,
    GetVersion,
    Heartbeat,
    ListCollections,
    ListDatabases,
    ModifyCollection,
    Operation,
    QueryRecords,
    QueryResponse,
    RecordOperation,
    Reset,
    TenantModel,
    UpdateRecords,
    UpsertRecords,
    UserIdentity,
)
from chroma_async.transport import SPACES, Capabilities
from chroma_async_local.catalog import DEFAULT_DATABASE, DEFAULT_TENANT, Catalog, CollectionEntry
from chroma_async_local.collection_store import CollectionStore
from chroma_async_local.index_settings import IndexSettings
from chroma_async_local.locks import ReadWriteLock
from chroma_async_local.record_operations import (
    WriteOperation,
    get_records,
    plan_write,
    query_records,
)

__all__ = ["MAX_BATCH_SIZE", "MemoryTransport"]

R = TypeVar("R")
T = TypeVar("T")

MAX_BATCH_SIZE = 4096
"""Records per write. Big enough that usearch's multi-threaded add and numpy amortise
the per-call overhead, small enough that the pure-Python part of one write (id lookups,
metadata columns: ~3 ms for 4,096 records with four keys) stays well inside the loop-lag
budget, since the GIL is handed back to the loop every switch interval anyway."""

_UNOPENED, _OPEN, _CLOSED = "unopened", "open", "closed"


def _where(where: dict[str, Any] | None) -> WhereNode | None:
    return None if where is None else parse_where(where)


def _where_document(where_document: dict[str, Any] | None) -> DocNode | None:
    return None if where_document is None else parse_where_document(where_document)


class MemoryTransport:
    """In-process transport on usearch + numpy; see the module docstring."""

    def __init__(
        self,
        *,
        max_threads: int = 4,
        index_threads: int = 0,
        brute_force_limit: int = 4096,
        brute_force_ratio: float = 20.0,
    ) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise InvalidArgumentError(
                f"expected max_threads to be a positive int, got {max_threads!r}"
            )
        if (
            isinstance(index_threads, bool)
            or not isinstance(index_threads, int)
            or index_threads < 0
        ):
            raise InvalidArgumentError(
                f"expected index_threads to be an int >= 0 (0: one per core), got {index_threads!r}"
            )
        self._max_threads = max_threads
        self._index_threads = index_threads
        self._brute_force_limit = brute_force_limit
        self._brute_force_ratio = brute_force_ratio
        self._state = _UNOPENED
        self._limiter: anyio.CapacityLimiter | None = None
        self._catalog = Catalog(self._new_store)
        self._locks: weakref.WeakKeyDictionary[CollectionStore, ReadWriteLock] = (
            weakref.WeakKeyDictionary()
        )
        self._forming: dict[tuple[Any, ...], _QueryBatch] = {}
        self._handlers: dict[type[Any], Callable[[Any], Awaitable[Any]]] = {
            Heartbeat: self._heartbeat,
            GetVersion: self._get_version,
            Reset: self._reset,
            GetUserIdentity: self._get_user_identity,
            CreateTenant: self._create_tenant,
            GetTenant: self._get_tenant,
            CreateDatabase: self._create_database,
            GetDatabase: self._get_database,
            ListDatabases: self._list_databases,
            DeleteDatabase: self._delete_database,
            ListCollections: self._list_collections,
            CountCollections: self._count_collections,
            CreateCollection: self._create_collection,
            GetCollection: self._get_collection,
            DeleteCollection: self._delete_collection,
            ModifyCollection: self._modify_collection,
            ForkCollection: self._fork_collection,
            CountRecords: self._count_records,
            AddRecords: self._write_records,
            UpsertRecords: self._write_records,
            UpdateRecords: self._write_records,
            DeleteRecords: self._write_records,
            GetRecords: self._get_records,
            QueryRecords: self._query_records,
        }

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> MemoryTransport:
        """``memory://`` with options ``max_threads`` (worker threads of this transport),
        ``index_threads`` (usearch threads per batch call, 0 = one per core),
        ``brute_force_limit`` / ``brute_force_ratio`` (when a filtered query scans its
        matches exactly instead of searching the index; see ``CollectionStore``)."""
        if not url.lower().startswith("memory:"):
            raise InvalidArgumentError(f"expected a memory:// URL, got {url!r}")
        return cls(**options)

    def __repr__(self) -> str:
        return f"MemoryTransport(state={self._state!r}, max_threads={self._max_threads})"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            name="memory",
            max_batch_size=MAX_BATCH_SIZE,
            # One write batch at a time: batches of one call land in the order given, so
            # `get` (insertion order) matches chromadb's; a collection's writes are
            # serialised anyway, and usearch spreads each batch over every core.
            max_write_concurrency=1,
            supports_base64=False,
            persistent=False,
            spaces=SPACES,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._state == _CLOSED:
            raise ClientClosedError("the memory transport was closed and cannot be reopened")
        if self._state == _UNOPENED:
            self._limiter = anyio.CapacityLimiter(self._max_threads)
            self._state = _OPEN

    async def aclose(self) -> None:
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._catalog.reset()
        self._locks = weakref.WeakKeyDictionary()

    async def send(self, op: Operation[R]) -> R:
        if self._state != _OPEN:
            if self._state == _CLOSED:
                raise ClientClosedError(
                    f"the memory transport is closed; cannot send {type(op).__name__}"
                )
            raise ClientClosedError(
                f"the memory transport is not open yet; await open() before sending "
                f"{type(op).__name__}"
            )
        handler = self._handlers.get(type(op))
        if handler is None:
            raise InvalidArgumentError(
                f"the memory transport does not support the operation {type(op).__name__}"
            )
        return cast(R, await handler(op))

    # --- helpers -----------------------------------------------------------------------

    def _new_store(self, settings: IndexSettings) -> CollectionStore:
        return CollectionStore(
            settings,
            threads=self._index_threads,
            brute_force_limit=self._brute_force_limit,
            brute_force_ratio=self._brute_force_ratio,
        )

    def _lock(self, store: CollectionStore) -> ReadWriteLock:
        lock = self._locks.get(store)
        if lock is None:
            lock = self._locks[store] = ReadWriteLock()
        return lock

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    async def _read(self, store: CollectionStore, func: Callable[..., T], *args: Any) -> T:
        async with self._lock(store).read():
            return await self._in_thread(func, *args)

    async def _write(self, store: CollectionStore, func: Callable[..., T], *args: Any) -> T:
        async with self._lock(store).write():
            # A caller cancelled before the write starts gets nothing written; once
            # started, a write finishes even if the caller is cancelled: never half.
            await anyio.lowlevel.checkpoint_if_cancelled()
            with anyio.CancelScope(shield=True):
                result = await self._in_thread(func, *args)
            return result  # noqa: RET504  (mypy: a with-block may swallow)

    def _entry(
        self, op: RecordOperation[Any] | ModifyCollection | ForkCollection
    ) -> CollectionEntry:
        return self._catalog.collection_by_id(op.tenant, op.database, op.collection_id)

    # --- system ------------------------------------------------------------------------

    async def _heartbeat(self, op: Heartbeat) -> int:
        return time.time_ns()

    async def _get_version(self, op: GetVersion) -> str:
        from chroma_async import __version__

        return __version__

    async def _reset(self, op: Reset) -> bool:
        self._catalog.reset()
        self._locks = weakref.WeakKeyDictionary()
        return True

    async def _get_user_identity(self, op: GetUserIdentity) -> UserIdentity:
        return UserIdentity(user_id="", tenant=DEFAULT_TENANT, databases=[DEFAULT_DATABASE])

    # --- tenants and databases ---------------------------------------------------------

    async def _create_tenant(self, op: CreateTenant) -> None:
        self._catalog.create_tenant(op.name)

    async def _get_tenant(self, op: GetTenant) -> TenantModel:
        return self._catalog.get_tenant(op.name)

    async def _create_database(self, op: CreateDatabase) -> None:
        self._catalog.create_database(op.tenant, op.name)

    async def _get_database(self, op: GetDatabase) -> DatabaseModel:
        return self._catalog.get_database(op.tenant, op.name).model()

    async def _list_databases(self, op: ListDatabases) -> list[DatabaseModel]:
        return [db.model() for db in self._catalog.list_databases(op.tenant, op.limit, op.offset)]

    async def _delete_database(self, op: DeleteDatabase) -> None:
        self._catalog.delete_database(op.tenant, op.name)

    # --- collections -------------------------------------------------------------------

    async def _list_collections(self, op: ListCollections) -> list[CollectionModel]:
        entries = self._catalog.list_collections(op.tenant, op.database, op.limit, op.offset)
        return [e.model() for e in entries]

    async def _count_collections(self, op: CountCollections) -> int:
        return self._catalog.count_collections(op.tenant, op.database)

    async def _create_collection(self, op: CreateCollection) -> CollectionModel:
        entry, _ = self._catalog.create_collection(
            op.tenant, op.database, op.name, op.configuration, op.metadata, op.get_or_create
        )
        return entry.model()

    async def _get_collection(self, op: GetCollection) -> CollectionModel:
        return self._catalog.get_collection(op.tenant, op.database, op.name).model()

    async def _delete_collection(self, op: DeleteCollection) -> None:
        self._catalog.delete_collection(op.tenant, op.database, op.name)

    async def _modify_collection(self, op: ModifyCollection) -> None:
        entry = self._entry(op)
        async with self._lock(entry.store).write():
            entry = self._catalog.modify_collection(
                op.tenant,
                op.database,
                op.collection_id,
                new_name=op.new_name,
                new_metadata=op.new_metadata,
                new_configuration=op.new_configuration,
            )
            if op.new_configuration:
                entry.store.set_ef_search(
                    IndexSettings.from_configuration(entry.configuration).ef_search
                )

    async def _fork_collection(self, op: ForkCollection) -> CollectionModel:
        source = self._entry(op)
        self._catalog.check_fork_target(op.tenant, op.database, op.new_name)
        copy = await self._read(source.store, source.store.copy)
        # The name may have been taken while the copy was made: checked again here.
        return self._catalog.add_fork(source, op.new_name, copy).model()

    # --- records -----------------------------------------------------------------------

    async def _count_records(self, op: CountRecords) -> int:
        return self._entry(op).store.count

    async def _write_records(self, op: WriteOperation) -> None:
        store = self._entry(op).store
        where: WhereNode | None = None
        where_document: DocNode | None = None
        if isinstance(op, DeleteRecords):
            where, where_document = _where(op.where), _where_document(op.where_document)
        await self._write(store, _plan_and_apply, store, op, where, where_document)

    async def _get_records(self, op: GetRecords) -> GetResponse:
        store = self._entry(op).store
        where, where_document = _where(op.where), _where_document(op.where_document)
        return await self._read(store, get_records, store, op, where, where_document)

    async def _query_records(self, op: QueryRecords) -> QueryResponse:
        store = self._entry(op).store
        where, where_document = _where(op.where), _where_document(op.where_document)
        # Concurrent queries of the same shape share one thread call and one usearch batch
        # search: the first one waits a single scheduler turn for others to join.
        key = _batch_key(store, op)
        forming = self._forming.get(key)
        if forming is not None:
            position = len(forming.ops)
            forming.ops.append(op)
            await forming.done.wait()
            return forming.result(position)
        batch = _QueryBatch(op)
        self._forming[key] = batch
        with anyio.CancelScope(shield=True):
            # Shielded: the queries that joined depend on this one finishing.
            try:
                await anyio.lowlevel.checkpoint()
            finally:
                del self._forming[key]
            try:
                batch.responses = await self._read(
                    store, _query_batch, store, batch.ops, where, where_document
                )
            except Exception as exc:
                batch.error = exc
            finally:
                batch.done.set()
        return batch.result(0)


class _QueryBatch:
    """Queries of one shape answered by one thread call."""

    def __init__(self, first: QueryRecords) -> None:
        self.ops = [first]
        self.done = anyio.Event()
        self.responses: list[QueryResponse] = []
        self.error: Exception | None = None

    def result(self, position: int) -> QueryResponse:
        if self.error is not None:
            raise self.error
        return self.responses[position]


def _batch_key(store: CollectionStore, op: QueryRecords) -> tuple[Any, ...]:
    selectors = _KEY_ENCODER.encode((op.where, op.where_document, op.ids))
    width = op.query_embeddings.shape[-1]
    return (id(store), op.n_results, op.include, width, selectors)


_KEY_ENCODER = msgspec.json.Encoder()


def _query_batch(
    store: CollectionStore,
    ops: list[QueryRecords],
    where: WhereNode | None,
    where_document: DocNode | None,
) -> list[QueryResponse]:
    """Answer ``ops`` (same selectors, n_results and include) with one store query."""
    if len(ops) == 1:
        return [query_records(store, ops[0], where, where_document)]
    blocks = [op.query_embeddings.reshape(-1, op.query_embeddings.shape[-1]) for op in ops]
    combined = msgspec.structs.replace(ops[0], query_embeddings=np.concatenate(blocks))
    response = query_records(store, combined, where, where_document)
    answers: list[QueryResponse] = []
    start = 0
    fields = ("ids", "distances", "embeddings", "documents", "uris", "metadatas")
    for block in blocks:
        stop = start + block.shape[0]
        part: dict[str, Any] = {}
        for name in fields:
            value = getattr(response, name)
            part[name] = None if value is None else value[start:stop]
        answers.append(QueryResponse(**part))
        start = stop
    return answers


def _plan_and_apply(
    store: CollectionStore,
    op: WriteOperation,
    where: WhereNode | None,
    where_document: DocNode | None,
) -> None:
    store.apply(plan_write(store, op, where, where_document))
