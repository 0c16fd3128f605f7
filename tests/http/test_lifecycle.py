"""Pool, close and sockets: bounded connections, close with work in flight, nothing leaked."""

from __future__ import annotations

import os

import anyio
import psutil
import pytest
from fault_proxy import FaultProxy
from http_scopes import Scope

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.options import Limits
from chroma_async_http import HttpTransport

pytestmark = pytest.mark.anyio


def sockets_to(port: int) -> int:
    """Open TCP sockets of this process whose peer is ``port`` (blocking: read /proc)."""
    return sum(
        1
        for conn in psutil.Process(os.getpid()).net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port
    )


async def count_sockets(port: int) -> int:
    return await anyio.to_thread.run_sync(sockets_to, port)


async def test_thousands_of_concurrent_calls_stay_within_the_pool_limit(
    proxy: FaultProxy, scope: Scope
) -> None:
    transport = HttpTransport(
        proxy.url, limits=Limits(max_connections=6, max_connections_per_host=6)
    )
    await transport.open()
    proxy.reset_counts()
    answers: list[int] = []

    async def call() -> None:
        answers.append(await transport.send(ops.CountCollections(**scope.kw())))

    try:
        async with anyio.create_task_group() as group:
            for _ in range(2000):
                group.start_soon(call)
        assert answers == [0] * 2000
        assert 1 <= proxy.max_connections <= 6
        assert await count_sockets(proxy.port) <= 6
    finally:
        await transport.aclose()
    assert await count_sockets(proxy.port) == 0


async def test_close_with_requests_in_flight_ends_each_one_clearly_and_leaks_nothing(
    proxy: FaultProxy, scope: Scope
) -> None:
    baseline = await count_sockets(proxy.port)
    transport = HttpTransport(proxy.url, limits=Limits(max_connections=20))
    await transport.open()
    proxy.delay = 0.3  # every answer is slow: requests are in flight when we close
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await transport.send(ops.CountCollections(**scope.kw()))
            outcomes.append("done")
        except errors.ClientClosedError:
            outcomes.append("closed")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(200):
                group.start_soon(call)
            await anyio.sleep(0.1)
            assert await count_sockets(proxy.port) > 0
            await transport.aclose()
    assert len(outcomes) == 200
    assert outcomes.count("closed") >= 180  # at most the first wave could have finished
    assert await count_sockets(proxy.port) == baseline
    with pytest.raises(errors.ClientClosedError):
        await transport.send(ops.Heartbeat())


async def test_many_open_and_close_cycles_leak_no_sockets(proxy: FaultProxy) -> None:
    for _ in range(30):
        transport = HttpTransport(proxy.url)
        await transport.open()
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(transport.send, ops.Heartbeat())
        await transport.aclose()
    assert await count_sockets(proxy.port) == 0
    assert proxy.connections == 0 or await _settles(proxy)


async def _settles(proxy: FaultProxy) -> bool:
    """The proxy notices closed connections a moment later."""
    for _ in range(100):  # polling another thread's counter: no event to wait on
        if proxy.connections == 0:
            return True
        await anyio.sleep(0.02)
    return False
