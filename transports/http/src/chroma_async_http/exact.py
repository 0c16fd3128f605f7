"""Exact nearest records, computed here, for a query the server could not restrict.

chromadb's Python server ignores ``ids`` in a query and answers from the whole collection.
The transport then fetches the records the query may return (``get`` with its ``ids``,
``where`` and ``where_document``, embeddings included) and ranks them with
:func:`rank_exactly`, which runs in a worker thread (numpy releases the GIL).

Distances are Chroma's: ``l2`` is the squared euclidean distance, ``cosine`` is
``1 - cos`` (a zero vector has cosine 0 to everything), ``ip`` is ``1 - dot``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async_http import wire

__all__ = ["SPACES", "distances", "rank_exactly", "space_of"]

SPACES = frozenset({"l2", "cosine", "ip"})

Float64Array = npt.NDArray[np.float64]


def space_of(configuration: dict[str, Any] | None) -> str:
    """The distance space in a collection's ``configuration_json`` (Chroma's default: l2)."""
    for section in ("hnsw", "spann"):
        values = (configuration or {}).get(section)
        if isinstance(values, dict) and isinstance(values.get("space"), str):
            space: str = values["space"]
            return space
    return "l2"


def distances(space: str, queries: Float64Array, records: Float64Array) -> Float64Array:
    """Chroma's distance from each query (rows) to each record (columns), in float64."""
    if space == "l2":
        # |q - x|² = |q|² - 2 q·x + |x|²; clipped at 0 against rounding
        squared = (
            np.einsum("qd,qd->q", queries, queries)[:, None]
            - 2.0 * (queries @ records.T)
            + np.einsum("rd,rd->r", records, records)[None, :]
        )
        return np.asarray(np.maximum(squared, 0.0), dtype=np.float64)
    if space == "cosine":
        return np.asarray(1.0 - _unit(queries) @ _unit(records).T, dtype=np.float64)
    if space == "ip":
        return np.asarray(1.0 - queries @ records.T, dtype=np.float64)
    raise errors.VersionMismatchError(
        f"the collection's space is {space!r}; this client ranks {sorted(SPACES)}"
    )


def _unit(rows: Float64Array) -> Float64Array:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0.0, 1.0, norms)


def rank_exactly(
    found: wire.GetWire,
    queries: wire.Float32Array,
    space: str,
    n_results: int,
    include: list[str],
) -> ops.QueryResponse:
    """The ``n_results`` records of ``found`` nearest each query, as the server would answer."""
    count = len(found.ids)
    vectors = wire.to_float32_matrix(found.embeddings or [])
    queries64 = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    if count:
        table = distances(space, queries64, vectors.astype(np.float64))
        order = np.argsort(table, axis=1, kind="stable")[:, : min(n_results, count)]
    else:
        table = np.zeros((len(queries64), 0))
        order = np.zeros((len(queries64), 0), dtype=np.intp)
    rows: list[list[int]] = order.tolist()
    ids = [[found.ids[j] for j in row] for row in rows]

    def column(values: list[Any] | None, name: str) -> list[list[Any]] | None:
        if name not in include:
            return None
        present = values if values is not None else [None] * count
        return [[present[j] for j in row] for row in rows]

    metadatas = column(found.metadatas, "metadatas")
    return ops.QueryResponse(
        ids=ids,
        distances=(
            [table[i, row].astype(np.float32) for i, row in enumerate(order)]
            if "distances" in include
            else None
        ),
        embeddings=(
            [vectors[row] if len(row) else np.empty((0, 0), dtype=np.float32) for row in order]
            if "embeddings" in include
            else None
        ),
        documents=column(found.documents, "documents"),
        uris=column(found.uris, "uris"),
        # Chroma's server answers {} for a record with a uri and no metadata: it means None
        metadatas=(
            [[m if m else None for m in row] for row in metadatas]
            if metadatas is not None
            else None
        ),
    )
