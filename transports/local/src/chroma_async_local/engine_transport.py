""":class:`EngineTransport`: what the ``memory://`` and ``file:`` transports share.

Both serve the in-process engine — a :class:`Catalog` of tenants, databases and
collections, one :class:`CollectionStore` per collection — and differ only in what a
change must do before it is acknowledged (the persistent transport commits it to disk
first) and in what opening and closing involve. This base owns everything else: the
operation dispatch table, the unopened → open → closed state, the transport's own
:class:`anyio.CapacityLimiter` and worker-thread calls, the per-collection readers–writer
locks, the query batching, and every handler that only reads.

Every record operation runs in a worker thread through :func:`anyio.to_thread.run_sync`
with the transport's limiter, under the collection's lock: reads run together, a write
runs alone. Catalog reads take the catalog lock's read side, so that a transport whose
catalog changes await (to persist them) can exclude them with its write side.
"""

from __future__ import annotations

import abc
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar, cast

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
from chroma_async_local.record_operations import WriteOperation, get_records, query_records

__all__ = [
    "CLOSED",
    "MAX_BATCH_SIZE",
    "OPEN",
    "UNOPENED",
    "EngineTransport",
    "QueryBatch",
    "batch_key",
    "parse_selectors",
    "query_batch",
]

R = TypeVar("R")
T = TypeVar("T")

MAX_BATCH_SIZE = 4096
"""Records per write. Big enough that usearch's multi-threaded add and numpy amortise
the per-call overhead, small enough that the pure-Python part of one write (id lookups,
metadata columns: ~3 ms for 4,096 records with four keys) stays well inside the loop-lag
budget, since the GIL is handed back to the loop every switch interval anyway."""

UNOPENED, OPEN, CLOSED = "unopened", "open", "closed"


def parse_selectors(
    op: GetRecords | QueryRecords | WriteOperation,
) -> tuple[WhereNode | None, DocNode | None]:
    """The parsed ``where`` and ``where_document`` of ``op`` (none for add/upsert/update)."""
    if isinstance(op, (AddRecords, UpsertRecords, UpdateRecords)):
        return None, None
    where = None if op.where is None else parse_where(op.where)
    where_document = None if op.where_document is None else parse_where_document(op.where_document)
    return where, where_document


class EngineTransport(abc.ABC):
    """The shared part of the in-process transports; see the module docstring.

    A subclass sets ``kind`` and ``persistent`` and implements the handlers that change
    the catalog or records; it may add work to opening and closing (``_start``,
    ``_stop``) and say differently why an operation cannot be sent now.
    """

    kind: ClassVar[str]
    persistent: ClassVar[bool]

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
        self._store_options: dict[str, Any] = {
            "threads": index_threads,
            "brute_force_limit": brute_force_limit,
            "brute_force_ratio": brute_force_ratio,
        }
        self._state = UNOPENED
        self._limiter: anyio.CapacityLimiter | None = None
        self._catalog = Catalog(self._new_store)
        self._catalog_lock = ReadWriteLock()
        self._locks: weakref.WeakKeyDictionary[CollectionStore, ReadWriteLock] = (
            weakref.WeakKeyDictionary()
        )
        self._forming: dict[tuple[Any, ...], QueryBatch] = {}
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

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=self.kind,
            max_batch_size=MAX_BATCH_SIZE,
            # One write batch at a time: batches of one call land in the order given, so
            # `get` (insertion order) matches chromadb's; a collection's writes are
            # serialised anyway, and usearch spreads each batch over every core.
            max_write_concurrency=1,
            supports_base64=False,
            persistent=self.persistent,
            spaces=SPACES,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._state == CLOSED:
            raise ClientClosedError(self._cannot_reopen())
        if self._state == OPEN:
            return
        self._limiter = anyio.CapacityLimiter(self._max_threads)
        await self._start()
        self._state = OPEN

    async def aclose(self) -> None:
        if self._state == CLOSED:
            return
        was_open = self._state == OPEN
        self._state = CLOSED
        if not was_open:
            return
        with anyio.CancelScope(shield=True):
            async with self._catalog_lock.write():  # in-flight catalog changes finish first
                await self._stop()
            self._clear()

    async def send(self, op: Operation[R]) -> R:
        self._check_open(op)
        handler = self._handlers.get(type(op))
        if handler is None:
            raise InvalidArgumentError(
                f"the {self.kind} transport does not support the operation {type(op).__name__}"
            )
        return cast(R, await handler(op))

    async def _start(self) -> None:  # noqa: B027  (an optional hook, empty by default)
        """Work of ``open`` after the limiter exists, before the transport is open."""

    async def _stop(self) -> None:  # noqa: B027  (an optional hook, empty by default)
        """Work of closing an open transport: shielded, under the catalog's write lock."""

    def _clear(self) -> None:
        """Forget every tenant, database and collection (closing, ``Reset``)."""
        self._catalog.reset()
        self._locks = weakref.WeakKeyDictionary()

    def _check_open(self, op: object = None) -> None:
        if self._state != OPEN:
            raise self._not_open_error(op)

    def _not_open_error(self, op: object) -> ClientClosedError:
        name = type(op).__name__
        if self._state == CLOSED:
            return ClientClosedError(f"the {self.kind} transport is closed; cannot send {name}")
        return ClientClosedError(
            f"the {self.kind} transport is not open yet; await open() before sending {name}"
        )

    def _cannot_reopen(self) -> str:
        return f"the {self.kind} transport was closed and cannot be reopened"

    # --- helpers -----------------------------------------------------------------------

    def _new_store(self, settings: IndexSettings) -> CollectionStore:
        return CollectionStore(settings, **self._store_options)

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

    async def _read_catalog(self, read: Callable[[], T]) -> T:
        async with self._catalog_lock.read():
            self._check_open()
            return read()

    def _entry(
        self, op: RecordOperation[Any] | ModifyCollection | ForkCollection
    ) -> CollectionEntry:
        return self._catalog.collection_by_id(op.tenant, op.database, op.collection_id)

    def _modify_entry(self, op: ModifyCollection) -> CollectionEntry:
        """Apply ``op`` to the catalog (checked whole before anything changes)."""
        return self._catalog.modify_collection(
            op.tenant,
            op.database,
            op.collection_id,
            new_name=op.new_name,
            new_metadata=op.new_metadata,
            new_configuration=op.new_configuration,
        )

    @staticmethod
    def _apply_configuration(op: ModifyCollection, entry: CollectionEntry) -> None:
        """Give the store the new ``ef_search`` of a modified configuration."""
        if op.new_configuration:
            entry.store.set_ef_search(
                IndexSettings.from_configuration(entry.configuration).ef_search
            )

    async def _copy_for_fork(self, op: ForkCollection) -> tuple[CollectionEntry, CollectionStore]:
        """The source collection and a copy of its store, once the new name is free."""
        source = self._entry(op)
        self._catalog.check_fork_target(op.tenant, op.database, op.new_name)
        return source, await self._read(source.store, source.store.copy)

    # --- handlers that change the catalog or records -----------------------------------

    @abc.abstractmethod
    async def _reset(self, op: Reset) -> bool: ...

    @abc.abstractmethod
    async def _create_tenant(self, op: CreateTenant) -> None: ...

    @abc.abstractmethod
    async def _create_database(self, op: CreateDatabase) -> None: ...

    @abc.abstractmethod
    async def _delete_database(self, op: DeleteDatabase) -> None: ...

    @abc.abstractmethod
    async def _create_collection(self, op: CreateCollection) -> CollectionModel: ...

    @abc.abstractmethod
    async def _delete_collection(self, op: DeleteCollection) -> None: ...

    @abc.abstractmethod
    async def _modify_collection(self, op: ModifyCollection) -> None: ...

    @abc.abstractmethod
    async def _fork_collection(self, op: ForkCollection) -> CollectionModel: ...

    @abc.abstractmethod
    async def _write_records(self, op: WriteOperation) -> None: ...

    # --- system ------------------------------------------------------------------------

    async def _heartbeat(self, op: Heartbeat) -> int:
        return time.time_ns()

    async def _get_version(self, op: GetVersion) -> str:
        from chroma_async import __version__

        return __version__

    async def _get_user_identity(self, op: GetUserIdentity) -> UserIdentity:
        return UserIdentity(user_id="", tenant=DEFAULT_TENANT, databases=[DEFAULT_DATABASE])

    # --- catalog reads -----------------------------------------------------------------

    async def _get_tenant(self, op: GetTenant) -> TenantModel:
        return await self._read_catalog(lambda: self._catalog.get_tenant(op.name))

    async def _get_database(self, op: GetDatabase) -> DatabaseModel:
        return await self._read_catalog(
            lambda: self._catalog.get_database(op.tenant, op.name).model()
        )

    async def _list_databases(self, op: ListDatabases) -> list[DatabaseModel]:
        return await self._read_catalog(
            lambda: [
                db.model() for db in self._catalog.list_databases(op.tenant, op.limit, op.offset)
            ]
        )

    async def _list_collections(self, op: ListCollections) -> list[CollectionModel]:
        return await self._read_catalog(
            lambda: [
                e.model()
                for e in self._catalog.list_collections(op.tenant, op.database, op.limit, op.offset)
            ]
        )

    async def _count_collections(self, op: CountCollections) -> int:
        return await self._read_catalog(
            lambda: self._catalog.count_collections(op.tenant, op.database)
        )

    async def _get_collection(self, op: GetCollection) -> CollectionModel:
        return await self._read_catalog(
            lambda: self._catalog.get_collection(op.tenant, op.database, op.name).model()
        )

    # --- record reads ------------------------------------------------------------------

    async def _count_records(self, op: CountRecords) -> int:
        return self._entry(op).store.count

    async def _get_records(self, op: GetRecords) -> GetResponse:
        store = self._entry(op).store
        where, where_document = parse_selectors(op)
        return await self._read(store, get_records, store, op, where, where_document)

    async def _query_records(self, op: QueryRecords) -> QueryResponse:
        store = self._entry(op).store
        where, where_document = parse_selectors(op)
        # Concurrent queries of the same shape share one thread call and one usearch batch
        # search: the first one waits a single scheduler turn for others to join.
        key = batch_key(store, op)
        forming = self._forming.get(key)
        if forming is not None:
            position = len(forming.ops)
            forming.ops.append(op)
            await forming.done.wait()
            return forming.result(position)
        batch = QueryBatch(op)
        self._forming[key] = batch
        with anyio.CancelScope(shield=True):
            # Shielded: the queries that joined depend on this one finishing.
            try:
                await anyio.lowlevel.checkpoint()
            finally:
                del self._forming[key]
            try:
                batch.responses = await self._read(
                    store, query_batch, store, batch.ops, where, where_document
                )
            except Exception as exc:
                batch.error = exc
            finally:
                batch.done.set()
        return batch.result(0)


# --- query batching -------------------------------------------------------------------


class QueryBatch:
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


def batch_key(store: CollectionStore, op: QueryRecords) -> tuple[Any, ...]:
    """Queries with equal keys can be answered by one :func:`query_batch` call."""
    selectors = _KEY_ENCODER.encode((op.where, op.where_document, op.ids))
    width = op.query_embeddings.shape[-1]
    return (id(store), op.n_results, op.include, width, selectors)


_KEY_ENCODER = msgspec.json.Encoder()


def query_batch(
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
