"""Test data and helpers shared by the engine's tests (imported by module name)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from chroma_async.operations import CreateCollection
from chroma_async_local import MemoryTransport

DEFAULT: dict[str, Any] = {"tenant": "default_tenant", "database": "default_database"}


def clustered(n: int, dim: int = 16, centres: int = 20, seed: int = 0) -> np.ndarray[Any, Any]:
    """Seeded clustered float32 vectors, like the benchmarks' data but small."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    x = c[rng.integers(0, centres, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    return x.astype(np.float32)


async def new_collection(
    transport: MemoryTransport, name: str = "docs", space: str = "l2", **where: str
) -> dict[str, Any]:
    """Create a collection; returns the keyword arguments that address its records."""
    place = {**DEFAULT, **where}
    model = await transport.send(
        CreateCollection(**place, name=name, configuration={"hnsw": {"space": space}})
    )
    return {**place, "collection_id": model.id}


def unknown_collection() -> dict[str, Any]:
    return {**DEFAULT, "collection_id": uuid.uuid4()}
