"""Helpers shared by the persistent transport's tests (imported by module name)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
from usearch.index import Index

import chroma_async
from chroma_async_local import CollectionStore
from chroma_async_local.persistent import PersistentTransport


@asynccontextmanager
async def opened(path: Path, **options: Any) -> AsyncIterator[PersistentTransport]:
    """An open transport on ``path``, closed on exit."""
    transport = PersistentTransport(path, **options)
    await transport.open()
    try:
        yield transport
    finally:
        await transport.aclose()


@asynccontextmanager
async def client_on(
    path: Path, settings: chroma_async.Settings | None = None, **options: Any
) -> AsyncIterator[tuple[chroma_async.AsyncClient, PersistentTransport]]:
    """A client over an open transport on ``path`` (both closed on exit)."""
    async with (
        opened(path, **options) as transport,
        chroma_async.AsyncClient.from_transport(transport, settings=settings) as client,
    ):
        yield client, transport


def vectors(count: int, dim: int = 8, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


async def everything(collection: chroma_async.AsyncCollection) -> dict[str, Any]:
    """Every record with every field, as a dict id → (embedding, metadata, document, uri)."""
    got = await collection.get(include=["embeddings", "metadatas", "documents", "uris"])
    return {
        record_id: (tuple(embedding.tolist()), metadata, document, uri)
        for record_id, embedding, metadata, document, uri in zip(
            got["ids"],
            got["embeddings"] if got["embeddings"] is not None else [],
            got["metadatas"] or [],
            got["documents"] or [],
            got["uris"] or [],
            strict=True,
        )
    }


async def listdir(path: Path) -> list[str]:
    return sorted(await anyio.to_thread.run_sync(lambda: [p.name for p in path.iterdir()]))


def index_problem(store: CollectionStore) -> str | None:
    """Why the store's usearch index does not hold exactly its live records' keys with
    their vectors (bfloat16-close), or None when it does. Call in a worker thread."""
    rows = store.rows()
    saved = store.save_index()
    if saved is None:
        return "no index, but records" if rows.ids else None
    index = Index.restore(bytearray(saved))
    if index is None:
        return "the index cannot be read back"
    held = set(np.asarray(index.keys, dtype=np.int64).tolist()) if len(index) else set()
    wanted = set(rows.keys.tolist())
    if held != wanted:
        return f"index keys: missing {sorted(wanted - held)[:5]}, extra {sorted(held - wanted)[:5]}"
    for key, vector in zip(rows.keys.tolist(), rows.embeddings, strict=True):
        found = np.asarray(index.get(key), dtype=np.float32)
        if store.settings.space == "cosine":
            vector = vector / (np.linalg.norm(vector) + 1e-30)
        if np.abs(found - vector).max() > 0.02 * max(1.0, float(np.abs(vector).max())):
            return f"index key {key} holds another vector"
    return None


def stores_of(transport: PersistentTransport) -> dict[str, CollectionStore]:
    """Collection name → store (white-box: the tests check the engine's state directly)."""
    return {d.entry.name: d.entry.store for d in transport._durable.values()}
