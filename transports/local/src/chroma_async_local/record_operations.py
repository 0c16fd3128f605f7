"""Record operations (add, upsert, update, delete, get, query, count) on one store.

Synchronous functions that turn an operation Struct into store calls and shape the
result; the transports run them in worker threads under the collection's lock. Writes
come in two steps, :func:`plan_write` then ``store.apply(plan)``, so that a persistent
transport can commit the plan between them.
"""

from __future__ import annotations

from typing import Any, Union

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import DocNode, WhereNode
from chroma_async.operations import (
    AddRecords,
    DeleteRecords,
    GetRecords,
    GetResponse,
    QueryRecords,
    QueryResponse,
    UpdateRecords,
    UpsertRecords,
)
from chroma_async_local.collection_store import CollectionStore, WritePlan

__all__ = ["WriteOperation", "get_records", "plan_write", "query_records"]

WriteOperation = Union[AddRecords, UpsertRecords, UpdateRecords, DeleteRecords]  # noqa: UP007


def plan_write(
    store: CollectionStore,
    op: WriteOperation,
    where: WhereNode | None = None,
    where_document: DocNode | None = None,
) -> WritePlan:
    """Resolve a write against the store's current state, without changing it."""
    if isinstance(op, AddRecords):
        return store.plan_add(op.ids, op.embeddings, op.metadatas, op.documents, op.uris)
    if isinstance(op, UpsertRecords):
        return store.plan_upsert(op.ids, op.embeddings, op.metadatas, op.documents, op.uris)
    if isinstance(op, UpdateRecords):
        return store.plan_update(op.ids, op.embeddings, op.metadatas, op.documents, op.uris)
    if isinstance(op, DeleteRecords):
        if op.ids is None and where is None and where_document is None:
            raise InvalidArgumentError(
                "expected ids, where or where_document to select the records to delete, "
                "got none of them"
            )
        return store.plan_delete(op.ids, where, where_document)
    raise InvalidArgumentError(f"expected a record write operation, got {type(op).__name__}")


def _check_include(include: tuple[str, ...], allowed: frozenset[str]) -> None:
    for item in include:
        if item not in allowed:
            raise InvalidArgumentError(
                f"expected include items among {sorted(allowed)}, got {item!r}"
            )


_GET_INCLUDE = frozenset({"documents", "embeddings", "metadatas", "uris"})
_QUERY_INCLUDE = _GET_INCLUDE | {"distances"}


def get_records(
    store: CollectionStore,
    op: GetRecords,
    where: WhereNode | None = None,
    where_document: DocNode | None = None,
) -> GetResponse:
    """Matching records in insertion order, then ``offset`` / ``limit``."""
    _check_include(op.include, _GET_INCLUDE | {"distances"})
    slots = store.select(op.ids, where, where_document, offset=op.offset, limit=op.limit)
    include = set(op.include)
    return GetResponse(
        ids=store.ids_of(slots),
        embeddings=store.embeddings_of(slots) if "embeddings" in include else None,
        documents=store.documents_of(slots) if "documents" in include else None,
        uris=store.uris_of(slots) if "uris" in include else None,
        metadatas=store.metadatas_of(slots) if "metadatas" in include else None,
    )


def query_records(
    store: CollectionStore,
    op: QueryRecords,
    where: WhereNode | None = None,
    where_document: DocNode | None = None,
) -> QueryResponse:
    """The ``n_results`` nearest matching records to each query embedding."""
    _check_include(op.include, _QUERY_INCLUDE)
    if op.n_results < 1:
        raise InvalidArgumentError(f"expected n_results to be a positive int, got {op.n_results!r}")
    queries = op.query_embeddings
    if queries.ndim == 1:
        queries = queries[None, :]
    filtered = op.ids is not None or where is not None or where_document is not None
    allowed = store.mask(op.ids, where, where_document) if filtered else None
    hits = store.query(queries, op.n_results, allowed)
    include = set(op.include)
    fields: dict[str, Any] = {"ids": [store.ids_of(h.slots) for h in hits]}
    if "distances" in include:
        fields["distances"] = [h.distances for h in hits]
    if "embeddings" in include:
        fields["embeddings"] = [store.embeddings_of(h.slots) for h in hits]
    if "documents" in include:
        fields["documents"] = [store.documents_of(h.slots) for h in hits]
    if "uris" in include:
        fields["uris"] = [store.uris_of(h.slots) for h in hits]
    if "metadatas" in include:
        fields["metadatas"] = [store.metadatas_of(h.slots) for h in hits]
    return QueryResponse(**fields)
