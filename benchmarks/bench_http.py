"""chroma-async's http transport against chromadb.AsyncHttpClient and a bare aiohttp loop.

One ``chroma run`` server (started here on a free port, or ``--url``), the same data for
every client (seeded clustered vectors with metadata, :mod:`bench_data`), in one run:

- add throughput, ``--records`` × ``--dim``, in batches of ``--batch``: one batch at a time,
  and ``--write-concurrency`` batches at once;
- query throughput and p50/p99 latency, ``--queries`` queries (``n_results`` 10, Chroma's
  default ``include``), from 1 coroutine and from ``--concurrency`` coroutines;
- client CPU seconds (this process's ``time.process_time``; the server is another process)
  per 1,000 records written and per 1,000 queries.

The bare loop posts the same payloads a client would (embeddings as base64 for writes,
lists for queries) with one pooled aiohttp session and decodes the JSON answers untyped.

Fairness on a shared machine: the server is warmed up first (a throw-away collection is
written and queried), each query phase starts with ``--warmup`` untimed queries, the data
set is frozen out of the garbage collector's view (``gc.freeze``) so that no client pays for
scanning it, and with ``--rounds N`` every client is measured N times, the order of the
clients rotating from round to round; the table shows the median of the rounds.

    python benchmarks/bench_http.py                      # 20,000 × 384, 1,000 queries
    python benchmarks/bench_http.py --rounds 3           # medians of 3 rotated rounds
    python benchmarks/bench_http.py --records 2000 --queries 200   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chroma_async
from bench_common import machine_info, percentile, quiet_library_logging
from bench_data import Dataset, DatasetSpec, load_or_make
from chroma_async_http.testing import chroma_run
from chroma_async_http.wire import embeddings_to_base64

INCLUDE = ["metadatas", "documents", "distances"]


class Timer:
    """Wall and client-CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


async def run_queries(
    query: Callable[[np.ndarray[Any, Any]], Awaitable[Any]],
    queries: np.ndarray[Any, Any],
    concurrency: int,
    warmup: int = 0,
) -> dict[str, float]:
    for i in range(min(warmup, len(queries))):
        await query(queries[i : i + 1])
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def one(row: np.ndarray[Any, Any]) -> None:
        async with semaphore:
            started = time.perf_counter()
            await query(row)
            latencies.append(time.perf_counter() - started)

    with Timer() as timer:
        await asyncio.gather(*(one(queries[i : i + 1]) for i in range(len(queries))))
    return {
        "qps": len(queries) / timer.wall,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "cpu_s_per_1k": timer.cpu / len(queries) * 1000,
    }


async def run_writes(
    write: Callable[[slice], Awaitable[Any]], records: int, batch: int, concurrency: int
) -> dict[str, float]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(part: slice) -> None:
        async with semaphore:
            await write(part)

    with Timer() as timer:
        await asyncio.gather(
            *(one(slice(start, start + batch)) for start in range(0, records, batch))
        )
    return {"records_per_s": records / timer.wall, "cpu_s_per_1k": timer.cpu / records * 1000}


# --- the clients ----------------------------------------------------------------------


async def bench_chroma_async(url: str, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    ids, metadatas = data.ids, list[Any](data.metadatas())
    for mode, concurrency in (("sequential", 1), ("concurrent", args.write_concurrency)):
        async with chroma_async.connect(
            url, max_batch_size=args.batch, write_concurrency=concurrency
        ) as client:
            name = f"bench-ca-{uuid.uuid4().hex[:8]}"
            collection = await client.create_collection(name)
            # the client splits the write by max_batch_size and sends write_concurrency at once
            with Timer() as timer:
                await collection.add(ids=ids, embeddings=data.vectors, metadatas=metadatas)
            results[f"add_{mode}"] = {
                "records_per_s": len(ids) / timer.wall,
                "cpu_s_per_1k": timer.cpu / len(ids) * 1000,
            }
            if mode == "concurrent":

                async def query(row: np.ndarray[Any, Any], collection: Any = collection) -> Any:
                    return await collection.query(query_embeddings=row, n_results=10)

                for label, concurrency_q in (("query_1", 1), ("query_n", args.concurrency)):
                    results[label] = await run_queries(
                        query, data.queries, concurrency_q, args.warmup
                    )
            await client.delete_collection(name)
    return results


async def bench_chromadb(url: str, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    import chromadb

    host, port = url.rsplit("//", 1)[1].split(":")
    client = await chromadb.AsyncHttpClient(host=host, port=int(port))
    ids, metadatas = data.ids, data.metadatas()
    vectors = data.vectors
    results: dict[str, Any] = {}
    for mode, concurrency in (("sequential", 1), ("concurrent", args.write_concurrency)):
        name = f"bench-cd-{uuid.uuid4().hex[:8]}"
        collection = await client.create_collection(name)

        async def write(part: slice, collection: Any = collection) -> None:
            await collection.add(ids=ids[part], embeddings=vectors[part], metadatas=metadatas[part])

        results[f"add_{mode}"] = await run_writes(write, len(ids), args.batch, concurrency)
        if mode == "concurrent":

            async def query(row: np.ndarray[Any, Any], collection: Any = collection) -> Any:
                return await collection.query(query_embeddings=row, n_results=10)

            for label, concurrency_q in (("query_1", 1), ("query_n", args.concurrency)):
                results[label] = await run_queries(query, data.queries, concurrency_q, args.warmup)
        await client.delete_collection(name)
    return results


async def bench_bare(url: str, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    api = f"{url}/api/v2/tenants/default_tenant/databases/default_database"
    headers = {"Content-Type": "application/json"}
    encode, decode = msgspec.json.encode, msgspec.json.decode
    ids, metadatas, vectors = data.ids, data.metadatas(), data.vectors
    results: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        for mode, concurrency in (("sequential", 1), ("concurrent", args.write_concurrency)):
            name = f"bench-bare-{uuid.uuid4().hex[:8]}"
            async with session.post(
                f"{api}/collections", data=encode({"name": name}), headers=headers
            ) as response:
                collection_id = decode(await response.read())["id"]
            records = f"{api}/collections/{collection_id}"

            async def write(part: slice, records: str = records) -> None:
                body = {
                    "ids": ids[part],
                    "embeddings": embeddings_to_base64(vectors[part]),
                    "metadatas": metadatas[part],
                }
                async with session.post(
                    f"{records}/add", data=encode(body), headers=headers
                ) as response:
                    await response.read()
                    response.raise_for_status()

            results[f"add_{mode}"] = await run_writes(write, len(ids), args.batch, concurrency)
            if mode == "concurrent":

                async def query(row: np.ndarray[Any, Any], records: str = records) -> Any:
                    body = {"query_embeddings": row.tolist(), "n_results": 10, "include": INCLUDE}
                    async with session.post(
                        f"{records}/query", data=encode(body), headers=headers
                    ) as response:
                        return decode(await response.read())

                for label, concurrency_q in (("query_1", 1), ("query_n", args.concurrency)):
                    results[label] = await run_queries(
                        query, data.queries, concurrency_q, args.warmup
                    )
            async with session.delete(f"{api}/collections/{name}") as response:
                await response.read()
    return results


# --- report ---------------------------------------------------------------------------


def report(all_results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.records:,} × {args.dim} records (batches of {args.batch}), "
        f"{args.queries:,} queries, one chroma run"
        + (f", medians of {args.rounds} rounds" if args.rounds > 1 else ""),
        "",
        f"| client | add seq rec/s | add ×{args.write_concurrency} rec/s | CPU s/1k rec "
        f"| q/s ×1 | p50 ms | p99 ms | CPU s/1k q | q/s ×{args.concurrency} | p50 ms | p99 ms "
        f"| CPU s/1k q |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in all_results.items():
        q1, qn = r["query_1"], r["query_n"]
        lines.append(
            f"| {name} | {r['add_sequential']['records_per_s']:,.0f} "
            f"| {r['add_concurrent']['records_per_s']:,.0f} "
            f"| {r['add_sequential']['cpu_s_per_1k']:.3f} "
            f"| {q1['qps']:,.0f} | {q1['p50_ms']:.1f} | {q1['p99_ms']:.1f} "
            f"| {q1['cpu_s_per_1k']:.2f} "
            f"| {qn['qps']:,.0f} | {qn['p50_ms']:.1f} | {qn['p99_ms']:.1f} "
            f"| {qn['cpu_s_per_1k']:.2f} |"
        )
    ours, chromadb, bare = (all_results.get(k) for k in ("chroma-async", "chromadb", "bare"))
    if ours and chromadb and bare:
        lines += ["", "ratios (chroma-async / other):"]
        for label in ("query_1", "query_n"):
            lines.append(
                f"- {label}: q/s ×{ours[label]['qps'] / chromadb[label]['qps']:.2f} chromadb, "
                f"×{ours[label]['qps'] / bare[label]['qps']:.2f} bare; p99 "
                f"×{ours[label]['p99_ms'] / bare[label]['p99_ms']:.2f} bare; client CPU "
                f"×{ours[label]['cpu_s_per_1k'] / chromadb[label]['cpu_s_per_1k']:.2f} chromadb"
            )
        for mode in ("add_sequential", "add_concurrent"):
            speed = ours[mode]["records_per_s"] / chromadb[mode]["records_per_s"]
            lines.append(
                f"- {mode}: rec/s ×{speed:.2f} chromadb; client CPU "
                f"×{ours[mode]['cpu_s_per_1k'] / chromadb[mode]['cpu_s_per_1k']:.2f} chromadb"
            )
    return "\n".join(lines)


async def warm_up_server(url: str, data: Dataset) -> None:
    """Write and query a throw-away collection: the first writes to a fresh server are slower."""
    api = f"{url}/api/v2/tenants/default_tenant/databases/default_database"
    encode, decode = msgspec.json.encode, msgspec.json.decode
    headers = {"Content-Type": "application/json"}
    count = min(len(data.ids), 2_000)
    async with aiohttp.ClientSession() as session:
        name = f"bench-warmup-{uuid.uuid4().hex[:8]}"
        async with session.post(
            f"{api}/collections", data=encode({"name": name}), headers=headers
        ) as response:
            records = f"{api}/collections/{decode(await response.read())['id']}"
        for start in range(0, count, 500):
            part = slice(start, min(start + 500, count))
            body = {"ids": data.ids[part], "embeddings": embeddings_to_base64(data.vectors[part])}
            async with session.post(f"{records}/add", data=encode(body), headers=headers) as r:
                await r.read()
                r.raise_for_status()
        for row in data.queries[:50]:
            body = {"query_embeddings": [row.tolist()], "n_results": 10}
            async with session.post(f"{records}/query", data=encode(body), headers=headers) as r:
                await r.read()
        async with session.delete(f"{api}/collections/{name}") as response:
            await response.read()


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of a client's results, the median over the rounds."""
    first = rounds[0]
    return {
        phase: {key: statistics.median(r[phase][key] for r in rounds) for key in first[phase]}
        for phase in first
    }


async def main_async(
    args: argparse.Namespace, url: str
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    spec = DatasetSpec(n=args.records, dim=args.dim, queries=args.queries)
    data = load_or_make(spec, verbose=True)
    # the data set lives for the whole run: keep the collector from scanning it again and
    # again, at the expense of whichever client happens to be running
    gc.collect()
    gc.freeze()
    benches = {"chroma-async": bench_chroma_async, "chromadb": bench_chromadb, "bare": bench_bare}
    print("warming up the server ...", file=sys.stderr, flush=True)
    await warm_up_server(url, data)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in args.clients}
    for round_index in range(args.rounds):
        shift = round_index % len(args.clients)
        for name in args.clients[shift:] + args.clients[:shift]:
            print(f"round {round_index + 1}: running {name} ...", file=sys.stderr, flush=True)
            rounds[name].append(await benches[name](url, data, args))
            gc.collect()
    return {name: median_of_rounds(results) for name, results in rounds.items()}, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--write-concurrency", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="rounds, client order rotated")
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries per phase")
    parser.add_argument("--url", help="an existing server (default: start chroma run)")
    parser.add_argument(
        "--clients", nargs="+", default=["chroma-async", "chromadb", "bare"],
        choices=["chroma-async", "chromadb", "bare"],
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    quiet_library_logging()
    if args.url:
        results, rounds = asyncio.run(main_async(args, args.url))
    else:
        with chroma_run(allow_reset=False) as server:
            results, rounds = asyncio.run(main_async(args, server.url))
    print(report(results, args))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine_info(), "args": vars(args) | {"json": None},
                        "results": results, "rounds": rounds}, indent=2, default=str)
        )  # fmt: skip


if __name__ == "__main__":
    main()
