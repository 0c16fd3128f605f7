"""Fixtures of the http and cloud transport tests: real Chroma servers, started here.

- ``chroma_server``: ``chroma run`` (Chroma's own server) on a free loopback port, with
  resets allowed, for the whole session.
- ``cloud_server``: the cloud stand-in (Python Chroma server, token auth, test TLS; see
  :func:`chroma_async_http.testing.cloud_stand_in`), for the whole session.
- ``http`` / ``scope``: an open http transport, and a fresh tenant and database per test,
  so tests never see each other's collections.
- ``proxy``: a fault-injecting proxy in front of ``chroma_server`` (``fault_proxy.py``).

The http transport is built on aiohttp, which needs asyncio: these tests run under asyncio
only (the root ``conftest.py`` would run them under trio as well).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import numpy.testing  # noqa: F401  # imported now: its lazy import would block the loop
import pytest
from fault_proxy import FaultProxy
from http_scopes import Scope, make_scope

from chroma_async_http import HttpTransport
from chroma_async_http.testing import (
    CloudServer,
    ServerProcess,
    ServerStartError,
    chroma_run,
    cloud_stand_in,
)


@pytest.fixture(scope="session", params=[pytest.param("asyncio", id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """aiohttp needs asyncio."""
    return str(request.param)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``chroma run`` on a free port for the whole session, resets allowed."""
    try:
        with chroma_run(tmp_path_factory.mktemp("chroma-run")) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def cloud_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudServer]:
    """The cloud stand-in: users ``admin-token``, ``solo-token``, ``multi-token``."""
    try:
        with cloud_stand_in(tmp_path_factory.mktemp("cloud")) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def http(chroma_server: ServerProcess) -> AsyncIterator[HttpTransport]:
    """An open http transport (no retry wrapper) to ``chroma_server``."""
    transport = HttpTransport(chroma_server.url)
    await transport.open()
    yield transport
    await transport.aclose()


@pytest.fixture
async def scope(http: HttpTransport) -> Scope:
    return await make_scope(http)


@pytest.fixture
def proxy(chroma_server: ServerProcess) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``chroma_server``, passing everything at first."""
    running = FaultProxy(chroma_server.port, seed=1234, stall_seconds=3.0).start()
    yield running
    running.stop()
