"""The memory transport against chromadb: random programs, every result compared.

Budget: the ``ci`` profile (default) runs a fixed, derandomized set of programs in well under
90 s here; ``CHROMA_ASYNC_DIFFERENTIAL=thorough`` runs many more, randomly.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from chroma_differential import Program, new_oracle, programs, run_program
from hypothesis import HealthCheck, Phase, given, settings

import chroma_async

# ``ci`` does not shrink: shrinking these programs can take minutes (beyond the test
# timeout); the failing program is printed as found. ``thorough`` shrinks.
PROFILES = {
    "ci": settings(
        max_examples=40,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ),
    "thorough": settings(
        max_examples=1000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ),
}
PROFILE = PROFILES[os.environ.get("CHROMA_ASYNC_DIFFERENTIAL", "ci")]

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    # The memory transport runs under trio too (the conformance suite checks it); the
    # differential budget is spent on programs, not on a second backend.
    return "asyncio"


@pytest.fixture(scope="module")
def oracle() -> Any:
    return new_oracle()


async def _memory_client() -> chroma_async.AsyncClient:
    return await chroma_async.EphemeralClient()


# The blocking guard (tests/conftest.py) is function-scoped and stays active for every
# example of the test: that is why the function_scoped_fixture health check is suppressed.
@PROFILE
@given(program=programs())
async def test_memory_transport_agrees_with_chromadb(oracle: Any, program: Program) -> None:
    await run_program(program, oracle, _memory_client)
