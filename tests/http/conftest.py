"""Fixtures of the http and cloud transport tests.

The http transport is built on aiohttp, which needs asyncio: these tests run under asyncio
only (the root ``conftest.py`` would run them under trio as well).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", params=[pytest.param("asyncio", id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """aiohttp needs asyncio."""
    return str(request.param)
