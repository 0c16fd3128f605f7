"""The memory transport against chromadb: random programs, every result compared.

The budget is chroma_differential.DIFFERENTIAL_SETTINGS (``CHROMA_ASYNC_DIFFERENTIAL``).
"""

from __future__ import annotations

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
    # The memory transport runs under trio too (the conformance suite checks it); the
    # differential budget is spent on programs, not on a second backend.
    return "asyncio"


def new_memory_store() -> OpenClient:
    async def open_client() -> chroma_async.AsyncClient:
        return await chroma_async.EphemeralClient()

    return open_client


@DIFFERENTIAL_SETTINGS
@given(program=programs())
async def test_memory_transport_agrees_with_chromadb(oracle: Any, program: Program) -> None:
    await run_program(program, oracle, new_memory_store, reopenable=False)
