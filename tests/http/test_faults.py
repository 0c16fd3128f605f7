"""Faults on the way to a real server: a loopback proxy resets, stalls, refuses, truncates.

Under a workload of thousands of writes and queries every record is written exactly once
and nothing is lost; what cannot be repeated safely surfaces at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import numpy as np
import pytest
from fault_proxy import FaultProxy
from http_scopes import Scope

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.options import Timeout, call_timeout
from chroma_async.retry import RetryingTransport, RetryPolicy
from chroma_async_http import HttpTransport
from chroma_async_http.testing import ServerProcess

pytestmark = pytest.mark.anyio

POLICY = RetryPolicy(max_attempts=10, backoff_base=0.01, backoff_cap=0.2, deadline=60.0)
FAST_TIMEOUT = Timeout(connect=2.0, read=2.0, total=20.0)  # a loaded 2-core machine


def through(proxy: FaultProxy, policy: RetryPolicy = POLICY) -> RetryingTransport:
    return RetryingTransport(HttpTransport(proxy.url, timeout=FAST_TIMEOUT), policy)


async def new_collection(
    transport: HttpTransport | RetryingTransport, scope: Scope, name: str = "faults"
) -> ops.CollectionModel:
    return await transport.send(
        ops.CreateCollection(
            **scope.kw(), name=name, configuration={"hnsw": {"space": "l2"}}, get_or_create=True
        )
    )


async def test_thousands_of_writes_and_queries_survive_faults_exactly_once(
    proxy: FaultProxy, http: HttpTransport, scope: Scope, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chroma_async.retry")
    transport = through(proxy)
    await transport.open()
    cid = (await new_collection(transport, scope)).id
    records, batch, dim = 3000, 60, 16
    rng = np.random.default_rng(42)
    embeddings = rng.standard_normal((records, dim)).astype(np.float32)
    ids = [f"r{i:05d}" for i in range(records)]
    metadatas: list[dict[str, Any] | None] = [{"i": i, "even": i % 2 == 0} for i in range(records)]
    proxy.rates = {
        "reset_before": 0.03,
        "reset_after": 0.03,
        "stall": 0.01,
        "truncate": 0.03,
        "http_503": 0.03,
        "http_429": 0.03,
    }
    proxy.reset_counts()
    query_results: list[ops.QueryResponse] = []
    limiter = anyio.CapacityLimiter(8)

    async def write(start: int) -> None:
        async with limiter:
            stop = start + batch
            await transport.send(
                ops.AddRecords(
                    **scope.kw(),
                    collection_id=cid,
                    ids=ids[start:stop],
                    embeddings=embeddings[start:stop],
                    metadatas=metadatas[start:stop],
                    documents=[f"doc {i}" for i in range(start, stop)],
                )
            )

    async def query(i: int) -> None:
        async with limiter:
            query_results.append(
                await transport.send(
                    ops.QueryRecords(
                        **scope.kw(),
                        collection_id=cid,
                        query_embeddings=embeddings[i : i + 1],
                        n_results=3,
                        include=("distances", "metadatas"),
                    )
                )
            )

    try:
        async with anyio.create_task_group() as group:
            for start in range(0, records, batch):
                group.start_soon(write, start)
            for i in range(0, 1500, 3):
                group.start_soon(query, i)
        # a second pass: upserts of every tenth record, and updates, under the same faults
        async with anyio.create_task_group() as group:
            for start in range(0, records, 300):
                chunk = slice(start, start + 300, 10)
                group.start_soon(
                    transport.send,
                    ops.UpsertRecords(
                        **scope.kw(),
                        collection_id=cid,
                        ids=ids[chunk],
                        embeddings=embeddings[chunk],
                        metadatas=[{"up": True}] * 30,
                    ),
                )
    finally:
        await transport.aclose()

    injected = {fault: proxy.counts[fault] for fault in proxy.rates}
    assert all(count > 0 for count in injected.values()), injected
    assert len(query_results) == 500
    assert all(len(result.ids) == 1 for result in query_results)

    # checked directly against the server, without the proxy
    assert await http.send(ops.CountRecords(**scope.kw(), collection_id=cid)) == records
    stored = await http.send(
        ops.GetRecords(
            **scope.kw(), collection_id=cid, include=("embeddings", "metadatas", "documents")
        )
    )
    order = np.argsort(stored.ids)
    assert [stored.ids[i] for i in order] == ids
    assert stored.embeddings is not None
    np.testing.assert_array_equal(stored.embeddings[order], embeddings)
    assert stored.metadatas is not None
    expected = [{**(m or {}), "up": True} if i % 10 == 0 else m for i, m in enumerate(metadatas)]
    assert [stored.metadatas[i] for i in order] == expected
    assert stored.documents is not None
    assert [stored.documents[i] for i in order] == [f"doc {i}" for i in range(records)]
    retries = [r for r in caplog.records if r.getMessage() == "retry"]
    assert len(retries) >= sum(injected.values())
    assert {r.__dict__["transport"] for r in retries} == {"http"}


async def test_a_non_retryable_error_surfaces_at_once(proxy: FaultProxy, scope: Scope) -> None:
    transport = through(proxy)
    await transport.open()
    try:
        cid = (await new_collection(transport, scope)).id
        await transport.send(
            ops.AddRecords(
                **scope.kw(), collection_id=cid, ids=["a"], embeddings=np.zeros((1, 3), np.float32)
            )
        )
        before = proxy.requests
        with pytest.raises(errors.InvalidArgumentError, match="dimension"):
            await transport.send(
                ops.AddRecords(
                    **scope.kw(),
                    collection_id=cid,
                    ids=["b"],
                    embeddings=np.zeros((1, 5), np.float32),
                )
            )
        assert proxy.requests == before + 1
    finally:
        await transport.aclose()


async def test_a_create_whose_answer_was_lost_is_not_repeated(
    proxy: FaultProxy, scope: Scope, http: HttpTransport
) -> None:
    transport = through(proxy)
    await transport.open()
    try:
        before = proxy.requests
        proxy.forced = ["reset_after"]
        with pytest.raises(errors.ConnectionError) as info:
            await transport.send(ops.CreateCollection(**scope.kw(), name="once", configuration={}))
        assert proxy.requests == before + 1
        assert info.value.attempts == 1
    finally:
        await transport.aclose()
    # the server did create it: a repeat would have said "already exists"
    assert (await http.send(ops.GetCollection(**scope.kw(), name="once"))).name == "once"


async def test_a_create_refused_before_reaching_the_server_is_repeated(
    proxy: FaultProxy, scope: Scope
) -> None:
    transport = through(proxy)
    await transport.open()
    try:
        proxy.forced = ["http_429", "http_429"]
        created = await transport.send(
            ops.CreateCollection(**scope.kw(), name="after-429", configuration={})
        )
        assert created.name == "after-429"
        assert proxy.counts["http_429"] == 2
    finally:
        await transport.aclose()


async def test_retry_after_of_a_503_is_honoured(
    chroma_server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chroma_async.retry")
    proxy = await anyio.to_thread.run_sync(
        lambda: FaultProxy(chroma_server.port, retry_after="1").start()
    )
    transport = through(proxy)
    try:
        await transport.open()
        proxy.forced = ["http_503"]
        started = time.monotonic()
        assert await transport.send(ops.GetVersion()) == "1.0.0"
        elapsed = time.monotonic() - started
    finally:
        await transport.aclose()
        await anyio.to_thread.run_sync(proxy.stop)
    assert 0.95 <= elapsed < 3.0
    (event,) = [r for r in caplog.records if r.getMessage() == "retry"]
    assert (event.__dict__["delay"], event.__dict__["status"]) == (1.0, 503)


async def test_a_stalled_answer_is_a_timeout_and_a_read_is_retried(
    proxy: FaultProxy, scope: Scope
) -> None:
    once = through(proxy, RetryPolicy(max_attempts=1))
    await once.open()
    try:
        proxy.forced = ["stall"]
        with pytest.raises(errors.TimeoutError, match="timed out"):
            await once.send(ops.ListCollections(**scope.kw()))
    finally:
        await once.aclose()
    retrying = through(proxy)
    await retrying.open()
    try:
        proxy.forced = ["stall", "truncate", "reset_before"]
        assert await retrying.send(ops.ListCollections(**scope.kw())) == []
    finally:
        await retrying.aclose()


async def test_retries_end_with_the_deadline(proxy: FaultProxy, scope: Scope) -> None:
    transport = through(
        proxy, RetryPolicy(max_attempts=100, backoff_base=0.05, backoff_cap=0.05, deadline=0.6)
    )
    await transport.open()
    try:
        proxy.rates = {"http_503": 1.0}
        started = time.monotonic()
        with pytest.raises(errors.InternalError):
            await transport.send(ops.CountCollections(**scope.kw()))
        assert time.monotonic() - started < 1.5
    finally:
        await transport.aclose()


async def test_call_timeout_overrides_the_clients_timeout_for_one_block(
    proxy: FaultProxy, scope: Scope
) -> None:
    patient = RetryingTransport(HttpTransport(proxy.url), RetryPolicy(max_attempts=1))
    await patient.open()
    try:
        proxy.forced = ["stall"]
        started = time.monotonic()
        with (
            call_timeout(Timeout(read=0.3, total=5.0)),
            pytest.raises(errors.TimeoutError, match=r"read 0\.3 s"),
        ):
            await patient.send(ops.CountCollections(**scope.kw()))
        assert time.monotonic() - started < 2.0  # not the default 60 s read timeout
        assert await patient.send(ops.CountCollections(**scope.kw())) == 0
    finally:
        await patient.aclose()
