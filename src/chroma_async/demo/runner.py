"""The demo's workload: concurrent ingestion of a real corpus, then semantic queries.

It uses only the public API, as a user's program would: open a client, (re)create a
cosine collection, add the records in batches from several coroutines at once (an anyio
task group), then query — unfiltered, filtered on metadata (``where``) and on the text
(``where_document``) — and measure throughput and latency.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import numpy as np

import chroma_async
from chroma_async.demo.corpus import Corpus, DemoQuery, load_corpus, load_queries
from chroma_async.demo.progress import ProgressBar

if TYPE_CHECKING:
    from chroma_async.client import ClientFactory
    from chroma_async.collection import AsyncCollection

__all__ = ["DemoError", "DemoOptions", "DemoReport", "QueryOutcome", "run_demo"]

COLLECTION = "python_stdlib_docs"


@dataclass(frozen=True)
class DemoOptions:
    """What ``chroma-async demo`` was asked to do."""

    path: str | None = None
    """Absolute path of the persistent database; ``None`` for the memory transport."""
    limit: int | None = None
    batch_size: int = 256
    concurrency: int = 4
    n_results: int = 3
    rounds: int = 20
    collection: str = COLLECTION
    progress: bool = True


@dataclass(frozen=True)
class QueryOutcome:
    """One demo query and what came back."""

    text: str
    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    ids: list[str]
    distances: list[float]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    latency_s: float


@dataclass
class DemoReport:
    """The figures the demo printed, for callers (and tests) that want them as data."""

    storage: str
    records: int = 0
    ingest_s: float = 0.0
    count_after_ingest: int = 0
    queries: list[QueryOutcome] = field(default_factory=list)
    throughput_queries: int = 0
    throughput_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def records_per_s(self) -> float:
        return self.records / self.ingest_s if self.ingest_s else 0.0

    @property
    def queries_per_s(self) -> float:
        return self.throughput_queries / self.throughput_s if self.throughput_s else 0.0


class DemoError(RuntimeError):
    """The demo ran, but the SDK did not do what the demo checks it does."""


def _batches(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _describe_filters(query: DemoQuery | QueryOutcome) -> str:
    parts = []
    if query.where is not None:
        parts.append(f"where={json.dumps(query.where)}")
    if query.where_document is not None:
        parts.append(f"where_document={json.dumps(query.where_document)}")
    return "  ".join(parts) if parts else "no filter"


async def _client(options: DemoOptions) -> ClientFactory:
    if options.path is None:
        return chroma_async.EphemeralClient()
    # PersistentClient resolves its path against the file system: not on the event loop
    path = options.path
    return await anyio.to_thread.run_sync(lambda: chroma_async.PersistentClient(path=path))


async def _ingest(
    collection: AsyncCollection,
    corpus: Corpus,
    options: DemoOptions,
    err: TextIO,
) -> float:
    """Add every record, ``concurrency`` batches in flight at once; the wall time."""
    bar = ProgressBar(len(corpus), "ingest", err) if options.progress else None
    batches = _batches(len(corpus), options.batch_size)

    async def writer() -> None:
        # the writers share one iterator: each takes the next batch when it is free
        for start, stop in batches:
            await collection.add(
                ids=corpus.ids[start:stop],
                embeddings=corpus.embeddings[start:stop],
                metadatas=corpus.metadatas[start:stop],
                documents=corpus.documents[start:stop],
            )
            if bar is not None:
                bar.advance(stop - start)

    started = time.perf_counter()
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(options.concurrency):
                tg.start_soon(writer)
    finally:
        if bar is not None:
            bar.close()
    return time.perf_counter() - started


async def _query(collection: AsyncCollection, query: DemoQuery, n_results: int) -> QueryOutcome:
    started = time.perf_counter()
    result = await collection.query(
        query_embeddings=query.embedding,
        n_results=n_results,
        where=query.where,
        where_document=query.where_document,
        include=["documents", "metadatas", "distances"],
    )
    latency = time.perf_counter() - started
    distances = result["distances"]
    documents = result["documents"]
    metadatas = result["metadatas"]
    return QueryOutcome(
        text=query.text,
        where=query.where,
        where_document=query.where_document,
        ids=list(result["ids"][0]),
        distances=[float(d) for d in distances[0]] if distances is not None else [],
        documents=[d or "" for d in documents[0]] if documents is not None else [],
        metadatas=[dict(m or {}) for m in metadatas[0]] if metadatas is not None else [],
        latency_s=latency,
    )


async def _query_throughput(
    collection: AsyncCollection,
    queries: Sequence[DemoQuery],
    options: DemoOptions,
) -> tuple[int, float, list[float]]:
    """Every query ``rounds`` times from ``concurrency`` coroutines: count, wall time,
    latencies."""
    jobs = iter([q for _ in range(options.rounds) for q in queries])
    latencies: list[float] = []

    async def worker() -> None:
        for query in jobs:
            outcome = await _query(collection, query, options.n_results)
            latencies.append(outcome.latency_s)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(options.concurrency):
            tg.start_soon(worker)
    return len(latencies), time.perf_counter() - started, latencies


async def run_demo(options: DemoOptions, out: TextIO, err: TextIO) -> DemoReport:
    """Run the whole demo, printing results to ``out`` and progress to ``err``."""
    corpus, queries = await anyio.to_thread.run_sync(
        lambda: (load_corpus(options.limit), load_queries())
    )
    manifest = corpus.manifest
    storage = "memory" if options.path is None else f"persistent at {options.path}"
    report = DemoReport(storage=storage, records=len(corpus))
    width = shutil.get_terminal_size((100, 24)).columns
    out.write(
        f"chroma-async demo: {len(corpus):,} docstrings of the Python {manifest.python} "
        f"standard library,\n  embedded with {manifest.model} "
        f"({manifest.dimension}-d, precomputed)\n"
        f"storage: {storage}\n"
    )
    out.flush()

    async with await _client(options) as client:
        with contextlib.suppress(chroma_async.NotFoundError):
            await client.delete_collection(options.collection)
        collection = await client.create_collection(
            options.collection,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"source": manifest.source, "model": manifest.model},
        )

        report.ingest_s = await _ingest(collection, corpus, options, err)
        report.count_after_ingest = await collection.count()
        if report.count_after_ingest != len(corpus):
            raise DemoError(
                f"collection {options.collection!r} holds {report.count_after_ingest} "
                f"records after adding {len(corpus)}"
            )
        out.write(
            f"\ningested {len(corpus):,} records in {report.ingest_s:.2f} s: "
            f"{report.records_per_s:,.0f} records/s "
            f"(batches of {options.batch_size}, {options.concurrency} concurrent writers)\n"
        )

        kinds = ("module", "class", "function", "method")
        counts = [
            len((await collection.get(where={"kind": kind}, include=[]))["ids"]) for kind in kinds
        ]
        out.write(
            "by kind (get with where): "
            + ", ".join(f"{kind} {n:,}" for kind, n in zip(kinds, counts, strict=True))
            + "\n"
        )

        for number, query in enumerate(queries, 1):
            outcome = await _query(collection, query, options.n_results)
            report.queries.append(outcome)
            out.write(f"\n[{number}] {query.text!r}  ({_describe_filters(query)})\n")
            if not outcome.ids:
                out.write("    no match\n")
            id_width = max((len(i) for i in outcome.ids), default=0)
            for rank, (rid, distance, document) in enumerate(
                zip(outcome.ids, outcome.distances, outcome.documents, strict=True), 1
            ):
                room = max(20, width - id_width - 18)
                snippet = document if len(document) <= room else document[: room - 1] + "…"
                out.write(f"  {rank}. {distance:.3f}  {rid:<{id_width}}  {snippet}\n")
            out.write(f"    ({_ms(outcome.latency_s)})\n")
        out.flush()

        (
            report.throughput_queries,
            report.throughput_s,
            report.latencies_s,
        ) = await _query_throughput(collection, queries, options)
        p50, p95 = np.percentile(report.latencies_s, [50, 95]) if report.latencies_s else (0, 0)
        out.write(
            f"\nqueries: {report.throughput_queries:,} (the {len(queries)} above, "
            f"{options.rounds} rounds, {options.concurrency} concurrent coroutines) in "
            f"{report.throughput_s:.2f} s: {report.queries_per_s:,.0f} queries/s, "
            f"latency p50 {_ms(float(p50))}, p95 {_ms(float(p95))}\n"
        )
        out.flush()
    return report
