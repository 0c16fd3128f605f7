"""Fixtures of the in-process engine's tests: stores with known data, an open transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chroma_async_local import CollectionStore, IndexSettings, MemoryTransport


@pytest.fixture
def store() -> CollectionStore:
    """An empty l2 store whose filtered queries always take the index path when they can."""
    return CollectionStore(IndexSettings(space="l2"), brute_force_limit=8, brute_force_ratio=0)


@pytest.fixture
async def transport() -> AsyncIterator[MemoryTransport]:
    t = MemoryTransport.from_url("memory://", max_threads=4)
    await t.open()
    try:
        yield t
    finally:
        await t.aclose()
