"""The persistent transport, measured in one run against ``chromadb.PersistentClient`` and
against chroma-async's own memory transport, on the benchmarks' data (``bench_data``).

    python benchmarks/bench_persistent.py --n 100000 --dim 384
    python benchmarks/bench_persistent.py --n 20000 --repeat 1 --reopens 3

Figures:

ingestion     records/s of ``await col.add`` in batches of the client's max batch size, into
              a ``cosine`` collection (ours: durable, one SQLite transaction per batch,
              ``synchronous=FULL``); for ours also the event-loop lag while ingesting and
              the time ``close()`` takes (it writes the snapshot)
disk          bytes in the database directory after ingestion and close
query         one query at a time, ``n_results=10``, default include: p50 latency and
              recall@10 against exact ground truth (must match the memory transport's)
reopen        a fresh process (``python -c``) opening the database and answering one
              query: the whole process's wall time, and the time from creating the client
              to the first result, medians over ``--reopens`` runs (page cache warm, as
              after a restart of the program, not of the machine)
crash reopen  ours only: a process adds ``--crash-extra`` more records and is killed
              (SIGKILL) without closing; then the reopen above, which replays those writes
              from SQLite into the snapshot's index

Every ingesting competitor runs in its own child process (this script with ``--worker``),
in an order rotated between repeats; figures are medians over the repeats. Targets of
issue 3: ingestion ≥ 2× chromadb and ≥ 0.7× memory; reopen ≤ 1 s for the whole process
and faster than chromadb. Results go to ``--results-dir`` as JSON. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import LagTicker, machine_info, median, quiet_library_logging, rss_mb
from bench_data import Dataset, DatasetSpec, load_or_make, recall_at_k

COMPETITORS = ("ours", "memory", "chromadb")
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"
K = 10
COLLECTION = "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def _queries(col: Any, data: Dataset, count: int) -> dict[str, Any]:
    queries = data.queries
    for i in range(min(20, count)):  # warm-up
        await col.query(query_embeddings=queries[i : i + 1], n_results=K)
    latencies, found = [], []
    for i in range(count):
        start = time.perf_counter()
        result = await col.query(query_embeddings=queries[i : i + 1], n_results=K)
        latencies.append(time.perf_counter() - start)
        found.append([int(x) for x in result["ids"][0]])
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "recall": recall_at_k(found, data.truth["all"][:count]),
        "queries": count,
    }


async def _ingest_ours(args: argparse.Namespace, data: Dataset, persistent: bool) -> dict[str, Any]:
    import chroma_async

    n = data.spec.n
    ids, metadatas = data.ids, list[Any](data.metadatas())
    documents = data.documents() if args.documents else None
    if persistent:
        factory = chroma_async.connect(f"file:{args.db}")
    else:
        factory = chroma_async.EphemeralClient()
    out: dict[str, Any] = {}
    client = await factory
    batch = await client.get_max_batch_size()
    col = await client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}})
    async with LagTicker(0.001) as ticker:
        start = time.perf_counter()
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            await col.add(
                ids=ids[lo:hi],
                embeddings=data.vectors[lo:hi],
                metadatas=metadatas[lo:hi],
                documents=documents[lo:hi] if documents is not None else None,
            )
        seconds = time.perf_counter() - start
    lag = ticker.summary(worst=3)
    out["ingest"] = {"records_per_s": n / seconds, "seconds": seconds, "batch_size": batch}
    out["lag"] = {"p99_ms": lag["p99_ms"], "max_ms": lag["max_ms"]}
    log(f"  {'ours' if persistent else 'memory'}: {n / seconds:,.0f} rec/s ({seconds:.1f} s)")
    out["query"] = await _queries(col, data, args.queries)
    out["rss_mb"] = rss_mb()
    if persistent:
        out["disk_after_ingest"] = disk_bytes(args.db)
    start = time.perf_counter()
    await client.close()
    out["close_s"] = time.perf_counter() - start
    if persistent:
        out["disk"] = disk_bytes(args.db)
    return out


def _ingest_chromadb(args: argparse.Namespace, data: Dataset) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings

    n = data.spec.n
    ids, metadatas = data.ids, list[Any](data.metadatas())
    documents = data.documents() if args.documents else None
    client = chromadb.PersistentClient(
        path=str(args.db), settings=Settings(anonymized_telemetry=False)
    )
    col = client.create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
    batch = client.get_max_batch_size()
    start = time.perf_counter()
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        col.add(
            ids=ids[lo:hi],
            embeddings=data.vectors[lo:hi],
            metadatas=metadatas[lo:hi],
            documents=documents[lo:hi] if documents is not None else None,
        )
    seconds = time.perf_counter() - start
    log(f"  chromadb: {n / seconds:,.0f} rec/s ({seconds:.1f} s)")
    queries = data.queries
    latencies, found = [], []
    for i in range(args.queries):
        t = time.perf_counter()
        result = col.query(query_embeddings=queries[i : i + 1], n_results=K)
        latencies.append(time.perf_counter() - t)
        found.append([int(x) for x in result["ids"][0]])
    latencies.sort()
    return {
        "ingest": {"records_per_s": n / seconds, "seconds": seconds, "batch_size": batch},
        "query": {
            "p50_ms": latencies[len(latencies) // 2] * 1e3,
            "recall": recall_at_k(found, data.truth["all"][: args.queries]),
            "queries": args.queries,
        },
        "rss_mb": rss_mb(),
        "disk": disk_bytes(args.db),
    }


async def _crash_writer(args: argparse.Namespace, data: Dataset) -> None:
    """Add ``--crash-extra`` records to the closed database, then die without closing."""
    import chroma_async

    client = await chroma_async.connect(f"file:{args.db}")
    col = await client.get_collection(COLLECTION)
    rng = np.random.default_rng(1)
    extra = args.crash_extra
    vectors = data.vectors[rng.integers(0, data.spec.n, extra)]
    batch = await client.get_max_batch_size()
    for lo in range(0, extra, batch):
        hi = min(lo + batch, extra)
        await col.add(ids=[f"extra-{i}" for i in range(lo, hi)], embeddings=vectors[lo:hi])
    os.kill(os.getpid(), signal.SIGKILL)


_REOPEN_OURS = """
import time, sys
started = time.perf_counter()
import numpy as np, anyio, chroma_async
query = np.load(sys.argv[2])
async def main():
    t0 = time.perf_counter()
    async with chroma_async.connect("file:" + sys.argv[1]) as client:
        col = await client.get_collection("bench")
        result = await col.query(query_embeddings=query, n_results=10)
        t1 = time.perf_counter()
        print(t1 - t0, t1 - started, result["ids"][0][0])
anyio.run(main)
"""

_REOPEN_CHROMADB = """
import time, sys
started = time.perf_counter()
import numpy as np, chromadb
from chromadb.config import Settings
query = np.load(sys.argv[2])
t0 = time.perf_counter()
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = client.get_collection("bench")
result = col.query(query_embeddings=query, n_results=10)
t1 = time.perf_counter()
print(t1 - t0, t1 - started, result["ids"][0][0])
"""


def _reopen_once(
    script: str, db: Path, query_file: Path
) -> tuple[float, float, float, float] | None:
    """(wall, client-to-result, start-to-result, CPU seconds of the whole process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, str(db), str(query_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if done.returncode != 0:
        log(done.stderr[-2000:])
        return None
    client_to_result, start_to_result, _ = done.stdout.split()
    return wall, float(client_to_result), float(start_to_result), cpu


def reopen(
    contenders: dict[str, tuple[str, Path]], query_file: Path, runs: int
) -> dict[str, dict[str, Any]]:
    """Reopen each database ``runs`` times, alternating between contenders so that a
    change in the machine's load hits all of them alike; medians."""
    samples: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, (script, db) in contenders.items():
            sample = _reopen_once(script, db, query_file)
            if sample is not None:
                samples[name].append(sample)
    results: dict[str, dict[str, Any]] = {}
    for name, found in samples.items():
        if not found:
            results[name] = {"error": "every reopen failed"}
            continue
        results[name] = {
            "process_s": median([sample[0] for sample in found]),
            "client_to_result_s": median([sample[1] for sample in found]),
            "start_to_result_s": median([sample[2] for sample in found]),
            "process_cpu_s": median([sample[3] for sample in found]),
            "process_all_s": [round(sample[0], 3) for sample in found],
            "runs": len(found),
        }
    return results


def run_worker(args: argparse.Namespace) -> None:
    quiet_library_logging()
    data = load_or_make(args.spec)
    if args.worker == "ours":
        result = asyncio.run(_ingest_ours(args, data, persistent=True))
    elif args.worker == "memory":
        result = asyncio.run(_ingest_ours(args, data, persistent=False))
    elif args.worker == "chromadb":
        result = _ingest_chromadb(args, data)
    elif args.worker == "crash-writer":
        asyncio.run(_crash_writer(args, data))
        return
    else:
        raise SystemExit(f"unknown worker {args.worker!r}")
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(result, indent=1))


def spawn(name: str, argv: list[str], db: Path | None, label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        command = [sys.executable, __file__, *argv, "--worker", name, "--out", str(out)]
        if db is not None:
            command += ["--db", str(db)]
        log(f"[{label}] {name}")
        done = subprocess.run(command, check=False)
        if name == "crash-writer":
            return {"killed": done.returncode == -signal.SIGKILL}
        if done.returncode != 0 or not out.exists():
            return {"error": f"exit code {done.returncode}"}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def merge(reps: list[Any]) -> Any:
    first = reps[0]
    if isinstance(first, dict):
        return {k: merge([r[k] for r in reps if isinstance(r, dict) and k in r]) for k in first}
    if all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in reps):
        return median([float(r) for r in reps])
    return first


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _get(result: dict[str, Any], *path: str) -> float | None:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


def report(results: dict[str, Any]) -> str:
    ours, memory, chroma = results["ours"], results["memory"], results["chromadb"]
    reopen_ours, reopen_chroma = results["reopen_ours"], results["reopen_chromadb"]
    crash = results.get("reopen_ours_after_crash", {})
    lines = [
        "| figure | chroma-async persistent | memory transport | chromadb.PersistentClient |",
        "|---|---:|---:|---:|",
    ]

    def row(name: str, values: list[float | None], fmt: str) -> None:
        cells = ["—" if v is None else format(v, fmt) for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row(
        "ingest, records/s",
        [
            _get(ours, "ingest", "records_per_s"),
            _get(memory, "ingest", "records_per_s"),
            _get(chroma, "ingest", "records_per_s"),
        ],
        ",.0f",
    )
    row(
        "loop lag while ingesting, p99 ms",
        [_get(ours, "lag", "p99_ms"), _get(memory, "lag", "p99_ms"), None],
        ".2f",
    )
    row(
        "loop lag while ingesting, max ms",
        [_get(ours, "lag", "max_ms"), _get(memory, "lag", "max_ms"), None],
        ".1f",
    )
    row("close, s", [_get(ours, "close_s"), _get(memory, "close_s"), None], ".2f")
    row(
        "disk after ingest + close, MB",
        [_ratio(_get(ours, "disk"), 1e6), None, _ratio(_get(chroma, "disk"), 1e6)],
        ".1f",
    )
    row(
        "query p50, ms",
        [
            _get(ours, "query", "p50_ms"),
            _get(memory, "query", "p50_ms"),
            _get(chroma, "query", "p50_ms"),
        ],
        ".2f",
    )
    row(
        "query recall@10",
        [
            _get(ours, "query", "recall"),
            _get(memory, "query", "recall"),
            _get(chroma, "query", "recall"),
        ],
        ".3f",
    )
    row(
        "reopen: whole process, s",
        [_get(reopen_ours, "process_s"), None, _get(reopen_chroma, "process_s")],
        ".2f",
    )
    row(
        "reopen: whole process, CPU s (user + sys)",
        [_get(reopen_ours, "process_cpu_s"), None, _get(reopen_chroma, "process_cpu_s")],
        ".2f",
    )
    row(
        "reopen: client to first result, s",
        [_get(reopen_ours, "client_to_result_s"), None, _get(reopen_chroma, "client_to_result_s")],
        ".3f",
    )
    row(
        "reopen after SIGKILL (+ replay): whole process, s",
        [_get(crash, "process_s"), None, None],
        ".2f",
    )
    row(
        "reopen after SIGKILL (+ replay): client to first result, s",
        [_get(crash, "client_to_result_s"), None, None],
        ".3f",
    )
    ingest = _get(ours, "ingest", "records_per_s")
    vs_chroma = _ratio(ingest, _get(chroma, "ingest", "records_per_s"))
    vs_memory = _ratio(ingest, _get(memory, "ingest", "records_per_s"))
    process = _get(reopen_ours, "process_s")
    chroma_process = _get(reopen_chroma, "process_s")
    targets = [
        ("ingest ≥ 2× chromadb", vs_chroma, vs_chroma is not None and vs_chroma >= 2),
        ("ingest ≥ 0.7× memory", vs_memory, vs_memory is not None and vs_memory >= 0.7),
        ("reopen process ≤ 1 s", process, process is not None and process <= 1.0),
        (
            "reopen faster than chromadb",
            _ratio(chroma_process, process),
            process is not None and chroma_process is not None and process < chroma_process,
        ),
    ]
    lines += ["", "| target | figure | verdict |", "|---|---:|---|"]
    for name, value, ok in targets:
        shown = "—" if value is None else f"{value:.2f}"
        lines.append(f"| {name} | {shown} | {'PASS' if ok else 'MISS'} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="records (default 100,000)")
    parser.add_argument("--dim", type=int, default=384, help="dimension (default 384)")
    parser.add_argument("--queries", type=int, default=200, help="single queries timed")
    parser.add_argument("--repeat", type=int, default=1, help="ingestion repeats (medians)")
    parser.add_argument("--reopens", type=int, default=5, help="reopen processes (median)")
    parser.add_argument("--crash-extra", type=int, default=2_000, help="records before SIGKILL")
    parser.add_argument("--documents", action="store_true", help="add a document per record")
    parser.add_argument(
        "--only", default=",".join(COMPETITORS), help="competitors, comma-separated"
    )
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--keep-dbs",
        type=Path,
        help="keep the databases in this directory (not deleted at the end)",
    )
    parser.add_argument(
        "--reuse-dbs",
        action="store_true",
        help="with --keep-dbs: do not ingest again into the databases already there; only "
        "measure reopening (ingestion figures are then missing)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.spec = DatasetSpec(n=args.n, dim=args.dim)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    data = load_or_make(args.spec, verbose=True)
    competitors = [c for c in args.only.split(",") if c]
    passthrough = [
        *("--n", str(args.n), "--dim", str(args.dim), "--queries", str(args.queries)),
        *("--crash-extra", str(args.crash_extra)),
        *(["--documents"] if args.documents else []),
    ]
    root = args.keep_dbs or Path(tempfile.mkdtemp(prefix="bench-persistent-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in competitors}
        dbs: dict[str, Path] = {}
        for rep in range(args.repeat):
            shift = rep % len(competitors)
            for name in competitors[shift:] + competitors[:shift]:
                db = root / f"{name}-{rep}"
                dbs[name] = db
                if args.reuse_dbs and (db.exists() or name == "memory"):
                    continue
                if db.exists():
                    shutil.rmtree(db)
                runs[name].append(spawn(name, passthrough, db, f"{rep + 1}/{args.repeat}"))
        results: dict[str, Any] = {
            name: merge([r for r in reps if "error" not in r] or reps)
            for name, reps in runs.items()
            if reps
        }
        query_file = root / "query.npy"
        np.save(query_file, data.queries[:1])
        contenders = {
            f"reopen_{name}": (script, dbs[name])
            for name, script in (("ours", _REOPEN_OURS), ("chromadb", _REOPEN_CHROMADB))
            if name in dbs
        }
        log(f"reopen: {', '.join(contenders)}, {args.reopens} times each, alternating")
        results.update(reopen(contenders, query_file, args.reopens))
        if "ours" in dbs:
            crashed = root / "ours-crashed"
            shutil.rmtree(crashed, ignore_errors=True)
            shutil.copytree(dbs["ours"], crashed)
            spawn("crash-writer", passthrough, crashed, "crash")
            results["reopen_ours_after_crash"] = reopen(
                {"crashed": (_REOPEN_OURS, crashed)}, query_file, 1
            )["crashed"]
        for name in ("ours", "memory", "chromadb", "reopen_ours", "reopen_chromadb"):
            results.setdefault(name, {})
        results["machine"] = machine_info()
        results["command"] = "python benchmarks/bench_persistent.py " + " ".join(argv)
        table = report(results)
        print(table)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / f"persistent-{args.spec.key()}.json"
        out.write_text(json.dumps({**results, "table": table}, indent=1))
        log(f"results: {out}")
    finally:
        if args.keep_dbs is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
