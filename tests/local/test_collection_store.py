"""CollectionStore: Chroma's write semantics, order, keys, exact distances, snapshots."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from local_engine_helpers import clustered

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import Compare
from chroma_async_local import CollectionStore, IndexSettings


def vec(*rows: list[float]) -> np.ndarray[Any, Any]:
    return np.asarray(rows, dtype=np.float32)


def test_add_ignores_ids_that_already_exist(store: CollectionStore) -> None:
    store.add(["a"], vec([1, 0]), [{"k": 1}], ["old"])
    store.add(["a", "z"], vec([9, 9], [5, 5]), [{"k": 100}, {"k": 5}], ["new", "dz"])
    slots = store.select()
    assert store.ids_of(slots) == ["a", "z"]
    assert store.embeddings_of(slots)[0].tolist() == [1, 0]
    assert store.metadatas_of(slots) == [{"k": 1}, {"k": 5}]
    assert store.documents_of(slots) == ["old", "dz"]


def test_upsert_replaces_vector_merges_metadata_and_keeps_absent_document(
    store: CollectionStore,
) -> None:
    store.add(["a", "b"], vec([1, 0], [0, 1]), [{"j": 2, "k": 1}, {"k": 2}], ["da", "db"])
    store.upsert(["b", "n"], vec([7, 7], [3, 3]), [{"j": 3, "k": None}, {"q": 1, "r": None}])
    slots = store.select()
    assert store.ids_of(slots) == ["a", "b", "n"]
    assert store.embeddings_of(slots).tolist() == [[1, 0], [7, 7], [3, 3]]
    assert store.metadatas_of(slots) == [{"j": 2, "k": 1}, {"j": 3}, {"q": 1}]
    assert store.documents_of(slots) == ["da", "db", None]


def test_update_merges_metadata_skips_missing_ids_and_removing_last_key_gives_none(
    store: CollectionStore,
) -> None:
    store.add(["a", "z"], vec([1, 0], [0, 1]), [{"j": 2, "k": 1}, {"k": 5}], ["da", "dz"])
    store.update(["a", "missing"], metadatas=[{"k": None, "new": 1}, {"x": 1}])
    store.update(["z"], metadatas=[{"k": None}], documents=["dz2"])
    slots = store.select()
    assert store.ids_of(slots) == ["a", "z"]
    assert store.metadatas_of(slots) == [{"j": 2, "new": 1}, None]
    assert store.documents_of(slots) == ["da", "dz2"]
    assert store.embeddings_of(slots).tolist() == [[1, 0], [0, 1]]


def test_update_of_embedding_moves_the_record_in_search(store: CollectionStore) -> None:
    store.add(["a", "b"], vec([0, 0], [10, 10]))
    store.update(["b"], embeddings=vec([0.1, 0]))
    hits = store.query(vec([0.2, 0]), 2)[0]
    assert store.ids_of(hits.slots) == ["b", "a"]
    np.testing.assert_allclose(hits.distances, [0.01, 0.04], rtol=1e-5)


def test_get_is_in_insertion_order_and_readded_ids_go_last(store: CollectionStore) -> None:
    store.add(["b", "c", "a"], vec([1, 0], [0, 1], [1, 1]))
    store.delete(ids=["b"])
    store.add(["b"], vec([2, 2]))
    store.upsert(["c"], vec([3, 3]))
    assert store.ids_of(store.select()) == ["c", "a", "b"]
    assert store.ids_of(store.select(ids=["b", "a", "zz"])) == ["a", "b"]
    assert store.ids_of(store.select(offset=1, limit=1)) == ["a"]
    assert store.ids_of(store.select(offset=5)) == []


def test_slots_and_index_keys_are_never_reused(store: CollectionStore) -> None:
    first = store.add(["a", "b"], vec([1, 0], [0, 1]))
    store.delete(ids=["a", "b"])
    second = store.add(["a", "b"], vec([1, 0], [0, 1]))
    third = store.update(["a"], embeddings=vec([5, 5]))
    used_keys = [*first.keys.tolist(), *second.keys.tolist(), *third.keys.tolist()]
    assert len(set(used_keys)) == len(used_keys)
    assert set(first.slots.tolist()).isdisjoint(second.slots.tolist())
    assert store.count == 2


def test_delete_combines_ids_and_where(store: CollectionStore) -> None:
    store.add(["a", "b", "c"], vec([1, 0], [0, 1], [1, 1]), [{"j": 3}, {"j": 3}, {"j": 4}])
    store.delete(ids=["b", "c"], where=Compare(key="j", op="$eq", value=3))
    assert store.ids_of(store.select()) == ["a", "c"]
    store.delete(ids=["nope"])
    assert store.count == 2


def test_first_add_fixes_the_dimension(store: CollectionStore) -> None:
    store.add(["a"], vec([1, 2, 3]))
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 2"):
        store.add(["b"], vec([1, 2]))
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 2"):
        store.query(vec([1, 2]), 1)
    with pytest.raises(InvalidArgumentError, match="dimension of 3, got 4"):
        store.update(["a"], embeddings=vec([1, 2, 3, 4]))
    assert store.count == 1


def test_a_rejected_write_changes_nothing(store: CollectionStore) -> None:
    store.add(["a"], vec([1, 2]))
    with pytest.raises(InvalidArgumentError, match="expected 2 metadatas"):
        store.add(["b", "c"], vec([1, 2], [3, 4]), metadatas=[{"k": 1}])
    assert store.ids_of(store.select()) == ["a"]


def test_query_on_an_empty_store_returns_empty_hits(store: CollectionStore) -> None:
    hits = store.query(vec([1, 0], [0, 1]), 3)
    assert [h.slots.size for h in hits] == [0, 0]


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_distances_are_chromas_computed_exactly_in_float32(space: str) -> None:
    store = CollectionStore(IndexSettings(space=space))  # type: ignore[arg-type]
    data = clustered(300, dim=12, seed=1)
    data[7] = 0.0  # a zero vector: cosine distance 1, as hnswlib gives
    store.add([str(i) for i in range(300)], data)
    queries = clustered(5, dim=12, seed=2)
    if space == "l2":
        expected = ((data[None, :, :] - queries[:, None, :]) ** 2).sum(-1)
    elif space == "ip":
        expected = 1.0 - queries @ data.T
    else:
        norms = np.linalg.norm(data, axis=1)
        norms[norms == 0] = 1.0
        expected = 1.0 - (queries @ data.T) / (np.linalg.norm(queries, axis=1)[:, None] * norms)
    for q, hits in enumerate(store.query(queries, 10)):
        truth = np.argsort(expected[q], kind="stable")[:10]
        assert hits.slots.tolist() == truth.tolist()
        np.testing.assert_allclose(hits.distances, expected[q][truth], rtol=1e-5, atol=1e-5)
        assert hits.distances.dtype == np.float32


def test_cosine_distance_matches_chromadb_example() -> None:
    store = CollectionStore(IndexSettings(space="cosine"))
    store.add(["a", "b"], vec([1, 0], [1, 1]))
    hits = store.query(vec([2, 0]), 2)[0]
    np.testing.assert_allclose(hits.distances, [0.0, 0.29289323], atol=1e-6)
    ip = CollectionStore(IndexSettings(space="ip"))
    ip.add(["a", "b"], vec([1, 0], [1, 1]))
    np.testing.assert_allclose(ip.query(vec([2, 0]), 2)[0].distances, [-1.0, -1.0])


def test_n_results_larger_than_the_matches_returns_all_matches(store: CollectionStore) -> None:
    store.add([str(i) for i in range(50)], clustered(50, dim=4), [{"c": i % 10} for i in range(50)])
    allowed = store.mask(where=Compare(key="c", op="$eq", value=3))
    assert store.query(vec([0, 0, 0, 0]), 100, allowed)[0].slots.size == 5
    assert store.query(vec([0, 0, 0, 0]), 100)[0].slots.size == 50


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    modulus=st.sampled_from([2, 3, 10, 40]),
    n_results=st.integers(1, 30),
    limit=st.sampled_from([8, 100_000]),
)
def test_filtered_top_k_is_exact_by_brute_force_and_near_exact_by_index(
    seed: int, modulus: int, n_results: int, limit: int
) -> None:
    """Brute force (high limit) returns the exact filtered top-k; the index with over-fetch
    (low limit) returns as many matches, exact distances, and recall >= 0.9."""
    n = 400
    data = clustered(n, dim=8, seed=seed)
    store = CollectionStore(IndexSettings(space="l2"), brute_force_limit=limit, brute_force_ratio=0)
    store.add([str(i) for i in range(n)], data, [{"m": i % modulus} for i in range(n)])
    store.delete(ids=[str(i) for i in range(0, n, 7)])
    queries = clustered(3, dim=8, seed=seed + 1)
    allowed = store.mask(where=Compare(key="m", op="$eq", value=1))
    d = ((data[None, :, :] - queries[:, None, :]) ** 2).sum(-1)
    d[:, ~allowed] = np.inf
    found = wanted = 0
    for q, hits in enumerate(store.query(queries, n_results, allowed)):
        expected_count = min(n_results, int(allowed.sum()))
        assert hits.slots.size == expected_count
        assert allowed[hits.slots].all()
        np.testing.assert_allclose(hits.distances, d[q][hits.slots], rtol=1e-5, atol=1e-5)
        truth = np.argsort(d[q], kind="stable")[:expected_count]
        if limit > n:
            np.testing.assert_allclose(hits.distances, d[q][truth], rtol=1e-5, atol=1e-5)
        found += len(set(hits.slots.tolist()) & set(truth.tolist()))
        wanted += expected_count
    assert found >= 0.9 * wanted


def test_a_filter_far_from_the_query_still_fills_n_results() -> None:
    """The allowed records are the farthest ones: over-fetch fails and brute force
    completes the answer."""
    store = CollectionStore(IndexSettings(space="l2"), brute_force_limit=4, brute_force_ratio=0)
    near = np.zeros((500, 4), dtype=np.float32) + np.linspace(0, 1, 500)[:, None]
    far = np.full((20, 4), 50.0, dtype=np.float32) + np.arange(20)[:, None]
    store.add([f"n{i}" for i in range(500)], near.astype(np.float32), [{"far": False}] * 500)
    store.add([f"f{i}" for i in range(20)], far.astype(np.float32), [{"far": True}] * 20)
    allowed = store.mask(where=Compare(key="far", op="$eq", value=True))
    hits = store.query(vec([0, 0, 0, 0]), 10, allowed)[0]
    found = store.ids_of(hits.slots)
    assert len(found) == 10
    assert all(i.startswith("f") for i in found)


def test_batch_query_answers_each_query_like_a_single_one() -> None:
    store = CollectionStore(
        IndexSettings(space="cosine"), brute_force_limit=16, brute_force_ratio=0
    )
    data = clustered(2000, dim=16, seed=3)
    store.add([str(i) for i in range(2000)], data)
    queries = clustered(40, dim=16, seed=4)
    batch = store.query(queries, 5)
    single = [store.query(q, 5)[0] for q in queries]
    for b, s in zip(batch, single, strict=True):
        assert b.slots.tolist() == s.slots.tolist()


def test_copy_is_independent(store: CollectionStore) -> None:
    store.add(["a", "b"], vec([1, 0], [0, 1]), [{"k": 1}, {"k": 2}], ["x", "y"])
    fork = store.copy()
    fork.add(["c"], vec([1, 1]))
    fork.update(["a"], metadatas=[{"k": 9}])
    store.delete(ids=["b"])
    assert store.ids_of(store.select()) == ["a"]
    assert fork.ids_of(fork.select()) == ["a", "b", "c"]
    assert store.metadatas_of(store.select()) == [{"k": 1}]
    assert fork.ids_of(fork.query(vec([0, 1]), 1)[0].slots) == ["b"]


def test_stores_share_nothing() -> None:
    """chromadb leaks list metadata of a deleted collection into later records; here each
    store's columns are its own."""
    first = CollectionStore()
    first.add(["a"], vec([1, 0]), [{"tags": ["x"], "k": 1}])
    second = CollectionStore()
    second.add(["a"], vec([1, 0]), [{"other": 1}])
    assert second.metadatas_of(second.select()) == [{"other": 1}]
    assert second.select(where=Compare(key="tags", op="$contains", value="x")).size == 0


@pytest.mark.parametrize("source", ["bytes", "file", "view", "rebuild"])
def test_rows_and_index_snapshot_restore_the_same_answers(source: str, tmp_path: Any) -> None:
    store = CollectionStore(IndexSettings(space="cosine"), brute_force_limit=8, brute_force_ratio=0)
    data = clustered(600, dim=8, seed=5)
    store.add([str(i) for i in range(600)], data, [{"c": i % 4} for i in range(600)])
    store.delete(ids=[str(i) for i in range(0, 600, 5)])
    store.update(["1"], embeddings=vec([9] * 8), documents=["one"])
    rows = store.rows()
    index: Any = None
    if source == "bytes":
        index = store.save_index()
    elif source in ("file", "view"):
        index = tmp_path / "index.usearch"
        store.save_index(index)
    restored = CollectionStore.from_rows(rows, store.settings, index=index, view=source == "view")
    queries = clustered(4, dim=8, seed=6)
    allowed = store.mask(where=Compare(key="c", op="$eq", value=2))
    assert restored.mask(where=Compare(key="c", op="$eq", value=2)).tolist() == allowed.tolist()
    pairs = [
        (store.query(queries, 7), restored.query(queries, 7)),
        (store.query(queries, 7, allowed), restored.query(queries, 7, allowed)),
    ]
    for before, after in pairs:
        overlap = sum(
            len(set(a.slots.tolist()) & set(b.slots.tolist()))
            for a, b in zip(before, after, strict=True)
        )
        # An approximate index, rebuilt or reloaded (usearch does not promise identical
        # traversal after a reload): near-equal answers, exact distances.
        assert overlap >= 0.9 * 4 * 7
        for q, b in enumerate(after):
            exact = store.distances(queries[q : q + 1], b.slots[None, :])[0]
            np.testing.assert_allclose(b.distances, exact, rtol=1e-6)
    # Counters survive: the next write takes fresh slots and keys in both.
    assert restored.add(["new"], vec([1] * 8)).keys.tolist() == [store.next_key]
    assert restored.documents_of(restored.select(ids=["1"])) == ["one"]


def test_an_older_index_snapshot_is_reconciled_with_newer_rows() -> None:
    store = CollectionStore(brute_force_limit=4, brute_force_ratio=0)
    store.add([str(i) for i in range(100)], clustered(100, dim=4, seed=7))
    old_index = store.save_index()
    store.delete(ids=["0", "1"])
    store.update(["2"], embeddings=vec([100, 100, 100, 100]))
    store.add(["x"], vec([-100, -100, -100, -100]))
    restored = CollectionStore.from_rows(store.rows(), store.settings, index=old_index)
    assert restored.ids_of(restored.query(vec([100, 100, 100, 100]), 1)[0].slots) == ["2"]
    assert restored.ids_of(restored.query(vec([-100, -100, -100, -100]), 1)[0].slots) == ["x"]
    hits = restored.query(clustered(1, dim=4, seed=7), 98)[0]
    assert not {"0", "1"} & set(restored.ids_of(hits.slots))


def test_replaying_the_same_plans_rebuilds_the_same_state() -> None:
    """What a write-ahead log relies on: plans carry final values and assigned keys."""
    original = CollectionStore()
    plans = [
        original.add(["a", "b"], vec([1, 0], [0, 1]), [{"k": 1}, {"k": 2}]),
        original.upsert(["b", "c"], vec([2, 2], [3, 3]), [{"k": None, "j": 1}, None]),
        original.update(["a"], metadatas=[{"z": 1}]),
        original.delete(ids=["c"]),
    ]
    replica = CollectionStore()
    for plan in plans:
        replica.apply(plan)
    a, b = original.rows(), replica.rows()
    assert a.ids == b.ids
    assert a.metadatas == b.metadatas
    assert a.keys.tolist() == b.keys.tolist()
    assert a.embeddings.tolist() == b.embeddings.tolist()
    assert (a.next_slot, a.next_key) == (b.next_slot, b.next_key)


def test_planning_does_not_change_the_store(store: CollectionStore) -> None:
    store.add(["a"], vec([1, 0]), [{"k": 1}])
    store.plan_upsert(["a", "b"], vec([5, 5], [6, 6]), [{"k": 2}, None])
    store.plan_delete(ids=["a"])
    assert store.ids_of(store.select()) == ["a"]
    assert store.metadatas_of(store.select()) == [{"k": 1}]
