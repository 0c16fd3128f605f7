"""Metadata filters on the columnar store, with chromadb 1.5.9's answers as expectations.

Each table row was obtained by running the same filter on ``chromadb.EphemeralClient()``
holding the same records (see the test docstrings); the engine must agree row for row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import And, Compare, DocText, Or
from chroma_async_local import CollectionStore


def _fill(store: CollectionStore, records: dict[str, dict[str, Any] | None]) -> None:
    ids = list(records)
    store.add(ids, np.ones((len(ids), 3), dtype=np.float32), [records[i] for i in ids])


def _ids(store: CollectionStore, node: Any) -> list[str]:
    return store.ids_of(store.select(where=node))


MIXED: dict[str, dict[str, Any] | None] = {
    "a": {"x": 1},
    "b": {"x": 1.0},
    "c": {"x": True},
    "d": {"x": "1"},
    "e": {"y": 2, "arr": [1, 2]},
    "f": {"x": 2, "arr": ["a", "b"], "s": "hello"},
}


@pytest.mark.parametrize(
    ("key", "op", "value", "expected"),
    [
        ("x", "$eq", 1, ["a", "b"]),
        ("x", "$eq", 1.0, ["a", "b"]),
        ("x", "$eq", True, ["c"]),
        ("x", "$eq", "1", ["d"]),
        ("x", "$ne", 1, ["c", "d", "e", "f"]),
        ("x", "$nin", [1], ["c", "d", "e", "f"]),
        ("x", "$in", [1], ["a", "b"]),
        ("x", "$gt", 0, ["a", "b", "f"]),
        ("x", "$gt", 0.5, ["a", "b", "f"]),
        ("arr", "$contains", 1, ["e"]),
        ("arr", "$contains", 1.0, []),
        ("arr", "$not_contains", 1, ["a", "b", "c", "d", "f"]),
        ("s", "$contains", "hello", []),
        ("s", "$not_contains", "hello", ["a", "b", "c", "d", "e", "f"]),
        ("arr", "$eq", 1, []),
        ("arr", "$ne", 1, ["a", "b", "c", "d", "e", "f"]),
        ("missing", "$eq", 1, []),
        ("missing", "$ne", 1, ["a", "b", "c", "d", "e", "f"]),
    ],
)
def test_scalar_and_list_semantics_match_chromadb(
    store: CollectionStore, key: str, op: Any, value: Any, expected: list[str]
) -> None:
    """Bools only equal bools, ints and floats compare across types, negations are
    complements (they match records without the key), $contains is for lists only."""
    _fill(store, MIXED)
    assert _ids(store, Compare(key=key, op=op, value=value)) == expected


NUMBERS: dict[str, dict[str, Any] | None] = {
    "i1": {"x": 1},
    "f1": {"x": 1.0},
    "f17": {"x": 1.7},
    "i2": {"x": 2},
    "fm17": {"x": -1.7},
    "im2": {"x": -2},
}


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("$eq", 1.5, ["i1"]),
        ("$eq", -1.5, []),
        ("$eq", -2.0, ["im2"]),
        ("$ne", 1.5, ["f1", "f17", "i2", "fm17", "im2"]),
        ("$gt", 1, ["f17", "i2"]),
        ("$gt", 1.5, ["f17", "i2"]),
        ("$gt", -1.5, ["i1", "f1", "f17", "i2"]),
        ("$gte", 1.5, ["i1", "f17", "i2"]),
        ("$gte", -2.0, ["i1", "f1", "f17", "i2", "fm17", "im2"]),
        ("$lt", 1.5, ["f1", "fm17", "im2"]),
        ("$lt", -1.5, ["fm17", "im2"]),
        ("$lt", -2.0, []),
        ("$lte", 0.5, ["fm17", "im2"]),
        ("$lte", -2.0, ["im2"]),
        ("$in", [1.7], ["i1", "f17"]),
        ("$nin", [1.5], ["f1", "f17", "i2", "fm17", "im2"]),
    ],
)
def test_float_operand_is_truncated_against_int_values_as_in_chromadb(
    store: CollectionStore, op: Any, value: Any, expected: list[str]
) -> None:
    """chromadb compares an int value with ``trunc(operand)``: ``1 == 1.5`` holds there."""
    _fill(store, NUMBERS)
    assert _ids(store, Compare(key="x", op=op, value=value)) == expected


LISTS: dict[str, dict[str, Any] | None] = {
    "a": {"f": [1.0, 2.5]},
    "b": {"i": [1, 2], "b": [True]},
    "c": {"b": [False, True], "i": [3]},
    "d": {"x": 1, "f": 1.0},
}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("f", 1, []),
        ("f", 1.0, ["a"]),
        ("i", True, []),
        ("b", True, ["b", "c"]),
        ("b", 1, []),
        ("i", 3, ["c"]),
    ],
)
def test_list_contains_compares_elements_with_their_exact_type(
    store: CollectionStore, key: str, value: Any, expected: list[str]
) -> None:
    _fill(store, LISTS)
    assert _ids(store, Compare(key=key, op="$contains", value=value)) == expected


def test_and_or_combine_and_nest(store: CollectionStore) -> None:
    _fill(store, {f"r{i}": {"cat": i % 3, "pct": i} for i in range(12)})
    node = Or(
        children=[
            And(
                children=[
                    Compare(key="cat", op="$eq", value=1),
                    Compare(key="pct", op="$gte", value=6),
                ]
            ),
            Compare(key="pct", op="$in", value=[0, 2]),
        ]
    )
    assert _ids(store, node) == ["r0", "r2", "r7", "r10"]


def test_string_operands_match_by_dictionary_code(store: CollectionStore) -> None:
    _fill(store, {"a": {"lang": "en"}, "b": {"lang": "fr"}, "c": {"lang": "en"}, "d": None})
    assert _ids(store, Compare(key="lang", op="$eq", value="en")) == ["a", "c"]
    assert _ids(store, Compare(key="lang", op="$eq", value="de")) == []
    assert _ids(store, Compare(key="lang", op="$in", value=["fr", "de"])) == ["b"]
    assert _ids(store, Compare(key="lang", op="$nin", value=["en"])) == ["b", "d"]


def test_order_comparison_with_a_string_operand_is_rejected(store: CollectionStore) -> None:
    _fill(store, {"a": {"x": 1}})
    with pytest.raises(InvalidArgumentError, match=r"\$gt.*'0'"):
        _ids(store, Compare(key="x", op="$gt", value="0"))


def test_filters_see_updates_and_forget_deleted_records(store: CollectionStore) -> None:
    _fill(store, {"a": {"tags": ["x", "y"], "n": 1}, "b": {"tags": ["y"], "n": 2}})
    store.update(["a"], metadatas=[{"tags": ["z"], "n": None}])
    assert _ids(store, Compare(key="tags", op="$contains", value="x")) == []
    assert _ids(store, Compare(key="tags", op="$contains", value="z")) == ["a"]
    assert _ids(store, Compare(key="n", op="$eq", value=1)) == []
    store.delete(ids=["b"])
    assert _ids(store, Compare(key="tags", op="$contains", value="y")) == []
    assert _ids(store, Compare(key="n", op="$ne", value=1)) == ["a"]


def test_document_node_inside_a_where_tree_is_evaluated(store: CollectionStore) -> None:
    store.add(
        ["a", "b"],
        np.ones((2, 3), dtype=np.float32),
        [{"k": 1}, {"k": 1}],
        ["alpha beta", "gamma"],
    )
    node = And(
        children=[Compare(key="k", op="$eq", value=1), DocText(op="$contains", value="beta")]
    )
    assert _ids(store, node) == ["a"]


scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
    st.sampled_from(["a", "b", "c"]),
)
values = st.one_of(scalars, st.lists(st.integers(-2, 2), min_size=1, max_size=3))


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(
        st.one_of(st.none(), st.dictionaries(st.sampled_from(["k", "j"]), values, max_size=2)),
        min_size=1,
        max_size=40,
    ),
    operand=scalars,
)
def test_batch_ingestion_filters_exactly_like_record_by_record(
    records: list[dict[str, Any] | None], operand: Any
) -> None:
    """The vectorised batch path of metadata ingestion agrees with one-at-a-time writes."""
    batch, single = CollectionStore(), CollectionStore()
    ids = [str(i) for i in range(len(records))]
    batch.add(ids, np.ones((len(ids), 2), dtype=np.float32), records)
    for record_id, record in zip(ids, records, strict=True):
        single.add([record_id], np.ones((1, 2), dtype=np.float32), [record])
    ops = ["$eq", "$ne", "$in", "$nin", "$contains", "$not_contains"]
    if not isinstance(operand, (bool, str)):
        ops += ["$gt", "$gte", "$lt", "$lte"]
    for op in ops:
        value = [operand] if op in ("$in", "$nin") else operand
        node = Compare(key="k", op=op, value=value)  # type: ignore[arg-type]
        assert _ids(batch, node) == _ids(single, node)
    assert batch.metadatas_of(batch.select()) == single.metadatas_of(single.select())
