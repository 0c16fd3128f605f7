"""Chroma's filter grammar: validation with precise error paths, and a typed tree.

``where`` (metadata) grammar, exactly what chromadb 1.5.9 accepts (its Python checks plus
what its Rust core rejects afterwards)::

    where    := {field: scalar}                   # shorthand for {field: {"$eq": scalar}}
              | {field: {op: operand}}            # exactly one operator
              | {"$and": [where, where, ...]}     # a list of two or more
              | {"$or":  [where, where, ...]}
              | {"#document": {"$contains" | "$not_contains": str}}   # a document test
    op       := "$eq" | "$ne"                     # operand: a scalar
              | "$gt" | "$gte" | "$lt" | "$lte"   # operand: an int or float (not a bool)
              | "$in" | "$nin"                    # operand: a non-empty list of one scalar type
              | "$contains" | "$not_contains"     # operand: a scalar, looked up in list values
    scalar   := str | int | float | bool          # floats finite; bool is not int

- A ``where`` dict has exactly **one** key: several conditions are combined with ``$and``
  (chromadb rejects ``{"a": 1, "b": 2}``, and ``{}``).
- A field is any ``str`` not starting with ``$``; ``$contains`` / ``$not_contains`` are
  field operators, not top-level keys.
- In a ``$in`` / ``$nin`` list every element has the type of the first: ``[1, 2.0]`` and
  ``[1, True]`` are rejected.
- ints beyond 64 bits are compared as floats (chromadb does the same).

``where_document`` grammar::

    wdoc := {"$contains": str} | {"$not_contains": str}          # non-empty str
          | {"$regex": str} | {"$not_regex": str}                # non-empty pattern
          | {"$and": [wdoc, wdoc, ...]} | {"$or": [wdoc, wdoc, ...]}

Regular expressions follow Chroma's engine (Rust ``regex``) where Python's ``re`` can
follow: a pattern must compile with ``re``, and look-around, back-references, atomic
groups, possessive repeats and conditionals are refused, as Chroma refuses them.

Deliberate differences from chromadb, all rejections of filters chromadb accepts but that
cannot mean anything or that the local engine cannot evaluate as Chroma does:

- ``"#document"`` in ``where`` takes only ``$contains`` / ``$not_contains`` with a str; chromadb
  accepts ``{"#document": 1}`` (matches nothing) and fails on other string operators at
  query time;
- patterns Python's ``re`` cannot compile (``\\p{L}``, ``a**``) and POSIX classes
  (``[[:alpha:]]``, which ``re`` reads differently) are refused;
- an int beyond 64 bits mixed with ints in a ``$in`` list is refused whatever its place
  (chromadb accepts it only in first place).

The tree (:class:`And`, :class:`Or`, :class:`Compare`, :class:`DocText`) is what the local
engine evaluates; the http transport sends the validated dicts as they are.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from collections.abc import Callable
from typing import Any, Literal, cast

import msgspec

from chroma_async.errors import InvalidArgumentError
from chroma_async.types import MetadataScalar, Where, WhereDocument

__all__ = [
    "COMPARE_OPS",
    "DOC_OPS",
    "And",
    "Compare",
    "DocNode",
    "DocText",
    "Or",
    "WhereNode",
    "compile_regex",
    "parse_where",
    "parse_where_document",
    "validate_where",
    "validate_where_document",
]

CompareOp = Literal[
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains"
]
DocOp = Literal["$contains", "$not_contains", "$regex", "$not_regex"]

COMPARE_OPS: tuple[str, ...] = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$contains",
    "$not_contains",
)
DOC_OPS: tuple[str, ...] = ("$contains", "$not_contains", "$regex", "$not_regex")
DOCUMENT_KEY = "#document"
"""The ``where`` field that tests the document text instead of a metadata value."""

_LOGICAL = ("$and", "$or")
_ORDER_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_LIST_OPS = frozenset({"$in", "$nin"})
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_MAX_DEPTH = 100


class Compare(msgspec.Struct, frozen=True, kw_only=True):
    """``key op value``; ``value`` is a list only for ``$in`` / ``$nin``.

    ints and floats compare by value (``1 == 1.0``), a bool is never equal to a number,
    and ``$contains`` / ``$not_contains`` test membership in a list-valued field.
    """

    key: str
    op: CompareOp
    value: MetadataScalar | list[MetadataScalar]


class DocText(msgspec.Struct, frozen=True, kw_only=True):
    """A test of the document text: substring or regular expression, possibly negated.

    It appears in ``where`` trees too, for ``{"#document": {"$contains": ...}}``.
    """

    op: DocOp
    value: str


class And(msgspec.Struct, frozen=True, kw_only=True):
    children: list[Node]


class Or(msgspec.Struct, frozen=True, kw_only=True):
    children: list[Node]


Node = And | Or | Compare | DocText
WhereNode = And | Or | Compare | DocText
"""A ``where`` tree; :class:`DocText` appears only for the ``#document`` field."""
DocNode = And | Or | DocText


# --- messages -----------------------------------------------------------------------------


def _show(value: object) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _fail(path: str, expected: str, value: object) -> InvalidArgumentError:
    return InvalidArgumentError(f"{path}: expected {expected}, got {_show(value)}")


def _keys(mapping: dict[Any, Any]) -> str:
    return ", ".join(repr(key) for key in mapping)


# --- where --------------------------------------------------------------------------------


def _scalar(value: object, path: str, expected: str) -> MetadataScalar:
    """``value`` as a builtin ``str | int | float | bool``; big ints become floats."""
    kind = type(value)
    if kind is str or kind is bool:
        return value  # type: ignore[return-value]
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        return float(value)  # type: ignore[arg-type]
    if kind is float:
        if value - value == 0.0:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        raise _fail(path, f"{expected} (floats must be finite)", value)
    # subclasses: numpy's float64 and str_ are accepted by chromadb, as builtins here
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return _scalar(int(value), path, expected)
    if isinstance(value, float):
        return _scalar(float(value), path, expected)
    raise _fail(path, expected, value)


def _same_kind(value: object) -> type:
    return bool if isinstance(value, bool) else type(value)


def _operand(op: str, operand: object, path: str, *, document: bool) -> Any:
    if document:
        if op not in ("$contains", "$not_contains"):
            raise InvalidArgumentError(
                f"{path}: #document supports only $contains and $not_contains in where, "
                f"got {op}; use where_document for regular expressions"
            )
        if not isinstance(operand, str):
            raise _fail(path, "a str (the text to look for in the document)", operand)
        return str(operand)
    if op in _ORDER_OPS:
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise _fail(path, "an int or float", operand)
        return _scalar(operand, path, "an int or float")
    if op in _LIST_OPS:
        if not isinstance(operand, list):
            raise _fail(path, "a non-empty list of str, int, float or bool", operand)
        if not operand:
            raise _fail(path, "a non-empty list of str, int, float or bool", operand)
        items = [
            _scalar(item, f"{path}[{index}]", "a str, int, float or bool")
            for index, item in enumerate(operand)
        ]
        kind = _same_kind(items[0])
        for index, item in enumerate(items):
            if _same_kind(item) is not kind:
                raise InvalidArgumentError(
                    f"{path}[{index}]: expected a {kind.__name__} like the first element, got "
                    f"{_show(operand[index])}; a $in/$nin list holds one type "
                    f"(1 is an int, 1.0 a float, True a bool)"
                )
        return items
    return _scalar(operand, path, "a str, int, float or bool")


def _check_logical(
    op: str,
    operand: object,
    path: str,
    depth: int,
    check: Callable[[object, str, int], dict[str, Any]],
    what: str,
) -> dict[str, Any]:
    """``{"$and" | "$or": [child, child, ...]}``: two or more children, each ``check``ed."""
    here = f"{path}.{op}"
    if not isinstance(operand, list):
        raise _fail(here, f"a list of at least two {what}", operand)
    if len(operand) < 2:
        raise InvalidArgumentError(
            f"{here}: expected a list of at least two {what}, got {len(operand)}"
        )
    return {
        op: [check(child, f"{here}[{index}]", depth + 1) for index, child in enumerate(operand)]
    }


def _check_where(where: object, path: str, depth: int) -> dict[str, Any]:
    if not isinstance(where, dict):
        raise _fail(path, "a dict like {'field': value} or {'$and': [...]}", where)
    if len(where) != 1:
        if not where:
            raise InvalidArgumentError(
                f"{path}: expected exactly one field or $and/$or, got an empty dict"
            )
        raise InvalidArgumentError(
            f"{path}: expected exactly one field or $and/$or, got {len(where)} keys "
            f"({_keys(where)}); combine conditions with {{'$and': [...]}}"
        )
    if depth > _MAX_DEPTH:
        raise InvalidArgumentError(f"{path}: filters nest at most {_MAX_DEPTH} levels deep")
    ((key, value),) = where.items()
    if not isinstance(key, str):
        raise _fail(path, "str keys", key)
    if key in _LOGICAL:
        return _check_logical(key, value, path, depth, _check_where, "filters")
    here = f"{path}.{key}"
    if key.startswith("$"):
        if key in ("$contains", "$not_contains"):
            raise InvalidArgumentError(
                f"{here}: {key} is a field operator, write {{'field': {{'{key}': value}}}}"
            )
        raise InvalidArgumentError(
            f"{here}: expected $and or $or, or a field name (field names cannot start "
            f"with '$'), got {key!r}"
        )
    document = key == DOCUMENT_KEY
    if isinstance(value, dict):
        if len(value) != 1:
            if not value:
                raise InvalidArgumentError(
                    f"{here}: expected exactly one operator, got an empty dict"
                )
            raise InvalidArgumentError(
                f"{here}: expected exactly one operator, got {len(value)} ({_keys(value)}); "
                f"combine conditions with {{'$and': [...]}}"
            )
        ((op, operand),) = value.items()
        if op not in COMPARE_OPS:
            hint = " ($and/$or go above fields)" if op in _LOGICAL else ""
            raise InvalidArgumentError(
                f"{here}: expected an operator among {', '.join(COMPARE_OPS)}, "
                f"got {_show(op)}{hint}"
            )
        return {key: {op: _operand(op, operand, f"{here}.{op}", document=document)}}
    if document:
        raise InvalidArgumentError(
            f"{here}: #document supports only {{'$contains': str}} and "
            f"{{'$not_contains': str}}, got {_show(value)}"
        )
    expected = "a str, int, float or bool, or an operator dict like {'$gt': 3}"
    if isinstance(value, list):
        raise _fail(here, f"{expected}; to match one of several values use {{'$in': [...]}}", value)
    return {key: _scalar(value, here, expected)}


def validate_where(where: object, *, path: str = "where") -> Where:
    """Check ``where`` against the grammar and return it normalised (builtin scalars).

    Raises ``InvalidArgumentError`` naming the path, e.g.
    ``where.$and[1].price.$gt: expected an int or float, got 'abc' (str)``.
    """
    return _check_where(where, path, 0)


def parse_where(where: Where) -> WhereNode:
    """The tree of a validated ``where``.

    ``{k: v}`` becomes ``Compare(k, "$eq", v)``, several top-level keys (not valid input,
    accepted here for convenience) an :class:`And`, and ``#document`` tests :class:`DocText`.
    """
    nodes = [_parse_where_item(key, value) for key, value in where.items()]
    return nodes[0] if len(nodes) == 1 else And(children=list(nodes))


def _parse_where_item(key: str, value: Any) -> WhereNode:
    if key == "$and":
        return And(children=[parse_where(child) for child in value])
    if key == "$or":
        return Or(children=[parse_where(child) for child in value])
    if isinstance(value, dict):
        ((op, operand),) = value.items()
    else:
        op, operand = "$eq", value
    if key == DOCUMENT_KEY:
        return DocText(op=cast(DocOp, op), value=operand)
    return Compare(key=key, op=op, value=operand)


# --- where_document -----------------------------------------------------------------------

_CLASS_SET_OPERATORS = ("--", "&&", "~~")
_POSIX_CLASS = re.compile(r"\[:\^?[a-z]+:\]")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)[:)-]")


def _python_pattern(pattern: str) -> str:
    r"""``pattern`` spelled for ``re`` so that it means what it means to Chroma's engine.

    Chroma evaluates regexes with Rust's ``regex`` crate. Most syntax means the same in
    both; where it does not, and no faithful spelling exists, this raises
    ``InvalidArgumentError`` naming the construct:

    - inside ``[...]`` Rust reads an unescaped ``[`` as a nested class (``[[:alpha:]]``,
      ``[a[bc]]``) and ``--``, ``&&``, ``~~`` as set operations; ``re`` reads characters;
    - Rust rejects ``\Z``, ``{,3}``, ``\N{...}`` and the ``a`` / ``L`` flags, ``re`` accepts them.

    A ``|`` inside a class is escaped (both read it as a character; ``re`` would warn).
    """
    out: list[str] = []
    index, size, in_class = 0, len(pattern), False
    while index < size:
        char = pattern[index]
        if char == "\\":
            escaped = pattern[index + 1 : index + 2]
            if not in_class and escaped == "Z":
                raise _regex_error(pattern, "\\Z is not supported by Chroma's engine; use $")
            if escaped == "N":
                raise _regex_error(pattern, "\\N{...} is not supported by Chroma's engine")
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if not in_class:
            if char == "{" and pattern.startswith(",", index + 1):
                raise _regex_error(
                    pattern,
                    "a repeat without a lower bound like {,3} is not supported "
                    "by Chroma's engine; write {0,3}",
                )
            if char == "(":
                flags = _INLINE_FLAGS.match(pattern, index)
                if flags is not None and set(flags.group(1)) & {"a", "L"}:
                    raise _regex_error(
                        pattern, "the inline flags a and L are not supported by Chroma's engine"
                    )
            if char == "[":
                in_class = True
                start = index + 1
                if pattern.startswith("^", start):
                    start += 1
                if pattern.startswith("]", start):
                    start += 1
                out.append(pattern[index:start])
                index = start
                continue
        elif char == "]":
            in_class = False
        elif char == "[":
            if _POSIX_CLASS.match(pattern, index):
                raise _regex_error(
                    pattern,
                    "POSIX classes like [[:alpha:]] mean something else to Python's "
                    "re; use \\w, \\d, \\s or [a-zA-Z]",
                )
            raise _regex_error(
                pattern,
                "a nested class like [a[bc]] means something else to Python's re; "
                "escape the inner '[' as \\[",
            )
        elif pattern.startswith(_CLASS_SET_OPERATORS, index):
            operator = pattern[index : index + 2]
            raise _regex_error(
                pattern,
                f"{operator!r} inside a class is a set operation in Chroma's engine "
                f"and two characters in Python's re; escape them to match them literally",
            )
        elif char == "|":
            out.append("\\|")
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _regex_error(pattern: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid regular expression {pattern!r}: {reason}")


def _sre_parser() -> Any:
    try:
        return importlib.import_module("re._parser")
    except ImportError:  # Python 3.10
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("sre_parse")


_PARSER = _sre_parser()
_UNSUPPORTED = {
    "ASSERT": "look-around",
    "ASSERT_NOT": "look-around",
    "GROUPREF": "back-references",
    "GROUPREF_EXISTS": "conditionals",
    "ATOMIC_GROUP": "atomic groups",
    "POSSESSIVE_REPEAT": "possessive repeats",
}


def _unsupported_construct(parsed: Any) -> str | None:
    """The first construct of a parsed ``re`` pattern that Chroma's regex engine lacks."""
    for op, argument in parsed:
        name = str(op)
        if name in _UNSUPPORTED:
            return _UNSUPPORTED[name]
        for child in _children(argument):
            found = _unsupported_construct(child)
            if found is not None:
                return found
    return None


def _children(argument: Any) -> list[Any]:
    subpattern = _PARSER.SubPattern
    if isinstance(argument, subpattern):
        return [argument]
    if isinstance(argument, (tuple, list)):
        out: list[Any] = []
        for item in argument:
            out.extend(_children(item))
        return out
    return []


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with ``re`` to match as Chroma's engine would, or
    ``InvalidArgumentError`` saying why it cannot be.

    Cached: the engine that evaluates ``$regex`` calls this for every query.
    """
    spelled = _python_pattern(pattern)
    try:
        compiled = re.compile(spelled)
        parsed = _PARSER.parse(spelled)
    except re.error as exc:
        raise _regex_error(pattern, f"{exc.msg} at position {exc.pos}") from exc
    construct = _unsupported_construct(parsed)
    if construct is not None:
        raise _regex_error(pattern, f"Chroma's regex engine does not support {construct}")
    return compiled


def _check_where_document(where_document: object, path: str, depth: int) -> dict[str, Any]:
    if not isinstance(where_document, dict):
        raise _fail(path, "a dict like {'$contains': 'text'}", where_document)
    if len(where_document) != 1:
        if not where_document:
            raise InvalidArgumentError(f"{path}: expected exactly one operator, got an empty dict")
        raise InvalidArgumentError(
            f"{path}: expected exactly one operator, got {len(where_document)} "
            f"({_keys(where_document)}); combine conditions with {{'$and': [...]}}"
        )
    if depth > _MAX_DEPTH:
        raise InvalidArgumentError(f"{path}: filters nest at most {_MAX_DEPTH} levels deep")
    ((op, operand),) = where_document.items()
    if op in _LOGICAL:
        return _check_logical(op, operand, path, depth, _check_where_document, "document filters")
    if op not in DOC_OPS:
        raise InvalidArgumentError(
            f"{path}: expected an operator among {', '.join((*DOC_OPS, *_LOGICAL))}, "
            f"got {_show(op)}"
        )
    here = f"{path}.{op}"
    if not isinstance(operand, str):
        raise _fail(here, "a non-empty str", operand)
    if not operand:
        raise InvalidArgumentError(f"{here}: expected a non-empty str, got ''")
    text = str(operand)
    if op in ("$regex", "$not_regex"):
        try:
            compile_regex(text)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{here}: {exc}") from None
    return {op: text}


def validate_where_document(
    where_document: object, *, path: str = "where_document"
) -> WhereDocument:
    """Check ``where_document`` against the grammar and return it normalised.

    Regular expressions are compiled (and cached) so that a bad pattern fails here, naming
    it, rather than in the engine.
    """
    return _check_where_document(where_document, path, 0)


def parse_where_document(where_document: WhereDocument) -> DocNode:
    """The tree of a validated ``where_document``."""
    ((op, operand),) = where_document.items()
    if op == "$and":
        return And(children=[parse_where_document(child) for child in operand])
    if op == "$or":
        return Or(children=[parse_where_document(child) for child in operand])
    return DocText(op=cast(DocOp, op), value=operand)
