"""The persistent transport against chromadb: random programs, every result compared.

Programs here also close the client and reopen the same directory at random points
(``reopen``): what was acknowledged must all be there, exactly, afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from chroma_differential import DIFFERENTIAL_SETTINGS, OpenClient, Program, programs, run_program
from hypothesis import given

import chroma_async

pytestmark = [
    pytest.mark.anyio,
    # chromadb's own warning about collections made without its embedding function
    pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("differential")


@DIFFERENTIAL_SETTINGS
@given(program=programs())
async def test_persistent_transport_agrees_with_chromadb(
    oracle: Any, stores: Path, program: Program
) -> None:
    def new_store() -> OpenClient:
        path = stores / uuid.uuid4().hex  # created by the transport, in a worker thread

        async def open_client() -> chroma_async.AsyncClient:
            return await chroma_async.PersistentClient(path=path)

        return open_client

    await run_program(program, oracle, new_store, reopenable=True)
