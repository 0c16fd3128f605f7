"""Public types: what users pass in and what they get back, in Chroma's shapes."""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

__all__ = [
    "ID",
    "Database",
    "Embedding",
    "Embeddings",
    "GetResult",
    "IDs",
    "Include",
    "IncludeItem",
    "Metadata",
    "MetadataScalar",
    "MetadataValue",
    "QueryResult",
    "Tenant",
    "UpdateMetadata",
    "Where",
    "WhereDocument",
]

ID = str
IDs = list[str]

MetadataScalar = str | int | float | bool
MetadataValue = MetadataScalar | list[str] | list[int] | list[float] | list[bool]
Metadata = dict[str, MetadataValue]
UpdateMetadata = dict[str, MetadataValue | None]
"""Metadata for ``update``/``upsert``: a key whose value is ``None`` is removed."""

Embedding = npt.NDArray[Any] | list[float] | list[int]
Embeddings = npt.NDArray[Any] | list[Embedding]
Float32Array = npt.NDArray[np.float32]

Where = dict[str, Any]
"""A metadata filter in Chroma's grammar, e.g. ``{"$and": [{"cat": 3}, {"pct": {"$gt": 5}}]}``."""
WhereDocument = dict[str, Any]
"""A document filter in Chroma's grammar, e.g. ``{"$contains": "async"}``."""

IncludeItem = Literal["documents", "embeddings", "metadatas", "distances", "uris"]
Include = list[IncludeItem]


class Tenant(TypedDict):
    """A tenant, as chromadb's ``get_tenant`` returns it."""

    name: str


class Database(TypedDict):
    """A database, as chromadb's ``get_database`` / ``list_databases`` return it."""

    id: uuid.UUID
    name: str
    tenant: str


class GetResult(TypedDict):
    """What ``get`` and ``peek`` return, key for key as chromadb does."""

    ids: list[str]
    embeddings: npt.NDArray[np.float32] | None
    documents: list[str | None] | None
    uris: list[str | None] | None
    included: list[str]
    data: None
    metadatas: list[Metadata | None] | None


class QueryResult(TypedDict):
    """What ``query`` returns: every field holds one list per query."""

    ids: list[list[str]]
    embeddings: list[npt.NDArray[np.float32]] | None
    documents: list[list[str | None]] | None
    uris: list[list[str | None]] | None
    included: list[str]
    data: None
    metadatas: list[list[Metadata | None]] | None
    distances: list[list[float]] | None
