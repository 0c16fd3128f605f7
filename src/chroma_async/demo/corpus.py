"""The demo's shipped data: a real corpus with precomputed embeddings, loaded offline.

``data/`` holds the docstrings of the Python standard library embedded with
all-MiniLM-L6-v2 (see ``data/README.md`` and ``scripts/build_demo_data.py``). Loading
reads files, so callers on an event loop run :func:`load_corpus` and
:func:`load_queries` in a worker thread.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from chroma_async.types import Metadata

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["Corpus", "DemoDataError", "DemoQuery", "Manifest", "load_corpus", "load_queries"]

_DATA = "data"


class DemoDataError(RuntimeError):
    """The shipped demo data is missing or damaged (a broken install)."""


@dataclass(frozen=True)
class Manifest:
    """What the data was built from: model, dimension, counts, interpreter."""

    model: str
    dimension: int
    records: int
    queries: int
    source: str
    python: str
    sha256: dict[str, str]


@dataclass(frozen=True)
class Corpus:
    """Records in Chroma's column shape, ready for ``collection.add``."""

    ids: list[str]
    documents: list[str]
    metadatas: list[Metadata]
    embeddings: npt.NDArray[np.float32]
    manifest: Manifest

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class DemoQuery:
    """One of the shipped queries: its text, its embedding and the filters it runs with."""

    text: str
    embedding: npt.NDArray[np.float32]
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None


def _data_dir() -> Traversable:
    return files("chroma_async.demo").joinpath(_DATA)


def _read(name: str, manifest: Manifest | None) -> bytes:
    path = _data_dir().joinpath(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DemoDataError(
            f"the demo data file {name!r} is missing from {_data_dir()} ({exc}); "
            "reinstall chroma-async"
        ) from exc
    if manifest is not None:
        expected = manifest.sha256.get(name)
        if expected != hashlib.sha256(data).hexdigest():
            raise DemoDataError(
                f"the demo data file {name!r} in {_data_dir()} does not match its checksum "
                "in manifest.json; reinstall chroma-async or rebuild it with "
                "scripts/build_demo_data.py"
            )
    return data


def load_manifest() -> Manifest:
    raw = json.loads(_read("manifest.json", None))
    try:
        return Manifest(
            model=str(raw["model"]),
            dimension=int(raw["dimension"]),
            records=int(raw["records"]),
            queries=int(raw["queries"]),
            source=str(raw["source"]),
            python=str(raw["python"]),
            sha256={str(k): str(v) for k, v in raw["sha256"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DemoDataError(f"the demo data's manifest.json is malformed: {exc!r}") from exc


def _load_matrix(name: str, manifest: Manifest, rows: int) -> npt.NDArray[np.float32]:
    array = np.load(io.BytesIO(_read(name, manifest)), allow_pickle=False)
    if array.shape != (rows, manifest.dimension):
        raise DemoDataError(
            f"the demo data file {name!r} has shape {array.shape}, "
            f"expected ({rows}, {manifest.dimension})"
        )
    # float16 on disk to keep the wheel small; float32 is what the SDK works in
    return np.ascontiguousarray(array, dtype=np.float32)


def _spread(n: int, limit: int | None) -> list[int]:
    """``limit`` row numbers spread evenly over ``n`` rows (all rows when no limit)."""
    if limit is None or limit >= n:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def load_corpus(limit: int | None = None) -> Corpus:
    """The shipped records; with ``limit``, that many spread evenly over the corpus (so
    that every part of the standard library is still represented). Blocking."""
    manifest = load_manifest()
    text = gzip.decompress(_read("records.jsonl.gz", manifest)).decode("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line]
    if len(rows) != manifest.records:
        raise DemoDataError(
            f"records.jsonl.gz holds {len(rows)} records, manifest.json says {manifest.records}"
        )
    embeddings = _load_matrix("embeddings.npy", manifest, manifest.records)
    keep = _spread(len(rows), limit)
    return Corpus(
        ids=[str(rows[i]["id"]) for i in keep],
        documents=[str(rows[i]["document"]) for i in keep],
        metadatas=[dict(rows[i]["metadata"]) for i in keep],
        embeddings=embeddings[keep] if len(keep) < len(rows) else embeddings,
        manifest=manifest,
    )


def load_queries() -> list[DemoQuery]:
    """The shipped queries with their precomputed embeddings. Blocking."""
    manifest = load_manifest()
    specs = json.loads(_read("queries.json", manifest))
    vectors = _load_matrix("query_embeddings.npy", manifest, manifest.queries)
    if len(specs) != manifest.queries:
        raise DemoDataError(
            f"queries.json holds {len(specs)} queries, manifest.json says {manifest.queries}"
        )
    queries = []
    for spec, vector in zip(specs, vectors, strict=True):
        queries.append(
            DemoQuery(
                text=str(spec["text"]),
                embedding=vector,
                where=spec.get("where"),
                where_document=spec.get("where_document"),
            )
        )
    return queries
