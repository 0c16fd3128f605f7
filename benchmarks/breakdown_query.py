"""Where a single query's time goes in the memory transport, layer by layer.

    python benchmarks/breakdown_query.py --n 100000 --dim 384 [--queries 1000]

Builds one collection through ``chroma_async.EphemeralClient()`` and then times, for the
same query vectors, interleaved (so that a change in the machine's load hits every layer
alike; each layer in its own rotated order of the queries, so that none finds the index
pages of its query still in cache from the layer before), each layer of the path from the
bare index up to the public API:

1. ``index.search(q, 10)`` on the collection's own usearch index: the floor;
2. ``index.search(q, fetch)`` with the engine's over-fetch for an exact re-rank;
3. ``store.query``: the index search, the exact float32 re-rank, the result slots;
4. ``query_records``: the same plus ids and the typed response (what the worker thread runs);
5. ``anyio.to_thread.run_sync`` of an empty function: one round trip to a worker thread;
6. ``await transport.send(QueryRecords)``: the transport (batching key, lock, thread);
7. ``await col.query(..., include=["distances"])``: validation and result shaping too.

Then the same layers (but the thread round trip) for all the queries in one call, as the
batch benchmark sends them.

It reaches into the transport's internals (``_transport``, ``_catalog``), so it is a
diagnostic for the engine's authors, not an example of the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import percentile, quiet_library_logging
from bench_data import DatasetSpec, load_or_make
from bench_local import _ours_client_factory

K = 10


Rows = list[tuple[str, list[float]]]


async def breakdown(args: argparse.Namespace) -> tuple[Rows, Rows]:
    import anyio.to_thread

    from chroma_async import operations as ops
    from chroma_async_local.record_operations import query_records

    spec = DatasetSpec(n=args.n, dim=args.dim, queries=args.queries)
    data = load_or_make(spec, verbose=True)
    ids, metadatas, vectors, queries = data.ids, data.metadatas(), data.vectors, data.queries
    client = await _ours_client_factory()()
    try:
        batch = int(await client.get_max_batch_size())
        col = await client.create_collection("probe", configuration={"hnsw": {"space": "cosine"}})
        for lo in range(0, spec.n, batch):
            hi = min(lo + batch, spec.n)
            await col.add(ids=ids[lo:hi], embeddings=vectors[lo:hi], metadatas=metadatas[lo:hi])
        transport: Any = client._transport
        store = transport._catalog.collection_by_id(client.tenant, client.database, col.id).store
        index = store._index
        fetch = min(store.count, K + max(K, 8))  # the engine's margin for unfiltered queries
        address = {"tenant": client.tenant, "database": client.database, "collection_id": col.id}

        def op(i: int) -> Any:
            return ops.QueryRecords(
                **address,
                query_embeddings=queries[i : i + 1],
                n_results=K,
                include=("distances",),
            )

        def noop() -> None:
            return None

        layers: list[tuple[str, Callable[[int], Any], bool]] = [
            ("1 index.search(q, 10)", lambda i: index.search(queries[i], K), False),
            (f"2 index.search(q, {fetch})", lambda i: index.search(queries[i], fetch), False),
            ("3 store.query", lambda i: store.query(queries[i : i + 1], K), False),
            ("4 query_records", lambda i: query_records(store, op(i)), False),
            ("5 to_thread round trip", lambda i: anyio.to_thread.run_sync(noop), True),
            ("6 transport.send", lambda i: transport.send(op(i)), True),
            (
                "7 col.query",
                lambda i: col.query(
                    query_embeddings=queries[i : i + 1], n_results=K, include=["distances"]
                ),
                True,
            ),
        ]
        timings: dict[str, list[float]] = {name: [] for name, _, _ in layers}
        nq = queries.shape[0]
        for i in range(min(20, nq)):  # warm-up
            for _, call, awaited in layers:
                result = call(i)
                if awaited:
                    await result
        clock = time.perf_counter
        # Each layer takes the queries in its own rotated order: the same query searched
        # twice in a row finds the index's pages in cache the second time.
        stride = max(1, nq // len(layers))
        for i in range(nq):
            for position, (name, call, awaited) in enumerate(layers):
                q = (i + position * stride) % nq
                start = clock()
                result = call(q)
                if awaited:
                    await _as_awaitable(result)
                timings[name].append(clock() - start)
        rows = list(timings.items())

        # The same layers for all the queries in one call (the batch benchmark), timed
        # round-robin a few times; the thread round trip is left out (one per call).
        batch_op = ops.QueryRecords(
            **address, query_embeddings=queries, n_results=K, include=("distances",)
        )
        batch_layers: list[tuple[str, Callable[[], Any], bool]] = [
            (f"1 index.search(Q, {K})", lambda: index.search(queries, K), False),
            (f"2 index.search(Q, {fetch})", lambda: index.search(queries, fetch), False),
            ("3 store.query", lambda: store.query(queries, K), False),
            ("4 query_records", lambda: query_records(store, batch_op), False),
            ("6 transport.send", lambda: transport.send(batch_op), True),
            (
                "7 col.query",
                lambda: col.query(query_embeddings=queries, n_results=K, include=["distances"]),
                True,
            ),
        ]
        batch_timings: dict[str, list[float]] = {name: [] for name, _, _ in batch_layers}
        for _ in range(args.batch_repeat):
            for name, batch_call, awaited in batch_layers:
                start = clock()
                result = batch_call()
                if awaited:
                    await _as_awaitable(result)
                batch_timings[name].append(clock() - start)
        return rows, list(batch_timings.items())
    finally:
        await client.close()


async def _as_awaitable(value: Awaitable[Any]) -> Any:
    return await value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--batch-repeat", type=int, default=5, help="timings of each batch layer")
    args = parser.parse_args()
    quiet_library_logging()
    rows, batch_rows = asyncio.run(breakdown(args))
    # What each layer adds to the one it wraps (the thread round trip stands alone).
    wraps = {1: 0, 2: 1, 3: 2, 5: 3, 6: 5}
    p50s = [percentile(seconds, 50) * 1e6 for _, seconds in rows]
    print(f"{'layer':28} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8}  {'adds (p50) µs':>14}")
    for position, (name, seconds) in enumerate(rows):
        inner = wraps.get(position)
        adds = "" if inner is None else f"{p50s[position] - p50s[inner]:+.0f}"
        print(
            f"{name:28} {p50s[position]:8.0f} {percentile(seconds, 99) * 1e6:8.0f} "
            f"{sum(seconds) / len(seconds) * 1e6:8.0f}  {adds:>14}"
        )
    print(f"\nall {args.queries:,} queries in one call, median of {args.batch_repeat}:")
    print(f"{'layer':28} {'ms':>8} {'queries/s':>10}")
    for name, seconds in batch_rows:
        took = percentile(seconds, 50)
        print(f"{name:28} {took * 1e3:8.1f} {args.queries / took:10,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
