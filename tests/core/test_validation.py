"""The validation layer: every accepted form, every rejection with its message.

Rules come from chromadb 1.5.9; where a test asks chromadb itself (names, metadata), the
decision must match. Deliberate differences are tested on their own and named as such.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import chromadb
import chromadb.api.types as chroma_types
import chromadb.config
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chroma_async.errors import DuplicateIDError, InvalidArgumentError
from chroma_async.validation import (
    MAX_U32,
    normalize_embeddings,
    validate_collection_metadata,
    validate_collection_name,
    validate_database_name,
    validate_documents,
    validate_ids,
    validate_include,
    validate_limit,
    validate_metadata,
    validate_metadatas,
    validate_n_results,
    validate_offset,
    validate_tenant_name,
    validate_uris,
)


@pytest.fixture(scope="module")
def chroma_client() -> Any:
    # the settings every test of this process uses: chromadb keeps one in-process system
    # and refuses a second with other settings
    return chromadb.EphemeralClient(
        settings=chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False)
    )


def chroma_rejects(call: Any) -> bool:
    try:
        call()
    except (ValueError, TypeError, chromadb.errors.ChromaError):
        return True
    return False


# --- ids ----------------------------------------------------------------------------------


def test_ids_single_str_is_one_id() -> None:
    assert validate_ids("doc-1", op="add") == ["doc-1"]


@pytest.mark.parametrize(
    "ids", [["a", "b"], ("a", "b"), np.array(["a", "b"]), np.array(["a", "b"], dtype=object)]
)
def test_ids_accept_lists_tuples_and_string_arrays(ids: object) -> None:
    result = validate_ids(ids, op="add")
    assert result == ["a", "b"]
    assert all(type(i) is str for i in result)


def test_ids_list_is_returned_without_copying() -> None:
    ids = [f"id{i}" for i in range(1000)]
    assert validate_ids(ids, op="add") is ids


def test_ids_str_subclasses_become_str() -> None:
    result = validate_ids([np.str_("a"), "b"], op="add")
    assert result == ["a", "b"]
    assert all(type(i) is str for i in result)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "add: ids: expected at least one id, got an empty list"),
        ("", "add: ids: expected a non-empty str, got '' (str)"),
        (["a", ""], "add: ids[1]: expected a non-empty str, got '' (str)"),
        (["a", 5], "add: ids[1]: expected a non-empty str, got 5 (int)"),
        (["a", None], "add: ids[1]: expected a non-empty str, got None (NoneType)"),
        (5, "add: ids: expected a str or a list of str, got 5 (int)"),
        ({"a"}, "add: ids: expected a str or a list of str, got {'a'} (set)"),
        (np.array([1, 2]), "add: ids: expected a 1-D array of str, got a numpy array"),
    ],
)
def test_ids_rejections_name_the_bad_id_and_its_index(ids: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_ids(ids, op="add")
    assert str(info.value).startswith(message)


def test_duplicate_ids_raise_duplicate_id_error_in_chromadb_words() -> None:
    with pytest.raises(DuplicateIDError) as info:
        validate_ids(["a", "b", "a", "c", "b"], op="add")
    assert str(info.value) == "Expected IDs to be unique, found duplicates of: a, b in add."


def test_many_duplicate_ids_are_summarised() -> None:
    ids = [str(i % 12) for i in range(24)]
    with pytest.raises(DuplicateIDError) as info:
        validate_ids(ids, op="upsert")
    assert str(info.value) == (
        "Expected IDs to be unique, found 12 duplicated IDs: "
        "0, 1, 2, 3, 4, ..., 7, 8, 9, 10, 11 in upsert."
    )


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=30))
def test_ids_are_accepted_exactly_when_unique(ids: list[str]) -> None:
    if len(set(ids)) == len(ids):
        assert validate_ids(ids, op="add") == ids
    else:
        with pytest.raises(DuplicateIDError):
            validate_ids(ids, op="add")


# --- embeddings ---------------------------------------------------------------------------


def test_float32_c_contiguous_embeddings_are_returned_without_a_copy() -> None:
    array = np.random.default_rng(0).random((5000, 384), dtype=np.float32)
    assert normalize_embeddings(array, op="add", count=5000) is array


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64]
)
def test_embeddings_of_any_float_or_int_dtype_become_float32(dtype: Any) -> None:
    array = np.arange(6).reshape(2, 3).astype(dtype)
    result = normalize_embeddings(array, op="add", count=2)
    assert result.dtype == np.float32
    assert result.flags.c_contiguous
    np.testing.assert_array_equal(result, np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize(
    "embeddings",
    [
        [[1, 2.5], [3, 4]],
        ((1, 2.5), (3, 4)),
        [np.array([1, 2.5]), np.array([3, 4], dtype=np.int32)],
        np.array([[1, 2.5], [3, 4]], order="F"),
        np.array([[1, 0, 2.5, 0], [3, 0, 4, 0]], dtype=np.float32)[:, ::2],
        [[1, 2.5], [3, 2**70 // 2**70 * 4]],
    ],
)
def test_embeddings_lists_tuples_and_strided_arrays_become_one_c_contiguous_float32_array(
    embeddings: object,
) -> None:
    result = normalize_embeddings(embeddings, op="add", count=2)
    assert result.dtype == np.float32
    assert result.flags.c_contiguous
    np.testing.assert_array_equal(result, np.array([[1, 2.5], [3, 4]], dtype=np.float32))


@pytest.mark.parametrize("embedding", [[1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])])
def test_a_single_1d_embedding_is_one_record(embedding: object) -> None:
    result = normalize_embeddings(embedding, op="query", field="query_embeddings")
    assert result.shape == (1, 3)


def test_big_python_ints_in_embeddings_become_floats() -> None:
    result = normalize_embeddings([[2**70, 1]], op="add", count=1)
    assert result[0, 0] == np.float32(2.0**70)


DTYPE_ERROR = "add: embeddings: expected int or float values, got an array of dtype"


@pytest.mark.parametrize(
    ("embeddings", "message"),
    [
        (None, "add: embeddings: expected a list of lists of numbers"),
        ("abc", "add: embeddings: expected a list of lists of numbers"),
        (np.float32(1.0), "add: embeddings: expected a list of lists of numbers"),
        ([], "add: embeddings: expected at least one embedding, got an empty list"),
        (np.zeros((0, 3)), "add: embeddings: expected at least one embedding, got none"),
        ([[]], "add: embeddings: expected embeddings with at least one value"),
        (np.zeros((1, 1, 2)), "add: embeddings: expected one embedding (1-D) or one per record"),
        (np.array([[True, False]]), f"{DTYPE_ERROR} bool"),
        (np.array([[1 + 2j]]), f"{DTYPE_ERROR} complex128"),
        (np.array([["1", "2"]]), f"{DTYPE_ERROR} <U1"),
        ([[True, False]], f"{DTYPE_ERROR} bool"),
        ([[1.0, "2"]], f"{DTYPE_ERROR} <U32"),
        (
            [[1.0, None]],
            "add: embeddings[0]: expected int or float values, got None (NoneType) at position 1",
        ),
        (
            [[1.0, 2.0], [1.0]],
            "add: embeddings: every embedding must have the same dimension; "
            "embeddings[0] has 2 values but embeddings[1] has 1",
        ),
        (
            [[1.0, 2.0], "ab"],
            "add: embeddings[1]: expected a list or 1-D array of numbers, got 'ab' (str)",
        ),
        (
            [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            "Number of embeddings (3) does not match number of ids (2) in add",
        ),
    ],
)
def test_embedding_rejections_say_what_and_where(embeddings: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        normalize_embeddings(embeddings, op="add", count=2)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("container", ["list", "float32", "float64", "float16"])
def test_non_finite_embedding_values_are_rejected_naming_the_row(
    bad: float, container: str
) -> None:
    rows = [[0.0, 1.0], [2.0, 3.0], [4.0, bad]]
    embeddings: object = rows if container == "list" else np.array(rows, dtype=container)
    with pytest.raises(InvalidArgumentError) as info:
        normalize_embeddings(embeddings, op="upsert", count=3)
    message = str(info.value)
    assert message.startswith("upsert: embeddings[2]: expected finite values, got "), message
    assert "at position 1" in message


def test_float64_embeddings_beyond_float32_range_are_rejected_naming_the_row() -> None:
    array = np.zeros((4, 3))
    array[3, 2] = 1e39
    with pytest.raises(InvalidArgumentError) as info:
        normalize_embeddings(array, op="add", count=4)
    message = str(info.value)
    assert message.startswith("add: embeddings[3]: expected values within float32 range")
    assert "1e+39" in message


def test_float32_values_whose_sum_overflows_are_still_accepted() -> None:
    big = np.full((4, 8), np.finfo(np.float32).max, dtype=np.float32)
    assert normalize_embeddings(big, op="add", count=4) is big


@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.float16]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.floats(min_value=-65504, max_value=65504, width=16),
    )
)
def test_finite_float_arrays_are_normalised_to_equal_float32(array: np.ndarray[Any, Any]) -> None:
    result = normalize_embeddings(array, op="add", count=array.shape[0])
    assert result.dtype == np.float32
    assert result.flags.c_contiguous
    np.testing.assert_array_equal(result, array.astype(np.float32))


@given(
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=10),
    st.data(),
)
def test_a_nan_anywhere_is_reported_at_its_row_and_column(rows: int, dim: int, data: Any) -> None:
    row = data.draw(st.integers(min_value=0, max_value=rows - 1))
    column = data.draw(st.integers(min_value=0, max_value=dim - 1))
    array = np.ones((rows, dim), dtype=np.float32)
    array[row, column] = np.nan
    with pytest.raises(InvalidArgumentError) as info:
        normalize_embeddings(array, op="add", count=rows)
    assert str(info.value).startswith(f"add: embeddings[{row}]: expected finite values")
    assert f"at position {column}" in str(info.value)


# --- record metadata ----------------------------------------------------------------------


def test_metadatas_of_valid_dicts_are_returned_as_they_are() -> None:
    metadatas = [
        {"s": "x", "i": 3, "f": 1.5, "b": True},
        {"ls": ["a"], "li": [1, 2], "lf": [0.5], "lb": [False]},
        None,
        {"k": -(2**63), "m": 2**63 - 1, "e": "", "z": -0.0, "big": 1e308},
    ]
    result = validate_metadatas(metadatas, op="add", count=4)
    assert result is metadatas
    assert result[0] is metadatas[0]


def test_a_single_metadata_dict_is_accepted_for_a_single_id() -> None:
    assert validate_metadatas({"a": 1}, op="add", count=1) == [{"a": 1}]


def test_metadatas_may_be_a_tuple() -> None:
    assert validate_metadatas(({"a": 1}, None), op="add", count=2) == [{"a": 1}, None]


def test_metadata_numpy_scalars_become_builtins_without_changing_the_callers_dict() -> None:
    original = {"f": np.float64(1.5), "i": np.int64(3), "b": np.bool_(True), "s": np.str_("x")}
    result = validate_metadatas([original], op="add", count=1)
    assert result is not None
    checked = result[0]
    assert checked == {"f": 1.5, "i": 3, "b": True, "s": "x"}
    assert checked is not None
    assert [type(v) for v in checked.values()] == [float, int, bool, str]
    assert type(original["i"]) is np.int64


SCALAR_OR_LIST = "expected a str, int, float, bool or a non-empty list"
NESTED = "expected a str, int, float, bool or list of one of those; not a nested dict"
NONE_VALUE = "expected a str, int, float, bool or list (None removes a key only in update"
RESERVED = "metadata keys cannot start with '#' or '$'"


@pytest.mark.parametrize(
    ("metadatas", "count", "message"),
    [
        ([{"a": 1}], 2, "Number of metadatas (1) does not match number of ids (2) in add"),
        ({"a": 1}, 2, "Number of metadatas (1) does not match number of ids (2) in add"),
        ([], 1, "Number of metadatas (0) does not match number of ids (1) in add"),
        ("a", 1, "add: metadatas: expected a list of dicts"),
        ([{}], 1, "add: metadatas[0]: expected a non-empty dict (use None for no metadata)"),
        ([None, 5], 2, "add: metadatas[1]: expected a dict or None, got 5 (int)"),
        ([{"a": {"b": 1}}], 1, f"add: metadatas[0]['a']: {NESTED}"),
        ([{"a": None}], 1, f"add: metadatas[0]['a']: {NONE_VALUE}"),
        ([{"a": (1, 2)}], 1, f"add: metadatas[0]['a']: {SCALAR_OR_LIST}"),
        ([{"a": b"x"}], 1, f"add: metadatas[0]['a']: {SCALAR_OR_LIST}"),
        ([{"a": []}], 1, "add: metadatas[0]['a']: expected a non-empty list, got []"),
        ([{"a": [1, 2.0]}], 1, "add: metadatas[0]['a'][1]: expected a int like every element"),
        ([{"a": [True, 1]}], 1, "add: metadatas[0]['a'][1]: expected a bool like every element"),
        ([{"a": [1, True]}], 1, "add: metadatas[0]['a'][1]: expected a int like every element"),
        ([{"a": [[1]]}], 1, "add: metadatas[0]['a'][0]: expected a str, int, float or bool"),
        ([{"a": ["x", None]}], 1, "add: metadatas[0]['a'][1]: expected a str like every element"),
        ([{"a": 1}, {1: 2}], 2, "add: metadatas[1]: expected str keys, got 1 (int)"),
        ([{"": 1}], 1, "add: metadatas[0]: expected non-empty keys, got an empty key ''"),
        ([{"#a": 1}], 1, f"add: metadatas[0]['#a']: {RESERVED}"),
        ([{"$a": 1}], 1, f"add: metadatas[0]['$a']: {RESERVED}"),
        (
            [{"chroma:document": "x"}],
            1,
            "add: metadatas[0]['chroma:document']: keys starting with 'chroma:' are reserved",
        ),
    ],
)
def test_metadata_rejections_name_the_record_and_key(
    metadatas: object, count: int, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_metadatas(metadatas, op="add", count=count)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), "a finite float"),
        (float("inf"), "a finite float"),
        ([1.0, float("nan")], "a finite float"),
        (2**63, "an int within 64 bits"),
        (-(2**63) - 1, "an int within 64 bits"),
        ([2**64], "an int within 64 bits"),
        (np.float32("nan"), "a finite float"),
    ],
)
def test_metadata_values_chromadb_cannot_store_faithfully_are_rejected_a_deliberate_difference(
    value: object, expected: str
) -> None:
    # chromadb turns big ints into floats, reads NaN/inf scalars back as metadata None, and
    # breaks on NaN/inf inside lists; we refuse them.
    with pytest.raises(InvalidArgumentError, match=expected):
        validate_metadatas([{"k": value}], op="add", count=1)


def test_update_metadata_may_remove_keys_with_none() -> None:
    metadatas = [{"a": None, "b": 2}]
    assert validate_metadatas(metadatas, op="update", count=1, allow_none_values=True) == [
        {"a": None, "b": 2}
    ]


def test_update_metadata_still_rejects_none_inside_lists_and_empty_dicts() -> None:
    with pytest.raises(InvalidArgumentError, match=r"update: metadatas\[0\]\['a'\]\[0\]"):
        validate_metadatas([{"a": [None]}], op="update", count=1, allow_none_values=True)
    with pytest.raises(InvalidArgumentError, match="non-empty dict"):
        validate_metadatas([{}], op="update", count=1, allow_none_values=True)


def test_validate_metadata_checks_one_dict_under_a_path() -> None:
    assert validate_metadata(None, path="x") is None
    assert validate_metadata({"a": 1}, path="x") == {"a": 1}
    with pytest.raises(InvalidArgumentError, match=r"^x\['a'\]: expected a finite float"):
        validate_metadata({"a": math.inf}, path="x")
    with pytest.raises(
        InvalidArgumentError, match=r"^x: expected a dict or None, got \[\] \(list\)"
    ):
        validate_metadata([], path="x")


# Metadata values: (value, whether chromadb stores it) within the domain we agree on.
METADATA_KEYS = st.text(min_size=1, max_size=6).filter(
    lambda k: k[0] not in "#$" and not k.startswith("chroma:")
)
METADATA_SCALARS = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
METADATA_VALUES = st.one_of(
    METADATA_SCALARS,
    st.lists(st.text(max_size=4), min_size=1, max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=4),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=1, max_size=4),
)
BAD_METADATA_VALUES = st.one_of(
    st.none(),
    st.just([]),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.lists(st.one_of(st.integers(), st.text()), min_size=2, max_size=4).filter(
        lambda items: len({type(i) for i in items}) > 1
    ),
    st.lists(st.one_of(st.booleans(), st.integers()), min_size=2, max_size=4).filter(
        lambda items: len({type(i) for i in items}) > 1
    ),
    st.lists(st.lists(st.integers(), min_size=1, max_size=2), min_size=1, max_size=2),
)


@given(
    st.lists(
        st.dictionaries(METADATA_KEYS, METADATA_VALUES, min_size=1, max_size=5),
        min_size=1,
        max_size=10,
    )
)
def test_valid_metadatas_are_accepted_unchanged(metadatas: list[dict[str, Any]]) -> None:
    assert validate_metadatas(metadatas, op="add", count=len(metadatas)) is metadatas


@given(
    st.lists(
        st.dictionaries(METADATA_KEYS, METADATA_VALUES, min_size=1, max_size=4),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_one_bad_metadata_value_is_reported_at_its_record_and_key(
    metadatas: list[dict[str, Any]], data: Any
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(metadatas) - 1))
    key = data.draw(st.sampled_from(sorted(metadatas[index])))
    metadatas[index][key] = data.draw(BAD_METADATA_VALUES)
    with pytest.raises(InvalidArgumentError) as info:
        validate_metadatas(metadatas, op="add", count=len(metadatas))
    assert str(info.value).startswith(f"add: metadatas[{index}][{key!r}]"), str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.text(min_size=0, max_size=4),
        st.one_of(METADATA_VALUES, BAD_METADATA_VALUES),
        min_size=0,
        max_size=3,
    )
)
def test_metadata_accept_and_reject_decisions_match_chromadb(
    chroma_client: Any, metadata: dict[str, Any]
) -> None:
    collection = chroma_client.get_or_create_collection(
        "validation-metadata-oracle", embedding_function=None
    )
    record_id = uuid.uuid4().hex
    theirs = not chroma_rejects(
        lambda: collection.add(
            ids=[record_id], embeddings=np.ones((1, 2), dtype=np.float32), metadatas=[metadata]
        )
    )
    ours = not chroma_rejects(lambda: validate_metadatas([metadata], op="add", count=1))
    assert ours == theirs, metadata


def test_chromadbs_own_python_metadata_check_agrees_on_types() -> None:
    # A fast cross-check against chromadb's validator for the type rules it owns.
    values: list[Any] = [[1, 2.0], [True, 1], [], {"a": 1}, (1,), [[1]], b"x"]
    for value in values:
        with pytest.raises(ValueError, match="Expected metadata"):
            chroma_types.validate_metadata({"k": value})
        with pytest.raises(InvalidArgumentError):
            validate_metadata({"k": value}, path="m")


def test_validating_metadata_leaves_no_state_between_batches() -> None:
    validate_metadatas([{"ok": 1}], op="add", count=1)
    with pytest.raises(InvalidArgumentError):
        validate_metadatas([{"#ok": 1}], op="add", count=1)


# --- collection metadata ------------------------------------------------------------------


def test_collection_metadata_accepts_scalars_and_chroma_prefixed_keys() -> None:
    metadata = {"a": 1, "b": "x", "hnsw:space": "cosine", "chroma:document": 1}
    assert validate_collection_metadata(metadata) is metadata
    assert validate_collection_metadata(None) is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "metadata: expected a non-empty dict"),
        ([1], "metadata: expected a dict or None, got [1] (list)"),
        ({"a": [1]}, "metadata['a']: expected a str, int, float or bool (no lists here)"),
        ({"a": None}, f"metadata['a']: {NONE_VALUE}"),
        ({"#a": 1}, f"metadata['#a']: {RESERVED}"),
        ({"": 1}, "metadata: expected non-empty keys"),
        ({"a": {"b": 1}}, f"metadata['a']: {NESTED}"),
    ],
)
def test_collection_metadata_rejections(metadata: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_collection_metadata(metadata)
    assert str(info.value).startswith(message), str(info.value)


def test_modify_metadata_drops_none_values_and_may_become_empty() -> None:
    assert validate_collection_metadata({"a": None, "b": 2}, for_modify=True) == {"b": 2}
    assert validate_collection_metadata({"a": None}, for_modify=True) == {}


def test_modify_metadata_cannot_change_the_distance_function() -> None:
    with pytest.raises(InvalidArgumentError, match="changing the distance function"):
        validate_collection_metadata({"hnsw:space": "ip"}, for_modify=True)


# --- documents and uris -------------------------------------------------------------------


@pytest.mark.parametrize("validate", [validate_documents, validate_uris])
def test_strings_accept_one_str_lists_tuples_and_none_entries(validate: Any) -> None:
    assert validate(None, op="add", count=2) is None
    assert validate("x", op="add", count=1) == ["x"]
    assert validate(["x", None, ""], op="add", count=3) == ["x", None, ""]
    assert validate(("x", "y"), op="add", count=2) == ["x", "y"]
    assert validate([np.str_("x")], op="add", count=1) == ["x"]


@pytest.mark.parametrize(
    ("validate", "field"), [(validate_documents, "documents"), (validate_uris, "uris")]
)
def test_strings_rejections_name_the_index(validate: Any, field: str) -> None:
    with pytest.raises(
        InvalidArgumentError, match=rf"^add: {field}\[1\]: expected a str or None, got 1 \(int\)"
    ):
        validate(["x", 1], op="add", count=2)
    with pytest.raises(
        InvalidArgumentError,
        match=rf"^Number of {field} \(1\) does not match number of ids \(2\) in add",
    ):
        validate(["x"], op="add", count=2)
    with pytest.raises(
        InvalidArgumentError, match=rf"^add: {field}: expected a str or a list of str"
    ):
        validate(5, op="add", count=1)


def test_documents_can_require_every_entry() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"^update: documents\[1\]: expected a str, got None"
    ):
        validate_documents(["x", None], op="update", count=2, nullable=False)


# --- include, n_results, limit, offset ----------------------------------------------------


def test_include_defaults_are_chromadbs() -> None:
    assert validate_include(None, op="get") == ("metadatas", "documents")
    assert validate_include(None, op="query") == ("metadatas", "documents", "distances")


def test_include_keeps_order_and_drops_repeats() -> None:
    assert validate_include(["uris", "embeddings", "uris", "documents"], op="get") == (
        "uris",
        "embeddings",
        "documents",
    )
    assert validate_include(("distances",), op="query") == ("distances",)
    assert validate_include([], op="query") == ()


@pytest.mark.parametrize(
    ("include", "op", "message"),
    [
        (
            ["distances"],
            "get",
            "get: include[0]: expected one of documents, embeddings, metadatas, uris, "
            "got 'distances'; distances exist only for query",
        ),
        (
            ["metadatas", "bogus"],
            "query",
            "query: include[1]: expected one of documents, embeddings, metadatas, distances, "
            "uris, got 'bogus'",
        ),
        (["data"], "query", "query: include[0]: expected one of"),
        ("documents", "get", "get: include: expected a list of names"),
        ([1], "get", "get: include[0]: expected one of documents"),
    ],
)
def test_include_rejections_list_the_allowed_names(include: object, op: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_include(include, op=op)
    assert str(info.value).startswith(message), str(info.value)


def test_n_results_is_a_positive_u32() -> None:
    assert validate_n_results(1) == 1
    assert validate_n_results(np.int64(5)) == 5
    assert validate_n_results(MAX_U32) == MAX_U32
    for bad in (0, -1, MAX_U32 + 1, 1.0, "3", None, True):
        with pytest.raises(InvalidArgumentError, match=r"^query: n_results: expected an int"):
            validate_n_results(bad)


def test_limit_and_offset_are_non_negative_u32_or_none() -> None:
    assert validate_limit(None) is None
    assert validate_limit(0) == 0
    assert validate_offset(None) == 0
    assert validate_offset(7) == 7
    for bad in (-1, MAX_U32 + 1, 1.0, "1", True):
        with pytest.raises(InvalidArgumentError, match=r"^limit: expected an int"):
            validate_limit(bad)
        with pytest.raises(InvalidArgumentError, match=r"^offset: expected an int"):
            validate_offset(bad)


# --- names --------------------------------------------------------------------------------

COLLECTION_NAMES = [
    "abc",
    "ABC",
    "1ab",
    "a_b",
    "a-b",
    "a.b",
    "ab.c",
    "a.b.c.d",
    "a" * 512,
    "256.1.1.1",
    "1.2.3",
    "01.02.03.04",
    "1.1.1.01",
    "1.1.1.1a",
    "1.1.1.1.1",
    "ab",
    "a" * 513,
    "",
    "..",
    "a..b",
    "a...b",
    "_ab",
    "ab_",
    "-ab",
    "ab-",
    ".ab",
    "ab.",
    "a b",
    "aé b",
    "a:b",
    "a/b",
    "a\nb",
    "192.168.1.1",
    "0.0.0.0",
    "255.255.255.255",
    "abç",
    "1.1.1.1 ",
]


@pytest.mark.parametrize("name", COLLECTION_NAMES)
def test_collection_names_are_accepted_exactly_when_chromadb_accepts_them(
    chroma_client: Any, name: str
) -> None:
    def create() -> None:
        chroma_client.create_collection(name, embedding_function=None)
        chroma_client.delete_collection(name)

    if chroma_rejects(create):
        with pytest.raises(InvalidArgumentError) as info:
            validate_collection_name(name)
        assert repr(name) in str(info.value)
    else:
        assert validate_collection_name(name) == name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab1._- 0/", min_size=0, max_size=6))
def test_generated_collection_names_match_chromadbs_rule(chroma_client: Any, name: str) -> None:
    def create() -> None:
        chroma_client.create_collection(name, embedding_function=None)
        chroma_client.delete_collection(name)

    ours = not chroma_rejects(lambda: validate_collection_name(name))
    assert ours == (not chroma_rejects(create)), name


def test_collection_name_messages_name_the_rule() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_collection_name("ab")
    assert str(info.value) == (
        "invalid collection name 'ab': expected a name containing 3-512 characters from "
        "[a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]"
    )
    with pytest.raises(InvalidArgumentError, match=r"two consecutive periods"):
        validate_collection_name("a..b")
    with pytest.raises(InvalidArgumentError, match=r"not an IPv4 address"):
        validate_collection_name("10.0.0.1")
    with pytest.raises(InvalidArgumentError, match=r"^collection name: expected .*got 5 \(int\)"):
        validate_collection_name(5)


@pytest.mark.parametrize(
    ("name", "tenant_ok", "database_ok"),
    [
        ("abc", True, True),
        ("a b", True, True),
        ("_a/b", True, True),
        ("日本語", True, True),
        ("ab", False, False),
        ("", False, False),
        ("éa", False, True),  # chromadb counts characters for tenants, UTF-8 bytes for databases
        ("é", False, False),
    ],
)
def test_tenant_and_database_names_follow_chromadb(
    name: str, tenant_ok: bool, database_ok: bool
) -> None:
    assert (not chroma_rejects(lambda: validate_tenant_name(name))) == tenant_ok
    assert (not chroma_rejects(lambda: validate_database_name(name))) == database_ok


def test_tenant_and_database_names_must_be_str() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^tenant name: expected a str"):
        validate_tenant_name(None)
    with pytest.raises(InvalidArgumentError, match=r"^database name: expected a str"):
        validate_database_name(3)
