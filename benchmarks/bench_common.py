"""Measurement helpers shared by the benchmarks: percentiles, an event-loop lag ticker,
memory readings, and a description of the machine and of the numeric libraries."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LagTicker",
    "blas_info",
    "machine_info",
    "median",
    "percentile",
    "quiet_library_logging",
    "rss_mb",
    "summarize_latencies",
]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize_latencies(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds and the throughput of a sequential loop."""
    total = sum(seconds)
    return {
        "p50_ms": percentile(seconds, 50) * 1e3,
        "p99_ms": percentile(seconds, 99) * 1e3,
        "mean_ms": (total / len(seconds) * 1e3) if seconds else 0.0,
        "qps": len(seconds) / total if total > 0 else 0.0,
    }


@dataclass
class LagTicker:
    """A coroutine that sleeps ``interval`` seconds in a loop and records how late it wakes.

    The lateness of each tick is the time the event loop could not run it: a blocked loop
    (a GIL held by a worker thread, blocking work done inline) shows up directly.
    ``samples`` holds (seconds since start, lateness in seconds) pairs.
    """

    interval: float = 0.001
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stopped: bool = False
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        clock = time.perf_counter
        start = clock()
        while not self._stopped:
            before = clock()
            await asyncio.sleep(self.interval)
            self.samples.append((before - start, max(0.0, clock() - before - self.interval)))

    async def __aenter__(self) -> LagTicker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopped = True
        if self._task is not None:
            await self._task

    def summary(self, worst: int = 10) -> dict[str, Any]:
        lags = [lag for _, lag in self.samples]
        top = sorted(self.samples, key=lambda s: s[1], reverse=True)[:worst]
        return {
            "ticks": len(lags),
            "p50_ms": percentile(lags, 50) * 1e3,
            "p99_ms": percentile(lags, 99) * 1e3,
            "max_ms": max(lags, default=0.0) * 1e3,
            "over_10ms": sum(1 for lag in lags if lag > 0.010),
            "over_50ms": sum(1 for lag in lags if lag > 0.050),
            "worst": [{"at_s": round(at, 4), "lag_ms": round(lag * 1e3, 3)} for at, lag in top],
        }


def _status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> dict[str, float]:
    """This process's resident memory now and its peak so far, in MiB.

    The peak is the kernel's high-water mark of this process image (``VmHWM``), not
    ``getrusage``'s ``ru_maxrss``: the latter carries the parent's peak over fork and exec,
    so a child started by a big parent would report the parent's memory.
    """
    current = _status_kib("VmRSS")
    peak = _status_kib("VmHWM")
    if current is None or peak is None:  # not Linux: psutil, and ru_maxrss as a fallback
        import psutil

        current = psutil.Process().memory_info().rss / 1024
        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {"rss_mb": round(current / 1024, 1), "peak_rss_mb": round(peak / 1024, 1)}


def blas_info() -> list[dict[str, Any]]:
    """Which BLAS / OpenMP kernels numpy runs here (threadpoolctl), if available."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "not installed"


def machine_info() -> dict[str, Any]:
    total_ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(total_ram, 1),
        "load_avg": [round(x, 2) for x in load],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            name: _version(name)
            for name in ("numpy", "usearch", "chromadb", "chroma-async", "chroma-async-local")
        },
        "env": {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
        },
        "blas": blas_info(),
    }


def quiet_library_logging() -> None:
    """Drop libraries' debug/info log lines: a benchmark prints only its own output.

    structlog, left unconfigured, prints every event to stdout; this configures it (and
    the standard library root logger) to keep warnings and errors only.
    """
    logging.basicConfig(level=logging.WARNING)
    try:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:
        pass
