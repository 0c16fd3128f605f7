"""The http transport against chromadb: random programs on a real ``chroma run``, compared.

Each program runs in a tenant and database of its own on one ``chroma run`` started for this
module; ``reopen`` closes the client and connects a new one to the same database (what was
acknowledged must all be there). The oracle is chromadb in-process, as for the local
transports. The budget is chroma_differential.DIFFERENTIAL_SETTINGS
(``CHROMA_ASYNC_DIFFERENTIAL``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chroma_differential import DIFFERENTIAL_SETTINGS, OpenClient, Program, programs, run_program
from hypothesis import given

import chroma_async
from chroma_async_http.testing import ServerProcess, ServerStartError, chroma_run

pytestmark = [
    pytest.mark.anyio,
    # chromadb's own warning about collections made without its embedding function
    pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # aiohttp


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    try:
        with chroma_run(tmp_path_factory.mktemp("differential-chroma-run")) as server:
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


def new_scope_on(url: str) -> OpenClient:
    """A new tenant and database on the server (created at the first open), reopenable."""
    tenant, database = f"t-{uuid.uuid4().hex[:16]}", f"d-{uuid.uuid4().hex[:16]}"
    created = False

    async def open_client() -> chroma_async.AsyncClient:
        nonlocal created
        if not created:
            async with chroma_async.connect(
                url, tenant="default_tenant", database="default_database"
            ) as admin:
                await admin.create_tenant(tenant)
                await admin.create_database(database, tenant=tenant)
            created = True
        return await chroma_async.connect(url, tenant=tenant, database=database)

    return open_client


@DIFFERENTIAL_SETTINGS
@given(program=programs())
async def test_http_transport_agrees_with_chromadb(
    oracle: Any, chroma_server: ServerProcess, program: Program
) -> None:
    await run_program(program, oracle, lambda: new_scope_on(chroma_server.url), reopenable=True)
