"""Crash safety: a writer SIGKILLed at random moments never loses or half-writes a batch.

A child process (``crash_child.py``) applies a deterministic sequence of writes to one
collection and prints ``ack <n>`` after each write returned. The test kills it with
SIGKILL at a random moment — before its first write, between writes, in the middle of
one, or while a background snapshot is being written — then reopens the database in this
process and checks that it holds exactly the state after the acknowledged writes, or after
one more (the write in flight may have committed before the kill): every acknowledged
record present and intact, nothing half-applied. The next child carries on from there, so
each round also checks that a killed database stays writable.

(chromadb 1.5.9's PersistentClient, killed the same way, stops opening within a few rounds.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import numpy as np
import pytest
from crash_child import COLLECTION, expected_state
from persistent_helpers import index_problem, opened, stores_of

import chroma_async
from chroma_async import NotFoundError

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("crash_child.py")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    # The children alternate between asyncio and trio; the harness needs only one loop.
    return "asyncio"


class ForkServer:
    """The crash child's fork server, driven line by line."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self._buffer = b""

    async def line(self) -> str:
        assert self.process.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    async def start(self, command: dict[str, Any]) -> int:
        assert self.process.stdin is not None
        await self.process.stdin.send((json.dumps(command) + "\n").encode())
        line = await self.line()
        assert line.startswith("pid "), line
        return int(line.split()[1])


@asynccontextmanager
async def fork_server(tmp_path: Path) -> AsyncIterator[ForkServer]:
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    stderr_path = tmp_path / "child-stderr.txt"
    stderr = await anyio.to_thread.run_sync(lambda: open(stderr_path, "wb"))  # noqa: SIM115
    try:
        async with await anyio.open_process(
            [sys.executable, str(CHILD)], stderr=stderr, env=environment
        ) as process:
            try:
                yield ForkServer(process)
            except BaseException:
                output = await anyio.Path(stderr_path).read_text()
                if output:
                    print(f"--- crash child stderr ---\n{output}")
                raise
            finally:
                assert process.stdin is not None
                await process.stdin.aclose()
                with anyio.fail_after(30):
                    await process.wait()
    finally:
        await anyio.to_thread.run_sync(stderr.close)


async def read_state(path: Path, sources: list[str], **options: Any) -> dict[str, Any] | None:
    """The crash collection as id → (embedding bytes, metadata, document), or None if it
    was never created; also checks that its index holds exactly its records' vectors.
    Appends how it was loaded (``snapshot+replay``, ``snapshot``, ``sqlite``) to ``sources``."""
    async with opened(path, **options) as transport:
        for report in transport.load_reports.values():
            sources.append(report.source + ("+replay" if report.replayed else ""))
        async with chroma_async.AsyncClient.from_transport(transport) as client:
            try:
                collection = await client.get_collection(COLLECTION)
            except NotFoundError:
                return None
            got = await collection.get(include=["embeddings", "metadatas", "documents"])
            ids = got["ids"]
            assert got["embeddings"] is not None
            assert got["metadatas"] is not None
            assert got["documents"] is not None
            state = {
                record_id: (embedding.astype(np.float32).tobytes(), metadata, document)
                for record_id, embedding, metadata, document in zip(
                    ids, got["embeddings"], got["metadatas"], got["documents"], strict=True
                )
            }
            problem = await anyio.to_thread.run_sync(
                index_problem, stores_of(transport)[COLLECTION]
            )
            assert problem is None, problem
    return state


def _difference(found: dict[str, Any], expected: dict[str, Any]) -> str:
    missing = sorted(set(expected) - set(found))[:5]
    extra = sorted(set(found) - set(expected))[:5]
    changed = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])[:5]
    return f"missing {missing}, unexpected {extra}, different {changed}"


async def verify(path: Path, acknowledged: int, options: dict[str, Any], sources: list[str]) -> int:
    """Check the database holds the state after ``acknowledged`` writes or one more;
    returns how many writes it holds."""
    found = await read_state(path, sources, **options)
    if found is None:
        assert acknowledged == 0, f"the collection vanished after {acknowledged} writes"
        return 0
    for applied in (acknowledged, acknowledged + 1):
        if found == expected_state(applied):
            return applied
    raise AssertionError(
        f"after {acknowledged} acknowledged writes the database holds neither that state "
        f"({_difference(found, expected_state(acknowledged))}) nor the next one "
        f"({_difference(found, expected_state(acknowledged + 1))})"
    )


async def crash_rounds(
    tmp_path: Path, rounds: int, seed: int, *, trace: bool
) -> tuple[list[str], list[str]]:
    """Run ``rounds`` kill-and-reopen rounds; returns how each kill was timed and how the
    collection was loaded after each."""
    rng = random.Random(seed)
    sources: list[str] = []
    path = tmp_path / "db"
    applied = 0
    moments: list[str] = []
    child_options = {"snapshot_min_changes": 24, "snapshot_ratio": 0.0, "brute_force_limit": 8}
    async with fork_server(tmp_path) as server:
        for round_number in range(rounds):
            backend = ("asyncio", "trio")[round_number % 2]
            pid = await server.start(
                {
                    "path": str(path),
                    "start": applied,
                    "backend": backend,
                    "options": child_options,
                    "trace_snapshots": trace,
                }
            )
            last_ack = applied - 1
            moment = rng.choice(
                ["soon", "after-acks", "in-snapshot"] if trace else ["soon", "after-acks"]
            )
            target = rng.randint(1, 6)
            seen = 0
            with anyio.fail_after(60):
                if moment == "soon":
                    await anyio.sleep(rng.uniform(0, 0.03))
                else:
                    while seen < target:
                        line = await server.line()
                        if line.startswith("ack "):
                            last_ack = int(line.split()[1])
                            seen += moment == "after-acks"
                        elif line.startswith("snap "):
                            seen += moment == "in-snapshot"
                        elif line.startswith("exit "):
                            raise AssertionError(f"the writer exited by itself: {line}")
                    await anyio.sleep(rng.uniform(0, 0.005))
                os.kill(pid, signal.SIGKILL)
                while True:  # acknowledgements printed before the kill still count
                    line = await server.line()
                    if line.startswith("ack "):
                        last_ack = int(line.split()[1])
                    elif line == f"exit {pid} {signal.SIGKILL}":
                        break
                    elif line.startswith("exit "):
                        raise AssertionError(f"the writer exited by itself: {line}")
            moments.append(moment)
            verifier_options = {
                "brute_force_limit": 8,
                "snapshot_on_close": rng.random() < 0.5,
            }
            applied = await verify(path, last_ack + 1, verifier_options, sources)
    assert applied > rounds, f"only {applied} writes in {rounds} rounds: the test wrote too little"
    return moments, sources


async def test_writes_acknowledged_before_a_sigkill_are_all_there_and_whole(
    tmp_path: Path,
) -> None:
    moments, sources = await crash_rounds(tmp_path, rounds=30, seed=1234, trace=False)
    assert len(moments) == 30
    assert "snapshot+replay" in sources  # snapshots were used, with later writes replayed


async def test_a_sigkill_while_a_snapshot_is_written_loses_nothing(tmp_path: Path) -> None:
    moments, sources = await crash_rounds(tmp_path, rounds=30, seed=99, trace=True)
    assert moments.count("in-snapshot") >= 5
    assert "snapshot+replay" in sources


@pytest.mark.soak
async def test_hundreds_of_sigkills_at_random_moments_lose_nothing(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"crash soak seed {seed}")
    await crash_rounds(tmp_path, rounds=300, seed=seed, trace=True)
