"""The conformance suite on the memory transport (``memory://``), under asyncio and trio."""

from __future__ import annotations

import pytest

import chroma_async
from chroma_async.testing.conformance import ClientFactory, ConformanceSuite, OpeningClient


class TestMemoryTransport(ConformanceSuite):
    @pytest.fixture
    def client_factory(self) -> ClientFactory:
        def connect(settings: chroma_async.Settings | None = None) -> OpeningClient:
            return chroma_async.connect("memory://", settings=settings)

        return connect


@pytest.mark.anyio
async def test_each_ephemeral_client_is_its_own_world() -> None:
    # A deliberate difference from chromadb, whose EphemeralClient is a process-wide singleton.
    async with chroma_async.EphemeralClient() as first, chroma_async.EphemeralClient() as second:
        collection = await first.create_collection("mine")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert await second.list_collections() == []
        other = await second.create_collection("mine")
        assert await other.count() == 0
        assert other.id != collection.id
