"""Chroma's filter grammar: validation with precise error paths, and a typed tree.

``where`` (metadata) grammar::

    where      := {key: scalar}                      # shorthand for {key: {"$eq": scalar}}
                | {key: {op: operand}}               # exactly one operator
                | {"$and": [where, where, ...]}      # two or more... (Chroma accepts >= 1? see parse)
                | {"$or":  [where, where, ...]}
                | {k1: ..., k2: ...}                 # several keys: an implicit $and
    op         := $eq $ne $gt $gte $lt $lte          # $gt.. take int/float only
                | $in $nin                           # operand: non-empty list of one scalar type
                | $contains $not_contains            # metadata arrays: operand is a scalar

``where_document`` grammar::

    wdoc := {"$contains": str} | {"$not_contains": str}
          | {"$regex": str} | {"$not_regex": str}
          | {"$and": [wdoc, ...]} | {"$or": [wdoc, ...]}

The tree (:class:`And`, :class:`Or`, :class:`Compare`, :class:`DocText`) is what the local
engine evaluates; the http transport sends the validated dicts as they are.
"""

from __future__ import annotations

from typing import Literal, Union

import msgspec

from chroma_async.types import MetadataScalar, Where, WhereDocument

__all__ = [
    "And",
    "Compare",
    "DocNode",
    "DocText",
    "Or",
    "WhereNode",
    "parse_where",
    "parse_where_document",
    "validate_where",
    "validate_where_document",
]

CompareOp = Literal[
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains"
]
DocOp = Literal["$contains", "$not_contains", "$regex", "$not_regex"]


class Compare(msgspec.Struct, frozen=True, kw_only=True):
    """``key op value``; ``value`` is a list only for ``$in`` / ``$nin``."""

    key: str
    op: CompareOp
    value: Union[MetadataScalar, list[MetadataScalar]]


class DocText(msgspec.Struct, frozen=True, kw_only=True):
    """A test of the document text: substring or regular expression, possibly negated."""

    op: DocOp
    value: str


class And(msgspec.Struct, frozen=True, kw_only=True):
    children: list[Node]


class Or(msgspec.Struct, frozen=True, kw_only=True):
    children: list[Node]


Node = Union[And, Or, Compare, DocText]
WhereNode = Union[And, Or, Compare]
DocNode = Union[And, Or, DocText]


def validate_where(where: object, *, path: str = "where") -> Where:
    """Check ``where`` against the grammar; raise ``InvalidArgumentError`` naming the path."""
    raise NotImplementedError


def validate_where_document(where_document: object, *, path: str = "where_document") -> WhereDocument:
    raise NotImplementedError


def parse_where(where: Where) -> WhereNode:
    """The tree of a validated ``where``."""
    raise NotImplementedError


def parse_where_document(where_document: WhereDocument) -> DocNode:
    """The tree of a validated ``where_document``."""
    raise NotImplementedError
