"""Chroma's REST API v2 on the wire: request payloads, typed responses, embeddings.

Every response is decoded into a Struct of the shape the server documents in its
``/openapi.json``; a response of another shape fails with msgspec's message naming the
field (``Expected `str`, got `int` - at `$.ids[0]```), which the transport turns into a
:class:`~chroma_async.errors.VersionMismatchError`. Encoders and decoders are built once,
here.

Embeddings go out as Chroma's own client sends them when the server supports it: one
base64 string per record, of the record's float32 values in little-endian byte order
(``struct.pack("<{n}f")``). msgspec writes ``bytes``-like values as standard base64, so
each record is a zero-copy ``memoryview`` of the array's row. Embeddings in responses are
JSON numbers, decoded to lists and turned into one float32 array per result.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from chroma_async.operations import CollectionModel, DatabaseModel, TenantModel, UserIdentity

__all__ = [
    "ENCODER",
    "CollectionPayload",
    "CollectionWire",
    "ErrorBody",
    "GetPayload",
    "GetWire",
    "PreFlight",
    "QueryPayload",
    "QueryWire",
    "RecordsPayload",
    "decoder_for",
    "embeddings_to_base64",
    "embeddings_to_lists",
    "to_float32_matrix",
]

Float32Array = npt.NDArray[np.float32]

# msgspec accepts one array-like member per union: a metadata list is decoded as a list of
# scalars (the server only stores lists of one type).
WireScalar = str | int | float | bool
WireMetadata = dict[str, WireScalar | list[WireScalar]]

ENCODER = msgspec.json.Encoder()


# --- requests ---------------------------------------------------------------------------


class NamePayload(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class CollectionPayload(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    configuration: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    get_or_create: bool = False


class ModifyPayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    new_name: str | None = None
    new_metadata: dict[str, Any] | None = None
    new_configuration: dict[str, Any] | None = None


class ForkPayload(msgspec.Struct, frozen=True, kw_only=True):
    new_name: str


class RecordsPayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """add, upsert and update: ``embeddings`` is a list of base64 records or of float lists."""

    ids: list[str]
    embeddings: list[Any] | None = None
    metadatas: list[Any] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class DeletePayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None


class GetPayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    include: list[str]
    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = None
    offset: int | None = None


class QueryPayload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    query_embeddings: list[list[float]]
    n_results: int
    include: list[str]
    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None


# --- responses --------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    error: str = ""
    message: str = ""


class PreFlight(msgspec.Struct, frozen=True, kw_only=True):
    max_batch_size: int
    supports_base64_encoding: bool = False


class HeartbeatWire(msgspec.Struct, frozen=True, kw_only=True):
    nanosecond_heartbeat: int = msgspec.field(name="nanosecond heartbeat")


class CollectionWire(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    tenant: str
    database: str
    configuration_json: dict[str, Any] | None = None
    metadata: WireMetadata | None = None
    dimension: int | None = None

    def to_model(self) -> CollectionModel:
        configuration = {
            key: value
            for key, value in (self.configuration_json or {}).items()
            if value is not None
        }
        return CollectionModel(
            id=self.id,
            name=self.name,
            tenant=self.tenant,
            database=self.database,
            metadata=self.metadata,  # type: ignore[arg-type]  # lists hold one type
            configuration=configuration,
            dimension=self.dimension,
        )


class GetWire(msgspec.Struct, frozen=True, kw_only=True):
    ids: list[str]
    embeddings: list[list[float]] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None
    metadatas: list[WireMetadata | None] | None = None


class QueryWire(msgspec.Struct, frozen=True, kw_only=True):
    ids: list[list[str]]
    distances: list[list[float | None]] | None = None
    embeddings: list[list[list[float] | None]] | None = None
    documents: list[list[str | None]] | None = None
    uris: list[list[str | None]] | None = None
    metadatas: list[list[WireMetadata | None]] | None = None


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder_for(kind: Any) -> msgspec.json.Decoder[Any]:
    """The (cached) JSON decoder of ``kind``."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = _DECODERS[kind] = msgspec.json.Decoder(kind)
    return decoder


for _kind in (
    ErrorBody,
    PreFlight,
    HeartbeatWire,
    CollectionWire,
    list[CollectionWire],
    GetWire,
    QueryWire,
    TenantModel,
    DatabaseModel,
    list[DatabaseModel],
    UserIdentity,
    int,
    str,
    bool,
    Any,
):
    decoder_for(_kind)


# --- embeddings --------------------------------------------------------------------------


def embeddings_to_base64(embeddings: Float32Array) -> list[memoryview]:
    """One little-endian float32 record per row, for msgspec to write as base64 strings."""
    little = np.ascontiguousarray(embeddings, dtype="<f4")
    if little.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {little.shape}")
    count, dimension = little.shape
    row_bytes = dimension * 4
    flat = little.data.cast("B")
    return [flat[i * row_bytes : (i + 1) * row_bytes] for i in range(count)]


def embeddings_to_lists(embeddings: Float32Array) -> list[list[float]]:
    """Rows as lists of Python floats, for servers without base64 support and for queries."""
    rows: list[list[float]] = embeddings.tolist()
    return rows


def to_float32_matrix(rows: list[list[float]]) -> Float32Array:
    """Decoded rows as one float32 array (``(0, 0)`` when there are none)."""
    if not rows:
        return np.empty((0, 0), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)


def to_float32_vector(values: list[float | None]) -> Float32Array:
    """Distances as a float32 array; a distance the server left null becomes NaN."""
    if None in values:
        values = [float("nan") if v is None else v for v in values]
    return np.asarray(values, dtype=np.float32)
