"""The ``memory://`` transport: the in-process engine, its data gone when it closes.

Each :class:`MemoryTransport` is its own world: tenants, databases and collections are
never shared with another transport. Catalog operations (tenants, databases, collection
names) are a few dict operations and run on the event loop; every record operation runs
in a worker thread through :func:`anyio.to_thread.run_sync` with the transport's own
:class:`anyio.CapacityLimiter`, under the collection's readers–writer lock: reads run
together, a write runs alone, and a write that has started is finished even when its
caller is cancelled (the thread call is shielded), so a batch is applied whole or not at
all. After ``await send(write)`` returns, every later read sees the write.

What it shares with the persistent transport (dispatch, lifecycle, locks, reads, query
batching) is :class:`~chroma_async_local.engine_transport.EngineTransport`'s; this module
holds only the changes, which need nothing more than the engine's own calls.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import DocNode, WhereNode
from chroma_async.operations import (
    CollectionModel,
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    ForkCollection,
    ModifyCollection,
    Reset,
)
from chroma_async_local.collection_store import CollectionStore
from chroma_async_local.engine_transport import MAX_BATCH_SIZE, EngineTransport, parse_selectors
from chroma_async_local.record_operations import WriteOperation, plan_write

__all__ = ["MAX_BATCH_SIZE", "MemoryTransport"]


class MemoryTransport(EngineTransport):
    """In-process transport on usearch + numpy; see the module docstring."""

    kind = "memory"
    persistent = False

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

    # --- catalog changes: on the event loop, where they are atomic ---------------------

    async def _reset(self, op: Reset) -> bool:
        self._clear()
        return True

    async def _create_tenant(self, op: CreateTenant) -> None:
        self._catalog.create_tenant(op.name)

    async def _create_database(self, op: CreateDatabase) -> None:
        self._catalog.create_database(op.tenant, op.name)

    async def _delete_database(self, op: DeleteDatabase) -> None:
        self._catalog.delete_database(op.tenant, op.name)

    async def _create_collection(self, op: CreateCollection) -> CollectionModel:
        entry, _ = self._catalog.create_collection(
            op.tenant, op.database, op.name, op.configuration, op.metadata, op.get_or_create
        )
        return entry.model()

    async def _delete_collection(self, op: DeleteCollection) -> None:
        self._catalog.delete_collection(op.tenant, op.database, op.name)

    async def _modify_collection(self, op: ModifyCollection) -> None:
        entry = self._entry(op)
        async with self._lock(entry.store).write():
            self._apply_configuration(op, self._modify_entry(op))

    async def _fork_collection(self, op: ForkCollection) -> CollectionModel:
        source, copy = await self._copy_for_fork(op)
        # The name may have been taken while the copy was made: checked again here.
        return self._catalog.add_fork(source, op.new_name, copy).model()

    # --- record writes -----------------------------------------------------------------

    async def _write_records(self, op: WriteOperation) -> None:
        store = self._entry(op).store
        where, where_document = parse_selectors(op)
        async with self._lock(store).write():
            # A caller cancelled before the write starts gets nothing written; once
            # started, a write finishes even if the caller is cancelled: never half.
            await anyio.lowlevel.checkpoint_if_cancelled()
            with anyio.CancelScope(shield=True):
                await self._in_thread(_plan_and_apply, store, op, where, where_document)


def _plan_and_apply(
    store: CollectionStore,
    op: WriteOperation,
    where: WhereNode | None,
    where_document: DocNode | None,
) -> None:
    store.apply(plan_write(store, op, where, where_document))
