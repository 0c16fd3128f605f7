"""The conformance suite on the chroma-cloud transport, against the cloud stand-in: the
Python Chroma server with token auth behind TLS, reached by Chroma Cloud's host name.

The stand-in is a single-node server on SQLite, with the deleted-collection defect that
Chroma Cloud's distributed backend does not have: the client under test is made with
``scrub_on_delete=True`` (the cloud transport's default is False). The Python server has no
fork route: the two fork tests are replaced by tests that the transport says it cannot
fork (never "collection not found") and creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chroma_async import AsyncClient
from chroma_async.testing.conformance import ClientFactory, ConformanceSuite
from chroma_async_http.testing import (
    CloudServer,
    assert_fork_is_refused,
    cloud_stand_in,
    fresh_scope_factory,
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # aiohttp


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[CloudServer]:
    with cloud_stand_in() as server:
        yield server


class TestCloudTransport(ConformanceSuite):
    @pytest.fixture
    def client_factory(self, cloud_server: CloudServer) -> ClientFactory:
        factory: ClientFactory = fresh_scope_factory(
            "chroma-cloud://", **cloud_server.options(api_key="admin-token", scrub_on_delete=True)
        )
        return factory

    async def test_fork_copies_the_records_into_an_independent_collection(
        self, client: AsyncClient
    ) -> None:
        """On the stand-in (no fork route): refused, saying why; nothing is created."""
        source = await client.create_collection("origin", metadata={"m": 1})
        await source.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
        await assert_fork_is_refused(client, source, "copy")

    async def test_forking_onto_an_existing_name_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        """On the stand-in: refused as any fork is; both collections stay as they were."""
        await client.create_collection("fork-target")
        source = await client.create_collection("fork-source")
        await assert_fork_is_refused(client, source, "fork-target")
