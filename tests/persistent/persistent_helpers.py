"""Helpers shared by the persistent transport's tests (imported by module name)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np

import chroma_async
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
