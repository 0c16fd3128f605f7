"""The writer the crash tests kill: a fork server whose children ingest until SIGKILLed.

Run as a script. It imports everything once, then reads one JSON command per line on
stdin; for each it forks a child that opens the database and applies the operations
``start, start + 1, ...`` (see :func:`operation`) forever, printing ``ack <n>`` after
operation ``n`` returned — that is, after the write was acknowledged. The server prints
``pid <pid>`` after forking and ``exit <pid> <status>`` once the child is gone. Forking
keeps a round at a few milliseconds instead of a fresh interpreter's second of imports.

The operations are a pure function of their number, so the test computes the state any
prefix of them must leave (:func:`expected_state`) and checks the reopened database
against it. Also imported by the tests, for that.

Command fields: ``path``, ``start``, ``backend`` (``asyncio`` / ``trio``), ``options``
(for ``PersistentTransport``), ``trace_snapshots`` (print ``snap <stage>`` at each step of
writing a snapshot, so that a test can kill the writer in the middle of one).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import numpy as np

BATCH = 12
DIM = 6
COLLECTION = "crash-test"

Record = tuple[bytes, dict[str, Any] | None, str | None]


def vectors(n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(n).standard_normal((BATCH, DIM)).astype(np.float32)


def operation(n: int) -> tuple[str, dict[str, Any]]:
    """Operation ``n``: three adds, then an upsert (or a metadata-only update) of the
    batch just added, then a delete of the first batch of the five."""
    kind = n % 5
    if kind < 3:
        return "add", {
            "ids": [f"{n}-{i}" for i in range(BATCH)],
            "embeddings": vectors(n),
            "metadatas": [{"batch": n, "i": i, "tags": [n % 3, i]} for i in range(BATCH)],
            "documents": [f"doc {n} {i}" for i in range(BATCH)],
        }
    if kind == 3:
        target = n - 1
        ids = [f"{target}-{i}" for i in range(0, BATCH, 2)]
        if (n // 5) % 2 == 0:
            return "upsert", {
                "ids": ids,
                "embeddings": vectors(n)[: len(ids)],
                "metadatas": [{"v": n, "tags": None} for _ in ids],
            }
        return "update", {"ids": ids, "metadatas": [{"v": n} for _ in ids], "documents": None}
    return "delete", {"where": {"batch": n - 4}}


def apply(state: dict[str, Record], n: int) -> None:
    """What operation ``n`` does to ``state`` (Chroma's semantics, written out)."""
    method, kwargs = operation(n)
    if method == "add":
        for position, record_id in enumerate(kwargs["ids"]):
            if record_id not in state:
                state[record_id] = (
                    kwargs["embeddings"][position].tobytes(),
                    dict(kwargs["metadatas"][position]),
                    kwargs["documents"][position],
                )
    elif method in ("upsert", "update"):
        for position, record_id in enumerate(kwargs["ids"]):
            if record_id not in state:
                continue
            embedding, metadata, document = state[record_id]
            merged = dict(metadata or {})
            for key, value in kwargs["metadatas"][position].items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if method == "upsert":
                embedding = kwargs["embeddings"][position].tobytes()
            state[record_id] = (embedding, merged or None, document)
    else:
        batch = kwargs["where"]["batch"]
        for record_id in [r for r, (_, m, _) in state.items() if m and m.get("batch") == batch]:
            del state[record_id]


def expected_state(operations: int) -> dict[str, Record]:
    state: dict[str, Record] = {}
    for n in range(operations):
        apply(state, n)
    return state


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def _trace_snapshots() -> None:
    from chroma_async_local import snapshots, sqlite_storage

    def traced(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _say(f"snap {name}")
            return function(*args, **kwargs)

        return wrapper

    snapshots._write_private = traced("file", snapshots._write_private)
    snapshots._crc32_of_file = traced("checksum", snapshots._crc32_of_file)
    snapshots._fsync_directory = traced("fsync-dir", snapshots._fsync_directory)
    storage = sqlite_storage.SqliteStorage
    storage.prune_changes = traced("prune", storage.prune_changes)  # type: ignore[method-assign]


def _child(command: dict[str, Any]) -> None:
    import anyio

    import chroma_async
    from chroma_async_local.persistent import PersistentTransport

    if command.get("trace_snapshots"):
        _trace_snapshots()

    async def ingest() -> None:
        transport = PersistentTransport(command["path"], **command.get("options", {}))
        await transport.open()
        async with chroma_async.AsyncClient.from_transport(transport) as client:
            collection = await client.get_or_create_collection(COLLECTION)
            n = command["start"]
            while True:
                method, kwargs = operation(n)
                await getattr(collection, method)(**kwargs)
                _say(f"ack {n}")
                n += 1

    anyio.run(ingest, backend=command.get("backend", "asyncio"))


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                _child(command)
            except BaseException:
                traceback.print_exc()
                status = 1
            finally:
                os._exit(status)
        _say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        _say(f"exit {pid} {status}")


if __name__ == "__main__":
    # Imported before any fork, once: the children start with everything loaded.
    import anyio  # noqa: F401
    import trio  # noqa: F401

    import chroma_async  # noqa: F401
    from chroma_async_local.persistent import PersistentTransport  # noqa: F401

    main()
