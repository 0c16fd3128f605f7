"""``AsyncCollection``: Chroma's collection API, awaited.

Everything a transport must not repeat lives here: argument normalisation, validation,
embedding-function calls, splitting writes into the transport's batch size and sending
them with bounded concurrency, and shaping results into Chroma's dicts.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

from chroma_async import operations as ops
from chroma_async.config import update_configuration
from chroma_async.embeddings import EmbeddingFunction, embed
from chroma_async.errors import InvalidArgumentError
from chroma_async.filters import validate_where, validate_where_document
from chroma_async.types import (
    Float32Array,
    GetResult,
    Metadata,
    QueryResult,
    UpdateMetadata,
)
from chroma_async.validation import (
    normalize_embeddings,
    validate_collection_metadata,
    validate_collection_name,
    validate_documents,
    validate_ids,
    validate_include,
    validate_limit,
    validate_metadatas,
    validate_n_results,
    validate_offset,
    validate_uris,
)

if TYPE_CHECKING:
    from chroma_async.client import AsyncClient

__all__ = ["AsyncCollection"]


class _Records:
    """One validated write: ids and the per-record columns that were given."""

    __slots__ = ("documents", "embeddings", "ids", "metadatas", "uris")

    def __init__(
        self,
        ids: list[str],
        embeddings: Float32Array | None,
        metadatas: list[Any] | None,
        documents: list[str | None] | None,
        uris: list[str | None] | None,
    ) -> None:
        self.ids = ids
        self.embeddings = embeddings
        self.metadatas = metadatas
        self.documents = documents
        self.uris = uris

    def fields(self) -> dict[str, Any]:
        """The write's columns as keyword arguments of a record operation."""
        return {
            "ids": self.ids,
            "embeddings": self.embeddings,
            "metadatas": self.metadatas,
            "documents": self.documents,
            "uris": self.uris,
        }

    def slice(self, start: int, stop: int) -> _Records:
        def cut(column: list[Any] | None) -> list[Any] | None:
            return None if column is None else column[start:stop]

        return _Records(
            self.ids[start:stop],
            None if self.embeddings is None else self.embeddings[start:stop],
            cut(self.metadatas),
            cut(self.documents),
            cut(self.uris),
        )


class AsyncCollection:
    """A collection of records. Get one from ``AsyncClient.create_collection`` and friends."""

    def __init__(
        self,
        client: AsyncClient,
        model: ops.CollectionModel,
        embedding_function: EmbeddingFunction | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self._embedding_function = embedding_function

    # --- description --------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def id(self) -> uuid.UUID:
        return self._model.id

    @property
    def metadata(self) -> Metadata | None:
        return self._model.metadata

    @property
    def tenant(self) -> str:
        return self._model.tenant

    @property
    def database(self) -> str:
        return self._model.database

    @property
    def configuration(self) -> dict[str, Any]:
        """The collection's configuration in chromadb's shape."""
        configuration: dict[str, Any] = {"hnsw": None, "spann": None}
        configuration.update(self._model.configuration)
        configuration["embedding_function"] = self._embedding_function
        return configuration

    @property
    def embedding_function(self) -> EmbeddingFunction | None:
        return self._embedding_function

    def __repr__(self) -> str:
        return f"AsyncCollection(name={self.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsyncCollection):
            return NotImplemented
        return self._model == other._model

    def __hash__(self) -> int:
        return hash(self._model.id)

    # --- reads --------------------------------------------------------------------------

    async def count(self) -> int:
        return await self._client._send(ops.CountRecords(**self._address()))

    async def get(
        self,
        ids: str | Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: dict[str, Any] | None = None,
        include: Sequence[str] | None = None,
    ) -> GetResult:
        """Records by id and/or filter, in insertion order, then ``offset`` / ``limit``."""
        valid_ids = None if ids is None else validate_ids(ids, op="get")
        valid_include = validate_include(include, op="get")
        response = await self._client._send(
            ops.GetRecords(
                **self._address(),
                ids=valid_ids,
                where=_where(where),
                where_document=_where_document(where_document),
                limit=validate_limit(limit),
                offset=validate_offset(offset),
                include=valid_include,
            )
        )
        return _get_result(response, valid_include)

    async def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records, with their embeddings."""
        return await self.get(limit=limit, include=["metadatas", "documents", "embeddings"])

    async def query(
        self,
        query_embeddings: Any = None,
        query_texts: str | Sequence[str] | None = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: str | Sequence[str] | None = None,
        n_results: int = 10,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        include: Sequence[str] | None = None,
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query, nearest first."""
        if query_images is not None or query_uris is not None:
            raise InvalidArgumentError(
                "query: query_images and query_uris need a data loader, which chroma-async "
                "does not support; pass query_embeddings or query_texts"
            )
        if (query_embeddings is None) == (query_texts is None):
            raise InvalidArgumentError("query: give exactly one of query_embeddings or query_texts")
        valid_include = validate_include(include, op="query")
        valid_n = validate_n_results(n_results)
        valid_ids = None if ids is None else validate_ids(ids, op="query")
        valid_where = _where(where)
        valid_where_document = _where_document(where_document)
        if query_texts is not None:
            texts = [query_texts] if isinstance(query_texts, str) else list(query_texts)
            if not texts or not all(isinstance(t, str) for t in texts):
                raise InvalidArgumentError(
                    f"query: query_texts must be a str or a non-empty list of str, "
                    f"got {query_texts!r:.200}"
                )
            queries = await embed(
                self._embedding_function,
                texts,
                op="query",
                collection=self.name,
                for_query=True,
            )
        else:
            queries = normalize_embeddings(query_embeddings, op="query", field="query_embeddings")
        response = await self._client._send(
            ops.QueryRecords(
                **self._address(),
                query_embeddings=queries,
                n_results=valid_n,
                ids=valid_ids,
                where=valid_where,
                where_document=valid_where_document,
                include=valid_include,
            )
        )
        return _query_result(response, valid_include)

    # --- writes -------------------------------------------------------------------------

    async def add(
        self,
        ids: str | Sequence[str],
        embeddings: Any = None,
        metadatas: Metadata | Sequence[Metadata | None] | None = None,
        documents: str | Sequence[str | None] | None = None,
        images: Any = None,
        uris: str | Sequence[str | None] | None = None,
    ) -> None:
        """Insert records; ids that already exist are left unchanged (Chroma's semantics)."""
        records = await self._prepare(
            "add", ids, embeddings, metadatas, documents, images, uris, need_embeddings=True
        )
        await self._write(records, ops.AddRecords)

    async def upsert(
        self,
        ids: str | Sequence[str],
        embeddings: Any = None,
        metadatas: UpdateMetadata | Sequence[UpdateMetadata | None] | None = None,
        documents: str | Sequence[str | None] | None = None,
        images: Any = None,
        uris: str | Sequence[str | None] | None = None,
    ) -> None:
        """Insert new ids; for existing ones replace embedding and document, merge metadata."""
        records = await self._prepare(
            "upsert",
            ids,
            embeddings,
            metadatas,
            documents,
            images,
            uris,
            need_embeddings=True,
            allow_none_values=True,
        )
        await self._write(records, ops.UpsertRecords)

    async def update(
        self,
        ids: str | Sequence[str],
        embeddings: Any = None,
        metadatas: UpdateMetadata | Sequence[UpdateMetadata | None] | None = None,
        documents: str | Sequence[str | None] | None = None,
        images: Any = None,
        uris: str | Sequence[str | None] | None = None,
    ) -> None:
        """Change existing records; what is not given stays, ids that do not exist are
        skipped. New documents without embeddings are embedded by the collection's
        embedding function."""
        records = await self._prepare(
            "update",
            ids,
            embeddings,
            metadatas,
            documents,
            images,
            uris,
            need_embeddings=False,
            allow_none_values=True,
        )
        await self._write(records, ops.UpdateRecords)

    async def delete(
        self,
        ids: str | Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> None:
        """Delete the records matching every selector given (at least one)."""
        if ids is not None and not isinstance(ids, str) and len(ids) == 0:
            return  # nothing to delete (chromadb does nothing either)
        valid_ids = None if ids is None else validate_ids(ids, op="delete")
        valid_where = _where(where)
        valid_where_document = _where_document(where_document)
        if valid_ids is None and valid_where is None and valid_where_document is None:
            raise InvalidArgumentError(
                "delete: give at least one of ids, where or where_document; "
                "to delete every record use delete_collection"
            )
        await self._client._send(
            ops.DeleteRecords(
                **self._address(),
                ids=valid_ids,
                where=valid_where,
                where_document=valid_where_document,
            )
        )

    # --- collection ---------------------------------------------------------------------

    async def modify(
        self,
        name: str | None = None,
        metadata: Metadata | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> None:
        """Rename, replace the metadata, or change the mutable configuration."""
        new_name = None if name is None else validate_collection_name(name)
        new_metadata = (
            None if metadata is None else validate_collection_metadata(metadata, for_modify=True)
        )
        new_configuration = (
            None
            if configuration is None
            else update_configuration(self._model.configuration, configuration)
        )
        await self._client._send(
            ops.ModifyCollection(
                tenant=self.tenant,
                database=self.database,
                collection_id=self.id,
                new_name=new_name,
                new_metadata=new_metadata,
                new_configuration=new_configuration,
            )
        )
        changes: dict[str, Any] = {}
        if new_name is not None:
            changes["name"] = new_name
        if new_metadata is not None:
            changes["metadata"] = new_metadata
        if new_configuration is not None:
            changes["configuration"] = new_configuration
        if changes:
            self._model = _replace(self._model, changes)

    async def fork(self, new_name: str) -> AsyncCollection:
        """A copy of this collection under ``new_name``, independent from now on."""
        model = await self._client._send(
            ops.ForkCollection(
                tenant=self.tenant,
                database=self.database,
                collection_id=self.id,
                new_name=validate_collection_name(new_name),
            )
        )
        return AsyncCollection(self._client, model, self._embedding_function)

    # --- internals ----------------------------------------------------------------------

    def _address(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "database": self.database, "collection_id": self.id}

    async def _prepare(
        self,
        op: str,
        ids: object,
        embeddings: object,
        metadatas: object,
        documents: object,
        images: object,
        uris: object,
        *,
        need_embeddings: bool,
        allow_none_values: bool = False,
    ) -> _Records:
        if images is not None:
            raise InvalidArgumentError(
                f"{op}: images need a data loader, which chroma-async does not support; "
                f"pass embeddings"
            )
        valid_ids = validate_ids(ids, op=op)
        count = len(valid_ids)
        valid_metadatas = validate_metadatas(
            metadatas, op=op, count=count, allow_none_values=allow_none_values
        )
        valid_documents = validate_documents(documents, op=op, count=count)
        valid_uris = validate_uris(uris, op=op, count=count)
        valid_embeddings: Float32Array | None
        if embeddings is not None:
            valid_embeddings = normalize_embeddings(embeddings, op=op, count=count)
        elif valid_documents is not None and (
            need_embeddings or self._embedding_function is not None
        ):
            if any(d is None for d in valid_documents):
                raise InvalidArgumentError(
                    f"{op}: every record needs a document to be embedded when no embeddings "
                    f"are given; documents[{valid_documents.index(None)}] is None"
                )
            valid_embeddings = await embed(
                self._embedding_function,
                [d for d in valid_documents if d is not None],
                op=op,
                collection=self.name,
            )
        elif need_embeddings:
            raise InvalidArgumentError(
                f"{op}: give embeddings, or documents and a collection with an embedding_function"
            )
        else:
            valid_embeddings = None
        return _Records(valid_ids, valid_embeddings, valid_metadatas, valid_documents, valid_uris)

    async def _write(
        self,
        records: _Records,
        operation: type[ops.AddRecords | ops.UpsertRecords | ops.UpdateRecords],
    ) -> None:
        """Send ``records`` in batches of the transport's size, a bounded number at once.

        A write that fits one batch is applied whole or not at all. When a larger write
        fails part-way, the error says how many records were written and carries their
        ids as ``written_ids`` (and the rest as ``unwritten_ids``).
        """
        capabilities = self._client.capabilities
        size = max(1, capabilities.max_batch_size)
        total = len(records.ids)
        if total <= size:
            await self._client._send(operation(**self._address(), **records.fields()))
            return
        bounds = [(start, min(start + size, total)) for start in range(0, total, size)]
        written = [False] * len(bounds)
        pending = iter(range(len(bounds)))

        async def worker() -> None:
            # workers take batches in order, so with one worker the batches go in order
            for index in pending:
                start, stop = bounds[index]
                batch = records.slice(start, stop)
                await self._client._send(operation(**self._address(), **batch.fields()))
                written[index] = True

        workers = min(len(bounds), max(1, capabilities.max_write_concurrency))
        try:
            async with anyio.create_task_group() as group:
                for _ in range(workers):
                    group.start_soon(worker)
        except Exception as exc:
            written_ids = [
                i
                for (start, stop), done in zip(bounds, written, strict=True)
                if done
                for i in records.ids[start:stop]
            ]
            failure = _first_error(exc)
            done_set = set(written_ids)
            failure.written_ids = written_ids  # type: ignore[attr-defined]
            failure.unwritten_ids = [i for i in records.ids if i not in done_set]  # type: ignore[attr-defined]
            _add_note(
                failure,
                f"{len(written_ids)} of {total} records were written before the failure "
                f"(see .written_ids / .unwritten_ids)",
            )
            raise failure from failure.__cause__


def _add_note(exc: BaseException, note: str) -> None:
    if sys.version_info >= (3, 11):
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def _first_error(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (task groups wrap what their tasks raise)."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and inner:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _where(where: object) -> dict[str, Any] | None:
    return None if where is None else validate_where(where)


def _where_document(where_document: object) -> dict[str, Any] | None:
    return None if where_document is None else validate_where_document(where_document)


def _replace(model: ops.CollectionModel, changes: dict[str, Any]) -> ops.CollectionModel:
    import msgspec

    return msgspec.structs.replace(model, **changes)


def _empty_embeddings() -> Float32Array:
    return np.empty((0,), dtype=np.float32)


def _get_result(response: ops.GetResponse, include: tuple[str, ...]) -> GetResult:
    embeddings = response.embeddings
    if "embeddings" in include and (embeddings is None or len(response.ids) == 0):
        embeddings = (
            _empty_embeddings() if embeddings is None or not len(embeddings) else embeddings
        )
    return {
        "ids": response.ids,
        "embeddings": embeddings if "embeddings" in include else None,
        "documents": response.documents if "documents" in include else None,
        "uris": response.uris if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": response.metadatas if "metadatas" in include else None,
    }


def _query_result(response: ops.QueryResponse, include: tuple[str, ...]) -> QueryResult:
    embeddings = None
    if "embeddings" in include and response.embeddings is not None:
        embeddings = [e if len(e) else _empty_embeddings() for e in response.embeddings]
    distances = None
    if "distances" in include and response.distances is not None:
        distances = [d.tolist() for d in response.distances]
    return {
        "ids": response.ids,
        "embeddings": embeddings,
        "documents": response.documents if "documents" in include else None,
        "uris": response.uris if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": response.metadatas if "metadatas" in include else None,
        "distances": distances,
    }
