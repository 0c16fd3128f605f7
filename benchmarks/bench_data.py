"""The benchmarks' data set: seeded clustered vectors, metadata, queries, exact ground truth.

Every benchmark runs on the same data, generated from a seed and cached on disk (not in the
repository) so that each competitor's child process loads identical arrays cheaply:

- ``n`` float32 vectors of dimension ``dim``: ``centres`` unit-norm random centres, each
  record a centre plus isotropic Gaussian noise whose expected norm is ``noise`` times the
  centre's, then normalised to unit length;
- metadata per record: ``cat`` int in 0..9, ``pct`` int in 0..99, ``tag`` a string (one of
  20), ``score`` a float in [0, 1); documents are optional (short generated sentences);
- ``queries`` vectors drawn like the data (same centres, fresh noise);
- exact top-``k`` by cosine distance (numpy, float32 dot products over unit vectors),
  unfiltered and for the filters of :data:`FILTERS`.

Record ``i`` has the id ``str(i)``, so any engine's answer maps back to row numbers.

The cache directory is ``$CHROMA_ASYNC_BENCH_CACHE`` or ``~/.cache/chroma-async-bench``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FILTERS",
    "Dataset",
    "DatasetSpec",
    "cache_dir",
    "exact_top_k",
    "load_or_make",
    "recall_at_k",
]

Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

FORMAT_VERSION = 1
TAGS = tuple(f"tag-{i:02d}" for i in range(20))

FILTERS: dict[str, dict[str, Any]] = {
    "cat==3": {"cat": 3},  # ~10 % of the records
    "pct==42": {"pct": 42},  # ~1 %
}
"""Named ``where`` filters measured by the benchmarks, with their exact ground truth."""


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the generated data depends on; equal specs give identical data."""

    n: int = 100_000
    dim: int = 384
    queries: int = 1_000
    centres: int = 1_000
    noise: float = 0.8
    k: int = 10
    seed: int = 20_241_125

    def key(self) -> str:
        text = json.dumps({"v": FORMAT_VERSION, **self.__dict__}, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return f"n{self.n}-d{self.dim}-q{self.queries}-{digest}"


@dataclass(frozen=True)
class Dataset:
    spec: DatasetSpec
    vectors: Float32Array  # (n, dim), unit norm
    queries: Float32Array  # (queries, dim), unit norm
    cat: IntArray
    pct: IntArray
    tag: IntArray  # index into TAGS
    score: npt.NDArray[np.float64]
    truth: dict[str, IntArray]  # "all" and each FILTERS name → (queries, k) rows, -1 pads

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in range(self.spec.n)]

    def metadatas(self) -> list[dict[str, str | int | float]]:
        tags = TAGS
        return [
            {"cat": c, "pct": p, "tag": tags[t], "score": s}
            for c, p, t, s in zip(
                self.cat.tolist(),
                self.pct.tolist(),
                self.tag.tolist(),
                self.score.tolist(),
                strict=True,
            )
        ]

    def documents(self) -> list[str]:
        tags = TAGS
        return [
            f"record {i} filed under {tags[t]} in category {c} at {p} percent"
            for i, (c, p, t) in enumerate(
                zip(self.cat.tolist(), self.pct.tolist(), self.tag.tolist(), strict=True)
            )
        ]

    def mask(self, name: str) -> npt.NDArray[np.bool_]:
        """The records that the filter ``name`` of :data:`FILTERS` selects."""
        where = FILTERS[name]
        mask = np.ones(self.spec.n, dtype=np.bool_)
        for field, value in where.items():
            mask &= getattr(self, field) == value
        return mask


def cache_dir() -> Path:
    configured = os.environ.get("CHROMA_ASYNC_BENCH_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache" / "chroma-async-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unit(rows: Float32Array) -> Float32Array:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, np.float32(1e-30)), dtype=np.float32)


def _clustered(
    rng: np.random.Generator, centres: Float32Array, count: int, noise: float
) -> Float32Array:
    dim = centres.shape[1]
    out = np.empty((count, dim), dtype=np.float32)
    sigma = np.float32(noise / np.sqrt(dim))  # expected noise norm = noise
    step = 20_000
    for start in range(0, count, step):
        stop = min(start + step, count)
        assign = rng.integers(0, centres.shape[0], stop - start)
        block = rng.standard_normal((stop - start, dim), dtype=np.float32)
        block *= sigma
        block += centres[assign]
        out[start:stop] = _unit(block)
    return out


def exact_top_k(
    vectors: Float32Array,
    queries: Float32Array,
    k: int,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> IntArray:
    """Row numbers of the ``k`` nearest vectors by cosine (unit vectors: largest dot),
    nearest first, among ``allowed`` rows; ``-1`` pads when fewer than ``k`` exist."""
    rows = np.arange(vectors.shape[0]) if allowed is None else np.flatnonzero(allowed)
    subset = vectors[rows]
    m = rows.shape[0]
    out = np.full((queries.shape[0], k), -1, dtype=np.int64)
    take = min(k, m)
    if take == 0:
        return out
    chunk = max(1, 50_000_000 // max(m, 1))
    for start in range(0, queries.shape[0], chunk):
        scores = queries[start : start + chunk] @ subset.T
        if take < m:
            part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(m), (scores.shape[0], m)).copy()
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        out[start : start + chunk, :take] = rows[np.take_along_axis(part, order, axis=1)]
    return out


def recall_at_k(found: list[list[int]] | IntArray, truth: IntArray) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (truth's ``-1`` pads excluded)."""
    total = 0.0
    for got, expected in zip(found, truth.tolist(), strict=True):
        wanted = {e for e in expected if e >= 0}
        if not wanted:
            total += 1.0
            continue
        total += len(wanted.intersection(int(g) for g in got)) / len(wanted)
    return total / max(len(truth), 1)


def _generate(spec: DatasetSpec) -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(spec.seed)
    centres = _unit(rng.standard_normal((spec.centres, spec.dim), dtype=np.float32))
    vectors = _clustered(rng, centres, spec.n, spec.noise)
    meta_rng = np.random.default_rng([spec.seed, 1])
    arrays: dict[str, npt.NDArray[Any]] = {
        "vectors": vectors,
        "cat": meta_rng.integers(0, 10, spec.n),
        "pct": meta_rng.integers(0, 100, spec.n),
        "tag": meta_rng.integers(0, len(TAGS), spec.n),
        "score": meta_rng.random(spec.n),
    }
    query_rng = np.random.default_rng([spec.seed, 2])
    arrays["queries"] = _clustered(query_rng, centres, spec.queries, spec.noise)
    return arrays


def _truth(spec: DatasetSpec, arrays: dict[str, npt.NDArray[Any]]) -> dict[str, IntArray]:
    vectors, queries = arrays["vectors"], arrays["queries"]
    truth = {"all": exact_top_k(vectors, queries, spec.k)}
    for name, where in FILTERS.items():
        mask = np.ones(spec.n, dtype=np.bool_)
        for field, value in where.items():
            mask &= arrays[field] == value
        truth[name] = exact_top_k(vectors, queries, spec.k, mask)
    return truth


def _save(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    # Written beside the target and renamed: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_or_make(spec: DatasetSpec, *, verbose: bool = False) -> Dataset:
    """The data of ``spec`` with its ground truth, from the cache or generated (and cached)."""
    path = cache_dir() / f"{spec.key()}.npz"
    if path.exists():
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    else:
        if verbose:
            print(f"generating {spec.n:,} x {spec.dim} vectors and exact ground truth ...")
        arrays = _generate(spec)
        arrays.update({f"truth_{k}": v for k, v in _truth(spec, arrays).items()})
        _save(path, arrays)
        if verbose:
            print(f"cached at {path}")
    truth = {name[6:]: arrays[name] for name in arrays if name.startswith("truth_")}
    return Dataset(
        spec=spec,
        vectors=arrays["vectors"],
        queries=arrays["queries"],
        cat=arrays["cat"],
        pct=arrays["pct"],
        tag=arrays["tag"],
        score=arrays["score"],
        truth=truth,
    )
