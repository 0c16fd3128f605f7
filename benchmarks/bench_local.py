"""In-process engines, measured in one run on the same data: chroma-async's memory
transport against ``chromadb.EphemeralClient`` and raw usearch.

    python benchmarks/bench_local.py --n 100000 --dim 384 --repeat 3
    python benchmarks/bench_local.py --n 10000 --only ours,chromadb --phases query,filtered

Each competitor runs in its own child process (this script with ``--worker NAME``), one
after the other, so that none shares a heap, a thread pool or the GIL with another and
each one's resident memory is its own. A repeat starts every competitor once, in an order
rotated from one repeat to the next, so that a change in the machine's load spreads over
all of them; figures are medians over the repeats. The parent generates (or loads from
the cache) the data and its exact ground truth, starts the children, prints the figures,
the ratios and the targets of issue 2 (PASS / MISS), and writes everything as JSON to
``--results-dir``.

Competitors:

``ours``          ``chroma_async.EphemeralClient()``, a ``cosine`` collection, ``await col.add``
                  in batches of the client's max batch size
``chromadb``      ``chromadb.EphemeralClient()``, batches of its max batch size; its adds
                  also run via ``asyncio.to_thread`` under the lag ticker, for contrast
``usearch-same``  raw usearch with the index settings the memory transport uses
                  (read from ``chroma_async_local.index_settings``), one ``add`` call
``usearch-f32``   raw usearch f32, metric ``cos``, Chroma's HNSW defaults (M 16,
                  ef_construction 100, ef_search 100)
``numpy``         exact numpy search (unfiltered and over each filter's subset): the
                  reference for what a brute-force filtered query costs

Benchmarks are run on demand; they are not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import (
    LagTicker,
    machine_info,
    median,
    quiet_library_logging,
    rss_mb,
    summarize_latencies,
)
from bench_data import FILTERS, Dataset, DatasetSpec, load_or_make, recall_at_k

# In this order, rotated by one each repeat: ours runs next to chromadb and usearch-same.
COMPETITORS = ("usearch-f32", "chromadb", "ours", "usearch-same", "numpy")
DISPLAY = ("ours", "chromadb", "usearch-same", "usearch-f32", "numpy")
PHASES = ("ingest", "lag", "query", "batch", "concurrent", "filtered")
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"
K = 10
WARMUP = 20
INCLUDE_IDS_DISTANCES = ["distances"]  # ids are always returned
BATCH_REPEAT = 3  # the 1,000-query batch is short: timed three times per child


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def as_rows(ids: Iterable[Iterable[str]]) -> list[list[int]]:
    return [[int(i) for i in row] for row in ids]


@dataclass
class Options:
    spec: DatasetSpec
    repeat: int
    phases: frozenset[str]
    filtered_queries: int
    concurrency: int
    documents: bool
    lag_interval: float

    def has(self, phase: str) -> bool:
        return phase in self.phases


def _ingest_figures(n: int, seconds: float, cpu: float, batch: int) -> dict[str, float]:
    # CPU seconds of the whole process (all threads) beside the wall time: on a shared
    # machine the wall time swings with other people's load, the CPU time much less.
    return {
        "records_per_s": n / seconds,
        "seconds": seconds,
        "records_per_cpu_s": n / cpu if cpu > 0 else 0.0,
        "cpu_s": cpu,
        "batch_size": batch,
    }


# --- chroma-async memory transport ---------------------------------------------------------


def _ours_client_factory() -> Callable[[], Any]:
    import chroma_async

    factory = getattr(chroma_async, "EphemeralClient", None)
    if factory is None:  # the top-level export may lag behind the client module
        from chroma_async.client import EphemeralClient as factory
    return factory  # type: ignore[no-any-return]


async def _ours(opts: Options, data: Dataset) -> dict[str, Any]:
    ephemeral_client = _ours_client_factory()
    n = opts.spec.n
    ids, metadatas = data.ids, data.metadatas()
    documents = data.documents() if opts.documents else None
    vectors, queries = data.vectors, data.queries
    out: dict[str, Any] = {"memory_before": rss_mb()}

    async def ingest(client: Any) -> tuple[Any, float, int]:
        batch = int(await client.get_max_batch_size())
        col = await client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
        start = time.perf_counter()
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            await col.add(
                ids=ids[lo:hi],
                embeddings=vectors[lo:hi],
                metadatas=metadatas[lo:hi],
                documents=documents[lo:hi] if documents is not None else None,
            )
        return col, time.perf_counter() - start, batch

    client = await ephemeral_client()
    cpu = time.process_time()
    col, seconds, batch = await ingest(client)
    cpu = time.process_time() - cpu
    out["memory_after_ingest"] = rss_mb()
    out["count"] = await col.count()
    out["ingest"] = _ingest_figures(n, seconds, cpu, batch)
    log(f"  ours ingest: {n / seconds:,.0f} rec/s ({seconds:.1f} s)")

    if opts.has("lag"):
        await client.close()
        client = col = None
        gc.collect()
        async with LagTicker(opts.lag_interval) as idle:
            await asyncio.sleep(1.0)
        out["lag_idle"] = idle.summary(worst=3)
        client = await ephemeral_client()
        async with LagTicker(opts.lag_interval) as ticker:
            col, seconds, _ = await ingest(client)
        out["lag"] = {**ticker.summary(), "records_per_s": n / seconds}
        log(f"  ours lag run: p99 {out['lag']['p99_ms']:.2f} ms, max {out['lag']['max_ms']:.1f} ms")

    async def one(i: int, include: list[str] | None, where: dict[str, Any] | None = None) -> Any:
        kwargs: dict[str, Any] = {"query_embeddings": queries[i : i + 1], "n_results": K}
        if include is not None:
            kwargs["include"] = include
        if where is not None:
            kwargs["where"] = where
        return await col.query(**kwargs)

    async def sequential(
        count: int, include: list[str] | None, where: dict[str, Any] | None = None
    ) -> tuple[list[float], list[list[int]]]:
        latencies, found = [], []
        for i in range(count):
            start = time.perf_counter()
            res = await one(i, include, where)
            latencies.append(time.perf_counter() - start)
            found.append([int(x) for x in res["ids"][0]])
        return latencies, found

    nq = queries.shape[0]
    for i in range(min(WARMUP, nq)):
        await one(i, None)

    if opts.has("query"):
        out["query"] = {}
        for label, include in (("default", None), ("ids_distances", INCLUDE_IDS_DISTANCES)):
            cpu = time.process_time()
            latencies, found = await sequential(nq, include)
            cpu = time.process_time() - cpu
            out["query"][label] = {
                **summarize_latencies(latencies),
                "qps_per_cpu": nq / cpu,
                "recall": recall_at_k(found, data.truth["all"]),
            }

    if opts.has("batch"):
        times, recall, cpu = [], 0.0, time.process_time()
        for _ in range(BATCH_REPEAT):
            start = time.perf_counter()
            res = await col.query(
                query_embeddings=queries, n_results=K, include=INCLUDE_IDS_DISTANCES
            )
            times.append(time.perf_counter() - start)
            recall = recall_at_k(as_rows(res["ids"]), data.truth["all"])
        cpu = time.process_time() - cpu
        out["batch"] = {
            "seconds": median(times),
            "qps": nq / median(times),
            "qps_per_cpu": nq * BATCH_REPEAT / cpu,
            "recall": recall,
        }

    if opts.has("concurrent"):
        start = time.perf_counter()
        await sequential(nq, INCLUDE_IDS_DISTANCES)
        sequential_qps = nq / (time.perf_counter() - start)
        pending = iter(range(nq))

        async def worker() -> None:
            for i in pending:
                await one(i, INCLUDE_IDS_DISTANCES)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(opts.concurrency)))
        concurrent_qps = nq / (time.perf_counter() - start)
        out["concurrent"] = {
            "concurrency": opts.concurrency,
            "sequential_qps": sequential_qps,
            "concurrent_qps": concurrent_qps,
            "ratio": concurrent_qps / sequential_qps,
        }

    if opts.has("filtered"):
        out["filtered"] = {}
        fq = min(opts.filtered_queries, nq)
        for name, where in FILTERS.items():
            latencies, found = await sequential(fq, None, where)
            out["filtered"][name] = {
                **summarize_latencies(latencies),
                "recall": recall_at_k(found, data.truth[name][:fq]),
                "queries": fq,
            }
    await client.close()
    return out


# --- chromadb ------------------------------------------------------------------------------


def _chromadb(opts: Options, data: Dataset) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings

    n = opts.spec.n
    ids, metadatas = data.ids, data.metadatas()
    documents = data.documents() if opts.documents else None
    vectors, queries = data.vectors, data.queries
    out: dict[str, Any] = {"memory_before": rss_mb()}
    client = chromadb.EphemeralClient(
        settings=Settings(anonymized_telemetry=False, allow_reset=True)
    )
    batch = int(client.get_max_batch_size())

    def new_collection(name: str) -> Any:
        for existing in client.list_collections():
            client.delete_collection(existing.name)
        gc.collect()
        return client.create_collection(name, configuration={"hnsw": {"space": "cosine"}})

    def add_batch(col: Any, lo: int) -> None:
        hi = min(lo + batch, n)
        col.add(
            ids=ids[lo:hi],
            embeddings=vectors[lo:hi],
            metadatas=metadatas[lo:hi],
            documents=documents[lo:hi] if documents is not None else None,
        )

    col = new_collection("bench")
    start, cpu = time.perf_counter(), time.process_time()
    for lo in range(0, n, batch):
        add_batch(col, lo)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out["memory_after_ingest"] = rss_mb()
    out["count"] = col.count()
    out["ingest"] = _ingest_figures(n, seconds, cpu, batch)
    log(f"  chromadb ingest: {n / seconds:,.0f} rec/s ({seconds:.1f} s)")

    if opts.has("lag"):
        # chromadb has no async in-process client: an asyncio application would offload
        # its calls to a thread, which frees the loop only where the binding drops the GIL.
        col = new_collection("bench-lag")

        async def ingest_in_thread() -> tuple[dict[str, Any], float]:
            async with LagTicker(opts.lag_interval) as ticker:
                start = time.perf_counter()
                for lo in range(0, n, batch):
                    await asyncio.to_thread(add_batch, col, lo)
                seconds = time.perf_counter() - start
            return ticker.summary(), seconds

        summary, seconds = asyncio.run(ingest_in_thread())
        out["lag"] = {**summary, "records_per_s": n / seconds, "mode": "asyncio.to_thread"}
        log(f"  chromadb lag run: p99 {summary['p99_ms']:.1f} ms, max {summary['max_ms']:.0f} ms")

    def one(i: int, include: list[str] | None, where: dict[str, Any] | None = None) -> Any:
        kwargs: dict[str, Any] = {"query_embeddings": queries[i : i + 1], "n_results": K}
        if include is not None:
            kwargs["include"] = include
        if where is not None:
            kwargs["where"] = where
        return col.query(**kwargs)

    def sequential(
        count: int, include: list[str] | None, where: dict[str, Any] | None = None
    ) -> tuple[list[float], list[list[int]]]:
        latencies, found = [], []
        for i in range(count):
            start = time.perf_counter()
            res = one(i, include, where)
            latencies.append(time.perf_counter() - start)
            found.append([int(x) for x in res["ids"][0]])
        return latencies, found

    nq = queries.shape[0]
    for i in range(min(WARMUP, nq)):
        one(i, None)

    if opts.has("query"):
        out["query"] = {}
        for label, include in (("default", None), ("ids_distances", INCLUDE_IDS_DISTANCES)):
            cpu = time.process_time()
            latencies, found = sequential(nq, include)
            cpu = time.process_time() - cpu
            out["query"][label] = {
                **summarize_latencies(latencies),
                "qps_per_cpu": nq / cpu,
                "recall": recall_at_k(found, data.truth["all"]),
            }

    if opts.has("batch"):
        times, recall, cpu = [], 0.0, time.process_time()
        for _ in range(BATCH_REPEAT):
            start = time.perf_counter()
            res = col.query(query_embeddings=queries, n_results=K, include=INCLUDE_IDS_DISTANCES)
            times.append(time.perf_counter() - start)
            recall = recall_at_k(as_rows(res["ids"]), data.truth["all"])
        cpu = time.process_time() - cpu
        out["batch"] = {
            "seconds": median(times),
            "qps": nq / median(times),
            "qps_per_cpu": nq * BATCH_REPEAT / cpu,
            "recall": recall,
        }

    if opts.has("filtered"):
        out["filtered"] = {}
        fq = min(opts.filtered_queries, nq)
        for name, where in FILTERS.items():
            latencies, found = sequential(fq, None, where)
            out["filtered"][name] = {
                **summarize_latencies(latencies),
                "recall": recall_at_k(found, data.truth[name][:fq]),
                "queries": fq,
            }
    return out


# --- raw usearch ---------------------------------------------------------------------------


def _usearch_settings(name: str) -> dict[str, Any]:
    if name == "usearch-f32":
        return {
            "metric": "cos",
            "dtype": "f32",
            "connectivity": 16,
            "expansion_add": 100,
            "expansion_search": 100,
        }
    from chroma_async_local.index_settings import IndexSettings

    settings = IndexSettings.from_configuration({"hnsw": {"space": "cosine"}})
    return {
        "metric": settings.usearch_metric,
        "dtype": settings.dtype,
        "connectivity": settings.max_neighbors,
        "expansion_add": settings.ef_construction,
        "expansion_search": settings.ef_search,
    }


def _usearch(opts: Options, data: Dataset, name: str) -> dict[str, Any]:
    from usearch.index import Index

    params = _usearch_settings(name)
    n, dim = opts.spec.n, opts.spec.dim
    vectors, queries = data.vectors, data.queries
    keys = np.arange(n, dtype=np.uint64)
    out: dict[str, Any] = {"settings": params, "memory_before": rss_mb()}

    def build(batch: int | None) -> tuple[Any, float, float]:
        index = Index(ndim=dim, **params)
        start, cpu = time.perf_counter(), time.process_time()
        if batch is None:
            index.add(keys, vectors)
        else:
            for lo in range(0, n, batch):
                index.add(keys[lo : lo + batch], vectors[lo : lo + batch])
        return index, time.perf_counter() - start, time.process_time() - cpu

    index, seconds, cpu = build(None)
    out["memory_after_ingest"] = rss_mb()
    out["count"] = len(index)
    out["ingest"] = _ingest_figures(n, seconds, cpu, n)
    log(f"  {name} ingest: {n / seconds:,.0f} rec/s ({seconds:.1f} s)")
    if name == "usearch-same":
        # The transport adds in batches of its max batch size: the same calls, raw.
        from chroma_async_local.memory import MAX_BATCH_SIZE

        batched, seconds, cpu = build(MAX_BATCH_SIZE)
        del batched
        out["ingest_batched"] = _ingest_figures(n, seconds, cpu, MAX_BATCH_SIZE)

    nq = queries.shape[0]
    for i in range(min(WARMUP, nq)):
        index.search(queries[i], K)
    if opts.has("query"):
        latencies, found = [], []
        cpu = time.process_time()
        for i in range(nq):
            start = time.perf_counter()
            matches = index.search(queries[i], K)
            latencies.append(time.perf_counter() - start)
            found.append(matches.keys.tolist())
        cpu = time.process_time() - cpu
        out["query"] = {
            "ids_distances": {
                **summarize_latencies(latencies),
                "qps_per_cpu": nq / cpu,
                "recall": recall_at_k(found, data.truth["all"]),
            }
        }
    if opts.has("batch"):
        times, recall, cpu = [], 0.0, time.process_time()
        for _ in range(BATCH_REPEAT):
            start = time.perf_counter()
            matches = index.search(queries, K)
            times.append(time.perf_counter() - start)
            recall = recall_at_k(np.asarray(matches.keys, dtype=np.int64), data.truth["all"])
        cpu = time.process_time() - cpu
        out["batch"] = {
            "seconds": median(times),
            "qps": nq / median(times),
            "qps_per_cpu": nq * BATCH_REPEAT / cpu,
            "recall": recall,
        }
    return out


# --- exact numpy ---------------------------------------------------------------------------


def _numpy(opts: Options, data: Dataset) -> dict[str, Any]:
    """Exact search per query, BLAS on one thread: the floor of a brute-force query.

    One thread because a single query is a matrix-vector product: on this 2-core machine,
    shared with other work, OpenBLAS's threaded gemv is 10-100× slower than its serial one.
    """
    from threadpoolctl import threadpool_limits

    vectors, queries = data.vectors, data.queries
    out: dict[str, Any] = {"memory_before": rss_mb(), "blas_threads": 1}

    def top(subset: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        scores = subset @ q
        part = np.argpartition(-scores, K - 1)[:K]
        return rows[part[np.argsort(-scores[part])]]

    def run(rows: np.ndarray, truth: np.ndarray, count: int) -> dict[str, Any]:
        subset = np.ascontiguousarray(vectors[rows])
        latencies, found = [], []
        for i in range(count):
            start = time.perf_counter()
            got = top(subset, rows, queries[i])
            latencies.append(time.perf_counter() - start)
            found.append(got.tolist())
        return {
            **summarize_latencies(latencies),
            "recall": recall_at_k(found, truth[:count]),
            "queries": count,
        }

    fq = min(opts.filtered_queries, queries.shape[0])
    with threadpool_limits(1):
        if opts.has("query"):
            rows = np.arange(opts.spec.n)
            out["query"] = {"ids_distances": run(rows, data.truth["all"], fq)}
        if opts.has("filtered"):
            out["filtered"] = {
                name: run(np.flatnonzero(data.mask(name)), data.truth[name], fq) for name in FILTERS
            }
    return out


# --- orchestration -------------------------------------------------------------------------


def run_worker(name: str, opts: Options, out_path: Path) -> None:
    quiet_library_logging()
    data = load_or_make(opts.spec)
    started = time.perf_counter()
    if name == "ours":
        result = asyncio.run(_ours(opts, data))
    elif name == "chromadb":
        result = _chromadb(opts, data)
    elif name in ("usearch-same", "usearch-f32"):
        result = _usearch(opts, data, name)
    elif name == "numpy":
        result = _numpy(opts, data)
    else:
        raise SystemExit(f"unknown worker {name!r}; expected one of {', '.join(COMPETITORS)}")
    result["wall_s"] = time.perf_counter() - started
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    result["memory_end"] = rss_mb()
    out_path.write_text(json.dumps(result, indent=1))


def spawn(name: str, argv: list[str], label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / f"{name}.json"
        command = [sys.executable, __file__, *argv, "--worker", name, "--out", str(out_path)]
        log(f"[{label}] {name}: child process")
        started = time.perf_counter()
        done = subprocess.run(command, check=False)
        if done.returncode != 0 or not out_path.exists():
            log(f"[{label}] {name} FAILED with exit code {done.returncode}")
            return {"error": f"exit code {done.returncode}"}
        log(f"[{label}] {name} done in {time.perf_counter() - started:.0f} s")
        result: dict[str, Any] = json.loads(out_path.read_text())
        return result


def merge_repeats(reps: list[Any]) -> Any:
    """Numbers become their median over the repeats; dicts merge key by key; anything
    else (lists of worst lags, settings) is taken from the first repeat."""
    first = reps[0]
    if isinstance(first, dict):
        return {
            key: merge_repeats([r[key] for r in reps if isinstance(r, dict) and key in r])
            for key in first
        }
    if all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in reps):
        return median([float(r) for r in reps])
    return first


def run_all(competitors: list[str], argv: list[str], repeat: int) -> dict[str, Any]:
    """Every competitor once per repeat, the order rotated each round, so that a change
    in the machine's load spreads over all of them instead of hitting one."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in competitors}
    for rep in range(repeat):
        shift = rep % len(competitors)
        for name in competitors[shift:] + competitors[:shift]:
            runs[name].append(spawn(name, argv, f"{rep + 1}/{repeat}"))
    results: dict[str, Any] = {}
    for name, reps in runs.items():
        good = [r for r in reps if "error" not in r]
        if not good:
            results[name] = {"error": reps[0].get("error", "failed"), "repeats": reps}
            continue
        merged = merge_repeats(good)
        if "lag" in merged:
            merged["lag"]["worst_max_ms"] = max(r["lag"]["max_ms"] for r in good)
        merged["repeats"] = reps
        results[name] = merged
    return results


# --- reporting -----------------------------------------------------------------------------


def _get(result: dict[str, Any], *path: str) -> float | None:
    node: Any = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) else None


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


METRICS: list[tuple[str, tuple[str, ...], int, bool]] = [
    # label, path in a worker's result, digits, higher is better
    ("ingest records/s", ("ingest", "records_per_s"), 0, True),
    ("ingest records/s, raw batches of 4,096", ("ingest_batched", "records_per_s"), 0, True),
    ("ingest records per CPU-second", ("ingest", "records_per_cpu_s"), 0, True),
    (
        "ingest records per CPU-second, raw batches",
        ("ingest_batched", "records_per_cpu_s"),
        0,
        True,
    ),
    ("RSS after ingest, MiB", ("memory_after_ingest", "rss_mb"), 0, False),
    ("peak RSS, MiB", ("memory_after_ingest", "peak_rss_mb"), 0, False),
    ("RSS before ingest (data loaded), MiB", ("memory_before", "rss_mb"), 0, False),
    ("recall@10, single queries", ("query", "ids_distances", "recall"), 4, True),
    ("single query p50 ms, default include", ("query", "default", "p50_ms"), 3, False),
    ("single query p99 ms, default include", ("query", "default", "p99_ms"), 3, False),
    ("single queries/s, default include", ("query", "default", "qps"), 0, True),
    ("single query p50 ms, ids+distances", ("query", "ids_distances", "p50_ms"), 3, False),
    ("single query p99 ms, ids+distances", ("query", "ids_distances", "p99_ms"), 3, False),
    ("single queries/s, ids+distances", ("query", "ids_distances", "qps"), 0, True),
    (
        "single queries per CPU-second, ids+distances",
        ("query", "ids_distances", "qps_per_cpu"),
        0,
        True,
    ),
    ("1,000-query batch queries/s", ("batch", "qps"), 0, True),
    ("1,000-query batch queries per CPU-second", ("batch", "qps_per_cpu"), 0, True),
    ("1,000-query batch recall@10", ("batch", "recall"), 4, True),
    ("concurrent queries/s", ("concurrent", "concurrent_qps"), 0, True),
    ("sequential queries/s (same run)", ("concurrent", "sequential_qps"), 0, True),
    *(
        item
        for name in FILTERS
        for item in (
            (f"filtered {name} recall@10", ("filtered", name, "recall"), 4, True),
            (f"filtered {name} p50 ms", ("filtered", name, "p50_ms"), 3, False),
            (f"filtered {name} p99 ms", ("filtered", name, "p99_ms"), 3, False),
        )
    ),
    ("loop lag while ingesting p50 ms", ("lag", "p50_ms"), 3, False),
    ("loop lag while ingesting p99 ms", ("lag", "p99_ms"), 2, False),
    ("loop lag while ingesting max ms", ("lag", "max_ms"), 1, False),
    ("loop lag max ms, worst repeat", ("lag", "worst_max_ms"), 1, False),
    ("ingest records/s under the ticker", ("lag", "records_per_s"), 0, True),
]


def figures_table(results: dict[str, dict[str, Any]]) -> str:
    names = [c for c in DISPLAY if c in results]
    others = [c for c in names if c != "ours"]
    header = ["metric", *names, *(f"ours / {c}" for c in others if "ours" in results)]
    lines = [_row(header), _row(["---"] * len(header))]
    for label, path, digits, _higher in METRICS:
        values = {c: _get(results[c], *path) for c in names}
        if all(v is None for v in values.values()):
            continue
        ratios = []
        if "ours" in results:
            ours = values.get("ours")
            for c in others:
                theirs = values[c]
                ratios.append(f"{ours / theirs:.2f}×" if ours is not None and theirs else "–")
        lines.append(_row([label, *(_fmt(values[c], digits) for c in names), *ratios]))
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Target:
    label: str
    num: tuple[str, tuple[str, ...]]  # (competitor, path): the measured value
    den: tuple[str, tuple[str, ...]] | None  # divided by this one's, when a ratio
    at_least: float | None = None
    at_most: float | None = None
    cpu_path: tuple[str, ...] | None = None  # the same ratio in work per CPU-second

    def value(self, results: dict[str, Any], cpu: bool = False) -> float | None:
        num_path = self.cpu_path if cpu and self.cpu_path else self.num[1]
        if cpu and not self.cpu_path:
            return None
        num = _get(results.get(self.num[0], {}), *num_path)
        if self.den is None or num is None:
            return num
        den_path = self.cpu_path if cpu and self.cpu_path else self.den[1]
        den = _get(results.get(self.den[0], {}), *den_path)
        return num / den if den else None

    def status(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.at_least is not None:
            return "PASS" if value >= self.at_least else "MISS"
        assert self.at_most is not None
        return "PASS" if value <= self.at_most else "MISS"


def _targets() -> list[Target]:
    ingest = ("ingest", "records_per_s")
    targets = [
        Target(
            "ingest ≥ 2× chromadb",
            ("ours", ingest),
            ("chromadb", ingest),
            2.0,
            cpu_path=("ingest", "records_per_cpu_s"),
        ),
        Target(
            "ingest ≥ 0.85× raw usearch, same settings",
            ("ours", ingest),
            ("usearch-same", ingest),
            0.85,
            cpu_path=("ingest", "records_per_cpu_s"),
        ),
        Target("recall@10 ≥ 0.95", ("ours", ("query", "default", "recall")), None, 0.95),
    ]
    for label in ("default", "ids_distances"):
        qps = ("query", label, "qps")
        targets.append(
            Target(
                f"single queries/s ≥ 3× chromadb ({label.replace('_', '+')} include)",
                ("ours", qps),
                ("chromadb", qps),
                3.0,
                cpu_path=("query", label, "qps_per_cpu"),
            )
        )
    targets += [
        Target(
            "1,000-query batch ≥ 0.8× raw usearch batch, same settings",
            ("ours", ("batch", "qps")),
            ("usearch-same", ("batch", "qps")),
            0.8,
            cpu_path=("batch", "qps_per_cpu"),
        ),
        Target("32 concurrent ≥ 1.5× sequential", ("ours", ("concurrent", "ratio")), None, 1.5),
    ]
    for name in FILTERS:
        p50 = ("filtered", name, "p50_ms")
        targets += [
            Target(
                f"filtered {name} recall@10 ≥ 0.99",
                ("ours", ("filtered", name, "recall")),
                None,
                0.99,
            ),
            Target(
                f"filtered {name} p50 latency ≤ 0.1× chromadb",
                ("ours", p50),
                ("chromadb", p50),
                None,
                0.1,
            ),
        ]
    targets += [
        Target("loop lag p99 ≤ 10 ms", ("ours", ("lag", "p99_ms")), None, None, 10.0),
        Target("loop lag max ≤ 50 ms", ("ours", ("lag", "max_ms")), None, None, 50.0),
    ]
    return targets


def evaluate_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target's value per repeat — a ratio taken between competitors of the same
    repeat, which ran minutes apart rather than a quarter of an hour — and its median,
    which decides PASS / MISS."""
    rounds = max((len(r.get("repeats", [])) for r in results.values()), default=0)
    per_round = [
        {
            name: r["repeats"][i]
            for name, r in results.items()
            if i < len(r.get("repeats", [])) and "error" not in r["repeats"][i]
        }
        for i in range(rounds)
    ]
    evaluated = []
    for target in _targets():
        values = [v for v in (target.value(one) for one in per_round) if v is not None]
        cpu = [v for v in (target.value(one, cpu=True) for one in per_round) if v is not None]
        value = median(values) if values else None
        evaluated.append(
            {
                "target": target.label,
                "value": value,
                "per_repeat": values,
                "status": target.status(value),
                "cpu_ratio": median(cpu) if cpu else None,
            }
        )
    return evaluated


def targets_table(targets: list[dict[str, Any]]) -> str:
    header = ["target", "measured (median)", "per repeat", "status", "same ratio, per CPU-s"]
    lines = [_row(header), _row(["---"] * len(header))]
    for t in targets:
        value, cpu = t["value"], t.get("cpu_ratio")
        shown = "–" if value is None else f"{value:.3f}"
        each = ", ".join(f"{v:.3f}" for v in t["per_repeat"]) or "–"
        lines.append(
            _row([t["target"], shown, each, t["status"], "–" if cpu is None else f"{cpu:.3f}"])
        )
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------


def _git_state() -> dict[str, Any]:
    """The commit measured, and whether the code under test had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--", "src", "transports/local")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": dirty.splitlines()}


def pool_runs(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs on the same data as one: their repeats pooled, medians taken anew."""
    first = payloads[0]
    if any(p["spec"] != first["spec"] for p in payloads[1:]):
        raise SystemExit("--report: these runs used different data (spec); pool like with like")
    if len(payloads) == 1:
        return first
    results: dict[str, Any] = {}
    for name in first["results"]:
        reps = [
            r
            for p in payloads
            for r in p["results"].get(name, {}).get("repeats", [])
            if "error" not in r
        ]
        if not reps:
            continue
        merged = merge_repeats(reps)
        if "lag" in merged:
            merged["lag"]["worst_max_ms"] = max(r["lag"]["max_ms"] for r in reps)
        merged["repeats"] = reps
        results[name] = merged
    repeat = sum(p["options"]["repeat"] for p in payloads)
    return {**first, "results": results, "options": {**first["options"], "repeat": repeat}}


def report(payload: dict[str, Any]) -> str:
    """The figures and targets tables of a run, as Markdown."""
    ok = {name: r for name, r in payload["results"].items() if "error" not in r}
    spec = payload["spec"]
    repeat = payload["options"]["repeat"]
    title = (
        f"{spec['n']:,} × {spec['dim']} float32, {spec['queries']:,} queries, median of {repeat}"
    )
    parts = [
        f"## Figures ({title})\n",
        figures_table(ok),
        "\n## Targets (issue 2)\n",
        targets_table(evaluate_targets(ok)),
    ]
    idle = ok.get("ours", {}).get("lag_idle")
    if idle:
        parts.append(
            f"\nidle loop lag (ticker alone, 1 s): p50 {idle['p50_ms']:.3f} ms, "
            f"p99 {idle['p99_ms']:.3f} ms, max {idle['max_ms']:.2f} ms"
        )
    return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=100_000, help="records (default 100,000)")
    parser.add_argument("--dim", type=int, default=384, help="dimension (default 384)")
    parser.add_argument("--queries", type=int, default=1_000, help="query vectors (1,000)")
    parser.add_argument(
        "--filtered-queries",
        type=int,
        default=200,
        help="queries per filter in the filtered phase (default 200)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians reported")
    parser.add_argument(
        "--only",
        default=",".join(COMPETITORS),
        help=f"competitors, comma-separated (default: {','.join(COMPETITORS)})",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"phases, comma-separated; ingest always runs (default: {','.join(PHASES)})",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent coroutines")
    parser.add_argument("--documents", action="store_true", help="add a document per record")
    parser.add_argument("--lag-interval", type=float, default=0.001, help="ticker period, s")
    parser.add_argument("--centres", type=int, default=1_000)
    parser.add_argument("--noise", type=float, default=0.8, help="noise norm / centre norm")
    parser.add_argument("--seed", type=int, default=DatasetSpec.seed)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="print the tables of results JSON files (several runs: repeats pooled) and exit",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    phases = frozenset(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = phases - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases {sorted(unknown)}; expected some of {PHASES}")
    spec = DatasetSpec(
        n=args.n,
        dim=args.dim,
        queries=args.queries,
        centres=args.centres,
        noise=args.noise,
        k=K,
        seed=args.seed,
    )
    return Options(
        spec=spec,
        repeat=args.repeat,
        phases=phases | {"ingest"},
        filtered_queries=args.filtered_queries,
        concurrency=args.concurrency,
        documents=args.documents,
        lag_interval=args.lag_interval,
    )


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    if args.report:
        print(report(pool_runs([json.loads(path.read_text()) for path in args.report])))
        return 0
    opts = options_from(args)
    if args.worker:
        run_worker(args.worker, opts, args.out)
        return 0

    competitors = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(competitors) - set(COMPETITORS)
    if unknown:
        raise SystemExit(f"unknown competitors {sorted(unknown)}; expected some of {COMPETITORS}")
    started = time.time()
    machine = machine_info()
    log(
        f"{machine['cpu']}, {machine['cores']} cores, load {machine['load_avg']}; "
        f"numpy BLAS: {machine['blas']}"
    )
    load_or_make(opts.spec, verbose=True)  # children load it from the cache
    results = run_all([c for c in COMPETITORS if c in competitors], raw, opts.repeat)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = args.results_dir / f"local-{opts.spec.n}x{opts.spec.dim}-{stamp}.json"
    payload = {
        "benchmark": "bench_local",
        "command": " ".join(["python", *sys.argv]),
        "git": _git_state(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "machine": machine,
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "spec": opts.spec.__dict__,
        "options": {
            "repeat": opts.repeat,
            "phases": sorted(opts.phases),
            "filtered_queries": opts.filtered_queries,
            "concurrency": opts.concurrency,
            "documents": opts.documents,
            "lag_interval": opts.lag_interval,
        },
        "results": results,
        "targets": evaluate_targets({n: r for n, r in results.items() if "error" not in r}),
    }
    path.write_text(json.dumps(payload, indent=1))
    print()
    print(report(payload))
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
