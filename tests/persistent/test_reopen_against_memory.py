"""Random programs with close-and-reopen at random points, against the memory transport.

The memory transport is the model: it runs the same engine with nothing on disk, and the
differential tests check it against chromadb. A program (hypothesis) mixes collection
and record operations with ``reopen`` steps — a clean close, or an abandon that skips the
closing snapshot, as after a crash — and every result, every error and the final state of
every collection must be the same on both sides.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.testing  # imported here, not first on the event loop: its import reads files
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from persistent_helpers import everything

import chroma_async
from chroma_async_local import MemoryTransport
from chroma_async_local.persistent import PersistentTransport

pytestmark = pytest.mark.anyio

NAMES = ("col-a", "col-b", "col-c")
IDS = tuple(f"id{i}" for i in range(8))
DIM = 4

PROFILE = settings(
    max_examples=int(os.environ.get("CHROMA_ASYNC_REOPEN_EXAMPLES", "30")),
    derandomize=os.environ.get("CHROMA_ASYNC_REOPEN_EXAMPLES") is None,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # the budget goes to programs; both backends run the other tests


@dataclass(frozen=True)
class Step:
    method: str
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


metadata_values = st.one_of(
    st.integers(-3, 3), st.sampled_from(["x", "y"]), st.booleans(), st.just(0.5)
)


def record_metadata(allow_none: bool) -> st.SearchStrategy[dict[str, Any] | None]:
    value = st.one_of(metadata_values, st.none()) if allow_none else metadata_values
    return st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["k", "n", "s"]), value, min_size=1)
    )


@st.composite
def steps(draw: st.DrawFn) -> Step:
    kind = draw(
        st.sampled_from(
            ["create", "create", "delete_collection", "rename", "fork"]
            + ["reopen"] * 4
            + ["add", "upsert", "update", "delete", "delete_where", "get", "query"] * 3
        )
    )
    name = draw(st.sampled_from(NAMES))
    if kind == "create":
        space = draw(st.sampled_from(["l2", "cosine", "ip"]))
        return Step("create", name, {"space": space})
    if kind == "delete_collection":
        return Step("delete_collection", name)
    if kind in ("rename", "fork"):
        return Step(kind, name, {"new_name": draw(st.sampled_from(NAMES))})
    if kind == "reopen":
        return Step("reopen", None, {"clean": draw(st.booleans())})
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True))
    seed = draw(st.integers(0, 10_000))
    embeddings = np.random.default_rng(seed).standard_normal((len(ids), DIM)).astype(np.float32)
    if kind in ("add", "upsert"):
        return Step(
            kind,
            name,
            {
                "ids": ids,
                "embeddings": embeddings,
                "metadatas": [draw(record_metadata(kind == "upsert")) for _ in ids],
                "documents": [
                    draw(st.one_of(st.none(), st.sampled_from(["ab", "cd"]))) for _ in ids
                ],
            },
        )
    if kind == "update":
        kwargs: dict[str, Any] = {
            "ids": ids,
            "metadatas": [draw(record_metadata(True)) for _ in ids],
        }
        if draw(st.booleans()):
            kwargs["embeddings"] = embeddings
        return Step("update", name, kwargs)
    if kind == "delete":
        return Step("delete", name, {"ids": ids})
    if kind == "delete_where":
        return Step("delete", name, {"where": {"k": {"$gte": draw(st.integers(-3, 3))}}})
    if kind == "get":
        return Step("get", name, {"where": {"s": "x"}} if draw(st.booleans()) else {})
    return Step("query", name, {"query_embeddings": embeddings[:1], "n_results": 3})


class Side:
    """One client and the collection handles it got, by name."""

    def __init__(self, client: chroma_async.AsyncClient) -> None:
        self.client = client
        self.collections: dict[str, chroma_async.AsyncCollection] = {}

    async def run(self, step: Step) -> Any:
        client, kwargs = self.client, step.kwargs
        assert step.target is not None
        if step.method == "create":
            collection = await client.create_collection(
                step.target, configuration={"hnsw": {"space": kwargs["space"]}}
            )
            self.collections[step.target] = collection
            return (collection.name, collection.metadata, collection.configuration["hnsw"])
        if step.method == "delete_collection":
            await client.delete_collection(step.target)
            self.collections.pop(step.target, None)
            return None
        handle = self.collections.get(step.target)
        if handle is None:
            return "no handle"
        collection = handle
        if step.method == "rename":
            await collection.modify(name=kwargs["new_name"])
            self.collections[kwargs["new_name"]] = self.collections.pop(step.target)
            return None
        if step.method == "fork":
            forked = await collection.fork(kwargs["new_name"])
            self.collections[kwargs["new_name"]] = forked
            return forked.name
        result = await getattr(collection, step.method)(**kwargs)
        if step.method == "get":
            return (result["ids"], result["metadatas"], result["documents"])
        if step.method == "query":
            return (result["ids"], [list(d) for d in result["distances"] or []])
        return result

    async def refresh(self, client: chroma_async.AsyncClient) -> None:
        self.client = client
        names = list(self.collections)
        self.collections = {}
        for name in names:
            self.collections[name] = await client.get_collection(name)


async def outcome(side: Side, step: Step) -> tuple[str, Any]:
    try:
        return "ok", await side.run(step)
    except chroma_async.ChromaError as exc:
        return "error", type(exc).__name__


async def open_persistent(path: Path) -> tuple[chroma_async.AsyncClient, PersistentTransport]:
    transport = PersistentTransport(path, snapshot_min_changes=6, snapshot_ratio=0.0)
    await transport.open()
    return await chroma_async.AsyncClient.from_transport(transport), transport


@PROFILE
@given(
    program=st.lists(steps(), min_size=1, max_size=30).map(
        lambda drawn: [Step("create", "col-a", {"space": "l2"}), *drawn]
    )
)
async def test_reopening_at_random_points_changes_nothing(
    tmp_path: Path, program: list[Step]
) -> None:
    path = tmp_path / uuid.uuid4().hex
    model_transport = MemoryTransport()
    await model_transport.open()
    model = Side(await chroma_async.AsyncClient.from_transport(model_transport))
    client, transport = await open_persistent(path)
    ours = Side(client)
    try:
        for number, step in enumerate(program):
            where = f"step {number}: {step}"
            if step.method == "reopen":
                # A clean close snapshots; an abandon keeps only what the writes committed.
                transport._snapshot_on_close = step.kwargs["clean"]
                await ours.client.close()
                await transport.aclose()
                client, transport = await open_persistent(path)
                await ours.refresh(client)
                continue
            theirs, mine = await outcome(model, step), await outcome(ours, step)
            if step.method == "query" and isinstance(theirs[1], tuple) and mine[0] == "ok":
                assert mine[1][0] == theirs[1][0], where
                numpy.testing.assert_allclose(mine[1][1], theirs[1][1], rtol=1e-5, err_msg=where)
            else:
                assert mine == theirs, where
        for name, collection in model.collections.items():
            assert await everything(ours.collections[name]) == await everything(collection), name
        assert sorted(c.name for c in await ours.client.list_collections()) == sorted(
            c.name for c in await model.client.list_collections()
        )
    finally:
        await ours.client.close()
        await transport.aclose()
        await model.client.close()
        await model_transport.aclose()
