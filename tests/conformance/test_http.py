"""The conformance suite on the http transport, against a real ``chroma run`` (asyncio only).

``chroma run`` cannot fork (it answers 501): the two fork tests of the suite are replaced
by tests that the transport says so, with :class:`InternalError` and
:data:`~chroma_async_http.transport.CANNOT_FORK`, and that nothing was created
(:func:`~chroma_async_http.testing.assert_fork_is_refused`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chroma_async import AsyncClient
from chroma_async.testing.conformance import ClientFactory, ConformanceSuite
from chroma_async_http.testing import (
    ServerProcess,
    assert_fork_is_refused,
    chroma_run,
    fresh_scope_factory,
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # aiohttp


@pytest.fixture(scope="module")
def chroma_server() -> Iterator[ServerProcess]:
    with chroma_run() as server:
        yield server


class TestHttpTransport(ConformanceSuite):
    @pytest.fixture
    def client_factory(self, chroma_server: ServerProcess) -> ClientFactory:
        factory: ClientFactory = fresh_scope_factory(chroma_server.url)
        return factory

    async def test_fork_copies_the_records_into_an_independent_collection(
        self, client: AsyncClient
    ) -> None:
        """On chroma run: refused, saying why, and no collection is created."""
        source = await client.create_collection("origin", metadata={"m": 1})
        await source.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
        await assert_fork_is_refused(client, source, "copy")

    async def test_forking_onto_an_existing_name_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        """On chroma run: refused as any fork is; both collections stay as they were."""
        await client.create_collection("fork-target")
        source = await client.create_collection("fork-source")
        await assert_fork_is_refused(client, source, "fork-target")
