"""Record metadata held column by column, so that ``where`` filters evaluate as numpy masks.

Each metadata key owns one :class:`_Column`: a type tag per slot (absent, bool, int, float,
str, list) and a typed value array per kind (int64 for ints and bools, float64 for floats,
dictionary-encoded int32 codes for strings). List values are indexed the other way round,
as postings ``(type tag, element) → set of slots``, which is what ``$contains`` asks for.

Comparison semantics follow chromadb 1.5.9 (checked against it):

- a bool only equals a bool; a str only equals a str; ``$gt``-style operators never match
  bools or strings;
- an int operand compared with a float value is widened to float; a float operand compared
  with an int value is truncated toward zero (Rust's ``as i64``), so ``{"x": {"$eq": 1.5}}``
  matches ``x == 1`` and ``{"x": {"$lt": 1.5}}`` does not;
- scalar operators ignore list values and ``$contains`` ignores scalars; list elements are
  compared with their exact type (a list of floats does not contain the int ``1``);
- ``$ne``, ``$nin`` and ``$not_contains`` are the complements of ``$eq``, ``$in`` and
  ``$contains``: they match records that lack the key or hold another type.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, Union, cast

import numpy as np
import numpy.typing as npt

from chroma_async.errors import InvalidArgumentError
from chroma_async.types import Metadata, MetadataScalar

__all__ = ["MetadataColumns", "grown"]

ArrayT = TypeVar("ArrayT", bound="np.ndarray[Any, Any]")


def _references(array: object) -> int:
    return sys.getrefcount(array)  # as ``grown`` counts: one frame holding the argument


class _Holder:
    array: np.ndarray[Any, Any]


def _sole_owner_references() -> int:
    holder = _Holder()
    holder.array = np.zeros(1)
    return _references(holder.array)


# What ``sys.getrefcount`` reports inside ``grown`` for an array that only one attribute
# holds: the attribute, the argument and getrefcount's own argument (3 on CPython 3.11).
_SOLE_OWNER_REFERENCES = _sole_owner_references()


def grown(array: ArrayT, rows: int, fill: int = 0) -> ArrayT:
    """``array`` lengthened to ``rows`` rows (first axis), the new ones set to ``fill``.

    Per-slot columns grow as a collection does. When nothing but its one owner refers to
    ``array`` (no view, no buffer export, no other name) it is resized in place
    (``realloc``: no second copy held). ``ndarray.resize`` zero-fills the new rows holding
    the GIL, so this is for narrow columns; the vector matrix grows by ``mremap`` instead
    (``CollectionStore._grow_vectors``). Otherwise a new array is filled from the old one.
    """
    old = array.shape[0]
    if rows <= old:
        return array
    shape = (rows, *array.shape[1:])
    if (
        sys.getrefcount(array) <= _SOLE_OWNER_REFERENCES
        and array.flags.owndata
        and array.flags.c_contiguous
    ):
        # refcheck=False: numpy's own check counts the caller's references as foreign.
        array.resize(shape, refcheck=False)  # new rows are zero-filled
    else:
        bigger = np.zeros(shape, dtype=array.dtype)
        bigger[:old] = array
        array = cast(ArrayT, bigger)
    if fill:
        array[old:] = fill
    return array


BoolMask = npt.NDArray[np.bool_]

ABSENT, BOOL, INT, FLOAT, STR, LIST = 0, 1, 2, 3, 4, 5

_I64_MAX = 2**63 - 1
_I64_MIN = -(2**63)

# A list element as stored in the postings: (type tag, value). The tag keeps True, 1 and
# 1.0 apart even though Python considers them equal.
PostingKey = tuple[int, Union[bool, int, float, str]]  # noqa: UP007


def _tag(value: MetadataScalar) -> int:
    kind = type(value)
    if kind is bool:
        return BOOL
    if kind is int:
        return INT
    if kind is float:
        return FLOAT
    if kind is str:
        return STR
    raise InvalidArgumentError(
        f"expected a metadata value of type str, int, float or bool, got {value!r} "
        f"({type(value).__name__})"
    )


def _truncate_to_int64(value: float) -> int:
    """A float operand as Rust's ``value as i64`` sees it: toward zero, saturating."""
    if math.isnan(value):
        return 0
    if value >= 2.0**63:
        return _I64_MAX
    if value < -(2.0**63):
        return _I64_MIN
    return int(value)


def _mask(values: Any) -> BoolMask:
    return np.asarray(values, dtype=np.bool_)


class _Column:
    """The values of one metadata key for every slot."""

    __slots__ = ("codes", "floats", "ints", "kinds", "postings", "string_codes", "strings")

    def __init__(self, capacity: int) -> None:
        self.kinds = np.zeros(capacity, dtype=np.int8)
        self.ints = np.zeros(capacity, dtype=np.int64)
        self.floats = np.zeros(capacity, dtype=np.float64)
        self.codes = np.full(capacity, -1, dtype=np.int32)
        self.string_codes: dict[str, int] = {}
        self.strings: list[str] = []
        self.postings: dict[PostingKey, set[int]] = {}

    def grow(self, capacity: int) -> None:
        old = self.kinds.shape[0]
        if capacity <= old:
            return
        self.kinds = grown(self.kinds, capacity)
        self.ints = grown(self.ints, capacity)
        self.floats = grown(self.floats, capacity)
        self.codes = grown(self.codes, capacity, -1)

    def code_of(self, text: str) -> int:
        code = self.string_codes.get(text)
        if code is None:
            code = len(self.strings)
            self.string_codes[text] = code
            self.strings.append(text)
        return code

    def clear(self, slot: int, old_value: object) -> None:
        if self.kinds[slot] == LIST and isinstance(old_value, list):
            for element in old_value:
                posting = self.postings.get((_tag(element), element))
                if posting is not None:
                    posting.discard(slot)
        self.kinds[slot] = ABSENT

    def set(self, slot: int, value: object) -> None:
        if isinstance(value, bool):
            self.kinds[slot] = BOOL
            self.ints[slot] = int(value)
        elif isinstance(value, int):
            self.kinds[slot] = INT
            self.ints[slot] = value
        elif isinstance(value, float):
            self.kinds[slot] = FLOAT
            self.floats[slot] = value
        elif isinstance(value, str):
            self.kinds[slot] = STR
            self.codes[slot] = self.code_of(value)
        elif isinstance(value, list):
            self.kinds[slot] = LIST
            for element in value:
                self.postings.setdefault((_tag(element), element), set()).add(slot)
        else:
            raise InvalidArgumentError(
                f"expected a metadata value of type str, int, float, bool or a list of one "
                f"of those, got {value!r} ({type(value).__name__})"
            )

    def set_batch(self, slots: list[int], values: list[object]) -> None:
        """``set`` for many slots whose previous value was cleared: one numpy assignment
        per value type instead of three item assignments per value."""
        groups: dict[type, tuple[list[int], list[object]]] = {}
        for slot, value in zip(slots, values, strict=True):
            group = groups.get(type(value))
            if group is None:
                group = groups[type(value)] = ([], [])
            group[0].append(slot)
            group[1].append(value)
        for kind, (group_slots, group_values) in groups.items():
            where = np.asarray(group_slots, dtype=np.int64)
            if kind is int:
                self.ints[where] = np.asarray(group_values, dtype=np.int64)
                self.kinds[where] = INT
            elif kind is float:
                self.floats[where] = np.asarray(group_values, dtype=np.float64)
                self.kinds[where] = FLOAT
            elif kind is bool:
                self.ints[where] = np.asarray(group_values, dtype=np.int64)
                self.kinds[where] = BOOL
            elif kind is str:
                known = self.string_codes
                code_of = self.code_of
                texts = cast(list[str], group_values)
                self.codes[where] = np.fromiter(
                    (known[v] if v in known else code_of(v) for v in texts),
                    dtype=np.int32,
                    count=len(texts),
                )
                self.kinds[where] = STR
            else:
                for slot, value in zip(group_slots, group_values, strict=True):
                    self.set(slot, value)

    # --- predicates (positive forms; the caller complements for $ne/$nin/$not_contains)

    def equals(self, value: MetadataScalar, size: int) -> BoolMask:
        kinds = self.kinds[:size]
        kind = type(value)
        if kind is bool:
            return _mask((kinds == BOOL) & (self.ints[:size] == int(value)))
        if kind is str:
            code = self.string_codes.get(value)  # type: ignore[arg-type]
            if code is None:
                return np.zeros(size, dtype=np.bool_)
            return _mask((kinds == STR) & (self.codes[:size] == code))
        if kind is int:
            as_int = int(value)
            return _mask(
                ((kinds == INT) & (self.ints[:size] == as_int))
                | ((kinds == FLOAT) & (self.floats[:size] == float(as_int)))
            )
        as_float = float(value)
        return _mask(
            ((kinds == INT) & (self.ints[:size] == _truncate_to_int64(as_float)))
            | ((kinds == FLOAT) & (self.floats[:size] == as_float))
        )

    def compares(self, op: str, value: MetadataScalar, size: int) -> BoolMask:
        kind = type(value)
        if kind is bool or kind is str:
            raise InvalidArgumentError(
                f"expected an int or a float operand for {op}, got {value!r} ({kind.__name__})"
            )
        kinds = self.kinds[:size]
        if kind is int:
            int_operand: int = int(value)
            float_operand = float(int_operand)
        else:
            float_operand = float(value)
            int_operand = _truncate_to_int64(float_operand)
        ints = self.ints[:size]
        floats = self.floats[:size]
        if op == "$gt":
            int_hit, float_hit = ints > int_operand, floats > float_operand
        elif op == "$gte":
            int_hit, float_hit = ints >= int_operand, floats >= float_operand
        elif op == "$lt":
            int_hit, float_hit = ints < int_operand, floats < float_operand
        elif op == "$lte":
            int_hit, float_hit = ints <= int_operand, floats <= float_operand
        else:
            raise InvalidArgumentError(f"expected one of $gt $gte $lt $lte, got {op!r}")
        return _mask(((kinds == INT) & int_hit) | ((kinds == FLOAT) & float_hit))

    def contains(self, value: MetadataScalar, size: int) -> BoolMask:
        mask = np.zeros(size, dtype=np.bool_)
        posting = self.postings.get((_tag(value), value))
        if posting:
            slots = np.fromiter(posting, dtype=np.int64, count=len(posting))
            mask[slots[slots < size]] = True
        return mask


class MetadataColumns:
    """The metadata of every slot of one collection: originals for reading, columns for
    filtering. Not thread-safe for writes; concurrent reads are fine."""

    def __init__(self, capacity: int = 0) -> None:
        self._capacity = capacity
        self._columns: dict[str, _Column] = {}
        self._values: list[Metadata | None] = [None] * capacity

    @property
    def keys(self) -> list[str]:
        return list(self._columns)

    def grow(self, capacity: int) -> None:
        if capacity <= self._capacity:
            return
        self._values.extend([None] * (capacity - self._capacity))
        self._capacity = capacity
        for column in self._columns.values():
            column.grow(capacity)

    def get(self, slot: int) -> Metadata | None:
        return self._values[slot]

    def take(self, slots: Iterable[int]) -> list[Metadata | None]:
        """Copies of the metadata of ``slots`` (callers may mutate what they get)."""
        values = self._values
        return [None if (m := values[s]) is None else dict(m) for s in slots]

    def set(self, slot: int, metadata: Metadata | None) -> None:
        """Replace the whole metadata of ``slot`` (``None`` or ``{}``: no metadata)."""
        old = self._values[slot]
        if old:
            for key, value in old.items():
                self._columns[key].clear(slot, value)
        if not metadata:
            self._values[slot] = None
            return
        stored = dict(metadata)
        self._values[slot] = stored
        for key, value in stored.items():
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = _Column(self._capacity)
            column.set(slot, value)

    def set_many(self, slots: Sequence[int], metadatas: Sequence[Metadata | None]) -> None:
        """``set`` for many slots; one numpy assignment per key and type where it can, so
        that ingesting a batch holds the GIL for as little Python work as possible."""
        values = self._values
        by_key: dict[str, tuple[list[int], list[object]]] = {}
        for slot, metadata in zip(slots, metadatas, strict=True):
            old = values[slot]
            if old:
                for key, value in old.items():
                    self._columns[key].clear(slot, value)
            if not metadata:
                values[slot] = None
                continue
            stored = dict(metadata)
            values[slot] = stored
            for key, value in stored.items():
                entry = by_key.get(key)
                if entry is None:
                    entry = by_key[key] = ([], [])
                entry[0].append(slot)
                entry[1].append(value)
        for key, (key_slots, key_values) in by_key.items():
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = _Column(self._capacity)
            column.set_batch(key_slots, key_values)

    def copy(self) -> MetadataColumns:
        clone = MetadataColumns(0)
        clone._capacity = self._capacity
        clone._values = [None if m is None else dict(m) for m in self._values]
        for key, column in self._columns.items():
            twin = _Column(0)
            twin.kinds = column.kinds.copy()
            twin.ints = column.ints.copy()
            twin.floats = column.floats.copy()
            twin.codes = column.codes.copy()
            twin.string_codes = dict(column.string_codes)
            twin.strings = list(column.strings)
            twin.postings = {k: set(v) for k, v in column.postings.items()}
            clone._columns[key] = twin
        return clone

    # --- evaluation -----------------------------------------------------------------

    def compare(self, key: str, op: str, value: object, size: int) -> BoolMask:
        """Slots ``< size`` whose ``key`` satisfies ``op value`` (dead slots included:
        the caller intersects with the live mask)."""
        column = self._columns.get(key)
        if op in ("$ne", "$nin", "$not_contains"):
            positive = {"$ne": "$eq", "$nin": "$in", "$not_contains": "$contains"}[op]
            return ~self.compare(key, positive, value, size)
        if column is None:
            return np.zeros(size, dtype=np.bool_)
        if op == "$eq":
            return column.equals(value, size)  # type: ignore[arg-type]
        if op == "$in":
            if not isinstance(value, list):
                raise InvalidArgumentError(
                    f"expected a list operand for $in on {key!r}, got {value!r}"
                )
            mask = np.zeros(size, dtype=np.bool_)
            for item in value:
                mask |= column.equals(item, size)
            return mask
        if op in ("$gt", "$gte", "$lt", "$lte"):
            return column.compares(op, value, size)  # type: ignore[arg-type]
        if op == "$contains":
            return column.contains(value, size)  # type: ignore[arg-type]
        raise InvalidArgumentError(
            f"expected a metadata operator ($eq $ne $gt $gte $lt $lte $in $nin $contains "
            f"$not_contains) for {key!r}, got {op!r}"
        )
