"""The chroma-cloud transport against the Python Chroma server with token auth and TLS.

Chroma Cloud's regional host names are resolved to loopback by an aiohttp resolver given to
the transport; the server's certificate is signed by a test CA (trustme) and names them.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.registry import create_transport
from chroma_async.retry import RetryingTransport, RetryPolicy
from chroma_async_http import CloudTransport
from chroma_async_http.regions import host_for_region
from chroma_async_http.testing import CloudServer, LoopbackResolver

pytestmark = pytest.mark.anyio

SECRET = "solo-token"


async def cloud(server: CloudServer, **options: Any) -> RetryingTransport:
    """A chroma-cloud transport built through the registry, off the loop (entry points do I/O)."""
    options.setdefault("cloud_port", server.port)
    options.setdefault("ca_file", str(server.ca_file))
    options.setdefault("resolver", LoopbackResolver(server.hosts))
    transport = await anyio.to_thread.run_sync(
        functools.partial(create_transport, "chroma-cloud://", **options)
    )
    assert isinstance(transport, RetryingTransport)
    return transport


@pytest.fixture(autouse=True)
def no_cloud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHROMA_API_KEY", "CHROMA_HOST", "CHROMA_TENANT", "CHROMA_DATABASE"):
        monkeypatch.delenv(name, raising=False)


async def test_the_key_reaches_its_tenant_and_single_database(cloud_server: CloudServer) -> None:
    transport = await cloud(cloud_server, api_key=SECRET)
    await transport.open()
    try:
        identity = await transport.send(ops.GetUserIdentity())
        assert (identity.tenant, identity.databases) == ("solo-tenant", ["solo-db"])
        created = await transport.send(
            ops.CreateCollection(
                tenant="solo-tenant",
                database="solo-db",
                name="col-one",
                configuration={"hnsw": {"space": "l2"}},
                get_or_create=True,
            )
        )
        assert created.tenant == "solo-tenant"
    finally:
        await transport.aclose()


async def test_a_key_for_several_databases_lists_them(cloud_server: CloudServer) -> None:
    transport = await cloud(cloud_server, api_key="multi-token")
    await transport.open()
    try:
        identity = await transport.send(ops.GetUserIdentity())
        assert identity.databases == ["db-one", "db-two"]
    finally:
        await transport.aclose()


async def test_cloud_defaults_follow_clouds_published_limits(cloud_server: CloudServer) -> None:
    transport = await cloud(cloud_server, api_key=SECRET)
    await transport.open()
    try:
        caps = transport.capabilities
        assert caps.name == "chroma-cloud"
        assert caps.max_batch_size == 300  # the server reports 5461
        assert caps.max_write_concurrency == 10
        assert caps.requires_asyncio
    finally:
        await transport.aclose()


async def test_a_wrong_key_is_an_authorization_error_that_does_not_show_the_key(
    cloud_server: CloudServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-key-0123456789"
    transport = await cloud(cloud_server, api_key=wrong)
    await transport.open()
    try:
        with pytest.raises(errors.AuthorizationError) as info:
            await transport.send(ops.GetUserIdentity())
        with pytest.raises(errors.AuthorizationError):
            await transport.send(ops.ListCollections(tenant="solo-tenant", database="solo-db"))
    finally:
        await transport.aclose()
    shown = [str(info.value), repr(info.value), repr(transport), repr(transport.inner), caplog.text]
    cause: BaseException | None = info.value
    while cause is not None:
        shown.append(repr(cause))
        cause = cause.__cause__
    assert not any(wrong in text for text in shown)


async def test_the_key_comes_from_chroma_api_key_read_at_construction(
    cloud_server: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_API_KEY", SECRET)
    transport = await cloud(cloud_server)
    monkeypatch.setenv("CHROMA_API_KEY", "changed-later")  # not read again
    await transport.open()
    try:
        assert (await transport.send(ops.GetUserIdentity())).tenant == "solo-tenant"
    finally:
        await transport.aclose()
    assert SECRET not in repr(transport)


def test_without_a_key_the_error_says_where_to_put_one() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="CHROMA_API_KEY"):
        CloudTransport.from_url("chroma-cloud://")


@pytest.mark.parametrize(
    ("region", "host"),
    [
        (None, "api.trychroma.com"),
        ("aws-us-east-1", "api.trychroma.com"),
        ("gcp-europe-west1", "europe-west1.gcp.trychroma.com"),
    ],
)
async def test_the_region_selects_the_host(
    cloud_server: CloudServer, region: str | None, host: str
) -> None:
    resolver = LoopbackResolver(cloud_server.hosts)
    transport = await cloud(cloud_server, api_key=SECRET, region=region, resolver=resolver)
    assert host in repr(transport)
    await transport.open()
    try:
        assert (await transport.send(ops.GetUserIdentity())).tenant == "solo-tenant"
    finally:
        await transport.aclose()
    assert set(resolver.asked) == {host}


async def test_chroma_host_selects_the_host_when_no_region_is_given(
    cloud_server: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "europe-west1.gcp.trychroma.com"
    monkeypatch.setenv("CHROMA_HOST", f"{host}:{cloud_server.port}")
    resolver = LoopbackResolver(cloud_server.hosts)
    transport = await cloud(cloud_server, api_key=SECRET, resolver=resolver, cloud_port=443)
    await transport.open()  # the port came from CHROMA_HOST too
    try:
        assert await transport.send(ops.GetVersion())
    finally:
        await transport.aclose()
    assert set(resolver.asked) == {host}


def test_an_unknown_region_lists_the_known_ones() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="gcp-europe-west1") as info:
        host_for_region("mars-north-1")
    assert "aws-us-east-1" in str(info.value)
    with pytest.raises(errors.InvalidArgumentError, match="mars-north-1"):
        CloudTransport.from_url("chroma-cloud://", api_key="k", region="mars-north-1")


def test_region_and_cloud_host_together_are_refused() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="not both"):
        CloudTransport.from_url(
            "chroma-cloud://", api_key="k", region="aws-us-east-1", cloud_host="example.com"
        )


def test_tls_verification_cannot_be_switched_off() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="always verifies"):
        CloudTransport.from_url("chroma-cloud://", api_key="k", verify=False)


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the server's certificate."""
    path = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


async def test_a_certificate_from_an_unknown_ca_fails_at_once(
    cloud_server: CloudServer, other_ca: Path
) -> None:
    transport = await cloud(
        cloud_server, api_key=SECRET, ca_file=str(other_ca), retry=RetryPolicy(max_attempts=5)
    )
    with pytest.raises(errors.ConnectionError, match="certificate") as info:
        await transport.open()
    assert info.value.attempts == 1  # not retried: another attempt cannot cure it
    assert SECRET not in str(info.value)
    inner = transport.inner
    assert isinstance(inner, CloudTransport)
    assert inner._session is None  # a failed open leaves no session behind
    await transport.aclose()


async def test_the_system_trust_store_does_not_trust_the_test_ca(
    cloud_server: CloudServer,
) -> None:
    transport = await cloud(cloud_server, api_key=SECRET, ca_file=None)
    with pytest.raises(errors.ConnectionError, match="certificate"):
        await transport.open()
    await transport.aclose()
