"""The ``file:`` transport: the in-process engine, with its data on local disk.

``chroma_async.PersistentClient(path=".chroma")`` and ``chroma_async.connect("file:./.chroma")``
(or ``file:///abs/path``) give the memory transport's behaviour — the same
:class:`CollectionStore` answers every read from memory — with every write made durable
first. In the directory::

    chroma-async.sqlite3[-wal|-shm]   the source of truth (see ``sqlite_storage``)
    chroma-async.lock                 held by the one process that has it open (``path_lock``)
    snapshots/<collection uuid>/...   what makes reopening fast (see ``snapshots``)

**Write path.** Under the collection's write lock: the write is resolved against the
store (``plan_write``) and encoded, in a worker thread — bad input is rejected here, with
nothing written. Then two worker threads run at once: one commits the write to SQLite in
one transaction (``synchronous=FULL``: on disk when it returns), the other applies it to
the in-memory store. No reader sees either until both are done, and the caller is
answered only then: an acknowledged write is on disk, and a batch is on disk whole or not
at all. A write that has started finishes even if its caller is cancelled (shielded).
Should the commit fail (memory is then ahead of the disk), the transport goes out of
service: every later call says to reopen, and reopening reads the disk.

**Snapshots.** After enough writes to a collection (``snapshot_min_changes`` records, and
at least ``snapshot_ratio`` of its size), the write that crosses the threshold, still
under the lock, pins a SQLite read transaction at its commit (WAL keeps later commits
invisible to it) and serialises the usearch index. One background thread, at low CPU
priority, then reads the records through the pinned transaction and writes the snapshot
atomically (temporary directory, fsync, rename), and tells SQLite that the changes it
covers need not be kept. Closing snapshots every collection written since its last
snapshot, so a clean reopen replays nothing.

**Opening** reads the catalog from SQLite and, per collection, loads its newest valid
snapshot (the index memory-mapped), re-reads only the records written after it, and checks
the result against the counters SQLite keeps; without a usable snapshot the collection is
rebuilt from SQLite (and snapshotted again in the background). :attr:`load_reports` says
what happened to each collection.

**One owner.** A second client — in this process or another — opening the same directory
gets :class:`~chroma_async_local.path_lock.DatabaseInUseError` naming the path and the
holder's pid, immediately. To share data between several processes (web workers, job
queues), run a Chroma server (``chroma run --path DIR``) and connect every worker to it with
``chroma_async.HttpClient`` — a database server is the one place that can serialise their
writes; this transport is for one process.

Everything that touches SQLite or files runs in a worker thread through the transport's own
:class:`anyio.CapacityLimiter` — except the snapshot writer, one dedicated background
thread, so that a long snapshot never holds a slot that requests wait for. Names of
tenants, databases and collections live only inside SQLite; files are named by collection
UUID, so no name can reach the file system. Directories are created ``0o700``, files
``0o600``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import numpy as np

from chroma_async.errors import ClientClosedError, InternalError, InvalidArgumentError
from chroma_async.filters import DocNode, WhereNode
from chroma_async.logs import get_logger
from chroma_async.operations import (
    CollectionModel,
    CreateCollection,
    CreateDatabase,
    CreateTenant,
    DeleteCollection,
    DeleteDatabase,
    ForkCollection,
    ModifyCollection,
    Reset,
)
from chroma_async.types import Metadata
from chroma_async_local import snapshots
from chroma_async_local.catalog import (
    DEFAULT_TENANT,
    Catalog,
    CollectionEntry,
    DatabaseEntry,
)
from chroma_async_local.collection_store import CollectionStore, StoreRows, WritePlan
from chroma_async_local.engine_transport import CLOSED, EngineTransport, parse_selectors
from chroma_async_local.index_settings import IndexSettings
from chroma_async_local.path_lock import DatabaseInUseError, PathLock
from chroma_async_local.record_operations import WriteOperation, plan_write
from chroma_async_local.sqlite_storage import (
    DATABASE_FILE,
    CollectionRow,
    Counters,
    DatabaseRow,
    PreparedWrite,
    SqliteStorage,
    check_text,
    encode_metadata,
)

__all__ = ["DatabaseInUseError", "LoadReport", "PersistentTransport"]

R = TypeVar("R")
T = TypeVar("T")

log = get_logger("chroma_async.persistent", transport="persistent")

_CHROMADB_FILE = "chroma.sqlite3"


class LoadReport(msgspec.Struct, frozen=True, kw_only=True):
    """How one collection was loaded when the transport opened.

    ``source`` is ``"snapshot"`` (its snapshot at write ``snapshot_seq``, plus ``replayed``
    records re-read from SQLite) or ``"sqlite"`` (rebuilt from SQLite: no snapshot yet, or
    ``problems`` says why none could be used).
    """

    source: str
    records: int
    snapshot_seq: int | None = None
    replayed: int = 0
    problems: tuple[str, ...] = ()


@dataclass
class _Durable:
    """What the transport knows about a collection's life on disk."""

    entry: CollectionEntry
    num: int
    seq: int
    changes: int = 0  # records written since the last captured snapshot
    snapshot_seq: int | None = None  # newest durable snapshot
    capturing: bool = False  # a captured snapshot is queued or being written


def path_from_url(url: str) -> str:
    """The directory of a ``file:`` URL: ``file:./rel``, ``file:rel``, ``file:/abs``,
    ``file:///abs`` or ``file://localhost/abs`` (percent-escapes are decoded in the ``//``
    forms, as RFC 8089 has them). A relative path stays relative (see ``PersistentTransport``)."""
    if not isinstance(url, str) or url[:5].lower() != "file:":
        raise InvalidArgumentError(
            f"expected a file: URL (file:///abs/path, file:./rel), got {url!r}"
        )
    rest = url[5:]
    if rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        if authority.lower() not in ("", "localhost"):
            raise InvalidArgumentError(
                f"a file: URL names a directory on this machine; got host {authority!r} in "
                f"{url!r} (use file:///abs/path)"
            )
        path = unquote(slash + tail)
    else:
        path = rest
    if not path or (path == "/" and not rest.startswith("/")):
        raise InvalidArgumentError(f"expected a directory in the file: URL, got {url!r}")
    return path


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"expected {name} to be an int >= {minimum}, got {value!r}")
    return value


def _seed() -> tuple[list[str], list[DatabaseRow]]:
    """The tenants and databases a new (or reset) database starts with: the engine's."""
    fresh = Catalog()
    databases = [
        DatabaseRow(id=db.id, tenant=db.tenant, name=db.name)
        for db in fresh.list_databases(DEFAULT_TENANT)
    ]
    return [DEFAULT_TENANT], databases


class _SnapshotWriter:
    """One background thread running snapshot jobs in the order they were submitted."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._run, name="chroma-async-snapshots", daemon=True
        )
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait (in a worker thread) until every submitted job has run."""
        self._jobs.join()

    def stop(self) -> None:
        """Run what is queued, then end the thread (call from a worker thread)."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        if sys.platform.startswith("linux"):
            # Linux nices threads one by one: snapshots yield the CPU to requests.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except Exception as exc:  # a failed snapshot is retried later; SQLite has the data
                log.warning("persistent.snapshot_failed", error=repr(exc))
            finally:
                self._jobs.task_done()


class PersistentTransport(EngineTransport):
    """In-process transport with its data on local disk; see the module docstring."""

    kind = "persistent"
    persistent = True

    def __init__(
        self,
        path: str | os.PathLike[str] = ".chroma",
        *,
        max_threads: int = 4,
        index_threads: int = 0,
        brute_force_limit: int = 4096,
        brute_force_ratio: float = 20.0,
        synchronous: str = "full",
        snapshot_min_changes: int = 20_000,
        snapshot_ratio: float = 0.5,
        snapshot_on_close: bool = True,
    ) -> None:
        super().__init__(
            max_threads=max_threads,
            index_threads=index_threads,
            brute_force_limit=brute_force_limit,
            brute_force_ratio=brute_force_ratio,
        )
        if synchronous not in ("full", "normal"):
            raise InvalidArgumentError(
                f"expected synchronous to be 'full' (survives power loss) or 'normal' "
                f"(survives crashes of the process), got {synchronous!r}"
            )
        self._synchronous = synchronous
        self._snapshot_min_changes = _positive_int("snapshot_min_changes", snapshot_min_changes)
        if not isinstance(snapshot_ratio, (int, float)) or snapshot_ratio < 0:
            raise InvalidArgumentError(
                f"expected snapshot_ratio to be a number >= 0, got {snapshot_ratio!r}"
            )
        self._snapshot_ratio = float(snapshot_ratio)
        self._snapshot_on_close = bool(snapshot_on_close)
        raw = os.fspath(path)
        if not isinstance(raw, str) or not raw:
            raise InvalidArgumentError(f"expected a directory path, got {path!r}")
        # A relative path is made absolute by ``open``, in its worker thread: finding the
        # working directory is a system call the event loop must not make.
        self._directory = Path(os.path.normpath(raw))
        self._failure: str | None = None
        self._lock_file: PathLock | None = None
        self._storage: SqliteStorage | None = None
        self._writer: _SnapshotWriter | None = None
        self._durable: dict[uuid.UUID, _Durable] = {}
        self._load_reports: dict[uuid.UUID, LoadReport] = {}

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> PersistentTransport:
        """``file:./rel``, ``file:/abs`` or ``file:///abs``. Options: ``max_threads``,
        ``index_threads``, ``brute_force_limit``, ``brute_force_ratio`` (as for ``memory://``),
        ``synchronous`` (``"full"``: a write survives power loss once acknowledged;
        ``"normal"``: it survives a crash of the process), ``snapshot_min_changes``,
        ``snapshot_ratio``, ``snapshot_on_close``."""
        return cls(path_from_url(url), **options)

    def __repr__(self) -> str:
        return f"PersistentTransport(path={str(self._directory)!r}, state={self._state!r})"

    @property
    def path(self) -> Path:
        """The database directory."""
        return self._directory

    @property
    def load_reports(self) -> Mapping[uuid.UUID, LoadReport]:
        """How each collection was loaded by ``open`` (see :class:`LoadReport`)."""
        return dict(self._load_reports)

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        started = time.perf_counter()
        with anyio.CancelScope(shield=True):
            # Shielded: a cancelled open must not leave the lock held by no one.
            await self._in_thread(self._open_sync)
            if self._state == CLOSED:  # closed while it was opening
                await self._in_thread(self._close_sync)
                raise ClientClosedError(
                    f"the persistent transport of {str(self._directory)!r} was closed while "
                    f"it was opening"
                )
        log.info(
            "persistent.open",
            path=str(self._directory),
            collections=len(self._durable),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    @property
    def _snapshot_root(self) -> Path:
        return self._directory / snapshots.SNAPSHOTS_DIR

    def _open_sync(self) -> None:
        directory = self._directory = Path(os.path.abspath(self._directory))
        if directory.exists() and not directory.is_dir():
            raise InvalidArgumentError(
                f"expected {str(directory)!r} to be a directory for a persistent database, "
                f"but it is a file"
            )
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (directory / _CHROMADB_FILE).exists() and not (directory / DATABASE_FILE).exists():
            raise InvalidArgumentError(
                f"{str(directory)!r} holds a chromadb database ({_CHROMADB_FILE}), which "
                f"chroma-async does not read; open it with chromadb, serve it with "
                f"'chroma run --path {directory}' and connect with chroma_async.HttpClient, or "
                f"choose another directory"
            )
        lock = self._lock_file = PathLock(directory)
        lock.acquire()
        try:
            tenants, databases = _seed()
            self._storage = SqliteStorage.open(
                directory,
                synchronous=self._synchronous,
                seed_tenants=tenants,
                seed_databases=databases,
            )
            self._load_all(self._storage)
            self._writer = _SnapshotWriter()
            self._snapshot_loaded()
        except BaseException:
            if self._storage is not None:
                self._storage.close(checkpoint=False)
                self._storage = None
            if self._writer is not None:
                self._writer.stop()
                self._writer = None
            lock.release()
            raise

    def _load_all(self, storage: SqliteStorage) -> None:
        self._durable.clear()
        self._load_reports.clear()
        stored = storage.load_catalog()
        os.makedirs(self._snapshot_root, mode=0o700, exist_ok=True)
        removed = snapshots.remove_unknown_collections(
            self._snapshot_root, (row.id for row in stored.collections)
        )
        if removed:
            log.info("persistent.snapshots_removed", collections=removed)
        loaded: list[tuple[CollectionRow, CollectionStore]] = []
        for row in stored.collections:
            store, report = self._load_collection(storage, row)
            loaded.append((row, store))
            self._load_reports[row.id] = report
        orphans = {
            entry.id
            for entry in self._catalog.restore(
                stored.tenants,
                (
                    DatabaseEntry(id=db.id, name=db.name, tenant=db.tenant)
                    for db in stored.databases
                ),
                (
                    CollectionEntry(
                        id=row.id,
                        name=row.name,
                        tenant=row.tenant,
                        database=row.database,
                        metadata=row.metadata,
                        configuration=row.configuration,
                        store=store,
                        created=row.position,
                    )
                    for row, store in loaded
                ),
            )
        }
        for row, _ in loaded:
            if row.id in orphans:
                log.warning("persistent.orphan_collection", collection=str(row.id), name=row.name)
                continue
            report = self._load_reports[row.id]
            self._durable[row.id] = _Durable(
                entry=self._catalog.collection_by_id(row.tenant, row.database, row.id),
                num=row.num,
                seq=row.seq,
                snapshot_seq=report.snapshot_seq,
                changes=report.records if report.source == "sqlite" else report.replayed,
            )

    def _snapshot_loaded(self) -> None:
        """Snapshot, in the background, every collection that had to be rebuilt from SQLite
        or had writes replayed, so that the next open is fast even after another crash."""
        for durable in self._durable.values():
            if durable.changes:
                self._capture_and_submit(durable.entry, durable)

    def _load_collection(
        self, storage: SqliteStorage, row: CollectionRow
    ) -> tuple[CollectionStore, LoadReport]:
        settings = IndexSettings.from_configuration(row.configuration)
        loaded, problems = snapshots.load_snapshot(
            self._snapshot_root, row.id, database_seq=row.seq, pruned_through=row.pruned_through
        )
        if loaded is not None:
            try:
                changed = storage.changed_slots(row.num, loaded.seq)
                rows = loaded.rows
                if changed.size:
                    rows = _patch_rows(rows, storage.rows_for_slots(row, changed), changed)
                rows = _with_counters(rows, row)
                if len(rows.ids) != row.count:
                    raise InternalError(
                        f"the snapshot with its replayed writes holds {len(rows.ids)} records, "
                        f"the database {row.count}"
                    )
                store = CollectionStore.from_rows(
                    rows, settings, index=loaded.index_path, view=True, **self._store_options
                )
                snapshots.remove_generations(
                    self._snapshot_root, row.id, keep=loaded.seq, temporary=True
                )
                return store, LoadReport(
                    source="snapshot",
                    records=len(rows.ids),
                    snapshot_seq=loaded.seq,
                    replayed=int(changed.size),
                    problems=tuple(problems),
                )
            except Exception as exc:  # any doubt about the snapshot: rebuild from SQLite
                problems.append(f"{loaded.directory.name}: {exc}")
        if problems:
            log.warning("persistent.snapshot_rejected", collection=str(row.id), problems=problems)
        snapshots.remove_generations(self._snapshot_root, row.id, keep=None, temporary=True)
        rows = storage.load_rows(row)
        if len(rows.ids) != row.count:
            log.warning(
                "persistent.count_mismatch",
                collection=str(row.id),
                stored_count=row.count,
                records=len(rows.ids),
            )
        store = CollectionStore.from_rows(rows, settings, **self._store_options)
        return store, LoadReport(source="sqlite", records=len(rows.ids), problems=tuple(problems))

    async def _stop(self) -> None:
        # Under the catalog's write lock: in-flight writes have finished.
        try:
            if self._snapshot_on_close and self._failure is None:
                await self._snapshot_all()
        finally:
            await self._in_thread(self._close_sync)

    def _clear(self) -> None:
        super()._clear()
        self._durable.clear()

    async def _snapshot_all(self) -> None:
        for durable in list(self._durable.values()):
            if durable.changes == 0:
                continue
            await self._read(durable.entry.store, self._capture_and_submit, durable.entry, durable)

    def _close_sync(self) -> None:
        try:
            if self._writer is not None:
                self._writer.stop()
                self._writer = None
        finally:
            try:
                if self._storage is not None:
                    self._storage.close(checkpoint=True)
                    self._storage = None
            finally:
                if self._lock_file is not None:
                    self._lock_file.release()

    # --- helpers -----------------------------------------------------------------------

    def _check_open(self, op: object = None) -> None:
        super()._check_open(op)
        if self._failure is not None:
            raise InternalError(self._failure)

    def _not_open_error(self, op: object) -> ClientClosedError:
        what = f"; cannot send {type(op).__name__}" if op is not None else ""
        if self._state == CLOSED:
            return ClientClosedError(
                f"the persistent transport of {str(self._directory)!r} is closed{what}"
            )
        return ClientClosedError(
            f"the persistent transport is not open yet; await open() first{what}"
        )

    def _cannot_reopen(self) -> str:
        return (
            f"the persistent transport of {str(self._directory)!r} was closed and cannot "
            f"be reopened; build a new client"
        )

    def _fail(self, what: str, exc: BaseException) -> InternalError:
        """Put the transport out of service after memory and disk may have diverged."""
        self._failure = (
            f"the persistent database at {str(self._directory)!r} failed while {what} "
            f"({type(exc).__name__}: {exc}); every write acknowledged before is on disk, but "
            f"this client can no longer be trusted: close it and open the database again"
        )
        log.error("persistent.failed", path=str(self._directory), doing=what, error=repr(exc))
        return InternalError(self._failure)

    @property
    def _db(self) -> SqliteStorage:
        if self._storage is None:
            raise ClientClosedError(
                f"the persistent transport of {str(self._directory)!r} is closed"
            )
        return self._storage

    async def _change_catalog(
        self,
        change: Callable[[], T],
        persist: Callable[[SqliteStorage, T], R],
        what: str,
        store_lock_of: CollectionStore | None = None,
    ) -> tuple[T, R]:
        """Change the in-memory catalog (which checks the rules and raises before changing
        anything), then persist the change. Catalog changes exclude every other catalog
        access and every record write, so nothing sees a change before it is durable.

        Locks are taken catalog first, then a store's (``store_lock_of``), as record writes
        take them, so that the two cannot deadlock."""
        async with self._catalog_lock.write():
            self._check_open()
            async with (
                self._lock(store_lock_of).write() if store_lock_of is not None else _no_lock()
            ):
                await anyio.lowlevel.checkpoint_if_cancelled()
                with anyio.CancelScope(shield=True):
                    result = change()
                    try:
                        stored = await self._in_thread(persist, self._db, result)
                    except BaseException as exc:
                        raise self._fail(what, exc) from exc
                return result, stored

    def _forget(self, collection_ids: Sequence[uuid.UUID]) -> None:
        for collection_id in collection_ids:
            self._durable.pop(collection_id, None)
            self._load_reports.pop(collection_id, None)

    def _remove_snapshots(self, collection_ids: Sequence[uuid.UUID]) -> None:
        """Queue the removal of these collections' snapshots behind any snapshot of them
        still being written, so nothing is left behind (worker thread: the queue locks)."""
        root, writer = self._snapshot_root, self._writer
        if writer is None:
            return
        for collection_id in collection_ids:
            writer.submit(functools.partial(snapshots.remove_collection, root, collection_id))

    # --- snapshots ---------------------------------------------------------------------

    def _wants_snapshot(self, durable: _Durable, store: CollectionStore) -> bool:
        if durable.capturing or durable.changes == 0:
            return False
        threshold = max(self._snapshot_min_changes, self._snapshot_ratio * store.count)
        return durable.changes >= threshold

    def _capture_and_submit(self, entry: CollectionEntry, durable: _Durable) -> None:
        """Capture the collection for a snapshot and queue the writing. Runs in a worker
        thread while the caller holds the collection's lock, so nothing changes meanwhile:
        it pins a SQLite read transaction at the last committed write (which the store has
        applied) and serialises the index. The snapshot thread reads the records through
        the pinned transaction later; writes go on without waiting for it."""
        writer, storage = self._writer, self._storage
        if writer is None or storage is None:
            return
        pinned = storage.pin_collection(durable.num)
        if pinned is None:
            return
        try:
            if pinned.row.seq != durable.seq:  # cannot happen under the lock; never guess
                log.error(
                    "persistent.snapshot_skipped",
                    collection=str(entry.id),
                    stored_seq=pinned.row.seq,
                    seq=durable.seq,
                )
                pinned.close()
                return
            index = entry.store.save_index(progress=_gil_yielding_progress())
        except BaseException:
            pinned.close()
            raise
        changes, durable.changes, durable.capturing = durable.changes, 0, True

        def write() -> None:
            try:
                capture = snapshots.SnapshotCapture(
                    collection_id=entry.id, seq=pinned.row.seq, rows=pinned.read_rows(), index=index
                )
                snapshots.write_snapshot(self._snapshot_root, capture)
                if self._storage is not None:
                    self._storage.prune_changes(durable.num, capture.seq)
                durable.snapshot_seq = capture.seq
                snapshots.remove_generations(self._snapshot_root, entry.id, keep=capture.seq)
                log.debug(
                    "persistent.snapshot",
                    collection=str(entry.id),
                    seq=capture.seq,
                    records=len(capture.rows.ids),
                )
            except BaseException:
                durable.changes += changes  # try again after the next writes
                raise
            finally:
                pinned.close()
                durable.capturing = False

        writer.submit(write)

    # --- catalog changes: durable before they are acknowledged ------------------------

    async def _reset(self, op: Reset) -> bool:
        tenants, databases = _seed()

        async with self._catalog_lock.write():
            self._check_open()
            await anyio.lowlevel.checkpoint_if_cancelled()
            with anyio.CancelScope(shield=True):
                gone = list(self._durable)

                def persist() -> None:
                    self._db.reset(tenants, databases)
                    self._remove_snapshots(gone)

                # Disk first: if the reset cannot be written, nothing changed anywhere.
                try:
                    await self._in_thread(persist)
                except BaseException as exc:
                    raise InternalError(
                        f"could not reset the persistent database at "
                        f"{str(self._directory)!r}: {exc}"
                    ) from exc
                self._forget(gone)
                self._catalog.reset()
        return True

    async def _create_tenant(self, op: CreateTenant) -> None:
        check_text(op.name)
        await self._change_catalog(
            lambda: self._catalog.create_tenant(op.name),
            lambda storage, _: storage.create_tenant(op.name),
            f"creating tenant {op.name!r}",
        )

    async def _create_database(self, op: CreateDatabase) -> None:
        check_text(op.tenant, op.name)
        await self._change_catalog(
            lambda: self._catalog.create_database(op.tenant, op.name),
            lambda storage, db: storage.create_database(
                DatabaseRow(id=db.id, tenant=db.tenant, name=db.name)
            ),
            f"creating database {op.name!r}",
        )

    async def _delete_database(self, op: DeleteDatabase) -> None:
        def persist(storage: SqliteStorage, gone: list[CollectionEntry]) -> None:
            nums = [self._durable[c.id].num for c in gone if c.id in self._durable]
            storage.delete_database(op.tenant, op.name, nums)
            self._remove_snapshots([c.id for c in gone])

        gone, _ = await self._change_catalog(
            lambda: self._catalog.delete_database(op.tenant, op.name),
            persist,
            f"deleting database {op.name!r}",
        )
        self._forget([c.id for c in gone])

    async def _create_collection(self, op: CreateCollection) -> CollectionModel:
        check_text(op.tenant, op.database, op.name)
        encode_metadata(op.metadata, f"collection {op.name!r}")  # storable, or raise now

        def persist(storage: SqliteStorage, result: tuple[CollectionEntry, bool]) -> int | None:
            entry, created = result
            if not created:
                return None
            return _insert_collection(storage, entry)

        (entry, _), num = await self._change_catalog(
            lambda: self._catalog.create_collection(
                op.tenant, op.database, op.name, op.configuration, op.metadata, op.get_or_create
            ),
            persist,
            f"creating collection {op.name!r}",
        )
        if num is not None:
            self._durable[entry.id] = _Durable(entry=entry, num=num, seq=0)
        return entry.model()

    async def _delete_collection(self, op: DeleteCollection) -> None:
        def persist(storage: SqliteStorage, entry: CollectionEntry) -> None:
            storage.delete_collection(self._durable[entry.id].num)
            self._remove_snapshots([entry.id])

        entry, _ = await self._change_catalog(
            lambda: self._catalog.delete_collection(op.tenant, op.database, op.name),
            persist,
            f"deleting collection {op.name!r}",
        )
        self._forget([entry.id])

    async def _modify_collection(self, op: ModifyCollection) -> None:
        check_text(op.new_name)
        if op.new_metadata is not None:
            encode_metadata(op.new_metadata, f"collection {op.new_name!r}")

        def persist(storage: SqliteStorage, entry: CollectionEntry) -> None:
            storage.update_collection(
                self._durable[entry.id].num,
                name=entry.name,
                metadata=entry.metadata,
                configuration=entry.configuration,
            )

        # The store's lock too: queries read the settings that ef_search changes. (A
        # collection's store never changes, so it can be looked up before the lock.)
        durable = self._durable.get(op.collection_id)
        entry, _ = await self._change_catalog(
            lambda: self._modify_entry(op),
            persist,
            "modifying a collection",
            store_lock_of=None if durable is None else durable.entry.store,
        )
        self._apply_configuration(op, entry)

    async def _fork_collection(self, op: ForkCollection) -> CollectionModel:
        async with self._catalog_lock.write():
            self._check_open()
            source, copy = await self._copy_for_fork(op)
            source_durable = self._durable[source.id]
            await anyio.lowlevel.checkpoint_if_cancelled()
            with anyio.CancelScope(shield=True):
                entry = self._catalog.add_fork(source, op.new_name, copy)
                counters = _counters(copy)

                def persist() -> int:
                    return _insert_collection(
                        self._db, entry, counters=counters, copy_records_of=source_durable.num
                    )

                try:
                    num = await self._in_thread(persist)
                except BaseException as exc:
                    raise self._fail(f"forking into {op.new_name!r}", exc) from exc
                durable = self._durable[entry.id] = _Durable(
                    entry=entry, num=num, seq=0, changes=copy.count
                )
                if copy.count:
                    # Snapshot the copy now (nothing can write to it yet) so that reopening
                    # does not rebuild its index.
                    await self._in_thread(self._capture_and_submit, entry, durable)
        return entry.model()

    # --- record writes -----------------------------------------------------------------

    async def _write_records(self, op: WriteOperation) -> None:
        where, where_document = parse_selectors(op)
        async with self._catalog_lock.read():
            self._check_open(op)
            entry = self._entry(op)
            durable = self._durable[entry.id]
            async with self._lock(entry.store).write():
                self._check_open(op)
                # Cancelled before it starts: nothing is written. Once started, the write
                # finishes even if its caller is cancelled: never half.
                await anyio.lowlevel.checkpoint_if_cancelled()
                with anyio.CancelScope(shield=True):
                    await self._write_locked(entry, durable, op, where, where_document)

    async def _write_locked(
        self,
        entry: CollectionEntry,
        durable: _Durable,
        op: WriteOperation,
        where: WhereNode | None,
        where_document: DocNode | None,
    ) -> None:
        """One write, under the collection's write lock (no reader sees it half-done).

        The write is resolved and encoded first (bad input raises here, nothing written);
        then the SQLite commit and the in-memory apply run at the same time, in two worker
        threads — the commit mostly waits on fsync, the apply on usearch — and the caller
        is answered once both are done. Should the commit fail, memory is ahead of disk:
        the transport goes out of service, and reopening reads the disk."""
        store = entry.store
        prepared = await self._in_thread(
            self._prepare_write, store, durable, op, where, where_document
        )
        if prepared is None:
            return
        plan, write = prepared
        failures: dict[str, BaseException] = {}

        async def run(name: str, func: Callable[..., Any], *args: Any) -> None:
            try:
                await self._in_thread(func, *args)
            except BaseException as exc:  # recorded, then raised below once both are done
                failures[name] = exc

        async with anyio.create_task_group() as group:
            group.start_soon(run, "commit", self._db.commit, write)
            group.start_soon(run, "apply", store.apply, plan)
        if "commit" in failures:
            # Not acknowledged; whether it reached the disk is not certain: reopening tells.
            raise self._fail(f"writing to collection {entry.name!r}", failures["commit"])
        durable.seq = write.seq
        if "apply" in failures:
            raise self._fail(f"applying a committed write to {entry.name!r}", failures["apply"])
        after = write.after
        if (store.count, store.next_slot, store.next_key) != (
            after.count,
            after.next_slot,
            after.next_key,
        ):
            raise self._fail(
                f"checking a write to {entry.name!r}",
                InternalError(
                    f"the store holds {store.count} records (slot {store.next_slot}, key "
                    f"{store.next_key}), the database {after.count} ({after.next_slot}, "
                    f"{after.next_key})"
                ),
            )
        durable.changes += len(plan.slots) + len(plan.deleted)
        if self._wants_snapshot(durable, store):
            await self._in_thread(self._capture_and_submit, entry, durable)

    def _prepare_write(
        self,
        store: CollectionStore,
        durable: _Durable,
        op: WriteOperation,
        where: WhereNode | None,
        where_document: DocNode | None,
    ) -> tuple[WritePlan, PreparedWrite] | None:
        plan = plan_write(store, op, where, where_document)
        if plan.is_empty:
            return None
        before = _counters(store)
        return plan, self._db.prepare_write(durable.num, durable.seq + 1, plan, before)


# --- helpers --------------------------------------------------------------------------


def _counters(store: CollectionStore) -> Counters:
    return Counters(
        next_slot=store.next_slot,
        next_key=store.next_key,
        count=store.count,
        dimension=store.dimension,
    )


def _insert_collection(
    storage: SqliteStorage,
    entry: CollectionEntry,
    *,
    counters: Counters | None = None,
    copy_records_of: int | None = None,
) -> int:
    """Store a new collection of the catalog; returns its ``num``."""
    return storage.insert_collection(
        collection_id=entry.id,
        tenant=entry.tenant,
        database=entry.database,
        name=entry.name,
        metadata=entry.metadata,
        configuration=entry.configuration,
        position=entry.created,
        counters=counters,
        copy_records_of=copy_records_of,
    )


def _gil_yielding_progress(every: int = 2048) -> Callable[[int, int], bool]:
    """A usearch progress callback that lets other threads run every ``every`` calls.

    usearch holds the GIL while it serialises an index (~45 ms per 100,000 records here);
    sleeping 0 s releases it, so the event loop is not held up for all of that time."""
    calls = 0

    def progress(done: int, total: int) -> bool:
        nonlocal calls
        calls += 1
        if calls % every == 0:
            time.sleep(0)
        return True

    # usearch checks the callback's annotations, which this module's
    # ``from __future__ import annotations`` turns into strings.
    progress.__annotations__ = {"done": int, "total": int, "return": bool}
    return progress


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def _with_counters(rows: StoreRows, row: CollectionRow) -> StoreRows:
    return StoreRows(
        slots=rows.slots,
        ids=rows.ids,
        keys=rows.keys,
        embeddings=rows.embeddings,
        metadatas=rows.metadatas,
        documents=rows.documents,
        uris=rows.uris,
        next_slot=row.next_slot,
        next_key=row.next_key,
        dimension=row.dimension,
    )


def _patch_rows(
    rows: StoreRows, fresh: StoreRows, changed: np.ndarray[Any, np.dtype[np.int64]]
) -> StoreRows:
    """``rows`` (a snapshot) with the records of the ``changed`` slots replaced by ``fresh``
    (their current state; a changed slot missing from ``fresh`` was deleted)."""
    if len(rows.ids) == 0:
        return fresh
    kept = np.flatnonzero(~np.isin(rows.slots, changed))
    slots = np.concatenate([rows.slots[kept], fresh.slots])
    order = np.argsort(slots, kind="stable")
    kept_list = kept.tolist()
    order_list = order.tolist()

    def merge(old: Sequence[T], new: Sequence[T]) -> list[T]:
        combined = [old[i] for i in kept_list]
        combined.extend(new)
        return [combined[i] for i in order_list]

    if len(fresh.ids):
        embeddings = np.concatenate([rows.embeddings[kept], fresh.embeddings])[order]
    else:
        embeddings = np.asarray(rows.embeddings[kept], dtype=np.float32)
    metadatas: list[Metadata | None] = merge(rows.metadatas, fresh.metadatas)
    return StoreRows(
        slots=slots[order],
        ids=merge(rows.ids, fresh.ids),
        keys=np.concatenate([rows.keys[kept], fresh.keys])[order],
        embeddings=embeddings,
        metadatas=metadatas,
        documents=merge(rows.documents, fresh.documents),
        uris=merge(rows.uris, fresh.uris),
        next_slot=rows.next_slot,
        next_key=rows.next_key,
        dimension=rows.dimension if rows.dimension is not None else fresh.dimension,
    )
