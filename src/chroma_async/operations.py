"""Typed operations: what the core sends to a transport and what it gets back.

Each operation is a frozen, keyword-only msgspec Struct tagged with its class name and
parametrised by its result type, so ``await transport.send(CountRecords(...))`` is typed
``int``. The core validates and normalises every field before building an operation:
a transport may rely on

- ids being non-empty, unique ``str``;
- embeddings being one C-contiguous 2-D ``float32`` array of finite values, one row per id;
- metadata values being ``str | int | float | bool`` or a non-empty list of one of those
  (``None`` only in update/upsert, meaning "remove this key");
- ``where`` / ``where_document`` following Chroma's grammar (see :mod:`chroma_async.filters`);
- ``include`` holding only known names, without duplicates.
"""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from chroma_async.types import Metadata, UpdateMetadata, Where, WhereDocument

__all__ = [
    "AddRecords",
    "CollectionModel",
    "CountCollections",
    "CountRecords",
    "CreateCollection",
    "CreateDatabase",
    "CreateTenant",
    "DatabaseModel",
    "DeleteCollection",
    "DeleteDatabase",
    "DeleteRecords",
    "ForkCollection",
    "GetCollection",
    "GetDatabase",
    "GetRecords",
    "GetResponse",
    "GetTenant",
    "GetUserIdentity",
    "GetVersion",
    "Heartbeat",
    "ListCollections",
    "ListDatabases",
    "ModifyCollection",
    "Operation",
    "QueryRecords",
    "QueryResponse",
    "RecordOperation",
    "Reset",
    "TenantModel",
    "UpdateRecords",
    "UpsertRecords",
    "UserIdentity",
]

R = TypeVar("R")
Float32Array = npt.NDArray[np.float32]


class Operation(msgspec.Struct, Generic[R], frozen=True, kw_only=True, tag=True):
    """Base of every operation; ``R`` is the type its transport returns."""


# --- results --------------------------------------------------------------------------


class TenantModel(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class DatabaseModel(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    tenant: str


class UserIdentity(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    tenant: str
    databases: list[str]


class CollectionModel(msgspec.Struct, frozen=True, kw_only=True):
    """A collection as the transport knows it.

    ``configuration`` is the resolved configuration in Chroma's JSON shape
    (``{"hnsw": {"space": "l2", "ef_construction": 100, ...}}``).
    """

    id: uuid.UUID
    name: str
    tenant: str
    database: str
    metadata: Metadata | None = None
    configuration: dict[str, Any] = msgspec.field(default_factory=dict)
    dimension: int | None = None


class GetResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Records in the order the operation asked for them; fields not included are None."""

    ids: list[str]
    embeddings: Float32Array | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None
    metadatas: list[Metadata | None] | None = None


class QueryResponse(msgspec.Struct, frozen=True, kw_only=True):
    """One entry per query embedding, nearest first; fields not included are None."""

    ids: list[list[str]]
    distances: list[Float32Array] | None = None
    embeddings: list[Float32Array] | None = None
    documents: list[list[str | None]] | None = None
    uris: list[list[str | None]] | None = None
    metadatas: list[list[Metadata | None]] | None = None


# --- system ---------------------------------------------------------------------------


class Heartbeat(Operation[int], frozen=True, kw_only=True, tag=True):
    """Nanoseconds since the epoch, as the server sees them."""


class GetVersion(Operation[str], frozen=True, kw_only=True, tag=True):
    pass


class Reset(Operation[bool], frozen=True, kw_only=True, tag=True):
    """Delete everything. The core only sends it when the client allows resets."""


class GetUserIdentity(Operation[UserIdentity], frozen=True, kw_only=True, tag=True):
    pass


# --- tenants and databases ------------------------------------------------------------


class CreateTenant(Operation[None], frozen=True, kw_only=True, tag=True):
    name: str


class GetTenant(Operation[TenantModel], frozen=True, kw_only=True, tag=True):
    name: str


class CreateDatabase(Operation[None], frozen=True, kw_only=True, tag=True):
    tenant: str
    name: str


class GetDatabase(Operation[DatabaseModel], frozen=True, kw_only=True, tag=True):
    tenant: str
    name: str


class ListDatabases(Operation[list[DatabaseModel]], frozen=True, kw_only=True, tag=True):
    tenant: str
    limit: int | None = None
    offset: int = 0


class DeleteDatabase(Operation[None], frozen=True, kw_only=True, tag=True):
    tenant: str
    name: str


# --- collections ----------------------------------------------------------------------


class ListCollections(Operation[list[CollectionModel]], frozen=True, kw_only=True, tag=True):
    """Collections of one database in a stable order (local engines: oldest first;
    Chroma servers: by collection id), then ``offset`` / ``limit``."""

    tenant: str
    database: str
    limit: int | None = None
    offset: int = 0


class CountCollections(Operation[int], frozen=True, kw_only=True, tag=True):
    tenant: str
    database: str


class CreateCollection(Operation[CollectionModel], frozen=True, kw_only=True, tag=True):
    """``configuration`` is already resolved by the core (defaults filled in)."""

    tenant: str
    database: str
    name: str
    configuration: dict[str, Any]
    metadata: Metadata | None = None
    get_or_create: bool = False


class GetCollection(Operation[CollectionModel], frozen=True, kw_only=True, tag=True):
    tenant: str
    database: str
    name: str


class DeleteCollection(Operation[None], frozen=True, kw_only=True, tag=True):
    tenant: str
    database: str
    name: str


class ModifyCollection(Operation[None], frozen=True, kw_only=True, tag=True):
    """Rename and/or replace metadata and/or update the mutable configuration."""

    tenant: str
    database: str
    collection_id: uuid.UUID
    new_name: str | None = None
    new_metadata: Metadata | None = None
    new_configuration: dict[str, Any] | None = None


class ForkCollection(Operation[CollectionModel], frozen=True, kw_only=True, tag=True):
    tenant: str
    database: str
    collection_id: uuid.UUID
    new_name: str


# --- records --------------------------------------------------------------------------


class RecordOperation(Operation[R], frozen=True, kw_only=True, tag=True):
    """An operation on the records of one collection."""

    tenant: str
    database: str
    collection_id: uuid.UUID


class CountRecords(RecordOperation[int], frozen=True, kw_only=True, tag=True):
    pass


class AddRecords(RecordOperation[None], frozen=True, kw_only=True, tag=True):
    """Insert; ids that already exist are left as they are (Chroma's semantics)."""

    ids: list[str]
    embeddings: Float32Array
    metadatas: list[Metadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class UpsertRecords(RecordOperation[None], frozen=True, kw_only=True, tag=True):
    """Insert new ids; for existing ones replace the embedding and document, merge metadata."""

    ids: list[str]
    embeddings: Float32Array
    metadatas: list[UpdateMetadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class UpdateRecords(RecordOperation[None], frozen=True, kw_only=True, tag=True):
    """Change existing records; fields that are None stay as they are, missing ids are skipped."""

    ids: list[str]
    embeddings: Float32Array | None = None
    metadatas: list[UpdateMetadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class DeleteRecords(RecordOperation[None], frozen=True, kw_only=True, tag=True):
    """Delete the records matching all given selectors (at least one is given)."""

    ids: list[str] | None = None
    where: Where | None = None
    where_document: WhereDocument | None = None


class GetRecords(RecordOperation[GetResponse], frozen=True, kw_only=True, tag=True):
    """Records matching all selectors, in insertion order, then ``offset``/``limit``."""

    ids: list[str] | None = None
    where: Where | None = None
    where_document: WhereDocument | None = None
    limit: int | None = None
    offset: int = 0
    include: tuple[str, ...] = ("documents", "metadatas")


class QueryRecords(RecordOperation[QueryResponse], frozen=True, kw_only=True, tag=True):
    """The ``n_results`` nearest records to each query among those matching the selectors."""

    query_embeddings: Float32Array
    n_results: int = 10
    ids: list[str] | None = None
    where: Where | None = None
    where_document: WhereDocument | None = None
    include: tuple[str, ...] = ("documents", "metadatas", "distances")
