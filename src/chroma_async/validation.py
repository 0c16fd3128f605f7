"""Validation and normalisation of everything a user passes in, written once for all transports.

Every function either returns the value in the form the transports rely on (see
:mod:`chroma_async.operations`) or raises :class:`~chroma_async.errors.InvalidArgumentError`
(:class:`~chroma_async.errors.DuplicateIDError` for repeated ids) with a message that names
the operation, where the bad value was, the value, and what was expected::

    add: metadatas[3]['price']: expected a finite float, got nan (float)

The rules are chromadb 1.5.9's, found by asking it (its Python checks *and* what its Rust
core rejects afterwards). Deliberate differences, each stricter than chromadb where chromadb
would store something it cannot give back, or clearer where chromadb fails obscurely:

- metadata floats must be finite: chromadb stores NaN/inf scalars as a record whose whole
  metadata reads back ``None``, and NaN/inf inside a list breaks its log;
- metadata ints must fit in 64 bits: chromadb silently turns larger ones into floats;
- metadata keys starting with ``chroma:`` are reserved: chromadb accepts and then drops them;
- collection metadata values cannot be lists: chromadb accepts them and then panics;
- ``n_results``, ``limit``, ``offset`` reject ``bool``; chromadb takes ``True`` as 1;
- ``include`` may be a tuple, repeated names are dropped, and ``"data"`` is rejected because
  chroma-async has no data loaders;
- embeddings may be tuples and numpy arrays of any int dtype (chromadb only takes int32/int64);
  strings inside embedding lists are refused (chromadb converts ``"2"`` to 2.0); a bool mixed
  into a list of numbers is taken as 0/1 (chromadb too, unless it comes first);
- metadata values may be numpy scalars (``np.int64``, ``np.bool_``), stored as builtins;
  ``metadatas`` may be a tuple (chromadb fails on one).

The hot paths (ids, embeddings, metadata) avoid per-element Python work where they can:
numpy input is checked with one vectorised pass, and metadata is checked with a tight loop
that remembers keys it has already accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from chroma_async.errors import DuplicateIDError, InvalidArgumentError
from chroma_async.types import Metadata

__all__ = [
    "DEFAULT_GET_INCLUDE",
    "DEFAULT_QUERY_INCLUDE",
    "MAX_U32",
    "describe",
    "normalize_embeddings",
    "validate_collection_metadata",
    "validate_collection_name",
    "validate_database_name",
    "validate_documents",
    "validate_ids",
    "validate_include",
    "validate_limit",
    "validate_metadata",
    "validate_metadatas",
    "validate_n_results",
    "validate_offset",
    "validate_tenant_name",
    "validate_uris",
]

Float32Array = npt.NDArray[np.float32]

MAX_U32 = 2**32 - 1
"""The largest ``n_results`` / ``limit`` / ``offset`` Chroma accepts (its Rust core uses u32)."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)

DEFAULT_GET_INCLUDE: tuple[str, ...] = ("metadatas", "documents")
DEFAULT_QUERY_INCLUDE: tuple[str, ...] = ("metadatas", "documents", "distances")
_INCLUDE_NAMES: dict[str, tuple[str, ...]] = {
    "get": ("documents", "embeddings", "metadatas", "uris"),
    "query": ("documents", "embeddings", "metadatas", "distances", "uris"),
}


# --- messages -----------------------------------------------------------------------------


def describe(value: object, limit: int = 80) -> str:
    """``value`` for an error message: its repr, shortened, and its type."""
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


def _invalid(where: str, expected: str, value: object) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where}: expected {expected}, got {describe(value)}")


def _count_mismatch(field: str, got: int, count: int, op: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"Number of {field} ({got}) does not match number of ids ({count}) in {op}"
    )


# --- ids ----------------------------------------------------------------------------------


def validate_ids(ids: object, *, op: str) -> list[str]:
    """One id (a ``str``) or a non-empty sequence of unique, non-empty ``str`` ids."""
    if isinstance(ids, str):
        if not ids:
            raise _invalid(f"{op}: ids", "a non-empty str", ids)
        return [str(ids)]
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1 or ids.dtype.kind not in "UO":
            raise _invalid(f"{op}: ids", "a 1-D array of str", ids)
        ids = ids.tolist()
    if isinstance(ids, list):
        items: list[Any] = ids
    elif isinstance(ids, tuple):
        items = list(ids)
    else:
        raise _invalid(f"{op}: ids", "a str or a list of str", ids)
    if not items:
        raise InvalidArgumentError(f"{op}: ids: expected at least one id, got an empty list")
    if set(map(type, items)) != {str}:
        items = _coerce_ids(items, op)
    unique = set(items)
    if "" in unique:
        raise _invalid(f"{op}: ids[{items.index('')}]", "a non-empty str", "")
    if len(unique) != len(items):
        raise DuplicateIDError(_duplicates_message(items, op))
    return items


def _coerce_ids(items: list[Any], op: str) -> list[str]:
    out: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _invalid(f"{op}: ids[{index}]", "a non-empty str", item)
        out.append(str(item))
    return out


def _duplicates_message(items: list[str], op: str) -> str:
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for item in items:
        if item in seen:
            duplicates[item] = None
        else:
            seen.add(item)
    names = list(duplicates)
    if len(names) < 10:
        return f"Expected IDs to be unique, found duplicates of: {', '.join(names)} in {op}."
    shown = f"{', '.join(names[:5])}, ..., {', '.join(names[-5:])}"
    return f"Expected IDs to be unique, found {len(names)} duplicated IDs: {shown} in {op}."


# --- embeddings ---------------------------------------------------------------------------


def normalize_embeddings(
    embeddings: object,
    *,
    op: str,
    count: int | None = None,
    field: str = "embeddings",
) -> Float32Array:
    """One C-contiguous 2-D ``float32`` array of finite values, one row per record.

    Accepts a 2-D numpy array of any float or int dtype (a float32 C-contiguous array is
    returned as it is, not copied), a 1-D array or list of numbers (one record), a list of
    lists of numbers, or a list of 1-D arrays. ``count``, when given, is the number of ids
    the rows must match.
    """
    where = f"{op}: {field}"
    if isinstance(embeddings, np.ndarray):
        array: np.ndarray[Any, Any] = embeddings
    elif isinstance(embeddings, (list, tuple)):
        array = _array_from_sequence(embeddings, where)
    else:
        raise _invalid(
            where, "a list of lists of numbers, a list of numpy arrays or a numpy array", embeddings
        )
    if array.ndim == 1:
        array = array.reshape(1, -1)
    elif array.ndim != 2:
        raise InvalidArgumentError(
            f"{where}: expected one embedding (1-D) or one per record (2-D), "
            f"got {array.ndim} dimensions (shape {array.shape})"
        )
    rows, dimension = array.shape
    if rows == 0:
        raise InvalidArgumentError(f"{where}: expected at least one embedding, got none")
    if dimension == 0:
        raise InvalidArgumentError(
            f"{where}: expected embeddings with at least one value, got embeddings of dimension 0"
        )
    kind = array.dtype.kind
    if kind not in "fiuO":
        raise InvalidArgumentError(
            f"{where}: expected int or float values, got an array of dtype {array.dtype}"
        )
    if kind == "O":
        array = _objects_to_float64(array, where)
        kind = "f"
    if count is not None and rows != count:
        raise _count_mismatch(field, rows, count, op)
    if kind == "f":
        return _floats_to_float32(array, where)
    # ints: always finite, and every int64/uint64 fits float32's range
    return np.ascontiguousarray(array, dtype=np.float32)


def _array_from_sequence(
    embeddings: list[Any] | tuple[Any, ...], where: str
) -> np.ndarray[Any, Any]:
    if len(embeddings) == 0:
        raise InvalidArgumentError(f"{where}: expected at least one embedding, got an empty list")
    try:
        return np.asarray(embeddings)
    except (ValueError, TypeError) as exc:
        raise _ragged_error(embeddings, where) from exc


def _ragged_error(embeddings: Sequence[Any], where: str) -> InvalidArgumentError:
    first = embeddings[0]
    if not _is_row(first):
        return _invalid(f"{where}[0]", "a list or 1-D array of numbers", first)
    width = len(first)
    for index, row in enumerate(embeddings):
        if not _is_row(row):
            return _invalid(f"{where}[{index}]", "a list or 1-D array of numbers", row)
        if len(row) != width:
            return InvalidArgumentError(
                f"{where}: every embedding must have the same dimension; "
                f"{where.split(': ', 1)[-1]}[0] has {width} values but "
                f"{where.split(': ', 1)[-1]}[{index}] has {len(row)}"
            )
    return _invalid(where, "a list of equally long lists of numbers", embeddings)


def _is_row(row: object) -> bool:
    return isinstance(row, (list, tuple)) or (isinstance(row, np.ndarray) and row.ndim == 1)


def _floats_to_float32(array: np.ndarray[Any, Any], where: str) -> Float32Array:
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(array, dtype=np.float32)
        # One vectorised pass: a sum is finite exactly when every value is, unless finite
        # float32 values overflow the float32 sum, which only the exact check below settles.
        if math.isfinite(float(out.sum())):
            return out
        bad_rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad_rows.size == 0:
        return out
    row = int(bad_rows[0])
    original = array[row]
    finite_original = np.isfinite(original)
    if not finite_original.all():
        column = int(np.flatnonzero(~finite_original)[0])
        raise InvalidArgumentError(
            f"{where}[{row}]: expected finite values, got {original[column]!r} at position "
            f"{column} (embeddings must not contain NaN or infinity)"
        )
    column = int(np.flatnonzero(~np.isfinite(out[row]))[0])
    raise InvalidArgumentError(
        f"{where}[{row}]: expected values within float32 range (±{_FLOAT32_MAX:.4g}), "
        f"got {float(original[column])!r} at position {column}"
    )


def _objects_to_float64(array: np.ndarray[Any, Any], where: str) -> npt.NDArray[np.float64]:
    """Arrays numpy could only build as ``object``: big Python ints, or things not numbers."""
    for index, row in enumerate(array):
        for position, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise InvalidArgumentError(
                    f"{where}[{index}]: expected int or float values, got "
                    f"{describe(value)} at position {position}"
                )
    return array.astype(np.float64)


# --- metadata -----------------------------------------------------------------------------


def _scalar_error(where: str, value: object) -> InvalidArgumentError:
    if isinstance(value, float):
        return _invalid(where, "a finite float (not NaN or infinity)", value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _invalid(where, "an int within 64 bits (-2**63 .. 2**63-1)", value)
    if isinstance(value, dict):
        return _invalid(
            where, "a str, int, float, bool or list of one of those; not a nested dict", value
        )
    return _invalid(where, "a str, int, float, bool or a non-empty list of one of those", value)


def _check_key(key: object, where: str, *, record: bool) -> None:
    if not isinstance(key, str):
        raise _invalid(f"{where}", "str keys", key)
    if not key:
        raise InvalidArgumentError(f"{where}: expected non-empty keys, got an empty key ''")
    if key[0] in "#$":
        raise InvalidArgumentError(
            f"{where}[{key!r}]: metadata keys cannot start with '#' or '$', got {key!r}"
        )
    if record and key.startswith("chroma:"):
        raise InvalidArgumentError(
            f"{where}[{key!r}]: keys starting with 'chroma:' are reserved for Chroma, got {key!r}"
        )


def _normal_scalar(value: object, where: str) -> str | int | float | bool:
    """A scalar metadata value as a builtin, or an error naming it (the slow path)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
        if _INT64_MIN <= value <= _INT64_MAX:
            return int(value)
        raise _scalar_error(where, int(value))
    if isinstance(value, (float, np.floating)):
        if value - value == 0.0:
            return float(value)
        raise _scalar_error(where, float(value))
    raise _scalar_error(where, value)


def _scalar_kind(value: object) -> type | None:
    if isinstance(value, (bool, np.bool_)):
        return bool
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind
    if isinstance(value, np.integer):
        return int
    if isinstance(value, np.floating):
        return float
    return None


def _list_is_clean(value: list[Any]) -> bool:
    """Whether ``value`` is a non-empty list of one builtin scalar type, all valid (fast).

    Plain loops, not ``all(...)``: twice as fast on the short lists metadata holds.
    """
    if not value:
        return False
    kind = type(value[0])
    if kind is str or kind is bool:
        for item in value:  # noqa: SIM110
            if type(item) is not kind:
                return False
        return True
    if kind is int:
        for item in value:
            if type(item) is not int or not _INT64_MIN <= item <= _INT64_MAX:
                return False
        return True
    if kind is float:
        for item in value:  # noqa: SIM110
            if type(item) is not float or item - item != 0.0:
                return False
        return True
    return False


def _normal_list(value: list[Any], where: str) -> list[Any]:
    """A list metadata value with builtin elements, or an error naming the bad element."""
    if not value:
        raise InvalidArgumentError(f"{where}: expected a non-empty list, got []")
    kind = _scalar_kind(value[0])
    if kind is None:
        raise _invalid(f"{where}[0]", "a str, int, float or bool", value[0])
    out: list[Any] = []
    for index, item in enumerate(value):
        if _scalar_kind(item) is not kind:
            raise InvalidArgumentError(
                f"{where}[{index}]: expected a {kind.__name__} like every element before it, "
                f"got {describe(item)}; a list value holds one type (1 is an int, 1.0 a float)"
            )
        out.append(_normal_scalar(item, f"{where}[{index}]"))
    return out


def _validate_metadata_dict(
    metadata: dict[Any, Any],
    where: str,
    allow_none_values: bool,
    known_keys: set[str],
    *,
    record: bool = True,
) -> dict[str, Any]:
    """Check one metadata dict; the same object back when nothing needed converting.

    ``known_keys`` holds keys already accepted in this batch, so that a batch of records
    sharing their keys checks each key once.
    """
    changed: dict[str, Any] | None = None
    for key, value in metadata.items():
        if key not in known_keys:
            _check_key(key, where, record=record)
            known_keys.add(key)
        kind = type(value)
        if kind is str or kind is bool:
            continue
        if kind is int:
            if _INT64_MIN <= value <= _INT64_MAX:
                continue
        elif kind is float:
            if value - value == 0.0:
                continue
        elif value is None:
            if allow_none_values:
                continue
            raise _invalid(
                f"{where}[{key!r}]",
                "a str, int, float, bool or list (None removes a key only in update and upsert)",
                value,
            )
        elif isinstance(value, list):
            if not record:
                raise _invalid(
                    f"{where}[{key!r}]", "a str, int, float or bool (no lists here)", value
                )
            if _list_is_clean(value):
                continue
            changed = changed if changed is not None else dict(metadata)
            changed[key] = _normal_list(value, f"{where}[{key!r}]")
            continue
        changed = changed if changed is not None else dict(metadata)
        changed[key] = _normal_scalar(value, f"{where}[{key!r}]")
    if changed is not None:
        return {str(key): value for key, value in changed.items()}
    return metadata


def validate_metadata(
    metadata: object, *, path: str, allow_none_values: bool = False
) -> Metadata | None:
    """One record's metadata: ``None``, or a non-empty dict of str keys to Chroma values.

    Values are ``str``, ``int`` (64-bit), finite ``float``, ``bool``, or a non-empty list
    of one of those types (``bool`` is not ``int``, ``int`` is not ``float``). With
    ``allow_none_values`` (update, upsert) a ``None`` value removes the key. Keys are
    non-empty, do not start with ``#`` or ``$``, and ``chroma:`` is reserved.
    """
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _invalid(path, "a dict or None", metadata)
    if not metadata:
        raise InvalidArgumentError(
            f"{path}: expected a non-empty dict (use None for no metadata), got {{}}"
        )
    return _validate_metadata_dict(metadata, path, allow_none_values, set())


def validate_metadatas(
    metadatas: object, *, op: str, count: int, allow_none_values: bool = False
) -> list[Metadata | None] | None:
    """``None``, one dict (when there is one id), or one dict-or-None per id."""
    if metadatas is None:
        return None
    if isinstance(metadatas, dict):
        items: list[Any] = [metadatas]
    elif isinstance(metadatas, list):
        items = metadatas
    elif isinstance(metadatas, tuple):
        items = list(metadatas)
    else:
        raise _invalid(
            f"{op}: metadatas", "a list of dicts (or None entries), or one dict", metadatas
        )
    if len(items) != count:
        raise _count_mismatch("metadatas", len(items), count, op)
    known_keys: set[str] = set()
    out: list[Metadata | None] = items if isinstance(metadatas, list) else list(items)
    copied = False
    for index, metadata in enumerate(items):
        if metadata is None:
            continue
        where = f"{op}: metadatas[{index}]"
        if type(metadata) is not dict and not isinstance(metadata, dict):
            raise _invalid(where, "a dict or None", metadata)
        if not metadata:
            raise InvalidArgumentError(
                f"{where}: expected a non-empty dict (use None for no metadata), got {{}}"
            )
        checked = _validate_metadata_dict(metadata, where, allow_none_values, known_keys)
        if checked is not metadata:
            if not copied:
                out = list(out)
                copied = True
            out[index] = checked
    return out


def validate_collection_metadata(metadata: object, *, for_modify: bool = False) -> Metadata | None:
    """A collection's metadata, as ``create_collection`` and ``modify`` accept it.

    Scalars only (chromadb accepts lists here, then fails); keys non-empty and not starting
    with ``#`` or ``$``. ``hnsw:*`` keys are checked by
    :func:`chroma_async.config.resolve_configuration`.
    With ``for_modify``, ``None`` values are allowed and dropped (``modify`` replaces the whole
    metadata; an empty result clears it, and is returned as ``{}``), and ``hnsw:space`` is
    refused because the distance of a collection cannot change.
    """
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _invalid("metadata", "a dict or None", metadata)
    if not metadata:
        raise InvalidArgumentError(
            "metadata: expected a non-empty dict (use None for no metadata), got {}"
        )
    checked = _validate_metadata_dict(metadata, "metadata", for_modify, set(), record=False)
    if for_modify:
        if "hnsw:space" in checked:
            raise InvalidArgumentError(
                "metadata['hnsw:space']: changing the distance function of a collection once "
                "it is created is not supported"
            )
        if any(value is None for value in checked.values()):
            checked = {key: value for key, value in checked.items() if value is not None}
    return checked


# --- documents and uris -------------------------------------------------------------------


def _validate_strings(
    values: object, *, op: str, count: int, field: str, nullable: bool
) -> list[str | None] | None:
    if values is None:
        return None
    if isinstance(values, str):
        items: list[Any] = [values]
    elif isinstance(values, list):
        items = values
    elif isinstance(values, tuple):
        items = list(values)
    elif isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "UO":
        items = values.tolist()
    else:
        raise _invalid(f"{op}: {field}", "a str or a list of str", values)
    if len(items) != count:
        raise _count_mismatch(field, len(items), count, op)
    kinds = set(map(type, items))
    if kinds <= {str, type(None)} and (nullable or type(None) not in kinds):
        return items
    out: list[str | None] = []
    for index, item in enumerate(items):
        if item is None and nullable:
            out.append(None)
        elif isinstance(item, str):
            out.append(str(item))
        else:
            expected = "a str or None" if nullable else "a str"
            raise _invalid(f"{op}: {field}[{index}]", expected, item)
    return out


def validate_documents(
    documents: object, *, op: str, count: int, nullable: bool = True
) -> list[str | None] | None:
    """``None``, one ``str`` (when there is one id), or one ``str`` (or ``None``) per id.

    ``None`` entries mean "no document"; chromadb allows them whenever embeddings are given
    (pass ``nullable=False`` where every record needs a document, e.g. to embed it).
    """
    return _validate_strings(documents, op=op, count=count, field="documents", nullable=nullable)


def validate_uris(uris: object, *, op: str, count: int) -> list[str | None] | None:
    """``None``, one ``str`` (when there is one id), or one ``str`` (or ``None``) per id."""
    return _validate_strings(uris, op=op, count=count, field="uris", nullable=True)


# --- reads --------------------------------------------------------------------------------


def validate_include(include: object, *, op: Literal["get", "query"]) -> tuple[str, ...]:
    """The fields to return, in the user's order, without repeats.

    ``None`` means chromadb's default: ``("metadatas", "documents")`` for get,
    ``("metadatas", "documents", "distances")`` for query.
    """
    allowed = _INCLUDE_NAMES[op]
    if include is None:
        return DEFAULT_GET_INCLUDE if op == "get" else DEFAULT_QUERY_INCLUDE
    if isinstance(include, str) or not isinstance(include, (list, tuple)):
        raise _invalid(f"{op}: include", f"a list of names from {', '.join(allowed)}", include)
    out: dict[str, None] = {}
    for index, item in enumerate(include):
        if not isinstance(item, str):
            raise _invalid(f"{op}: include[{index}]", f"one of {', '.join(allowed)}", item)
        if item not in allowed:
            if item == "distances":
                hint = "; distances exist only for query"
            elif item == "data":
                hint = "; 'data' needs a data loader, which chroma-async does not support"
            else:
                hint = ""
            raise InvalidArgumentError(
                f"{op}: include[{index}]: expected one of {', '.join(allowed)}, got {item!r}{hint}"
            )
        out[str(item)] = None
    return tuple(out)


def _check_count(value: object, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _invalid(where, f"an int >= {minimum}", value)
    number = int(value)
    if number < minimum or number > MAX_U32:
        raise _invalid(where, f"an int between {minimum} and {MAX_U32}", value)
    return number


def validate_n_results(n_results: object) -> int:
    """A positive ``int`` (at most 2**32-1, Chroma's limit)."""
    return _check_count(n_results, "query: n_results", minimum=1)


def validate_limit(limit: object) -> int | None:
    """``None`` (no limit) or an ``int >= 0``; ``0`` returns nothing, as in chromadb."""
    if limit is None:
        return None
    return _check_count(limit, "limit", minimum=0)


def validate_offset(offset: object) -> int:
    """``None`` (meaning 0) or an ``int >= 0``."""
    if offset is None:
        return 0
    return _check_count(offset, "offset", minimum=0)


# --- names --------------------------------------------------------------------------------

_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]")
_IPV4 = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")
_COLLECTION_NAME_RULE = (
    "a name containing 3-512 characters from [a-zA-Z0-9._-], "
    "starting and ending with a character in [a-zA-Z0-9]"
)


def validate_collection_name(name: object) -> str:
    """A collection name by chromadb's rule, checked when creating or renaming.

    3-512 characters from ``[a-zA-Z0-9._-]``, alphanumeric at both ends, no ``..``, and not
    an IPv4 address (four decimal octets 0-255 without leading zeros, like ``10.0.0.1``).
    """
    if not isinstance(name, str):
        raise _invalid("collection name", _COLLECTION_NAME_RULE, name)
    if not _COLLECTION_NAME.fullmatch(name) or not name.isascii():
        raise InvalidArgumentError(
            f"invalid collection name {name!r}: expected {_COLLECTION_NAME_RULE}"
        )
    if ".." in name:
        raise InvalidArgumentError(
            f"invalid collection name {name!r}: expected a name without two consecutive "
            f"periods (..)"
        )
    if _IPV4.fullmatch(name) and all(int(part) <= 255 for part in name.split(".")):
        raise InvalidArgumentError(
            f"invalid collection name {name!r}: expected a name that is not an IPv4 address"
        )
    return str(name)


def validate_tenant_name(name: object) -> str:
    """A tenant name: a ``str`` of at least 3 characters (chromadb's only rule)."""
    if not isinstance(name, str):
        raise _invalid("tenant name", "a str of at least 3 characters", name)
    if len(name) < 3:
        raise InvalidArgumentError(
            f"invalid tenant name {name!r}: expected at least 3 characters, got {len(name)}"
        )
    return str(name)


def validate_database_name(name: object) -> str:
    """A database name: a ``str`` of at least 3 bytes in UTF-8 (chromadb counts bytes)."""
    if not isinstance(name, str):
        raise _invalid("database name", "a str of at least 3 characters", name)
    if len(name.encode("utf-8", "surrogatepass")) < 3:
        raise InvalidArgumentError(
            f"invalid database name {name!r}: expected at least 3 characters"
        )
    return str(name)
