"""Where the event loop stalls while the memory transport ingests: a lag trace.

    python benchmarks/trace_loop_lag.py --n 100000 --dim 384 [--gc-freeze] [--json out.json]
    python benchmarks/trace_loop_lag.py --option index_threads=1   # transport option
    python benchmarks/trace_loop_lag.py --raw-usearch              # no chroma-async at all

Ingests the benchmark data set into ``chroma_async.EphemeralClient()`` (batches of the
client's max batch size, as ``bench_local.py`` does) with a 1 ms ticker running, and
records beside each late tick what else happened at that moment:

- the cyclic garbage collector: every collection with its generation, duration and the
  thread that ran it (``gc.callbacks``): a collection holds the GIL for its whole
  duration, whichever thread triggered it, so the loop cannot run meanwhile;
- each ``await col.add`` batch: when it started and ended;
- how long the event-loop thread sat on the CPU run queue during the stall (Linux
  ``/proc/thread-self/schedstat``): runnable but given no CPU, because other threads
  and processes held both cores. A stall the run queue does not explain is time the
  thread was blocked: waiting for the GIL, which some other thread held.

Each stall over ``--threshold`` ms is printed with the GC collections and batch edges
that overlap it. ``--gc-freeze`` moves everything allocated before ingestion (the
benchmark's own 100,000 metadata dicts) out of the collector's reach with
``gc.freeze()``, to show how much of the lag is the collector walking live objects.
``--option KEY=VALUE`` passes a transport option (``index_threads``, ``max_threads``) to
``EphemeralClient``. ``--raw-usearch`` instead adds the same batches to a bare usearch
index (the transport's settings) through ``anyio.to_thread.run_sync``: the lag that
remains there comes from the CPU, not from anything chroma-async does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import LagTicker, percentile, quiet_library_logging
from bench_data import DatasetSpec, load_or_make
from bench_local import _ours_client_factory


class SchedTicker(LagTicker):
    """The lag ticker, also reading this thread's run-queue wait at every tick."""

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.run_queue: list[float] = []  # seconds waited for a CPU, per tick

    @staticmethod
    def _waited(stat: Any) -> float:
        stat.seek(0)
        return int(stat.read().split()[1]) / 1e9

    async def _run(self) -> None:
        clock = time.perf_counter
        start = clock()
        # procfs reads are served from kernel memory, microseconds: fine on the loop.
        with open("/proc/thread-self/schedstat") as stat:  # noqa: ASYNC230
            while not self._stopped:
                before = clock()
                waited = self._waited(stat)
                await asyncio.sleep(self.interval)
                late = max(0.0, clock() - before - self.interval)
                self.samples.append((before - start, late))
                self.run_queue.append(self._waited(stat) - waited)


class GcRecorder:
    """Records every garbage collection: (start, seconds, generation, thread name)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float, int, str]] = []
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        now = time.perf_counter()
        if phase == "start":
            self._started[ident] = now
            return
        start = self._started.pop(ident, now)
        name = threading.current_thread().name
        self.events.append((start, now - start, int(info["generation"]), name))


def _option(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    try:
        return key, int(value)
    except ValueError:
        return key, value


async def _raw_usearch_adder(spec: DatasetSpec, threads: int) -> Any:
    import anyio.to_thread
    from usearch.index import Index

    from chroma_async_local.index_settings import IndexSettings

    settings = IndexSettings.from_configuration({"hnsw": {"space": "cosine"}})
    index = Index(
        ndim=spec.dim,
        metric=settings.usearch_metric,
        dtype=settings.dtype,
        connectivity=settings.max_neighbors,
        expansion_add=settings.ef_construction,
        expansion_search=settings.ef_search,
    )
    data = load_or_make(spec)

    async def add(lo: int, hi: int) -> None:
        keys = np.arange(lo, hi, dtype=np.uint64)
        await anyio.to_thread.run_sync(
            lambda: index.add(keys, data.vectors[lo:hi], threads=threads)
        )

    return add


async def trace(args: argparse.Namespace) -> dict[str, Any]:
    spec = DatasetSpec(n=args.n, dim=args.dim)
    data = load_or_make(spec, verbose=True)
    ids, metadatas, vectors = data.ids, data.metadatas(), data.vectors
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    recorder = GcRecorder()
    gc.callbacks.append(recorder)
    batches: list[tuple[float, float]] = []
    options = dict(_option(text) for text in args.option)
    if args.raw_usearch:
        add = await _raw_usearch_adder(spec, int(options.get("index_threads", 0)))
        batch, client = 4096, None
    else:
        client = await _ours_client_factory()(**options)
        batch = int(await client.get_max_batch_size())
        col = await client.create_collection("trace", configuration={"hnsw": {"space": "cosine"}})

        async def add(lo: int, hi: int) -> None:
            await col.add(ids=ids[lo:hi], embeddings=vectors[lo:hi], metadatas=metadatas[lo:hi])

    try:
        async with SchedTicker(args.interval) as ticker:
            origin = time.perf_counter()
            for lo in range(0, spec.n, batch):
                start = time.perf_counter()
                await add(lo, min(lo + batch, spec.n))
                batches.append((start, time.perf_counter()))
            seconds = time.perf_counter() - origin
    finally:
        if client is not None:
            await client.close()
        gc.callbacks.remove(recorder)
    # The ticker's times are relative to its own start, a moment before ``origin``.
    ticker_origin = origin - ticker.samples[0][0] if ticker.samples else origin
    stalls = []
    for (at, lag), queued in zip(ticker.samples, ticker.run_queue, strict=True):
        if lag * 1e3 < args.threshold:
            continue
        # A late tick was due at ``at + interval`` and ran ``lag`` later.
        lo = ticker_origin + at + args.interval
        hi = lo + lag
        collections = [
            {"gen": g, "ms": round(d * 1e3, 2), "thread": t, "at_s": round(s - origin, 4)}
            for s, d, g, t in recorder.events
            if s < hi and s + d > lo
        ]
        edges = [
            {"batch": i, "edge": edge}
            for i, (b0, b1) in enumerate(batches)
            for edge, t in (("start", b0), ("end", b1))
            if lo <= t <= hi
        ]
        stalls.append(
            {
                "at_s": round(lo - origin, 4),
                "lag_ms": round(lag * 1e3, 2),
                "run_queue_ms": round(queued * 1e3, 2),
                "gc": collections,
                "batch_edges": edges,
            }
        )
    lags = [lag for _, lag in ticker.samples]
    explained = sum(min(s["run_queue_ms"], s["lag_ms"]) for s in stalls)
    gc_by_gen: dict[str, dict[str, float]] = {}
    for _, d, g, _ in recorder.events:
        entry = gc_by_gen.setdefault(str(g), {"count": 0, "total_ms": 0.0, "max_ms": 0.0})
        entry["count"] += 1
        entry["total_ms"] += d * 1e3
        entry["max_ms"] = max(entry["max_ms"], d * 1e3)
    return {
        "n": spec.n,
        "dim": spec.dim,
        "gc_freeze": args.gc_freeze,
        "raw_usearch": args.raw_usearch,
        "options": options,
        "records_per_s": spec.n / seconds,
        "lag": {
            "p50_ms": percentile(lags, 50) * 1e3,
            "p99_ms": percentile(lags, 99) * 1e3,
            "max_ms": max(lags, default=0.0) * 1e3,
        },
        "stalled_ms": sum(s["lag_ms"] for s in stalls),
        "stalled_on_run_queue_ms": explained,
        "gc": gc_by_gen,
        "batch_ms": [round((b1 - b0) * 1e3, 1) for b0, b1 in batches],
        "stalls": stalls,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--interval", type=float, default=0.001)
    parser.add_argument("--threshold", type=float, default=10.0, help="stall to report, ms")
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--raw-usearch", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    quiet_library_logging()
    result = asyncio.run(trace(args))
    lag = result["lag"]
    print(
        f"{result['n']:,} records at {result['records_per_s']:,.0f}/s; loop lag p50 "
        f"{lag['p50_ms']:.3f} ms, p99 {lag['p99_ms']:.2f} ms, max {lag['max_ms']:.1f} ms"
    )
    print(f"garbage collections by generation: {json.dumps(result['gc'])}")
    print(
        f"stalls over {args.threshold:g} ms: {len(result['stalls'])}, "
        f"{result['stalled_ms']:.0f} ms in all, of which the loop thread waited "
        f"{result['stalled_on_run_queue_ms']:.0f} ms on the run queue (no CPU free)"
    )
    print(f"stalls over {args.threshold:g} ms:")
    for stall in result["stalls"]:
        gcs = ", ".join(f"gen{g['gen']} {g['ms']} ms in {g['thread']}" for g in stall["gc"])
        edges = ", ".join(f"batch {e['batch']} {e['edge']}" for e in stall["batch_edges"])
        print(
            f"  at {stall['at_s']:8.3f} s  {stall['lag_ms']:7.2f} ms"
            f"  run queue {stall['run_queue_ms']:6.2f} ms"
            f"  gc: {gcs or '-'}  batch edges: {edges or '-'}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
