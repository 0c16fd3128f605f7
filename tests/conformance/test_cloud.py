"""The conformance suite on the chroma-cloud transport, against the cloud stand-in: the
Python Chroma server with token auth behind TLS, reached by Chroma Cloud's host name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chroma_async import AsyncClient, AsyncCollection, NotFoundError
from chroma_async.testing.conformance import ClientFactory, ConformanceSuite
from chroma_async_http.testing import CloudServer, cloud_stand_in, fresh_scope_factory

CANNOT_FORK = pytest.mark.xfail(
    strict=True,
    raises=NotFoundError,
    reason="chromadb's Python server has no fork route (404); Chroma Cloud forks",
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
            "chroma-cloud://", **cloud_server.options(api_key="admin-token")
        )
        return factory

    @pytest.mark.xfail(
        strict=True,
        raises=AssertionError,
        reason="the server has chromadb's defect: array-valued metadata of a deleted "
        "collection leaks into records added later without that key",
    )
    async def test_deleted_collection_is_gone_with_its_records(self, client: AsyncClient) -> None:
        await super().test_deleted_collection_is_gone_with_its_records(client)

    @pytest.mark.xfail(
        strict=True,
        raises=AssertionError,
        reason="chromadb 1.5.9's Python server drops 'ids' from a query (chroma run honours it)",
    )
    async def test_query_with_ids_searches_only_those_records(self, small: AsyncCollection) -> None:
        await super().test_query_with_ids_searches_only_those_records(small)

    @CANNOT_FORK
    async def test_fork_copies_the_records_into_an_independent_collection(
        self, client: AsyncClient
    ) -> None:
        await super().test_fork_copies_the_records_into_an_independent_collection(client)

    @CANNOT_FORK
    async def test_forking_onto_an_existing_name_raises_unique_constraint_error(
        self, client: AsyncClient
    ) -> None:
        await super().test_forking_onto_an_existing_name_raises_unique_constraint_error(client)
