"""CollectionStore's fast paths give the same answers as the plain ones they replace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chroma_async_local import CollectionStore, IndexSettings
from chroma_async_local.metadata_columns import grown


def test_grown_resizes_a_sole_owned_array_in_place_and_fills_the_new_rows() -> None:
    class Holder:
        array: np.ndarray[Any, Any]

    holder = Holder()
    holder.array = np.arange(12, dtype=np.float32).reshape(4, 3).copy()
    before = holder.array
    del before
    holder.array = grown(holder.array, 6, fill=-1)
    assert holder.array.shape == (6, 3)
    assert holder.array.flags.owndata
    assert holder.array[:4].ravel().tolist() == list(range(12))
    assert (holder.array[4:] == -1).all()


def test_grown_copies_when_a_view_is_alive_and_the_view_stays_valid() -> None:
    class Holder:
        array: np.ndarray[Any, Any]

    holder = Holder()
    holder.array = np.arange(5, dtype=np.int64)
    view = holder.array[1:3]
    holder.array = grown(holder.array, 9)
    assert view.base is not holder.array
    assert view.tolist() == [1, 2]
    assert holder.array.tolist() == [0, 1, 2, 3, 4, 0, 0, 0, 0]


def test_store_growth_keeps_vectors_columns_and_answers() -> None:
    rng = np.random.default_rng(3)
    store = CollectionStore(IndexSettings(space="l2"))
    data = rng.standard_normal((5000, 16)).astype(np.float32)
    kept = store.embeddings_of(np.arange(0, dtype=np.int64))
    for start in range(0, 5000, 700):  # several growths, one of them with a view alive
        stop = min(5000, start + 700)
        ids = [str(i) for i in range(start, stop)]
        store.add(ids, data[start:stop], [{"i": i, "s": f"v{i % 7}"} for i in range(start, stop)])
        kept = store._vectors[:10]  # a view alive across the next growth
    assert kept.shape == (10, 16)
    slots = store.select()
    assert np.array_equal(store.embeddings_of(slots), data)
    assert store.metadatas_of(slots[-2:]) == [{"i": 4998, "s": "v0"}, {"i": 4999, "s": "v1"}]
    assert store.ids_of(slots[:3]) == ["0", "1", "2"]
    hits = store.query(data[123], 1)[0]
    assert hits.slots.tolist() == [123]


def _reference(
    store: CollectionStore, query: np.ndarray[Any, Any], allowed: np.ndarray[Any, Any], k: int
) -> tuple[list[int], list[float]]:
    """Exact distances to every allowed slot, nearest first, ties in slot order."""
    slots = np.flatnonzero(allowed)
    distances = store.distances(query[None, :], slots[None, :])[0]
    order = np.argsort(distances, kind="stable")[:k]
    return slots[order].tolist(), distances[order].tolist()


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
@pytest.mark.parametrize("fraction", [0.3, 0.03, 1.0])
def test_brute_force_over_scattered_or_consecutive_slots_matches_the_exact_answer(
    space: str, fraction: float
) -> None:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((6000, 24)).astype(np.float32)
    store = CollectionStore(IndexSettings(space=space), brute_force_limit=10_000)
    store.add([str(i) for i in range(6000)], data)
    allowed = rng.random(6000) < fraction
    queries = rng.standard_normal((20, 24)).astype(np.float32)
    for one in queries[:5]:  # the few-query path, gathered block by block
        hits = store.query(one, 7, allowed)[0]
        assert (hits.slots.tolist(), hits.distances.tolist()) == _reference(store, one, allowed, 7)
    for query, hits in zip(queries, store.query(queries, 7, allowed), strict=True):  # BLAS
        assert (hits.slots.tolist(), hits.distances.tolist()) == _reference(
            store, query, allowed, 7
        )


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_single_unfiltered_query_matches_the_batch_path(space: str) -> None:
    rng = np.random.default_rng(11)
    data = rng.standard_normal((3000, 32)).astype(np.float32)
    store = CollectionStore(IndexSettings(space=space), brute_force_limit=8)
    store.add([str(i) for i in range(3000)], data)
    store.delete([str(i) for i in range(0, 3000, 5)])
    queries = rng.standard_normal((30, 32)).astype(np.float32)
    for query in queries:
        single = store.query(query, 10)[0]
        batch = store.query(np.stack([query, queries[0]]), 10)[0]  # the general loop
        assert single.slots.tolist() == batch.slots.tolist()
        assert single.distances.tolist() == batch.distances.tolist()
        assert len(single.slots) == 10


def test_vector_matrix_grows_by_remapping_and_copies_when_a_view_is_alive() -> None:
    rng = np.random.default_rng(5)
    data = rng.standard_normal((4000, 8)).astype(np.float32)
    store = CollectionStore(IndexSettings(space="l2"))
    store.add([str(i) for i in range(1500)], data[:1500])
    held = store._vectors[:1500]  # alive across the next growth: it must stay valid
    store.add([str(i) for i in range(1500, 4000)], data[1500:])
    assert np.array_equal(held, data[:1500])
    del held
    store.add([str(i) for i in range(4000, 9000)], np.repeat(data[:1], 5000, axis=0))
    slots = store.select()
    assert np.array_equal(store.embeddings_of(slots[:4000]), data)
    assert store._vectors.shape[0] >= 9000
    clone = store.copy()
    clone.add(["x"], data[:1] * 2)
    assert store.count == 9000
    assert clone.count == 9001
    assert np.array_equal(clone.embeddings_of(clone.select()[:4000]), data)
