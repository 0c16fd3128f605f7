"""One collection's records in memory: vectors, index, metadata columns, documents.

:class:`CollectionStore` is synchronous, free of I/O and of async, and confined to one
writer at a time (readers may run concurrently with each other, never with a writer). The
transports call it from worker threads under a per-collection readers–writer lock.

Layout
------
Every record lives in a *slot*: a row of the float32 vector matrix and a position in every
column. Slots are handed out in insertion order and never reused, so "insertion order"
(Chroma's order for ``get``) is slot order. The usearch index refers to records by *key*;
a record gets a fresh key whenever its vector changes, and keys are never reused either,
so a key seen in the index always means one vector.

Writes in two steps (for a write-ahead log)
-------------------------------------------
``plan_add`` / ``plan_upsert`` / ``plan_update`` / ``plan_delete`` resolve a request
against the current state without changing it and return a :class:`WritePlan` holding the
*final* values of every touched slot (metadata already merged, keys already assigned).
``apply(plan)`` makes it so. A persistent transport logs the plan (or the rows it
describes) between the two steps, and replaying the same plans in the same order on a
restored store rebuilds exactly the same state. ``rows()`` / ``from_rows()`` and
``save_index()`` / the ``index`` argument of ``from_rows`` snapshot and restore it.

Search
------
Distances are Chroma's — ``l2`` squared Euclidean, ``cosine`` 1 − cos, ``ip`` 1 − dot —
and are always computed in float32 from the originals: the index (bfloat16) only proposes
candidates, which are re-ranked exactly. A filtered query that selects few records — at
most ``brute_force_limit``, or few enough that scanning them costs less than the index
search would (``brute_force_ratio`` × the planned over-fetch; measured here: a scan costs
~0.08 µs per record at 384 dimensions, a bf16 index search ~1.7 µs per fetched candidate) —
is answered by exact brute force over them. A wider one searches the index with
over-fetch scaled by the filter's selectivity, widens the search when too few candidates
pass, and falls back to brute force, so it never returns fewer
than ``n_results`` matches that exist.
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import numpy.typing as npt
from usearch.index import Index

from chroma_async.errors import InternalError, InvalidArgumentError
from chroma_async.filters import And, Compare, DocText, Or
from chroma_async.types import Metadata, UpdateMetadata
from chroma_async_local.document_text import DocumentColumn
from chroma_async_local.index_settings import IndexSettings
from chroma_async_local.metadata_columns import MetadataColumns, grown

__all__ = ["CollectionStore", "QueryHits", "StoreRows", "WritePlan"]

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]
BoolMask = npt.NDArray[np.bool_]
FilterNode = Union[And, Or, Compare, DocText]  # noqa: UP007
IndexSource = Union[str, "os.PathLike[str]", bytes, bytearray, None]

_EMPTY_INT = np.zeros(0, dtype=np.int64)
_NORM_EPSILON = np.float32(1e-30)  # as hnswlib: a zero vector stays zero, distance 1
_QUERY_CHUNK_ELEMENTS = 4_000_000  # bound on queries × candidates held at once
_BLAS_MIN_QUERIES = 16  # fewer queries than this are scored without BLAS (see _brute_force)
_GATHER_ROWS = 512  # rows gathered at a time by a few-query brute force (768 KiB at 384-d)


def _empty_vectors(dimension: int) -> Float32Array:
    return np.zeros((0, dimension), dtype=np.float32)


@dataclass(frozen=True)
class WritePlan:
    """A write resolved against one state of a store; ``apply`` it to that state.

    ``slots[i]`` receives ``ids[i]`` with the final ``metadatas[i]``, ``documents[i]`` and
    ``uris[i]``. Where ``keys[i] >= 0`` the slot gets a new vector, the next row of
    ``embeddings``, under that index key; ``-1`` keeps its vector. ``deleted`` slots are
    removed. ``dimension`` is the collection's dimension after the write.
    """

    slots: Int64Array
    ids: list[str]
    keys: Int64Array
    embeddings: Float32Array
    metadatas: list[Metadata | None]
    documents: list[str | None]
    uris: list[str | None]
    deleted: Int64Array = field(default_factory=lambda: _EMPTY_INT)
    dimension: int | None = None

    @property
    def is_empty(self) -> bool:
        return len(self.slots) == 0 and len(self.deleted) == 0


@dataclass(frozen=True)
class StoreRows:
    """Every live record of a store, in slot order: what a snapshot must hold.

    ``next_slot`` / ``next_key`` carry the counters so that keys and slots stay unique
    after a restore even when the last records were deleted.
    """

    slots: Int64Array
    ids: list[str]
    keys: Int64Array
    embeddings: Float32Array
    metadatas: list[Metadata | None]
    documents: list[str | None]
    uris: list[str | None]
    next_slot: int
    next_key: int
    dimension: int | None


@dataclass(frozen=True)
class QueryHits:
    """The nearest records of one query: slots and Chroma distances, nearest first."""

    slots: Int64Array
    distances: Float32Array


def _merge_metadata(
    current: Metadata | None, update: UpdateMetadata | Metadata | None
) -> Metadata | None:
    """``current`` with ``update``'s keys set, ``None`` values removing a key (Chroma)."""
    if update is None:
        return current
    merged: Metadata = dict(current) if current else {}
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None


def _strip_none(update: UpdateMetadata | Metadata | None) -> Metadata | None:
    if not update:
        return None
    cleaned: Metadata = {k: v for k, v in update.items() if v is not None}
    return cleaned or None


class CollectionStore:
    """The records of one collection. See the module docstring for the model."""

    def __init__(
        self,
        settings: IndexSettings | None = None,
        *,
        threads: int = 0,
        brute_force_limit: int = 4096,
        brute_force_ratio: float = 20.0,
    ) -> None:
        self.settings = settings or IndexSettings()
        self.threads = threads
        self.brute_force_limit = brute_force_limit
        self.brute_force_ratio = brute_force_ratio
        self._dimension: int | None = None
        self._capacity = 0
        self._size = 0  # slots handed out
        self._count = 0  # live records
        self._next_key = 0
        self._ids: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=np.bool_)
        self._keys = np.zeros(0, dtype=np.int64)
        self._slot_of_key = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._vectors_map: mmap.mmap | None = None  # what _vectors views, once it has grown
        self._norms = np.zeros(0, dtype=np.float32)
        self._uris: list[str | None] = []
        self._metadata = MetadataColumns()
        self._documents = DocumentColumn()
        self._index: Index | None = None
        self._index_is_view = False

    # --- state -------------------------------------------------------------------------

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def count(self) -> int:
        return self._count

    @property
    def next_slot(self) -> int:
        return self._size

    @property
    def next_key(self) -> int:
        return self._next_key

    def __len__(self) -> int:
        return self._count

    def set_ef_search(self, ef_search: int) -> None:
        self.settings = IndexSettings(
            space=self.settings.space,
            max_neighbors=self.settings.max_neighbors,
            ef_construction=self.settings.ef_construction,
            ef_search=ef_search,
            dtype=self.settings.dtype,
        )
        if self._index is not None:
            setattr(self._index, "expansion_search", ef_search)  # noqa: B010  (typed read-only, settable)

    def _new_index(self, dimension: int) -> Index:
        return Index(
            ndim=dimension,
            metric=self.settings.usearch_metric,
            dtype=self.settings.dtype,
            connectivity=self.settings.max_neighbors,
            expansion_add=self.settings.ef_construction,
            expansion_search=self.settings.ef_search,
        )

    def _grow_slots(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        capacity = max(needed, 1024, self._capacity + self._capacity // 2)
        extra = capacity - self._capacity
        self._alive = grown(self._alive, capacity)
        self._keys = grown(self._keys, capacity, -1)
        self._norms = grown(self._norms, capacity)
        self._grow_vectors(capacity, self._dimension or 0)
        self._ids.extend([None] * extra)
        self._uris.extend([None] * extra)
        self._metadata.grow(capacity)
        self._documents.grow(capacity)
        self._capacity = capacity

    def _grow_vectors(self, capacity: int, dimension: int) -> None:
        """The vector matrix with ``capacity`` rows, held in an anonymous memory map.

        The map grows with ``mremap``: the rows are neither copied nor held twice (at 100k
        × 384 a copy held ~104 MiB more for a moment and took ~4 % of ingestion), and the
        new rows are zero pages touched only when written. (``ndarray.resize`` would also
        avoid the copy but zero-fills the new rows holding the GIL: 90 ms at 100k rows.)
        When something still refers to the rows (``mmap`` refuses to resize a buffer with
        exports) they are copied into a new map instead. The arrays view the map through
        a ``memoryview``, which holds an export for as long as any view of them lives
        (``np.frombuffer`` on the map itself would release its export at once).
        """
        nbytes = capacity * dimension * 4
        mapped = self._vectors_map
        old = self._vectors
        if mapped is not None and old.shape[1] == dimension:
            self._vectors = old = _empty_vectors(dimension)  # our own export of the map
            try:
                mapped.resize(nbytes)
            except BufferError:
                old = np.frombuffer(memoryview(mapped), dtype=np.float32).reshape(-1, dimension)
            else:
                self._vectors = np.frombuffer(memoryview(mapped), dtype=np.float32).reshape(
                    capacity, dimension
                )
                return
        if nbytes == 0:
            self._vectors, self._vectors_map = np.zeros((capacity, dimension), np.float32), None
            return
        mapped = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)  # shared would not grow
        vectors = np.frombuffer(memoryview(mapped), dtype=np.float32).reshape(capacity, dimension)
        vectors[: self._size] = old[: self._size]
        self._vectors, self._vectors_map = vectors, mapped

    def _grow_keys(self, needed: int) -> None:
        have = self._slot_of_key.shape[0]
        if needed <= have:
            return
        capacity = max(needed, 1024, have + have // 2)
        self._slot_of_key = grown(self._slot_of_key, capacity, -1)

    # --- validation --------------------------------------------------------------------

    def _check_dimension(self, embeddings: Float32Array) -> int:
        if embeddings.ndim != 2:
            raise InvalidArgumentError(
                f"expected a 2-D array of embeddings, got an array of shape {embeddings.shape}"
            )
        got = int(embeddings.shape[1])
        if self._dimension is not None and got != self._dimension:
            raise InvalidArgumentError(
                f"Collection expecting embedding with dimension of {self._dimension}, got {got}"
            )
        return got

    @staticmethod
    def _check_lengths(name: str, values: Sequence[object] | None, expected: int) -> None:
        if values is not None and len(values) != expected:
            raise InvalidArgumentError(
                f"expected {expected} {name} (one per id), got {len(values)}"
            )

    # --- planning writes ---------------------------------------------------------------

    def plan_add(
        self,
        ids: Sequence[str],
        embeddings: Float32Array,
        metadatas: Sequence[Metadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        """Insert the ids that do not exist yet; existing ids are left untouched."""
        return self._plan_insert_or_upsert(ids, embeddings, metadatas, documents, uris, False)

    def plan_upsert(
        self,
        ids: Sequence[str],
        embeddings: Float32Array,
        metadatas: Sequence[UpdateMetadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        """Insert new ids; for existing ones replace the vector, and the document and uri
        where one is given, and merge the metadata keys (``None`` removes a key)."""
        return self._plan_insert_or_upsert(ids, embeddings, metadatas, documents, uris, True)

    def _plan_insert_or_upsert(
        self,
        ids: Sequence[str],
        embeddings: Float32Array,
        metadatas: Sequence[UpdateMetadata | None] | Sequence[Metadata | None] | None,
        documents: Sequence[str | None] | None,
        uris: Sequence[str | None] | None,
        upsert: bool,
    ) -> WritePlan:
        n = len(ids)
        dimension = self._check_dimension(embeddings)
        if embeddings.shape[0] != n:
            raise InvalidArgumentError(
                f"expected {n} embeddings (one per id), got {embeddings.shape[0]}"
            )
        self._check_lengths("metadatas", metadatas, n)
        self._check_lengths("documents", documents, n)
        self._check_lengths("uris", uris, n)
        slot_of = self._slot_of
        existing = [slot_of.get(i) for i in ids]
        if not upsert and all(s is None for s in existing):
            # The common path: a batch of new records, nothing to look up or merge.
            slots = np.arange(self._size, self._size + n, dtype=np.int64)
            keys = np.arange(self._next_key, self._next_key + n, dtype=np.int64)
            return WritePlan(
                slots=slots,
                ids=list(ids),
                keys=keys,
                embeddings=embeddings,
                metadatas=[_strip_none(m) for m in metadatas] if metadatas else [None] * n,
                documents=list(documents) if documents is not None else [None] * n,
                uris=list(uris) if uris is not None else [None] * n,
                dimension=dimension,
            )
        plan_slots: list[int] = []
        plan_ids: list[str] = []
        rows: list[int] = []
        plan_metadatas: list[Metadata | None] = []
        plan_documents: list[str | None] = []
        plan_uris: list[str | None] = []
        next_slot = self._size
        for position, (record_id, slot) in enumerate(zip(ids, existing, strict=True)):
            update = metadatas[position] if metadatas is not None else None
            document = documents[position] if documents is not None else None
            uri = uris[position] if uris is not None else None
            if slot is None:
                plan_slots.append(next_slot)
                next_slot += 1
                plan_metadatas.append(_strip_none(update))
                plan_documents.append(document)
                plan_uris.append(uri)
            elif upsert:
                plan_slots.append(slot)
                plan_metadatas.append(_merge_metadata(self._metadata.get(slot), update))
                plan_documents.append(
                    document if document is not None else self._documents.get(slot)
                )
                plan_uris.append(uri if uri is not None else self._uris[slot])
            else:
                continue
            plan_ids.append(record_id)
            rows.append(position)
        count = len(plan_slots)
        return WritePlan(
            slots=np.asarray(plan_slots, dtype=np.int64),
            ids=plan_ids,
            keys=np.arange(self._next_key, self._next_key + count, dtype=np.int64),
            embeddings=embeddings[rows] if count != n else embeddings,
            metadatas=plan_metadatas,
            documents=plan_documents,
            uris=plan_uris,
            dimension=dimension,
        )

    def plan_update(
        self,
        ids: Sequence[str],
        embeddings: Float32Array | None = None,
        metadatas: Sequence[UpdateMetadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        """Change the existing ids (missing ones are skipped): replace the vector, document
        and uri where given, merge metadata keys (``None`` removes a key)."""
        n = len(ids)
        dimension = self._dimension
        if embeddings is not None:
            dimension = self._check_dimension(embeddings)
            if embeddings.shape[0] != n:
                raise InvalidArgumentError(
                    f"expected {n} embeddings (one per id), got {embeddings.shape[0]}"
                )
        self._check_lengths("metadatas", metadatas, n)
        self._check_lengths("documents", documents, n)
        self._check_lengths("uris", uris, n)
        plan_slots: list[int] = []
        plan_ids: list[str] = []
        rows: list[int] = []
        plan_metadatas: list[Metadata | None] = []
        plan_documents: list[str | None] = []
        plan_uris: list[str | None] = []
        for position, record_id in enumerate(ids):
            slot = self._slot_of.get(record_id)
            if slot is None:
                continue
            plan_slots.append(slot)
            plan_ids.append(record_id)
            rows.append(position)
            update = metadatas[position] if metadatas is not None else None
            plan_metadatas.append(_merge_metadata(self._metadata.get(slot), update))
            document = documents[position] if documents is not None else None
            plan_documents.append(document if document is not None else self._documents.get(slot))
            uri = uris[position] if uris is not None else None
            plan_uris.append(uri if uri is not None else self._uris[slot])
        count = len(plan_slots)
        if embeddings is not None:
            keys = np.arange(self._next_key, self._next_key + count, dtype=np.int64)
            vectors = embeddings[rows]
        else:
            keys = np.full(count, -1, dtype=np.int64)
            vectors = _empty_vectors(dimension or 0)
        return WritePlan(
            slots=np.asarray(plan_slots, dtype=np.int64),
            ids=plan_ids,
            keys=keys,
            embeddings=vectors,
            metadatas=plan_metadatas,
            documents=plan_documents,
            uris=plan_uris,
            dimension=dimension,
        )

    def plan_delete(
        self,
        ids: Sequence[str] | None = None,
        where: FilterNode | None = None,
        where_document: FilterNode | None = None,
    ) -> WritePlan:
        """Delete the records matching every selector given (all records if none is)."""
        slots = self.select(ids=ids, where=where, where_document=where_document)
        return WritePlan(
            slots=_EMPTY_INT,
            ids=[],
            keys=_EMPTY_INT,
            embeddings=_empty_vectors(self._dimension or 0),
            metadatas=[],
            documents=[],
            uris=[],
            deleted=slots,
            dimension=self._dimension,
        )

    # --- applying writes ---------------------------------------------------------------

    def apply(self, plan: WritePlan) -> None:
        """Make ``plan`` so. Runs in a worker thread; the GIL is released during the index
        and numpy work, which is where the time goes."""
        if plan.deleted.size:
            self._apply_deletes(plan.deleted)
        if plan.slots.size == 0:
            return
        if self._dimension is None:
            if plan.dimension is None:
                raise InternalError("a write plan that adds vectors must carry a dimension")
            self._dimension = plan.dimension
            self._vectors = np.zeros((self._capacity, plan.dimension), dtype=np.float32)
            self._vectors_map = None
        slots = plan.slots
        top = int(slots.max()) + 1
        self._grow_slots(top)
        slot_of = self._slot_of
        ids = self._ids
        for slot, record_id in zip(slots.tolist(), plan.ids, strict=True):
            if ids[slot] is None:
                ids[slot] = record_id
                slot_of[record_id] = slot
        changed = plan.keys >= 0
        if changed.any():
            self._apply_vectors(slots[changed], plan.keys[changed], plan.embeddings)
        self._metadata.set_many(slots.tolist(), plan.metadatas)
        self._documents.set_many(slots.tolist(), plan.documents)
        uris = self._uris
        for slot, uri in zip(slots.tolist(), plan.uris, strict=True):
            uris[slot] = uri
        newly_alive = ~self._alive[slots]
        self._count += int(newly_alive.sum())
        self._alive[slots] = True
        self._size = max(self._size, top)

    def _apply_vectors(self, slots: Int64Array, keys: Int64Array, vectors: Float32Array) -> None:
        index = self._writable_index()
        old_keys = self._keys[slots]
        stale = old_keys[old_keys >= 0]
        if stale.size:
            index.remove(stale)
            self._slot_of_key[stale] = -1
        self._grow_keys(int(keys.max()) + 1)
        self._keys[slots] = keys
        self._slot_of_key[keys] = slots
        self._next_key = max(self._next_key, int(keys.max()) + 1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors[slots] = vectors
        norms = np.linalg.norm(vectors, axis=1).astype(np.float32)
        self._norms[slots] = norms
        if self.settings.space == "cosine":
            vectors = vectors / (norms[:, None] + _NORM_EPSILON)
        index.add(keys, vectors, threads=self.threads)

    def _apply_deletes(self, slots: Int64Array) -> None:
        slots = slots[self._alive[slots]]
        if slots.size == 0:
            return
        keys = self._keys[slots]
        live_keys = keys[keys >= 0]
        if live_keys.size and self._index is not None:
            self._writable_index().remove(live_keys)
            self._slot_of_key[live_keys] = -1
        self._keys[slots] = -1
        self._alive[slots] = False
        self._count -= int(slots.size)
        for slot in slots.tolist():
            record_id = self._ids[slot]
            if record_id is not None:
                del self._slot_of[record_id]
            self._ids[slot] = None
            self._metadata.set(slot, None)
            self._documents.set(slot, None)
            self._uris[slot] = None
        self._vectors[slots] = 0.0

    def _ensure_index(self) -> Index:
        if self._index is None:
            if self._dimension is None:
                raise InternalError("the vector index needs a dimension; no vector was added")
            self._index = self._new_index(self._dimension)
        return self._index

    def _writable_index(self) -> Index:
        index = self._ensure_index()
        if self._index_is_view:
            # A memory-mapped index is read-only: the first write copies it into memory.
            index = self._index = index.copy()
            self._index_is_view = False
        return index

    # convenience: plan and apply in one call (memory transport, tests)

    def add(
        self,
        ids: Sequence[str],
        embeddings: Float32Array,
        metadatas: Sequence[Metadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        plan = self.plan_add(ids, embeddings, metadatas, documents, uris)
        self.apply(plan)
        return plan

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Float32Array,
        metadatas: Sequence[UpdateMetadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        plan = self.plan_upsert(ids, embeddings, metadatas, documents, uris)
        self.apply(plan)
        return plan

    def update(
        self,
        ids: Sequence[str],
        embeddings: Float32Array | None = None,
        metadatas: Sequence[UpdateMetadata | None] | None = None,
        documents: Sequence[str | None] | None = None,
        uris: Sequence[str | None] | None = None,
    ) -> WritePlan:
        plan = self.plan_update(ids, embeddings, metadatas, documents, uris)
        self.apply(plan)
        return plan

    def delete(
        self,
        ids: Sequence[str] | None = None,
        where: FilterNode | None = None,
        where_document: FilterNode | None = None,
    ) -> WritePlan:
        plan = self.plan_delete(ids, where, where_document)
        self.apply(plan)
        return plan

    # --- selection ---------------------------------------------------------------------

    def evaluate(self, node: FilterNode) -> BoolMask:
        """The slots (``< next_slot``, dead ones included) that satisfy ``node``."""
        size = self._size
        if isinstance(node, Compare):
            return self._metadata.compare(node.key, node.op, node.value, size)
        if isinstance(node, DocText):
            if node.op == "$contains":
                return self._documents.contains(node.value, size)
            if node.op == "$not_contains":
                return ~self._documents.contains(node.value, size)
            if node.op == "$regex":
                return self._documents.matches(node.value, size)
            if node.op == "$not_regex":
                return ~self._documents.matches(node.value, size)
            raise InvalidArgumentError(
                f"expected a document operator ($contains $not_contains $regex $not_regex), "
                f"got {node.op!r}"
            )
        if isinstance(node, (And, Or)):
            if not node.children:
                return np.ones(size, dtype=np.bool_)
            mask = self.evaluate(node.children[0])
            for child in node.children[1:]:
                if isinstance(node, And):
                    if not mask.any():
                        break
                    mask &= self.evaluate(child)
                else:
                    mask |= self.evaluate(child)
            return np.asarray(mask, dtype=np.bool_)
        raise InvalidArgumentError(f"expected a filter node, got {node!r}")

    def mask(
        self,
        ids: Sequence[str] | None = None,
        where: FilterNode | None = None,
        where_document: FilterNode | None = None,
    ) -> BoolMask:
        """Live slots (``< next_slot``) matching every selector given."""
        size = self._size
        mask = self._alive[:size].copy()
        if ids is not None:
            by_id = np.zeros(size, dtype=np.bool_)
            slot_of = self._slot_of
            found = [s for s in (slot_of.get(i) for i in ids) if s is not None]
            if found:
                by_id[np.asarray(found, dtype=np.int64)] = True
            mask &= by_id
        if where is not None and mask.any():
            mask &= self.evaluate(where)
        if where_document is not None and mask.any():
            mask &= self.evaluate(where_document)
        return np.asarray(mask, dtype=np.bool_)

    def select(
        self,
        ids: Sequence[str] | None = None,
        where: FilterNode | None = None,
        where_document: FilterNode | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> Int64Array:
        """Slots of the matching records in insertion order, then ``offset`` / ``limit``."""
        if ids is None and where is None and where_document is None:
            slots = np.flatnonzero(self._alive[: self._size])
        else:
            slots = np.flatnonzero(self.mask(ids, where, where_document))
        stop = None if limit is None else offset + limit
        return slots[offset:stop].astype(np.int64, copy=False)

    # --- reading -----------------------------------------------------------------------

    def ids_of(self, slots: Int64Array) -> list[str]:
        ids = self._ids
        return [ids[s] or "" for s in slots.tolist()]

    def embeddings_of(self, slots: Int64Array) -> Float32Array:
        if self._dimension is None:
            return np.zeros((len(slots), 0), dtype=np.float32)
        return self._vectors[slots]

    def metadatas_of(self, slots: Int64Array) -> list[Metadata | None]:
        return self._metadata.take(slots.tolist())

    def documents_of(self, slots: Int64Array) -> list[str | None]:
        return self._documents.take(slots.tolist())

    def uris_of(self, slots: Int64Array) -> list[str | None]:
        uris = self._uris
        return [uris[s] for s in slots.tolist()]

    # --- search ------------------------------------------------------------------------

    def _check_queries(self, queries: Float32Array) -> Float32Array:
        if queries.ndim == 1:
            queries = queries[None, :]
        if self._dimension is not None and queries.shape[1] != self._dimension:
            raise InvalidArgumentError(
                f"Collection expecting embedding with dimension of {self._dimension}, "
                f"got {queries.shape[1]}"
            )
        return np.ascontiguousarray(queries, dtype=np.float32)

    def distances(self, queries: Float32Array, slots: npt.NDArray[np.int64]) -> Float32Array:
        """Chroma's distance from each query to each of its candidate slots, in float32.

        ``slots`` has shape (queries, candidates); the result has the same shape.
        """
        vectors = self._vectors[slots]  # (q, c, d)
        space = self.settings.space
        if space == "l2":
            diff = vectors - queries[:, None, :]
            result = np.einsum("qcd,qcd->qc", diff, diff)
        else:
            dots = np.einsum("qcd,qd->qc", vectors, queries)
            if space == "cosine":
                query_norms = np.linalg.norm(queries, axis=1).astype(np.float32)
                dots = dots / (
                    (self._norms[slots] + _NORM_EPSILON) * (query_norms[:, None] + _NORM_EPSILON)
                )
            result = np.float32(1.0) - dots
        return np.asarray(result, dtype=np.float32)

    def query(
        self,
        queries: Float32Array,
        n_results: int,
        allowed: BoolMask | None = None,
    ) -> list[QueryHits]:
        """The ``n_results`` nearest live records to each query among ``allowed`` slots
        (all live records when ``None``), exact distances, nearest first."""
        queries = self._check_queries(queries)
        nq = queries.shape[0]
        empty = QueryHits(_EMPTY_INT, np.zeros(0, dtype=np.float32))
        if self._count == 0 or n_results <= 0 or nq == 0:
            return [empty] * nq
        if allowed is None:
            if self._count <= self.brute_force_limit:
                allowed_slots = np.flatnonzero(self._alive[: self._size])
                return self._brute_force(queries, allowed_slots, n_results)
            return self._index_search(queries, n_results, None, self._count)
        allowed = allowed & self._alive[: self._size]
        allowed_slots = np.flatnonzero(allowed)
        if allowed_slots.size == 0:
            return [empty] * nq
        allowed_count = int(allowed_slots.size)
        planned = self._planned_fetch(min(n_results, allowed_count), allowed_count, True)
        if (
            allowed_count <= self.brute_force_limit
            or allowed_count <= self.brute_force_ratio * planned
            or planned * 2 >= self._count  # the index would be asked for half the records
        ):
            return self._brute_force(queries, allowed_slots, n_results)
        return self._index_search(queries, n_results, allowed, allowed_count)

    def _planned_fetch(self, k: int, allowed_count: int, filtered: bool) -> int:
        """Candidates to ask the index for: a margin for the exact re-rank, scaled by
        1/selectivity when a filter will discard some, and by 3 more because usearch
        searches with ``max(ef_search, count)``: on clustered data recall of the nearest
        100 needs an ef of several hundred (measured: ef 300 → 0.957, ef 600 → 0.988)."""
        selectivity = allowed_count / max(self._count, 1)
        fetch = math.ceil((k + max(k, 8)) / selectivity * (3.0 if filtered else 1.0))
        return min(self._count, max(fetch, k))

    def _top_exact(
        self, queries: Float32Array, candidates: Int64Array, n_results: int
    ) -> tuple[Int64Array, Float32Array]:
        """Exact re-rank of (q, c) candidate slots; returns the best ``n_results`` per row."""
        distances = self.distances(queries, candidates)
        order = np.argsort(distances, axis=1, kind="stable")[:, :n_results]
        return (
            np.take_along_axis(candidates, order, axis=1),
            np.take_along_axis(distances, order, axis=1),
        )

    def _brute_force(
        self, queries: Float32Array, allowed_slots: Int64Array, n_results: int
    ) -> list[QueryHits]:
        m = int(allowed_slots.size)
        k = min(n_results, m)
        subset: Float32Array | None = None
        first = int(allowed_slots[0])
        if int(allowed_slots[-1]) - first + 1 == m:
            # Consecutive slots (no filter, no deletion among them): a view, nothing copied.
            subset = self._vectors[first : first + m]
            norms = self._norms[first : first + m]
        else:
            norms = self._norms[allowed_slots]
        # Rank by a matmul, then recompute the leaders exactly: the expanded l2 formula
        # loses precision to cancellation, so a margin of candidates is re-ranked.
        shortlist = min(m, k + max(k, 16))
        results: list[QueryHits] = []
        chunk = max(1, _QUERY_CHUNK_ELEMENTS // max(m, 1))
        space = self.settings.space
        for start in range(0, queries.shape[0], chunk):
            block = queries[start : start + chunk]
            if block.shape[0] < _BLAS_MIN_QUERIES:
                # A few queries: numpy's own loop. OpenBLAS would fan a thin product out to
                # its thread pool, which on a busy machine turns 0.2 ms into 10 ms.
                if subset is None:
                    scores = self._gathered_dots(block, allowed_slots)
                else:
                    scores = np.einsum("md,bd->bm", subset, block)
            else:
                if subset is None:
                    subset = self._vectors[allowed_slots]  # gathered once for every block
                scores = block @ subset.T  # (b, m)
            if space == "l2":
                scores = norms * norms - 2.0 * scores
            elif space == "cosine":
                scores = -scores / (norms + _NORM_EPSILON)
            else:
                scores = -scores
            if shortlist < m:
                picked = np.argpartition(scores, shortlist - 1, axis=1)[:, :shortlist]
            else:
                picked = np.broadcast_to(np.arange(m), (block.shape[0], m))
            candidates = allowed_slots[picked]
            # Candidates in slot order so that ties keep insertion order.
            candidates = np.sort(candidates, axis=1)
            slots, distances = self._top_exact(block, candidates, k)
            results.extend(QueryHits(s, d) for s, d in zip(slots, distances, strict=True))
        return results

    def _gathered_dots(self, block: Float32Array, slots: Int64Array) -> Float32Array:
        """``block · vectors[slots]ᵀ`` (b, m) without gathering every row of ``slots`` at once.

        The rows are copied ``_GATHER_ROWS`` at a time into one small buffer that stays in
        cache, instead of into an m × d array (15 MB for 10k rows at 384 dimensions) that
        is written out to memory and read back. ``np.take`` with ``mode="clip"`` (the slots
        are valid) writes straight into the buffer; ``mode="raise"`` would buffer again.
        """
        m = int(slots.size)
        vectors = self._vectors
        scores = np.empty((block.shape[0], m), dtype=np.float32)
        buffer = np.empty((min(m, _GATHER_ROWS), vectors.shape[1]), dtype=np.float32)
        for start in range(0, m, _GATHER_ROWS):
            part = slots[start : start + _GATHER_ROWS]
            rows = np.take(vectors, part, axis=0, out=buffer[: part.size], mode="clip")
            scores[:, start : start + part.size] = np.einsum("md,bd->bm", rows, block)
        return scores

    def _search_index(self, queries: Float32Array, k: int) -> tuple[Int64Array, Int64Array]:
        """Index candidates as slots (q, k) and the number of valid ones per query."""
        index = self._ensure_index()
        vectors = queries
        if self.settings.space == "cosine":
            vectors = queries / (np.linalg.norm(queries, axis=1)[:, None] + _NORM_EPSILON)
        matches = index.search(vectors, k, threads=self.threads)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)
        # One query comes back as ``Matches`` (only valid keys), several as ``BatchMatches``.
        counts_field = getattr(matches, "counts", None)
        if counts_field is None:
            counts = np.full(len(queries), keys.shape[1], dtype=np.int64)
        else:
            counts = np.asarray(counts_field, dtype=np.int64).reshape(len(queries))
        columns = np.arange(keys.shape[1])
        valid = columns[None, :] < counts[:, None]
        slots = np.where(valid, self._slot_of_key[np.where(valid, keys, 0)], -1)
        return slots, counts

    def _single_index_search(self, query: Float32Array, k: int, fetch: int) -> QueryHits | None:
        """One unfiltered query: the first round of ``_index_search`` without the batch
        bookkeeping (masks, per-row argsorts, take_along_axis), which cost as much as the
        re-rank itself for 20 candidates. Same candidates in the same order, same exact
        distances, same stable sort. ``None`` when the index returned fewer than ``k``
        usable candidates: the general loop then widens the search.
        """
        index = self._ensure_index()
        vector = query
        if self.settings.space == "cosine":
            vector = query / (np.linalg.norm(query, axis=1)[:, None] + _NORM_EPSILON)
        matches = index.search(vector, fetch, threads=self.threads)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(-1)
        counts_field = getattr(matches, "counts", None)  # ``Matches`` holds only valid keys
        if counts_field is not None:
            keys = keys[: int(np.asarray(counts_field).reshape(-1)[0])]
        slots = self._slot_of_key[keys]
        slots = slots[slots >= 0]
        if slots.size < k:
            return None
        distances = self.distances(query, slots[None, :])[0]
        best = np.argsort(distances, kind="stable")[:k]
        return QueryHits(slots[best], distances[best])

    def _index_search(
        self,
        queries: Float32Array,
        n_results: int,
        allowed: BoolMask | None,
        allowed_count: int,
    ) -> list[QueryHits]:
        k = min(n_results, allowed_count)
        fetch = self._planned_fetch(k, allowed_count, allowed is not None)
        if allowed is None and queries.shape[0] == 1:
            single = self._single_index_search(queries, k, fetch)
            if single is not None:
                return [single]
        results: list[QueryHits | None] = [None] * queries.shape[0]
        pending = np.arange(queries.shape[0])
        while pending.size:
            slots, _ = self._search_index(queries[pending], fetch)
            ok = slots >= 0
            if allowed is not None:
                ok &= allowed[np.where(ok, slots, 0)]
            hits = ok.sum(axis=1)
            done = hits >= k
            rows = np.flatnonzero(done)
            if rows.size:
                # Passing candidates first (stable: index order kept), then one exact
                # re-rank for every finished query at once.
                row_ok = ok[rows]
                order = np.argsort(~row_ok, axis=1, kind="stable")[:, : int(hits[rows].max())]
                candidates = np.take_along_axis(slots[rows], order, axis=1)
                valid = np.take_along_axis(row_ok, order, axis=1)
                distances = self.distances(queries[pending[rows]], np.where(valid, candidates, 0))
                distances[~valid] = np.inf
                best = np.argsort(distances, axis=1, kind="stable")[:, :k]
                top_slots = np.take_along_axis(candidates, best, axis=1)
                top_distances = np.take_along_axis(distances, best, axis=1)
                for i, row in enumerate(rows.tolist()):
                    results[pending[row]] = QueryHits(top_slots[i], top_distances[i])
            pending = pending[~done]
            if pending.size == 0:
                break
            if fetch >= self._count or fetch * 4 > max(self._count // 2, self.brute_force_limit):
                # The index cannot find enough within a reasonable budget: exact scan.
                allowed_slots = (
                    np.flatnonzero(allowed)
                    if allowed is not None
                    else np.flatnonzero(self._alive[: self._size])
                )
                for row, hits_row in zip(
                    pending.tolist(),
                    self._brute_force(queries[pending], allowed_slots, k),
                    strict=True,
                ):
                    results[row] = hits_row
                break
            fetch = min(self._count, fetch * 4)
        empty = QueryHits(_EMPTY_INT, np.zeros(0, np.float32))
        return [r if r is not None else empty for r in results]

    # --- copies and snapshots ----------------------------------------------------------

    def copy(self) -> CollectionStore:
        """An independent copy (fork): same slots, keys and index, nothing shared."""
        clone = CollectionStore(
            self.settings,
            threads=self.threads,
            brute_force_limit=self.brute_force_limit,
            brute_force_ratio=self.brute_force_ratio,
        )
        clone._dimension = self._dimension
        clone._capacity = self._capacity
        clone._size = self._size
        clone._count = self._count
        clone._next_key = self._next_key
        clone._ids = list(self._ids)
        clone._slot_of = dict(self._slot_of)
        clone._alive = self._alive.copy()
        clone._keys = self._keys.copy()
        clone._slot_of_key = self._slot_of_key.copy()
        clone._vectors = self._vectors.copy()
        clone._norms = self._norms.copy()
        clone._uris = list(self._uris)
        clone._metadata = self._metadata.copy()
        clone._documents = self._documents.copy()
        clone._index = self._index.copy() if self._index is not None else None
        return clone

    def rows(self) -> StoreRows:
        """Every live record in slot order, with the counters: a snapshot of the data."""
        slots = np.flatnonzero(self._alive[: self._size]).astype(np.int64)
        return StoreRows(
            slots=slots,
            ids=self.ids_of(slots),
            keys=self._keys[slots].copy(),
            embeddings=self.embeddings_of(slots).copy(),
            metadatas=self.metadatas_of(slots),
            documents=self.documents_of(slots),
            uris=self.uris_of(slots),
            next_slot=self._size,
            next_key=self._next_key,
            dimension=self._dimension,
        )

    def save_index(
        self,
        path: str | os.PathLike[str] | None = None,
        progress: Callable[[int, int], bool] | None = None,
    ) -> bytes | None:
        """Write the usearch index to ``path`` (or return its bytes when ``path`` is None).

        Pair it with ``rows()`` taken under the same lock: keys in the file then match the
        rows' keys. Returns ``None`` when written to a path or when there is no index yet.
        ``progress`` is usearch's callback ``(done, total) -> keep going``; usearch holds the
        GIL while saving, and a callback can hand it to other threads now and then.
        """
        if self._index is None:
            return None
        if path is None:
            return bytes(self._index.save(progress=progress) or b"")
        self._index.save(os.fspath(path), progress=progress)
        return None

    @classmethod
    def from_rows(
        cls,
        rows: StoreRows,
        settings: IndexSettings | None = None,
        *,
        index: IndexSource = None,
        view: bool = False,
        threads: int = 0,
        brute_force_limit: int = 4096,
        brute_force_ratio: float = 20.0,
    ) -> CollectionStore:
        """A store holding ``rows``; its index loaded from ``index`` (a file path or bytes
        from ``save_index``) when given, else rebuilt from the embeddings.

        A loaded index is reconciled with ``rows``: keys it holds that no row has are
        removed, rows whose key it lacks are added, so an index snapshot older than the
        rows is still correct. ``view=True`` memory-maps a file index; it is copied into
        memory on the first write.
        """
        store = cls(
            settings,
            threads=threads,
            brute_force_limit=brute_force_limit,
            brute_force_ratio=brute_force_ratio,
        )
        n = len(rows.ids)
        store._dimension = rows.dimension
        store._next_key = rows.next_key
        capacity = max(rows.next_slot, n)
        store._vectors = np.zeros((0, rows.dimension or 0), dtype=np.float32)
        store._grow_slots(capacity)
        store._grow_keys(rows.next_key)
        store._size = rows.next_slot
        if n == 0:
            if index is not None and rows.dimension is not None:
                store._index = store._new_index(rows.dimension)
            return store
        slots = rows.slots
        store._alive[slots] = True
        store._count = n
        store._keys[slots] = rows.keys
        store._slot_of_key[rows.keys] = slots
        vectors = np.ascontiguousarray(rows.embeddings, dtype=np.float32)
        store._vectors[slots] = vectors
        store._norms[slots] = np.linalg.norm(vectors, axis=1).astype(np.float32)
        for slot, record_id, uri in zip(slots.tolist(), rows.ids, rows.uris, strict=True):
            store._ids[slot] = record_id
            store._slot_of[record_id] = slot
            store._uris[slot] = uri
        store._metadata.set_many(slots.tolist(), rows.metadatas)
        store._documents.set_many(slots.tolist(), rows.documents)
        if index is None:
            store._index = store._new_index(int(rows.dimension or vectors.shape[1]))
            store._index_rows(slots, rows.keys)
            return store
        store._index = store._load_index(index, view)
        store._reconcile_index(slots, rows.keys)
        return store

    def _index_rows(self, slots: Int64Array, keys: Int64Array) -> None:
        vectors = self._vectors[slots]
        if self.settings.space == "cosine":
            vectors = vectors / (self._norms[slots][:, None] + _NORM_EPSILON)
        self._writable_index().add(keys, vectors, threads=self.threads)

    def _load_index(self, source: IndexSource, view: bool) -> Index:
        if isinstance(source, (bytes, bytearray)):
            loaded = Index.restore(bytearray(source), view=False)
        else:
            loaded = Index.restore(os.fspath(source), view=view)  # type: ignore[arg-type]
        if loaded is None:
            raise InternalError(f"the index snapshot {source!r:.80} could not be read")
        if self._dimension is not None and loaded.ndim != self._dimension:
            raise InternalError(
                f"the index snapshot has dimension {loaded.ndim}, the rows {self._dimension}"
            )
        self._index_is_view = view
        setattr(loaded, "expansion_search", self.settings.ef_search)  # noqa: B010
        return loaded

    def _reconcile_index(self, slots: Int64Array, keys: Int64Array) -> None:
        index = self._ensure_index()
        held = np.asarray(index.keys, dtype=np.int64) if len(index) else _EMPTY_INT
        wanted = np.zeros(max(self._next_key, 1), dtype=np.bool_)
        wanted[keys] = True
        in_range = held < wanted.shape[0]
        extra = np.concatenate([held[~in_range], held[in_range][~wanted[held[in_range]]]])
        if extra.size:
            self._writable_index().remove(extra)
        present = np.zeros(max(self._next_key, 1), dtype=np.bool_)
        present[held[in_range]] = True
        missing = ~present[keys]
        if missing.any():
            self._index_rows(slots[missing], keys[missing])
