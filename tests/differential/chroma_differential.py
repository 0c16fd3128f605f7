"""Differential testing against chromadb: the same random program, run twice, compared.

A *program* is a list of operations (hypothesis draws it, :func:`programs`) on a few
collections: creating, fetching, listing, renaming and deleting collections, and add,
upsert, update, delete, get, peek, query and count on their records, with random spaces,
metadata (scalars and arrays), documents, ``where`` / ``where_document`` filters, ``include``
lists, limits and offsets. :func:`run_program` applies each operation to
``chromadb.EphemeralClient()`` (the oracle, synchronous, so always in a worker thread to keep
the event loop free) and to one of our clients, and compares every result and every error.

Agreement rules, in one place (:func:`errors_agree`, :func:`assert_query_rows_agree`):

- Errors agree when ours is an instance of the oracle's class or of one of ours with the
  same name (``chromadb.errors.NotFoundError`` ↔ ``chroma_async.NotFoundError``). Where
  chromadb raises a builtin other than ``ValueError`` for bad input (``TypeError``,
  ``OverflowError``) ours raises ``InvalidArgumentError``; where it raises ``InternalError``
  for a name that already exists ours raises ``UniqueConstraintError``. Both are deliberate.
- Embeddings are compared with a float tolerance: chromadb returns float64 here, ours float32.
- Query results are compared by distance (relative tolerance). Records whose distances tie
  may come in either order, so ids are compared as sets within each group of tied
  distances; in the last group of a result cut at ``n_results`` either side may have kept
  different members of the tie.

Where chromadb's answer is a defect or an artefact of its storage, not Chroma's contract,
the difference is tolerated, narrowly, and listed here:

- ``query(ids=[...])`` naming an id that does not exist raises
  ``InternalError("... Error finding id")`` in chromadb, where ``get`` skips such ids. A
  query's ``ids`` are therefore narrowed, on both sides, to those that exist in the oracle
  (and the query is skipped when none do); should that error still occur, it is not
  compared.
- chromadb keeps a record's uri inside its metadata, so a record with a uri and no
  metadata comes back with ``{}`` where one without a uri comes back with ``None``. ``{}``
  from chromadb is taken to mean "no metadata" (``{}`` can never be written, so it means
  nothing else).

- chromadb does not treat ``update`` of an id that does not exist as a no-op: once its log
  is compacted, the update's embedding is applied to a record of that id added later
  (``update(ids=["x"], embeddings=[[1, 1]])``, ``add(ids=["x"], embeddings=[[2, 2]])``,
  ``count()``, ``add(ids=["y"], ...)``: ``get`` returns x's embedding as ``[1, 1]``). So
  an ``update`` is sent, to both sides, only for the ids that exist in the oracle at that
  moment (the conformance suite checks that ours ignores missing ids).

The oracle's known defect (chromadb 1.5.9, in-process and server alike): after
``delete_collection``, the array-valued metadata of the deleted collection's records is
attached to records added later, in any collection and any tenant. ``reset()`` clears that
state. So the oracle is reset before every program (which also protects us from deletions
made by other test modules in this process), and a program deletes a collection only if no
array-valued metadata was ever written to it — otherwise the deletion is skipped on both
sides. Our transports are checked not to have the defect by the conformance suite.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import chromadb
import chromadb.errors
import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

import chroma_async

# --- budget ---------------------------------------------------------------------------------

# ``ci`` (the default) runs a fixed, derandomized set of programs and does not shrink: shrinking
# these programs can take minutes, beyond the test timeout; the failing program is printed as
# found. ``thorough`` (CHROMA_ASYNC_DIFFERENTIAL=thorough) runs many random programs and shrinks.
# The blocking guard (tests/conftest.py) is function-scoped and stays active for every example
# of a test: that is why the function_scoped_fixture health check is suppressed.
_PROFILES = {
    "ci": settings(
        max_examples=120,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ),
    "thorough": settings(
        max_examples=1000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ),
}
DIFFERENTIAL_SETTINGS = _PROFILES[os.environ.get("CHROMA_ASYNC_DIFFERENTIAL", "ci")]

# --- the program ---------------------------------------------------------------------------

COLLECTION_NAMES = ("col-alpha", "col-beta", "col-gamma")
ID_POOL = tuple(f"id{i}" for i in range(16))
METADATA_KEYS = ("k", "n", "tags", "nums", "s")
WORDS = ("alpha", "beta", "gamma", "delta", "apple pie", "x")
REGEXES = ("^a", "a$", "[xy]", "p.e", "gam+a", "^(alpha|beta)")
SPACES = ("l2", "cosine", "ip")
INCLUDE_FIELDS = ("documents", "embeddings", "metadatas", "uris")


@dataclass(frozen=True)
class Op:
    """One call: ``target`` is a collection name or None for a client call."""

    method: str
    target: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        where = f"[{self.target}]" if self.target else ""
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items())
        return f"{self.method}{where}({args})"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.tolist()}"
    return repr(value)


@dataclass(frozen=True)
class Program:
    dim: int
    ops: list[Op]


scalars = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 2.5]),
    st.sampled_from(["x", "y", "z"]),
    st.booleans(),
)


def _lists_of_one_type() -> st.SearchStrategy[list[Any]]:
    return st.one_of(
        st.lists(st.integers(-3, 3), min_size=1, max_size=3),
        st.lists(st.sampled_from([0.5, -1.5, 2.0]), min_size=1, max_size=3),
        st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3),
        st.lists(st.booleans(), min_size=1, max_size=2),
    )


metadata_values = st.one_of(scalars, _lists_of_one_type())


def metadatas(*, allow_none_values: bool) -> st.SearchStrategy[dict[str, Any] | None]:
    values = st.one_of(metadata_values, st.none()) if allow_none_values else metadata_values
    return st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(METADATA_KEYS), values, min_size=1, max_size=3),
    )


documents = st.one_of(
    st.none(),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
)


def vectors(dim: int) -> st.SearchStrategy[list[float]]:
    def nonzero(values: list[float]) -> list[float]:
        # cosine distance is undefined for the zero vector; keep every vector clear of it
        if math.sqrt(sum(v * v for v in values)) < 0.25:
            return [values[0] + 1.0, *values[1:]]
        return values

    coordinate = st.floats(-4, 4, allow_nan=False, width=32)
    return st.lists(coordinate, min_size=dim, max_size=dim).map(nonzero)


def _mostly(
    usual: st.SearchStrategy[dict[str, Any]], rare: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """``usual`` 14 draws in 15, else ``rare``."""
    return sometimes(1, 15).flatmap(lambda rarely: rare if rarely else usual)


def where_clauses() -> st.SearchStrategy[dict[str, Any]]:
    key = st.sampled_from(METADATA_KEYS)
    numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]))
    leaf = st.one_of(
        st.builds(lambda k, v: {k: v}, key, scalars),
        st.builds(lambda k, op, v: {k: {op: v}}, key, st.sampled_from(["$eq", "$ne"]), scalars),
        st.builds(
            lambda k, op, v: {k: {op: v}},
            key,
            st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
            numbers,
        ),
        st.builds(
            lambda k, op, v: {k: {op: v}},
            key,
            st.sampled_from(["$in", "$nin"]),
            _lists_of_one_type(),
        ),
        st.builds(
            lambda k, op, v: {k: {op: v}},
            key,
            st.sampled_from(["$contains", "$not_contains"]),
            scalars,
        ),
    )
    # now and then a malformed clause: both sides must reject it with agreeing errors
    malformed = st.sampled_from(
        [
            {"n": {"$gt": "x"}},
            {"n": {"$gte": True}},
            {"n": {"$in": []}},
            {"n": {"$in": [1, "x"]}},
            {"n": {"$nin": 2}},
            {"n": {"$eq": None}},
            {"n": {"$bad": 1}},
            {"$and": [{"n": 1}]},
            {"$or": []},
            {"n": 1, "s": "x"},
            {},
        ]
    )
    clauses = st.recursive(
        leaf,
        lambda children: st.builds(
            lambda op, items: {op: items},
            st.sampled_from(["$and", "$or"]),
            st.lists(children, min_size=2, max_size=3),
        ),
        max_leaves=4,
    )
    return _mostly(clauses, malformed)


def where_document_clauses() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(
        st.builds(
            lambda op, v: {op: v},
            st.sampled_from(["$contains", "$not_contains"]),
            st.sampled_from([*WORDS, "a", "pie", "ta"]),
        ),
        st.builds(
            lambda op, v: {op: v},
            st.sampled_from(["$regex", "$not_regex"]),
            st.sampled_from(REGEXES),
        ),
    )
    malformed = st.sampled_from(
        [{"$contains": ""}, {"$contains": 3}, {"$regex": "("}, {"$bad": "x"}, {"$and": []}, {}]
    )
    clauses = st.recursive(
        leaf,
        lambda children: st.builds(
            lambda op, items: {op: items},
            st.sampled_from(["$and", "$or"]),
            st.lists(children, min_size=2, max_size=3),
        ),
        max_leaves=3,
    )
    return _mostly(clauses, malformed)


def includes(*, query: bool) -> st.SearchStrategy[list[str]]:
    fields = (*INCLUDE_FIELDS, "distances") if query else INCLUDE_FIELDS
    return st.lists(st.sampled_from(fields), unique=True, max_size=len(fields))


def sometimes(times: int, out_of: int) -> st.SearchStrategy[bool]:
    """True ``times`` in ``out_of`` draws (hypothesis favours small integers, not these)."""
    return st.sampled_from([False] * (out_of - times) + [True] * times)


@st.composite
def record_batch(
    draw: st.DrawFn, dim: int, *, allow_none_values: bool, embeddings_required: bool
) -> dict[str, Any]:
    """ids with per-record columns; now and then a duplicate id or a wrong dimension."""
    ids = draw(st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=6, unique=True))
    if draw(sometimes(1, 20)):
        ids = [*ids, ids[0]]  # DuplicateIDError on both sides
    count = len(ids)
    kwargs: dict[str, Any] = {"ids": ids}
    with_documents = draw(st.booleans())
    # Documents without embeddings make chromadb call its default embedding function,
    # which downloads a model: always send embeddings with documents.
    if embeddings_required or with_documents or draw(st.booleans()):
        width = dim + 1 if draw(sometimes(1, 25)) else dim
        rows = draw(st.lists(vectors(width), min_size=count, max_size=count))
        kwargs["embeddings"] = rows if draw(st.booleans()) else np.asarray(rows, dtype=np.float64)
    if draw(st.booleans()):
        kwargs["metadatas"] = draw(
            st.lists(metadatas(allow_none_values=allow_none_values), min_size=count, max_size=count)
        )
    if with_documents:
        kwargs["documents"] = draw(st.lists(documents, min_size=count, max_size=count))
    if draw(sometimes(1, 4)):
        uris = st.one_of(st.none(), st.sampled_from(["file:///a", "s3://b/c"]))
        kwargs["uris"] = draw(st.lists(uris, min_size=count, max_size=count))
    return kwargs


@st.composite
def selectors(draw: st.DrawFn) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if draw(sometimes(1, 4)):
        kwargs["ids"] = draw(
            st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=4, unique=True)
        )
    if draw(st.booleans()):
        kwargs["where"] = draw(where_clauses())
    if draw(sometimes(1, 3)):
        kwargs["where_document"] = draw(where_document_clauses())
    return kwargs


@st.composite
def operations(draw: st.DrawFn, dim: int) -> Op:
    # mostly the collection every program starts with, so that records accumulate
    name = draw(st.sampled_from([COLLECTION_NAMES[0]] * 6 + list(COLLECTION_NAMES[1:])))
    kind = draw(
        st.sampled_from(
            ["add"] * 4
            + ["upsert"] * 2
            + ["update"] * 2
            + ["delete", "count", "peek", "modify", "get_collection", "create_collection"]
            + ["list_collections", "delete_collection", "reopen"]
            + ["get"] * 4
            + ["query"] * 4
        )
    )
    if kind == "add":
        return Op(
            "add", name, draw(record_batch(dim, allow_none_values=False, embeddings_required=True))
        )
    if kind == "upsert":
        return Op(
            "upsert",
            name,
            draw(record_batch(dim, allow_none_values=True, embeddings_required=True)),
        )
    if kind == "update":
        return Op(
            "update",
            name,
            draw(record_batch(dim, allow_none_values=True, embeddings_required=False)),
        )
    if kind == "delete":
        return Op("delete", name, draw(selectors()))
    if kind == "count":
        return Op("count", name)
    if kind == "peek":
        return Op("peek", name, {"limit": draw(st.integers(1, 12))})
    if kind == "get":
        kwargs = draw(selectors())
        if draw(st.booleans()):
            kwargs["include"] = draw(includes(query=False))
        if draw(st.booleans()):
            kwargs["limit"] = draw(st.integers(0, 6))
        if draw(st.booleans()):
            kwargs["offset"] = draw(st.integers(0, 6))
        return Op("get", name, kwargs)
    if kind == "query":
        kwargs = draw(selectors())
        queries = draw(st.lists(vectors(dim), min_size=1, max_size=2))
        kwargs["query_embeddings"] = queries
        kwargs["n_results"] = draw(st.integers(1, 12))
        if draw(st.booleans()):
            kwargs["include"] = draw(includes(query=True))
        return Op("query", name, kwargs)
    if kind == "modify":
        kwargs = {}
        if draw(st.booleans()):
            kwargs["name"] = draw(st.sampled_from(COLLECTION_NAMES))
        if draw(st.booleans()):
            kwargs["metadata"] = draw(
                st.dictionaries(st.sampled_from(METADATA_KEYS), scalars, min_size=1, max_size=2)
            )
        return Op("modify", name, kwargs)
    if kind == "get_collection":
        return Op("get_collection", None, {"name": name})
    if kind == "create_collection":
        return Op("create_collection", None, draw(collection_arguments(name)))
    if kind == "list_collections":
        return Op("list_collections", None)
    if kind == "reopen":
        return Op("reopen", None)
    return Op("delete_collection", None, {"name": name})


@st.composite
def collection_arguments(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        kwargs["configuration"] = {"hnsw": {"space": draw(st.sampled_from(SPACES))}}
    if draw(st.booleans()):
        kwargs["metadata"] = draw(
            st.dictionaries(st.sampled_from(METADATA_KEYS), scalars, min_size=1, max_size=2)
        )
    if draw(st.booleans()):
        kwargs["get_or_create"] = True
    return kwargs


@st.composite
def programs(draw: st.DrawFn, max_ops: int = 25) -> Program:
    dim = draw(st.integers(2, 4))
    first = draw(collection_arguments(COLLECTION_NAMES[0]))
    ops = [Op("create_collection", None, first)]
    ops += draw(st.lists(operations(dim), min_size=4, max_size=max_ops))
    return Program(dim=dim, ops=ops)


# --- comparison ----------------------------------------------------------------------------


def oracle_defect(theirs: BaseException) -> bool:
    """chromadb errors that are its defects, not Chroma's contract (module docstring)."""
    return isinstance(theirs, chromadb.errors.InternalError) and "Error finding id" in str(theirs)


def _same_name_in(ours: BaseException, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(ours).__mro__)


def errors_agree(theirs: BaseException, ours: BaseException) -> bool:
    """Whether our error is the one chromadb's error stands for (see the module docstring)."""
    if isinstance(ours, type(theirs)) or _same_name_in(ours, type(theirs).__name__):
        return True
    if isinstance(theirs, (TypeError, OverflowError)):
        return isinstance(ours, chroma_async.InvalidArgumentError)
    if isinstance(theirs, chromadb.errors.InternalError) and re.search(
        r"already exists|UNIQUE constraint", str(theirs)
    ):
        return isinstance(ours, chroma_async.UniqueConstraintError)
    return False


def assert_metadatas_equal(theirs: Any, ours: Any, where: str) -> None:
    """Metadata lists compared strictly, chromadb's ``{}`` standing for ``None``."""
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        theirs = [None if m == {} else m for m in theirs]
    assert_strictly_equal(theirs, ours, where)


def assert_strictly_equal(theirs: Any, ours: Any, where: str) -> None:
    """Equality that also tells bool from int and int from float, recursively."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: {ours!r} is not a dict like {theirs!r}"
        assert set(theirs) == set(ours), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
        for key in theirs:
            assert_strictly_equal(theirs[key], ours[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list like {theirs!r}"
        assert len(theirs) == len(ours), f"{where}: {ours!r} != {theirs!r}"
        for i, (a, b) in enumerate(zip(theirs, ours, strict=True)):
            assert_strictly_equal(a, b, f"{where}[{i}]")
    else:
        assert type(ours) is type(theirs), f"{where}: {ours!r} != {theirs!r} (type)"
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def assert_embeddings_close(theirs: Any, ours: Any, where: str) -> None:
    if theirs is None:
        assert ours is None, f"{where}: expected None, got {ours!r}"
        return
    assert isinstance(ours, np.ndarray), f"{where}: expected a numpy array, got {type(ours)}"
    expected = np.asarray(theirs, dtype=np.float64)
    if expected.size == 0:
        assert ours.size == 0, f"{where}: expected no embeddings, got {ours!r}"
        return
    assert ours.shape == expected.shape, f"{where}: shape {ours.shape} != {expected.shape}"
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6, err_msg=where)


def assert_get_results_agree(theirs: dict[str, Any], ours: dict[str, Any], where: str) -> None:
    assert set(ours) == set(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
    assert ours["ids"] == theirs["ids"], f"{where}: ids {ours['ids']} != {theirs['ids']}"
    assert list(ours["included"]) == list(theirs["included"]), f"{where}: included"
    assert_metadatas_equal(theirs["metadatas"], ours["metadatas"], f"{where}.metadatas")
    for key in ("documents", "uris", "data"):
        assert_strictly_equal(theirs[key], ours[key], f"{where}.{key}")
    assert_embeddings_close(theirs["embeddings"], ours["embeddings"], f"{where}.embeddings")


def _tie_groups(distances: list[float]) -> list[list[int]]:
    """Positions grouped by distances equal within tolerance (the list is sorted)."""
    groups: list[list[int]] = []
    for i, d in enumerate(distances):
        if groups and math.isclose(d, distances[groups[-1][-1]], rel_tol=1e-4, abs_tol=1e-4):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def assert_query_rows_agree(
    theirs: dict[str, Any],
    ours: dict[str, Any],
    row: int,
    n_results: int,
    where: str,
    extended_distances: list[float],
) -> None:
    """One query's results: distances equal, ids equal up to the order of tied records.

    ``extended_distances`` are chromadb's distances for the same query with one more
    result: they decide which records tie, and whether the last ones tie with a record
    just past ``n_results`` (then either side may have kept either).
    """
    t_ids, o_ids = theirs["ids"][row], ours["ids"][row]
    assert len(o_ids) == len(t_ids), f"{where}: ids {o_ids} != {t_ids}"
    t_dist = theirs["distances"][row] if theirs["distances"] is not None else None
    if t_dist is not None:
        o_dist = ours["distances"][row]
        np.testing.assert_allclose(
            o_dist, t_dist, rtol=1e-4, atol=1e-4, err_msg=f"{where}: distances"
        )
    groups = _tie_groups(extended_distances[: len(t_ids)])
    tie_at_cut = len(extended_distances) > n_results and math.isclose(
        extended_distances[n_results], extended_distances[n_results - 1], rel_tol=1e-4, abs_tol=1e-4
    )
    for g, positions in enumerate(groups):
        t_set = {t_ids[i] for i in positions}
        o_set = {o_ids[i] for i in positions}
        if tie_at_cut and g == len(groups) - 1:
            continue  # either side may keep any of the records tied at the cut
        assert o_set == t_set, f"{where}: ids {o_ids} != {t_ids} (distances {t_dist})"
    # per record fields, for every record both sides returned
    for key in ("metadatas", "documents", "uris"):
        if theirs[key] is None:
            assert ours[key] is None, f"{where}.{key}: expected None"
            continue
        t_by_id = dict(zip(t_ids, theirs[key][row], strict=True))
        o_by_id = dict(zip(o_ids, ours[key][row], strict=True))
        for record in set(t_by_id) & set(o_by_id):
            expected = None if key == "metadatas" and t_by_id[record] == {} else t_by_id[record]
            assert_strictly_equal(expected, o_by_id[record], f"{where}.{key}[{record}]")
    if theirs["embeddings"] is None:
        assert ours["embeddings"] is None, f"{where}.embeddings: expected None"
    else:
        t_rows = dict(zip(t_ids, list(theirs["embeddings"][row]), strict=True))
        o_rows = dict(zip(o_ids, list(ours["embeddings"][row]), strict=True))
        for record in set(t_rows) & set(o_rows):
            assert_embeddings_close(t_rows[record], o_rows[record], f"{where}.embeddings[{record}]")


def assert_query_results_agree(
    theirs: dict[str, Any],
    ours: dict[str, Any],
    n_results: int,
    where: str,
    extended_distances: list[list[float]],
) -> None:
    assert set(ours) == set(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
    assert list(ours["included"]) == list(theirs["included"]), f"{where}: included"
    assert len(ours["ids"]) == len(theirs["ids"]), f"{where}: one list per query"
    for key in ("distances", "embeddings", "metadatas", "documents", "uris"):
        assert (ours[key] is None) == (theirs[key] is None), f"{where}: {key} presence"
    for row in range(len(theirs["ids"])):
        assert_query_rows_agree(
            theirs, ours, row, n_results, f"{where}[{row}]", extended_distances[row]
        )


def _describe_collection(collection: Any) -> dict[str, Any]:
    hnsw = collection.configuration["hnsw"]
    return {
        "name": collection.name,
        "metadata": collection.metadata,
        "hnsw": {k: hnsw[k] for k in ("space", "ef_construction", "ef_search", "max_neighbors")},
    }


# --- running a program ---------------------------------------------------------------------


def new_oracle() -> Any:
    """chromadb's in-process client, resettable (it is a process-wide singleton)."""
    return chromadb.EphemeralClient(
        settings=chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False)
    )


@dataclass
class _Pair:
    theirs: Any
    ours: chroma_async.AsyncCollection
    had_arrays: bool = False


def _writes_arrays(op: Op) -> bool:
    rows = op.kwargs.get("metadatas") or []
    return any(isinstance(v, list) for row in rows if row for v in row.values())


OpenClient = Callable[[], Awaitable[chroma_async.AsyncClient]]
"""Opens a client of ours on one store; called again, opens that same store again."""


async def run_program(
    program: Program, oracle: Any, new_store: Callable[[], OpenClient], *, reopenable: bool
) -> None:
    """Reset the oracle, then apply ``program`` to it and to a new, empty store of ours.

    ``new_store()`` makes the store and returns the callable that opens a client on it.
    With ``reopenable`` (transports whose data outlives a client) a ``reopen`` operation
    closes our client and opens a new one on the same store; otherwise it does nothing.
    """
    await anyio.to_thread.run_sync(oracle.reset)
    open_client = new_store()
    ours = await open_client()
    try:
        pairs: dict[str, _Pair] = {}
        for step, op in enumerate(program.ops):
            where = f"step {step}: {op!r}"
            if op.method == "reopen":
                if reopenable:
                    await ours.close()
                    ours = await open_client()
                    for name, pair in pairs.items():
                        pair.ours = await ours.get_collection(name)
                        _adopt(pairs, name, pair.theirs, pair.ours, where)
                continue
            await _run_op(op, oracle, ours, pairs, where)
        await _compare_final_state(oracle, ours, pairs)
    finally:
        await ours.close()


async def _call_both(
    theirs: Callable[[], Any], ours: Callable[[], Awaitable[Any]], where: str
) -> tuple[Any, Any] | None:
    """Both results, or None when both raised errors that agree."""
    their_error: Exception | None = None
    our_error: Exception | None = None
    their_result = our_result = None
    try:
        their_result = await anyio.to_thread.run_sync(theirs)
    except Exception as exc:  # any error of the oracle is a result to compare
        their_error = exc
    try:
        our_result = await ours()
    except Exception as exc:
        our_error = exc
    if their_error is None and our_error is None:
        return their_result, our_result
    if their_error is not None and oracle_defect(their_error):
        return None
    if their_error is not None and our_error is not None:
        assert errors_agree(their_error, our_error), (
            f"{where}: chromadb raised {type(their_error).__name__}({their_error}), "
            f"we raised {type(our_error).__name__}({our_error})"
        )
        return None
    if our_error is not None:
        raise AssertionError(f"{where}: chromadb succeeded, we raised {our_error!r}") from our_error
    raise AssertionError(
        f"{where}: chromadb raised {their_error!r}, we returned {our_result!r}"
    ) from their_error


async def _run_op(
    op: Op, oracle: Any, ours: chroma_async.AsyncClient, pairs: dict[str, _Pair], where: str
) -> None:
    kwargs = op.kwargs
    if op.method == "create_collection":
        results = await _call_both(
            lambda: oracle.create_collection(**kwargs, embedding_function=None),
            lambda: ours.create_collection(**kwargs),
            where,
        )
        if results is not None:
            _adopt(pairs, kwargs["name"], *results, where)
        return
    if op.method == "get_collection":
        results = await _call_both(
            lambda: oracle.get_collection(kwargs["name"], embedding_function=None),
            lambda: ours.get_collection(kwargs["name"]),
            where,
        )
        if results is not None:
            _adopt(pairs, kwargs["name"], *results, where)
        return
    if op.method == "list_collections":
        results = await _call_both(oracle.list_collections, ours.list_collections, where)
        assert results is not None
        # chromadb does not define the order of list_collections: compare as sets
        theirs = sorted((_describe_collection(c) for c in results[0]), key=lambda d: d["name"])
        mine = sorted((_describe_collection(c) for c in results[1]), key=lambda d: d["name"])
        assert_strictly_equal(theirs, mine, where)
        counts = await _call_both(oracle.count_collections, ours.count_collections, where)
        assert counts is not None
        assert counts[0] == counts[1], f"{where}: count_collections {counts[1]} != {counts[0]}"
        return
    if op.method == "delete_collection":
        pair = pairs.get(kwargs["name"])
        if pair is not None and pair.had_arrays:
            return  # the oracle's defect (module docstring): skipped on both sides
        results = await _call_both(
            lambda: oracle.delete_collection(kwargs["name"]),
            lambda: ours.delete_collection(kwargs["name"]),
            where,
        )
        pairs.pop(kwargs["name"], None)
        return

    assert op.target is not None
    pair = pairs.get(op.target)
    if pair is None:
        return  # no handle for this name yet: nothing to call
    method = op.method
    if method == "modify":
        results = await _call_both(
            lambda: pair.theirs.modify(**kwargs), lambda: pair.ours.modify(**kwargs), where
        )
        if results is not None:
            assert_strictly_equal(
                _describe_collection(pair.theirs), _describe_collection(pair.ours), where
            )
            if "name" in kwargs and kwargs["name"] != op.target:
                pairs[kwargs["name"]] = pairs.pop(op.target)
        return
    if method in ("add", "upsert", "update") and _writes_arrays(op):
        pair.had_arrays = True
    if method == "update":
        restricted = await _only_existing_ids(pair.theirs, kwargs)
        if restricted is None:
            return
        kwargs = restricted
    if method == "query" and "ids" in kwargs:
        existing = await _existing_ids(pair.theirs, kwargs["ids"])
        if existing is not None:
            if not existing:
                return
            kwargs = {**kwargs, "ids": existing}
    results = await _call_both(
        lambda: getattr(pair.theirs, method)(**kwargs),
        lambda: getattr(pair.ours, method)(**kwargs),
        where,
    )
    if results is None:
        return
    theirs, mine = results
    if method in ("get", "peek"):
        assert_get_results_agree(theirs, mine, where)
    elif method == "query":
        # Ask the oracle for one more result, with distances: they tell which records tie,
        # also when the query did not include distances, and whether a tie crosses the cut.
        n_results = kwargs["n_results"]
        extended = await anyio.to_thread.run_sync(
            lambda: pair.theirs.query(
                **{**kwargs, "n_results": n_results + 1, "include": ["distances"]}
            )
        )
        assert_query_results_agree(theirs, mine, n_results, where, extended["distances"])
    elif method == "count":
        assert theirs == mine, f"{where}: count {mine} != {theirs}"


async def _existing_ids(collection: Any, ids: list[str]) -> list[str] | None:
    """Those of ``ids`` that exist in the oracle, in order; None if it cannot tell."""
    try:
        found = await anyio.to_thread.run_sync(
            lambda: set(collection.get(ids=sorted(set(ids)), include=[])["ids"])
        )
    except Exception:  # the operation itself will fail on both sides: compare that
        return None
    return [record for record in ids if record in found]


async def _only_existing_ids(collection: Any, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``kwargs`` of an update keeping the rows whose id exists in the oracle (docstring)."""
    ids = kwargs["ids"]
    existing = await _existing_ids(collection, ids)
    if existing is None:
        return kwargs
    keep = [i for i, record in enumerate(ids) if record in set(existing)]
    if not keep:
        return None
    restricted: dict[str, Any] = {}
    for key, column in kwargs.items():
        if isinstance(column, np.ndarray):
            restricted[key] = column[keep]
        elif isinstance(column, list):
            restricted[key] = [column[i] for i in keep]
        else:
            restricted[key] = column
    return restricted


def _adopt(pairs: dict[str, _Pair], name: str, theirs: Any, ours: Any, where: str) -> None:
    assert_strictly_equal(_describe_collection(theirs), _describe_collection(ours), where)
    previous = pairs.get(name)
    pairs[name] = _Pair(theirs, ours, had_arrays=previous.had_arrays if previous else False)


async def _compare_final_state(
    oracle: Any, ours: chroma_async.AsyncClient, pairs: dict[str, _Pair]
) -> None:
    """Every record of every collection, with every field, at the end of the program."""
    include = ["documents", "embeddings", "metadatas", "uris"]
    for name, pair in pairs.items():
        results = await _call_both(
            lambda p=pair: p.theirs.get(include=include),
            lambda p=pair: p.ours.get(include=include),
            f"final state of {name}",
        )
        if results is not None:
            assert_get_results_agree(results[0], results[1], f"final state of {name}")
