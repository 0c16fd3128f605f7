"""``HttpClient`` and ``CloudClient`` end to end: tenancy from the key, regions, secrets."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import chroma_async
from chroma_async import errors
from chroma_async_http.testing import CloudServer, LoopbackResolver, ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def no_cloud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHROMA_API_KEY", "CHROMA_HOST", "CHROMA_TENANT", "CHROMA_DATABASE"):
        monkeypatch.delenv(name, raising=False)


async def test_http_client_speaks_to_chroma_run(chroma_server: ServerProcess) -> None:
    async with chroma_async.HttpClient(
        host="127.0.0.1", port=chroma_server.port, headers={"X-Request-Source": "tests"}
    ) as client:
        assert await client.heartbeat() > 0
        assert await client.get_max_batch_size() == 5461
        name = f"http-client-{np.random.default_rng().integers(1 << 30)}"
        collection = await client.create_collection(name)
        try:
            await collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
            result = await collection.query(query_embeddings=[[0.9, 0.1]], n_results=1)
            assert result["ids"] == [["a"]]
        finally:
            await client.delete_collection(name)


async def test_a_key_for_one_database_needs_no_tenant_or_database(
    cloud_server: CloudServer,
) -> None:
    async with chroma_async.CloudClient(api_key="solo-token", **cloud_server.options()) as client:
        assert (client.tenant, client.database) == ("solo-tenant", "solo-db")
        collection = await client.get_or_create_collection("key-only")
        await collection.upsert(ids=["x"], embeddings=[[1.0, 2.0, 3.0]])
        assert await collection.count() == 1


async def test_a_key_for_several_databases_needs_a_database_and_says_which(
    cloud_server: CloudServer,
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="db-one") as info:
        await chroma_async.CloudClient(api_key="multi-token", **cloud_server.options())
    assert "db-two" in str(info.value)
    assert "multi-token" not in str(info.value)


async def test_chroma_database_picks_one_of_the_keys_databases(
    cloud_server: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_DATABASE", "db-two")
    async with chroma_async.CloudClient(api_key="multi-token", **cloud_server.options()) as client:
        assert (client.tenant, client.database) == ("multi-tenant", "db-two")


async def test_a_wrong_key_is_refused_without_showing_it(
    cloud_server: CloudServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-live-wrong-0123456789abcdef"
    with pytest.raises(errors.AuthorizationError) as info:
        await chroma_async.CloudClient(api_key=secret, **cloud_server.options())
    texts = [str(info.value), repr(info.value), caplog.text]
    assert all(secret not in text for text in texts)


async def test_the_region_and_chroma_host_choose_the_endpoint(
    cloud_server: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    europe = "europe-west1.gcp.trychroma.com"
    resolver = LoopbackResolver(cloud_server.hosts)
    async with chroma_async.CloudClient(
        api_key="solo-token", region="gcp-europe-west1", **cloud_server.options(resolver=resolver)
    ) as client:
        assert await client.get_version()
    assert set(resolver.asked) == {europe}

    monkeypatch.setenv("CHROMA_HOST", europe)
    resolver = LoopbackResolver(cloud_server.hosts)
    async with chroma_async.CloudClient(
        api_key="solo-token", **cloud_server.options(resolver=resolver)
    ) as client:
        assert await client.get_version()
    assert set(resolver.asked) == {europe}


async def test_no_log_event_repr_or_error_shows_the_key(
    cloud_server: CloudServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with chroma_async.CloudClient(api_key="solo-token", **cloud_server.options()) as client:
        collection = await client.get_or_create_collection("secrets")
        await collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        with pytest.raises(errors.ChromaError) as info:
            await collection.add(ids=["b"], embeddings=[[1.0, 2.0, 3.0]])
        shown = [repr(client), repr(collection), str(info.value), repr(info.value)]
    shown.append(caplog.text)
    shown.extend(str(record.__dict__) for record in caplog.records)
    assert all("solo-token" not in text for text in shown)


async def test_http_client_over_tls_verifies_against_the_given_ca(
    cloud_server: CloudServer,
) -> None:
    options = cloud_server.options()
    del options["cloud_port"]
    async with chroma_async.HttpClient(
        host="api.trychroma.com",
        port=cloud_server.port,
        ssl=True,
        headers={"X-Chroma-Token": "solo-token"},
        tenant="solo-tenant",
        database="solo-db",
        **options,
    ) as client:
        assert await client.count_collections() >= 0
    with pytest.raises(errors.ConnectionError, match="certificate"):
        await chroma_async.HttpClient(
            host="api.trychroma.com",
            port=cloud_server.port,
            ssl=True,
            headers={"X-Chroma-Token": "solo-token"},
            tenant="solo-tenant",
            database="solo-db",
            resolver=LoopbackResolver(cloud_server.hosts),
        )


async def test_http_client_may_switch_verification_off_explicitly(
    cloud_server: CloudServer,
) -> None:
    async with chroma_async.HttpClient(
        host="api.trychroma.com",
        port=cloud_server.port,
        ssl=True,
        headers={"X-Chroma-Token": "solo-token"},
        tenant="solo-tenant",
        database="solo-db",
        verify=False,
        resolver=LoopbackResolver(cloud_server.hosts),
    ) as client:
        assert await client.get_version()
