"""Configuration shared by every test of chroma-async.

Two things live here, as in anyio's own ``tests/conftest.py``:

``anyio_backend``
    Async tests (marked ``pytest.mark.anyio``) run once under asyncio and once under trio.
    A transport that needs asyncio (http, cloud) overrides this fixture in its own
    ``conftest.py`` with ``params=["asyncio"]``.

``no_blocking_on_event_loop`` (autouse)
    Fails any test in which the thread running the event loop makes a blocking call
    (``time.sleep``, file or socket I/O in blocking mode, ``sqlite3``, waiting on a held
    lock, ...). It is blockbuster, active for the whole test, async fixtures included. The
    point is DESIGN §4: index, disk and embedding work must run in worker threads, and a
    worker thread is exactly where blockbuster lets such calls through.

    blockbuster only recognises an *asyncio* loop (it asks ``asyncio.get_running_loop``);
    under trio it would silently check nothing. We therefore point it at a stand-in that
    also recognises a running trio task, so the guard is as strict under trio. The guard's
    own tests (``tests/conformance/test_blocking_guard.py``) fail if a blockbuster upgrade
    breaks that.

    There are no allowances, deliberately none for usearch, numpy, sqlite3, file I/O or
    entry-point lookups: if one of those trips the guard, the code under test is wrong,
    not the guard.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator

import blockbuster.blockbuster as blockbuster_impl
import pytest
import trio
from blockbuster import BlockBuster, blockbuster_ctx

pytest_plugins = ["pytester"]


@pytest.fixture(
    scope="module",
    params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test under asyncio and under trio."""
    return str(request.param)


def _running_event_loop() -> object:
    """The asyncio loop or trio task running on this thread; RuntimeError when there is none.

    Worker threads (``anyio.to_thread``) have neither, so blocking calls there pass.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        try:
            return trio.lowlevel.current_task()
        except RuntimeError:
            raise RuntimeError("no running event loop") from None


# What blockbuster's wrappers see when they look up ``asyncio.get_running_loop``.
_ASYNCIO_OR_TRIO = types.SimpleNamespace(get_running_loop=_running_event_loop)


@pytest.fixture(autouse=True)
def no_blocking_on_event_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockBuster]:
    """Fail the test if the event loop thread blocks (see the module docstring)."""
    monkeypatch.setattr(blockbuster_impl, "asyncio", _ASYNCIO_OR_TRIO)
    with blockbuster_ctx() as bb:
        yield bb
