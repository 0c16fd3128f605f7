"""Quick micro-benchmark of the memory transport (≤ 20k records; the full benchmark lives
in benchmarks/). Prints ingestion, loop lag, query latency, recall, filtered queries and
batch search next to raw usearch at the same index settings, and optionally chromadb.

    python transports/local/scripts/microbench.py --n 20000 [--chromadb]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio
import numpy as np
from usearch.index import Index

from chroma_async.operations import AddRecords, CreateCollection, QueryRecords
from chroma_async_local import MemoryTransport
from chroma_async_local.memory import MAX_BATCH_SIZE

PLACE = {"tenant": "default_tenant", "database": "default_database"}


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, 1000, n)] + 0.03 * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def metadata(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    cats, pcts, floats = rng.integers(0, 10, n), rng.integers(0, 100, n), rng.random(n)
    return [
        {"cat": int(c), "pct": int(p), "tag": f"t{int(c) % 4}", "score": float(f)}
        for c, p, f in zip(cats, pcts, floats, strict=True)
    ]


def recall(found: list[list[int]], truth: np.ndarray[Any, Any]) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def exact_top(data: np.ndarray[Any, Any], queries: np.ndarray[Any, Any], mask: Any, k: int) -> Any:
    d = 1.0 - queries @ data.T
    if mask is not None:
        d[:, ~mask] = np.inf
    return np.argsort(d, axis=1)[:, :k]


async def main(
    n: int, dim: int, with_chromadb: bool, limit: int, ratio: float, index_threads: int
) -> None:
    everything = clustered(n + 1200, dim)  # queries come from the same clusters
    data, queries, batch = everything[:n], everything[n : n + 200], everything[n + 200 :]
    metas = metadata(n)
    ids = [str(i) for i in range(n)]

    # raw usearch, same settings as the transport (bf16, M16, ef 100/100, l2sq/ip)
    raw = Index(
        ndim=dim,
        metric="ip",
        dtype="bf16",
        connectivity=16,
        expansion_add=100,
        expansion_search=100,
    )
    start = time.perf_counter()
    for s in range(0, n, MAX_BATCH_SIZE):
        raw.add(np.arange(s, min(n, s + MAX_BATCH_SIZE)), data[s : s + MAX_BATCH_SIZE])
    raw_rate = n / (time.perf_counter() - start)

    transport = MemoryTransport(
        brute_force_limit=limit, brute_force_ratio=ratio, index_threads=index_threads
    )
    await transport.open()
    model = await transport.send(
        CreateCollection(**PLACE, name="bench", configuration={"hnsw": {"space": "cosine"}})
    )
    col = {**PLACE, "collection_id": model.id}
    lags: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            t = time.perf_counter()
            await anyio.sleep(0.001)
            lags.append(time.perf_counter() - t - 0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        start = time.perf_counter()
        for s in range(0, n, MAX_BATCH_SIZE):
            await transport.send(
                AddRecords(
                    **col,
                    ids=ids[s : s + MAX_BATCH_SIZE],
                    embeddings=data[s : s + MAX_BATCH_SIZE],
                    metadatas=metas[s : s + MAX_BATCH_SIZE],  # type: ignore[arg-type]
                    documents=[f"document {i}" for i in range(s, min(n, s + MAX_BATCH_SIZE))],
                )
            )
        rate = n / (time.perf_counter() - start)
        done = True
    lag_ms = np.asarray(lags) * 1e3
    print(
        f"ingest  memory {rate:8.0f} rec/s | raw usearch bf16 {raw_rate:8.0f} rec/s | "
        f"ratio {rate / raw_rate:.2f}"
    )
    print(
        f"loop lag while ingesting: p99 {np.percentile(lag_ms, 99):.2f} ms, "
        f"max {lag_ms.max():.2f} ms ({len(lags)} ticks)"
    )

    async def one(q: np.ndarray[Any, Any], include: tuple[str, ...], where: Any = None) -> Any:
        return await transport.send(
            QueryRecords(
                **col, query_embeddings=q[None, :], n_results=10, where=where, include=include
            )
        )

    for label, include in [
        ("ids+distances", ("distances",)),
        ("default include", ("documents", "metadatas", "distances")),
    ]:
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            res = await one(q, include)
            times.append(time.perf_counter() - t)
            found.append([int(i) for i in res.ids[0]])
        truth = exact_top(data, queries, None, 10)
        print(
            f"query   {label:16s} p50 {statistics.median(times) * 1e3:.3f} ms  "
            f"recall@10 {recall(found, truth):.3f}"
        )
    raw_times, raw_found = [], []
    for q in queries:
        t = time.perf_counter()
        m = raw.search(q, 10)
        raw_times.append(time.perf_counter() - t)
        raw_found.append([int(k) for k in m.keys])
    print(
        f"query   raw usearch bf16  p50 {statistics.median(raw_times) * 1e3:.3f} ms  "
        f"recall@10 {recall(raw_found, exact_top(data, queries, None, 10)):.3f}"
    )

    cats = np.asarray([m["cat"] for m in metas])
    pcts = np.asarray([m["pct"] for m in metas])
    for label, where, mask in [
        ("cat == 3 (10%)", {"cat": 3}, cats == 3),
        ("pct == 42 (1%)", {"pct": 42}, pcts == 42),
    ]:
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            res = await one(q, ("distances",), where)
            times.append(time.perf_counter() - t)
            found.append([int(i) for i in res.ids[0]])
        truth = exact_top(data, queries, mask, 10)
        print(
            f"filtered {label:15s} p50 {statistics.median(times) * 1e3:.3f} ms  "
            f"recall@10 {recall(found, truth):.3f}"
        )

    t = time.perf_counter()
    res = await transport.send(
        QueryRecords(**col, query_embeddings=batch, n_results=10, include=("distances",))
    )
    ours = time.perf_counter() - t
    t = time.perf_counter()
    raw.search(batch, 10)
    theirs = time.perf_counter() - t
    print(
        f"batch   1000 queries: memory {ours * 1e3:.1f} ms | raw usearch {theirs * 1e3:.1f} ms "
        f"| ratio (raw/ours) {theirs / ours:.2f}"
    )

    t = time.perf_counter()
    for q in queries[:128]:
        await one(q, ("distances",))
    sequential = time.perf_counter() - t
    t = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for w in range(32):

            async def worker(w: int = w) -> None:
                for q in queries[w:128:32]:
                    await one(q, ("distances",))

            tg.start_soon(worker)
    concurrent = time.perf_counter() - t
    print(f"concurrency 32 coroutines vs sequential (128 queries): {sequential / concurrent:.2f}×")
    await transport.aclose()

    if with_chromadb:
        import chromadb

        client = chromadb.EphemeralClient()
        c = client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
        t = time.perf_counter()
        for s in range(0, n, 5000):
            c.add(
                ids=ids[s : s + 5000],
                embeddings=data[s : s + 5000],
                metadatas=metas[s : s + 5000],
                documents=[f"document {i}" for i in range(s, min(n, s + 5000))],
            )
        print(f"chromadb ingest {n / (time.perf_counter() - t):8.0f} rec/s")
        for label, where in [
            ("unfiltered", None),
            ("cat == 3", {"cat": 3}),
            ("pct == 42", {"pct": 42}),
        ]:
            times = []
            for q in queries[:100]:
                t = time.perf_counter()
                c.query(query_embeddings=q[None, :], n_results=10, where=where)
                times.append(time.perf_counter() - t)
            print(f"chromadb query {label:10s} p50 {statistics.median(times) * 1e3:.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--chromadb", action="store_true")
    parser.add_argument("--brute-force-limit", type=int, default=4096)
    parser.add_argument("--brute-force-ratio", type=float, default=20.0)
    parser.add_argument("--index-threads", type=int, default=0)
    args = parser.parse_args()
    anyio.run(
        main,
        args.n,
        args.dim,
        args.chromadb,
        args.brute_force_limit,
        args.brute_force_ratio,
        args.index_threads,
    )
