"""The filter grammar: what is accepted, what is rejected and where, and the parsed tree.

chromadb 1.5.9 is the oracle: the differential tests run the same generated filters
through ``chromadb.EphemeralClient()`` (its Python checks and its Rust core) and expect
the same accept/reject decision. Filters where we differ on purpose (see the docstring of
``chroma_async.filters``) are not generated there and are tested on their own below.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from typing import Any

import chromadb
import chromadb.config
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import (
    And,
    Compare,
    DocText,
    Or,
    compile_regex,
    parse_where,
    parse_where_document,
    validate_where,
    validate_where_document,
)

# --- strategies ---------------------------------------------------------------------------

FIELDS = st.sampled_from(["a", "price", "tag", "x.y", "and", "#id", "", "ключ"])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=6)
SCALARS = st.one_of(TEXT, INT64, FLOATS, st.booleans())
NUMBERS = st.one_of(INT64, FLOATS)
SAME_TYPE_LISTS = st.one_of(
    st.lists(TEXT, min_size=1, max_size=4),
    st.lists(INT64, min_size=1, max_size=4),
    st.lists(FLOATS, min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=1, max_size=4),
)


@st.composite
def leaf_conditions(draw: st.DrawFn) -> dict[str, Any]:
    """One valid field condition, shorthand or with an operator."""
    field = draw(FIELDS)
    kind = draw(st.sampled_from(["shorthand", "eq", "order", "list", "contains", "document"]))
    if kind == "shorthand":
        return {field: draw(SCALARS)}
    if kind == "eq":
        return {field: {draw(st.sampled_from(["$eq", "$ne"])): draw(SCALARS)}}
    if kind == "order":
        return {field: {draw(st.sampled_from(["$gt", "$gte", "$lt", "$lte"])): draw(NUMBERS)}}
    if kind == "list":
        return {field: {draw(st.sampled_from(["$in", "$nin"])): draw(SAME_TYPE_LISTS)}}
    if kind == "contains":
        return {field: {draw(st.sampled_from(["$contains", "$not_contains"])): draw(SCALARS)}}
    return {"#document": {draw(st.sampled_from(["$contains", "$not_contains"])): draw(TEXT)}}


def valid_wheres(max_leaves: int = 8) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf_conditions(),
        lambda children: st.builds(
            lambda op, items: {op: items},
            st.sampled_from(["$and", "$or"]),
            st.lists(children, min_size=2, max_size=3),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def bad_leaves(draw: st.DrawFn, path: str) -> tuple[object, str]:
    """A filter with one mistake at its top, and the path the error must name."""
    field = draw(st.sampled_from(["a", "price", "tag"]))
    here = f"{path}.{field}"
    choice = draw(st.integers(min_value=0, max_value=17))
    cases: list[tuple[object, str]] = [
        ({field: {"$gt": draw(TEXT)}}, f"{here}.$gt"),
        ({field: {"$lte": [1]}}, f"{here}.$lte"),
        ({field: {"$in": []}}, f"{here}.$in"),
        ({field: {"$nin": [1, "x"]}}, f"{here}.$nin[1]"),
        ({field: {"$in": [True, 1]}}, f"{here}.$in[1]"),
        ({field: {"$in": [1, 2.5]}}, f"{here}.$in[1]"),
        ({field: {"$foo": 1}}, here),
        ({field: None}, here),
        ({field: [1, 2]}, here),
        ({field: {"$gt": 1, "$lt": 2}}, here),
        ({}, path),
        ({"a": 1, "b": 2}, path),
        ({"$and": [{"a": 1}]}, f"{path}.$and"),
        ({"$or": {"a": 1}}, f"{path}.$or"),
        ({"$not": [{"a": 1}, {"b": 2}]}, f"{path}.$not"),
        ({field: {"$eq": [1]}}, f"{here}.$eq"),
        ({field: {"$contains": [1]}}, f"{here}.$contains"),
        ({"#document": {"$contains": 1}}, f"{path}.#document.$contains"),
    ]
    return cases[choice]


@st.composite
def invalid_wheres(draw: st.DrawFn, path: str = "where", depth: int = 0) -> tuple[object, str]:
    """A filter with exactly one mistake somewhere inside, and the path naming it."""
    if depth >= 3 or draw(st.booleans()):
        return draw(bad_leaves(path))
    op = draw(st.sampled_from(["$and", "$or"]))
    siblings: list[object] = list(draw(st.lists(valid_wheres(4), min_size=2, max_size=3)))
    index = draw(st.integers(min_value=0, max_value=len(siblings) - 1))
    bad, error_path = draw(invalid_wheres(f"{path}.{op}[{index}]", depth + 1))
    siblings[index] = bad
    return {op: siblings}, error_path


SAFE_PATTERNS = st.sampled_from(["a+", "^H", r"\d{2,}", "(?i)hello", r"\bfoo\b", "[a-c]x", "o|w"])


def valid_where_documents(max_leaves: int = 6) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(
        st.builds(
            lambda op, text: {op: text},
            st.sampled_from(["$contains", "$not_contains"]),
            st.text(min_size=1, max_size=6),
        ),
        st.builds(lambda op, p: {op: p}, st.sampled_from(["$regex", "$not_regex"]), SAFE_PATTERNS),
    )
    return st.recursive(
        leaf,
        lambda children: st.builds(
            lambda op, items: {op: items},
            st.sampled_from(["$and", "$or"]),
            st.lists(children, min_size=2, max_size=3),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def invalid_where_documents(
    draw: st.DrawFn, path: str = "where_document", depth: int = 0
) -> tuple[object, str]:
    if depth >= 3 or draw(st.booleans()):
        cases: list[tuple[object, str]] = [
            ({"$contains": ""}, f"{path}.$contains"),
            ({"$not_contains": 1}, f"{path}.$not_contains"),
            ({"$regex": "["}, f"{path}.$regex"),
            ({"$regex": "(?=x)"}, f"{path}.$regex"),
            ({"$not_regex": None}, f"{path}.$not_regex"),
            ({"$eq": "x"}, path),
            ({}, path),
            ({"$contains": "a", "$regex": "b"}, path),
            ({"$and": [{"$contains": "a"}]}, f"{path}.$and"),
            ({"$or": "x"}, f"{path}.$or"),
            (["$contains", "x"], path),
        ]
        return cases[draw(st.integers(min_value=0, max_value=len(cases) - 1))]
    op = draw(st.sampled_from(["$and", "$or"]))
    siblings: list[object] = list(draw(st.lists(valid_where_documents(3), min_size=2, max_size=3)))
    index = draw(st.integers(min_value=0, max_value=len(siblings) - 1))
    bad, error_path = draw(invalid_where_documents(f"{path}.{op}[{index}]", depth + 1))
    siblings[index] = bad
    return {op: siblings}, error_path


# --- helpers ------------------------------------------------------------------------------


def explicit(where: dict[str, Any]) -> dict[str, Any]:
    """``where`` with every shorthand ``{k: v}`` written as ``{k: {"$eq": v}}``."""
    ((key, value),) = where.items()
    if key in ("$and", "$or"):
        return {key: [explicit(child) for child in value]}
    if isinstance(value, dict):
        return {key: dict(value)}
    return {key: {"$eq": value}}


def unparse(node: Any) -> dict[str, Any]:
    """The explicit dict a tree came from (``#document`` tests come back as a field)."""
    if isinstance(node, And):
        return {"$and": [unparse(child) for child in node.children]}
    if isinstance(node, Or):
        return {"$or": [unparse(child) for child in node.children]}
    if isinstance(node, DocText):
        return {"#document": {node.op: node.value}}
    assert isinstance(node, Compare)
    return {node.key: {node.op: node.value}}


def unparse_document(node: Any) -> dict[str, Any]:
    if isinstance(node, And):
        return {"$and": [unparse_document(child) for child in node.children]}
    if isinstance(node, Or):
        return {"$or": [unparse_document(child) for child in node.children]}
    assert isinstance(node, DocText)
    return {node.op: node.value}


def same_values(left: Any, right: Any) -> bool:
    """Equality that also tells ``1`` from ``1.0`` from ``True`` (types must match)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_values(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same_values, left, right))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


def rejection(call: Any, value: object) -> str | None:
    """The message of the ``InvalidArgumentError`` ``call(value)`` raises, or None."""
    try:
        call(value)
    except InvalidArgumentError as exc:
        return str(exc)
    return None


# --- the oracle ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroma_collection() -> Iterator[Any]:
    """A chromadb collection with a few records, to ask what chromadb accepts."""
    # the settings every test of this process uses: chromadb keeps one in-process system
    # and refuses a second with other settings
    client = chromadb.EphemeralClient(
        settings=chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False)
    )
    name = f"filters-{uuid.uuid4().hex[:12]}"
    collection = client.create_collection(name, embedding_function=None)
    collection.add(
        ids=["a", "b"],
        embeddings=np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32),
        documents=["hello world", "foo bar"],
        metadatas=[{"a": 1, "tag": "x", "l": [1, 2]}, {"price": 2.5, "tag": "y"}],
    )
    yield collection
    client.delete_collection(name)


def chroma_accepts_where(collection: Any, where: object) -> bool:
    try:
        collection.get(where=where, include=[])
    except (ValueError, TypeError, chromadb.errors.ChromaError):
        return False
    return True


def chroma_accepts_where_document(collection: Any, where_document: object) -> bool:
    try:
        collection.get(where_document=where_document, include=[])
    except (ValueError, TypeError, chromadb.errors.ChromaError):
        return False
    return True


ORACLE_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- where: properties --------------------------------------------------------------------


@given(valid_wheres())
def test_valid_where_is_accepted_and_returned_unchanged(where: dict[str, Any]) -> None:
    assert same_values(validate_where(where), where)


@given(valid_wheres())
def test_parse_where_round_trips_every_field_operator_and_value(where: dict[str, Any]) -> None:
    tree = parse_where(validate_where(where))
    assert same_values(unparse(tree), explicit(where))


@given(invalid_wheres())
def test_invalid_where_is_rejected_naming_the_path_of_the_mistake(
    case: tuple[object, str],
) -> None:
    where, path = case
    with pytest.raises(InvalidArgumentError) as info:
        validate_where(where)
    assert str(info.value).startswith(f"{path}: "), (str(info.value), path)


@ORACLE_SETTINGS
@given(st.one_of(valid_wheres(), invalid_wheres().map(lambda case: case[0])))
def test_where_accept_and_reject_decisions_match_chromadb(
    chroma_collection: Any, where: object
) -> None:
    ours = rejection(validate_where, where) is None
    assert ours == chroma_accepts_where(chroma_collection, where), where


# --- where: the rules, one by one ---------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "path", "fragment"),
    [
        ({}, "where", "exactly one field or $and/$or, got an empty dict"),
        ({"a": 1, "b": 2}, "where", "got 2 keys ('a', 'b'); combine conditions with"),
        ([{"a": 1}], "where", "expected a dict"),
        ({1: 2}, "where", "expected str keys, got 1 (int)"),
        ({"$and": []}, "where.$and", "at least two filters, got 0"),
        ({"$or": [{"a": 1}]}, "where.$or", "at least two filters, got 1"),
        ({"$and": ({"a": 1}, {"b": 1})}, "where.$and", "a list of at least two filters"),
        ({"$and": [{"a": 1}, 3]}, "where.$and[1]", "expected a dict"),
        ({"$contains": "x"}, "where.$contains", "is a field operator"),
        ({"$foo": 1}, "where.$foo", "field names cannot start with '$'"),
        ({"a": None}, "where.a", "got None (NoneType)"),
        ({"a": [1, 2]}, "where.a", "use {'$in': [...]}"),
        ({"a": b"x"}, "where.a", "got b'x' (bytes)"),
        ({"a": {}}, "where.a", "exactly one operator, got an empty dict"),
        ({"a": {"$gt": 1, "$lt": 3}}, "where.a", "exactly one operator, got 2"),
        ({"a": {"$regex": "x"}}, "where.a", "expected an operator among $eq, $ne"),
        ({"a": {"$and": [{"a": 1}, {"b": 2}]}}, "where.a", "$and/$or go above fields"),
        ({"a": {"$gt": "abc"}}, "where.a.$gt", "expected an int or float, got 'abc' (str)"),
        ({"a": {"$gte": True}}, "where.a.$gte", "expected an int or float, got True (bool)"),
        ({"a": {"$eq": [1]}}, "where.a.$eq", "expected a str, int, float or bool"),
        ({"a": {"$ne": None}}, "where.a.$ne", "got None"),
        ({"a": {"$in": 1}}, "where.a.$in", "a non-empty list"),
        ({"a": {"$in": ("x",)}}, "where.a.$in", "a non-empty list"),
        ({"a": {"$nin": []}}, "where.a.$nin", "a non-empty list"),
        ({"a": {"$in": [1, 2.0]}}, "where.a.$in[1]", "expected a int like the first element"),
        ({"a": {"$in": [1, True]}}, "where.a.$in[1]", "got True (bool)"),
        ({"a": {"$in": ["x", None]}}, "where.a.$in[1]", "got None"),
        ({"a": {"$in": [[1]]}}, "where.a.$in[0]", "got [1] (list)"),
        ({"a": {"$contains": [1]}}, "where.a.$contains", "got [1] (list)"),
        ({"a": float("nan")}, "where.a", "floats must be finite"),
        ({"a": {"$lt": float("inf")}}, "where.a.$lt", "floats must be finite"),
        ({"a": {"$in": [1.0, float("nan")]}}, "where.a.$in[1]", "floats must be finite"),
        ({"#document": {"$contains": 1}}, "where.#document.$contains", "expected a str"),
    ],
)
def test_where_rejections_name_the_path_and_what_was_expected(
    where: object, path: str, fragment: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_where(where)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert fragment in message, message


@pytest.mark.parametrize(
    "where",
    [
        {"a": True},
        {"a": {"$ne": True}},
        {"a": {"$in": [True, False]}},
        {"a": {"$contains": 1.5}},
        {"a": {"$not_contains": True}},
        {"": 1},
        {"#id": "x"},
        {"$and": [{"a": 1}, {"b": 2}, {"c": 3}]},
        {"$or": [{"a": 1}, {"$and": [{"b": 1}, {"c": {"$in": ["x", "x"]}}]}]},
        {"#document": {"$contains": ""}},
        {"a": -(2**63)},
    ],
)
def test_where_accepts_what_chromadb_accepts(chroma_collection: Any, where: object) -> None:
    assert validate_where(where) == where
    assert chroma_accepts_where(chroma_collection, where)


def test_where_with_a_custom_path_names_it() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^filter\.a\.\$gt: "):
        validate_where({"a": {"$gt": "x"}}, path="filter")


def test_where_turns_numpy_and_big_int_scalars_into_builtins() -> None:
    where = {"$and": [{"a": np.float64(1.5)}, {"b": {"$in": [np.str_("x"), "y"]}}, {"c": 2**64}]}
    checked = validate_where(where)
    assert same_values(checked, {"$and": [{"a": 1.5}, {"b": {"$in": ["x", "y"]}}, {"c": 2.0**64}]})


def test_where_rejects_numpy_ints_as_chromadb_does(chroma_collection: Any) -> None:
    where = {"a": np.int64(1)}
    assert rejection(validate_where, where) is not None
    assert not chroma_accepts_where(chroma_collection, where)


def test_where_rejects_very_deep_nesting_clearly() -> None:
    where: dict[str, Any] = {"a": 1}
    for _ in range(150):
        where = {"$and": [where, {"b": 1}]}
    with pytest.raises(InvalidArgumentError, match="nest at most 100 levels"):
        validate_where(where)


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"#document": 1}, "#document supports only {'$contains': str}"),
        ({"#document": "hello world"}, "#document supports only {'$contains': str}"),
        ({"#document": {"$in": ["x"]}}, "supports only $contains and $not_contains"),
        ({"#document": {"$ne": "x"}}, "supports only $contains and $not_contains"),
    ],
)
def test_where_document_field_takes_only_contains_a_deliberate_difference(
    where: object, fragment: str
) -> None:
    # chromadb accepts the int forms (they match nothing) and fails on the str forms at
    # query time; we refuse them all up front.
    with pytest.raises(InvalidArgumentError, match=re.escape(fragment)):
        validate_where(where)


def test_where_big_int_mixed_with_ints_in_a_list_is_rejected_a_deliberate_difference() -> None:
    # chromadb accepts [2**64, 1] but not [1, 2**64]; both mix a float (the big int) with ints.
    assert rejection(validate_where, {"a": {"$in": [2**64, 1]}}) is not None
    assert rejection(validate_where, {"a": {"$in": [1, 2**64]}}) is not None


# --- parse --------------------------------------------------------------------------------


def test_parse_where_expands_shorthand_and_keeps_logical_structure() -> None:
    tree = parse_where(
        validate_where(
            {
                "$and": [
                    {"cat": 3},
                    {"$or": [{"pct": {"$gt": 5}}, {"tags": {"$contains": "x"}}]},
                    {"#document": {"$not_contains": "spam"}},
                ]
            }
        )
    )
    assert tree == And(
        children=[
            Compare(key="cat", op="$eq", value=3),
            Or(
                children=[
                    Compare(key="pct", op="$gt", value=5),
                    Compare(key="tags", op="$contains", value="x"),
                ]
            ),
            DocText(op="$not_contains", value="spam"),
        ]
    )


def test_parse_where_reads_several_top_level_keys_as_and() -> None:
    assert parse_where({"a": 1, "b": {"$in": [1, 2]}}) == And(
        children=[
            Compare(key="a", op="$eq", value=1),
            Compare(key="b", op="$in", value=[1, 2]),
        ]
    )


# --- where_document -----------------------------------------------------------------------


@given(valid_where_documents())
def test_valid_where_document_round_trips_through_the_tree(wd: dict[str, Any]) -> None:
    checked = validate_where_document(wd)
    assert checked == wd
    assert unparse_document(parse_where_document(checked)) == wd


@given(invalid_where_documents())
def test_invalid_where_document_is_rejected_naming_the_path(case: tuple[object, str]) -> None:
    wd, path = case
    with pytest.raises(InvalidArgumentError) as info:
        validate_where_document(wd)
    assert str(info.value).startswith(f"{path}: "), (str(info.value), path)


@ORACLE_SETTINGS
@given(st.one_of(valid_where_documents(), invalid_where_documents().map(lambda case: case[0])))
def test_where_document_accept_and_reject_decisions_match_chromadb(
    chroma_collection: Any, wd: object
) -> None:
    ours = rejection(validate_where_document, wd) is None
    assert ours == chroma_accepts_where_document(chroma_collection, wd), wd


# Patterns both engines read the same way, or both refuse.
SHARED_PATTERNS = [
    "hello",
    "^H",
    "(?i)HELLO",
    r"\bfoo\b",
    r"\d+",
    "[]a]",
    "[^]a]",
    r"[\[a]",
    "[a||b]",
    "a|b",
    "(?P<name>o+)",
    "(?s).",
    "(?m)^f",
    r"\x41",
    "a{2,}",
    "[",
    "(",
    "a{3,1}",
    "(?=x)",
    "(?!x)",
    "(?<=h)e",
    "(?<!h)e",
    r"(a)\1",
    r"(?P<n>a)(?P=n)",
    "(?>a)",
    r"\h",
    r"a\Z",
    "a{,3}",
    r"\N{LATIN SMALL LETTER A}",
    "(?a)x",
]


@pytest.mark.parametrize("pattern", SHARED_PATTERNS)
def test_regex_accept_and_reject_decisions_match_chromadb(
    chroma_collection: Any, pattern: str
) -> None:
    ours = rejection(validate_where_document, {"$regex": pattern}) is None
    assert ours == chroma_accepts_where_document(chroma_collection, {"$regex": pattern})


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("[[:alpha:]]", "POSIX classes"),
        ("[a[bc]]", "nested class"),
        ("[a--b]", "'--' inside a class is a set operation"),
        ("[a&&b]", "'&&' inside a class"),
        (r"\p{L}", "bad escape"),
        ("a**", "multiple repeat"),
        ("a*+", "possessive repeats"),
        ("(?<n>a)", "unknown extension"),
    ],
)
def test_regex_chromadb_reads_differently_from_python_is_rejected_a_deliberate_difference(
    pattern: str, fragment: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_where_document({"$and": [{"$contains": "x"}, {"$regex": pattern}]})
    message = str(info.value)
    assert message.startswith("where_document.$and[1].$regex: invalid regular expression")
    assert repr(pattern) in message
    assert fragment in message


def test_compile_regex_escapes_a_pipe_inside_a_class_and_matches_like_chroma() -> None:
    compiled = compile_regex("[a||b]")
    assert compiled.search("x|y") is not None
    assert compiled.search("xyz") is None


def test_compile_regex_is_cached() -> None:
    assert compile_regex(r"\bcached\b") is compile_regex(r"\bcached\b")


@pytest.mark.parametrize(
    ("wd", "path", "fragment"),
    [
        ({}, "where_document", "exactly one operator, got an empty dict"),
        ({"$contains": "a", "$regex": "b"}, "where_document", "got 2 ('$contains', '$regex')"),
        ({"$in": ["x"]}, "where_document", "expected an operator among $contains"),
        ({"$contains": ""}, "where_document.$contains", "a non-empty str, got ''"),
        ({"$contains": None}, "where_document.$contains", "got None"),
        ({"$and": [{"$contains": "a"}]}, "where_document.$and", "at least two"),
        ({"$regex": "["}, "where_document.$regex", "'[': unterminated character set"),
    ],
)
def test_where_document_rejections_name_the_path(wd: object, path: str, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_where_document(wd)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert fragment in message, message
