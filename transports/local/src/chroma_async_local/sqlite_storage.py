"""The SQLite database of a persistent transport: the source of truth for everything.

One file, ``<directory>/chroma-async.sqlite3``, in WAL mode. A write is acknowledged only
after its transaction has committed, and a transaction holds a whole batch, so a batch is
on disk entirely or not at all. ``synchronous=FULL`` (the default) makes a commit survive
power loss too; ``NORMAL`` still survives a crash of the process, but a power loss may take
the last acknowledged commits back (never leaving anything half-written).

Format (``PRAGMA user_version`` = :data:`FORMAT_VERSION`, ``application_id`` =
:data:`APPLICATION_ID`)::

    tenants      name
    databases    id, tenant, name, position              (position: listing order)
    collections  num, id, tenant, database, name, metadata (msgpack), configuration (JSON),
                 position, dimension, next_slot, next_key, count,
                 seq (last committed write), pruned_through (see ``changes``)
    records      rid = num << 40 | slot, id, key, embedding (float32 little-endian),
                 metadata (msgpack), document, uri
    changes      num, seq, slot: the slots each write touched, kept until a snapshot
                 covers them (then deleted and ``pruned_through`` raised)

A record lives in the *slot* of the in-memory :class:`CollectionStore` it occupies (slots
are never reused), under the index *key* of its current vector. Storing both makes a
restore land every record in the same place, so an index snapshot (keys → vectors) taken
at any earlier moment stays meaningful. ``rid`` packs a collection's records into one
contiguous range of the table's integer key: a collection's records are read in slot
order by one range scan and deleted by one range delete, and no secondary index is needed.

Metadata is msgpack (msgspec), never pickle. Every method is synchronous and runs in a
worker thread; one lock serialises use of the connection between threads.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from chroma_async.errors import InternalError, InvalidArgumentError, VersionMismatchError
from chroma_async.types import Metadata
from chroma_async_local.collection_store import StoreRows, WritePlan

__all__ = [
    "APPLICATION_ID",
    "DATABASE_FILE",
    "FORMAT_VERSION",
    "CatalogRows",
    "CollectionRow",
    "Counters",
    "DatabaseRow",
    "PinnedCollection",
    "PreparedWrite",
    "SqliteStorage",
    "check_text",
]

DATABASE_FILE = "chroma-async.sqlite3"
FORMAT_VERSION = 1
"""Bumped whenever the schema or an encoding changes; older files are migrated on open."""
APPLICATION_ID = 0x43484153  # "CHAS": marks the file as ours for `file(1)` and for us
SLOT_BITS = 40
"""A collection's records have rids ``num << 40 | slot``: 2^40 slots, 2^23 collections."""
_SLOT_MASK = (1 << SLOT_BITS) - 1
_CHUNK = 500  # host parameters per `IN (...)` query, below SQLite's limit
PAGE_SIZE = 32768
_DECODE_CHUNK = 2048  # records decoded per step (each step holds the GIL briefly)

_SCHEMA = """
CREATE TABLE tenants (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE databases (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    UNIQUE (tenant, name)
);
CREATE TABLE collections (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    database TEXT NOT NULL,
    name TEXT NOT NULL,
    metadata BLOB,
    configuration BLOB NOT NULL,
    position INTEGER NOT NULL,
    dimension INTEGER,
    next_slot INTEGER NOT NULL DEFAULT 0,
    next_key INTEGER NOT NULL DEFAULT 0,
    count INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    pruned_through INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, database, name)
);
CREATE TABLE records (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    key INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    metadata BLOB,
    document TEXT,
    uri TEXT
);
CREATE TABLE changes (
    num INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    PRIMARY KEY (num, seq, slot)
) WITHOUT ROWID;
"""

_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}

_metadata_encoder = msgspec.msgpack.Encoder()
_metadata_decoder = msgspec.msgpack.Decoder()
_configuration_encoder = msgspec.json.Encoder()
_configuration_decoder = msgspec.json.Decoder(dict[str, Any])


class DatabaseRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    tenant: str
    name: str


class CollectionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A collection as stored, with the counters its store must have after a restore."""

    num: int
    id: uuid.UUID
    tenant: str
    database: str
    name: str
    metadata: Metadata | None
    configuration: dict[str, Any]
    position: int
    dimension: int | None
    next_slot: int
    next_key: int
    count: int
    seq: int
    pruned_through: int


class CatalogRows(msgspec.Struct, frozen=True, kw_only=True):
    tenants: list[str]
    databases: list[DatabaseRow]
    collections: list[CollectionRow]


class Counters(msgspec.Struct, frozen=True, kw_only=True):
    """A store's counters, before or after a write (see ``CollectionStore``)."""

    next_slot: int
    next_key: int
    count: int
    dimension: int | None


class PreparedWrite(msgspec.Struct, frozen=True, kw_only=True):
    """A write encoded for SQLite (``prepare_write``), ready to ``commit``; ``after`` holds
    the store's counters once the write is applied."""

    num: int
    seq: int
    deleted: list[tuple[int]]
    full_rows: list[tuple[Any, ...]]
    partial_rows: list[tuple[Any, ...]]
    touched: list[tuple[int, int, int]]
    after: Counters


def rid_base(num: int) -> int:
    return num << SLOT_BITS


def encode_metadata(metadata: Metadata | None, where: str) -> bytes | None:
    if not metadata:
        return None
    try:
        return _metadata_encoder.encode(metadata)
    except (msgspec.EncodeError, UnicodeEncodeError, OverflowError, TypeError) as exc:
        raise InvalidArgumentError(f"{where}: the metadata cannot be stored: {exc}") from exc


def decode_metadata(blob: bytes | None) -> Metadata | None:
    if blob is None:
        return None
    value: Metadata = _metadata_decoder.decode(blob)
    return value


def check_text(*values: str | None) -> None:
    """Reject text SQLite cannot store as UTF-8 (lone surrogates), naming it."""
    for value in values:
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidArgumentError(
                    f"{value!r:.80} cannot be stored: it is not valid Unicode text ({exc})"
                ) from None


def _encode_configuration(configuration: dict[str, Any]) -> bytes:
    try:
        return _configuration_encoder.encode(configuration)
    except (msgspec.EncodeError, TypeError) as exc:
        raise InvalidArgumentError(
            f"the collection configuration cannot be stored: {exc}; expected JSON values "
            f"(numbers, strings, booleans, lists, dicts)"
        ) from exc


class SqliteStorage:
    """The open database file. Build it with :meth:`open` (in a worker thread)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self._guard = threading.Lock()
        self.path = path

    # --- opening and closing -----------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        synchronous: str = "full",
        seed_tenants: Sequence[str] = (),
        seed_databases: Sequence[DatabaseRow] = (),
    ) -> SqliteStorage:
        """Open (creating it, seeded with the given defaults, if missing) the database of
        ``directory``; check its format, migrating an older one."""
        if synchronous not in _SYNCHRONOUS:
            raise InvalidArgumentError(
                f"expected synchronous to be 'full' or 'normal', got {synchronous!r}"
            )
        path = directory / DATABASE_FILE
        if not path.exists():
            # Created here, not by SQLite, to make it private; SQLite gives the -wal and
            # -shm files the permissions of the database file.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=0.0
            )
        except sqlite3.Error as exc:
            raise InternalError(f"could not open the database file {str(path)!r}: {exc}") from exc
        storage = cls(connection, path)
        try:
            storage._configure(_SYNCHRONOUS[synchronous])
            storage._check_format(seed_tenants, seed_databases)
        except BaseException:
            connection.close()
            raise
        return storage

    def _configure(self, synchronous: str) -> None:
        con = self._connection
        try:
            if self.path.stat().st_size == 0:
                # Only a new database can choose its page size. 32 KiB keeps a record with
                # up to ~2,000 float32 dimensions on one page (4 KiB pages spill every
                # 384-dim record into an overflow page: 25 % more disk, slower scans).
                con.execute(f"PRAGMA page_size={PAGE_SIZE}")
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            con.execute(f"PRAGMA synchronous={synchronous}")
            con.execute("PRAGMA foreign_keys=OFF")
            con.execute("PRAGMA cache_size=-16384")  # 16 MiB
        except sqlite3.DatabaseError as exc:
            raise InternalError(
                f"{str(self.path)!r} is not a readable SQLite database ({exc}); it was not "
                f"written by chroma-async, or it is damaged"
            ) from exc
        if str(mode).lower() != "wal":
            raise InternalError(
                f"could not put {str(self.path)!r} in WAL mode (got {mode!r}); is the "
                f"directory on a file system without shared-memory support?"
            )

    def _check_format(
        self, seed_tenants: Sequence[str], seed_databases: Sequence[DatabaseRow]
    ) -> None:
        con = self._connection
        application_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        con.execute(statement)
                self._seed(seed_tenants, seed_databases)
                con.execute(f"PRAGMA application_id={APPLICATION_ID}")
                con.execute(f"PRAGMA user_version={FORMAT_VERSION}")
            return
        if application_id != APPLICATION_ID:
            raise InternalError(
                f"{str(self.path)!r} is a SQLite database but not a chroma-async one "
                f"(application_id {application_id:#x}); point the client at another directory"
            )
        if version > FORMAT_VERSION:
            raise VersionMismatchError(
                f"the database at {str(self.path)!r} has format {version}, written by a newer "
                f"chroma-async; this version reads formats up to {FORMAT_VERSION}. Upgrade "
                f"chroma-async (pip install -U 'chroma-async[local]') to open it"
            )
        if version < FORMAT_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        # Format 1 is the first one; a migration step per later format goes here, each in
        # its own transaction ending with `PRAGMA user_version = <its format>`.
        raise VersionMismatchError(
            f"the database at {str(self.path)!r} has format {version}, which no released "
            f"chroma-async wrote; expected format {FORMAT_VERSION}"
        )

    def close(self, *, checkpoint: bool = True) -> None:
        with self._guard:
            try:
                if checkpoint:
                    # Fold the WAL back into the database so that the next open starts small.
                    self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the WAL is replayed by the next open; nothing is lost
            finally:
                self._connection.close()

    # --- helpers -----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        con = self._connection
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextmanager
    def _locked_transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard, self._transaction() as con:
            yield con

    def _seed(self, tenants: Sequence[str], databases: Sequence[DatabaseRow]) -> None:
        con = self._connection
        con.executemany("INSERT INTO tenants (name) VALUES (?)", [(t,) for t in tenants])
        con.executemany(
            "INSERT INTO databases (id, tenant, name, position) VALUES (?, ?, ?, ?)",
            [(str(db.id), db.tenant, db.name, i) for i, db in enumerate(databases)],
        )

    # --- the catalog -------------------------------------------------------------------

    def load_catalog(self) -> CatalogRows:
        with self._guard:
            con = self._connection
            tenants = [row[0] for row in con.execute("SELECT name FROM tenants")]
            databases = [
                DatabaseRow(id=uuid.UUID(i), tenant=t, name=n)
                for i, t, n in con.execute(
                    "SELECT id, tenant, name FROM databases ORDER BY position"
                )
            ]
            collections = [
                _collection_row(row)
                for row in con.execute(
                    f"SELECT {_COLLECTION_COLUMNS} FROM collections ORDER BY position"
                )
            ]
        return CatalogRows(tenants=tenants, databases=databases, collections=collections)

    def create_tenant(self, name: str) -> None:
        with self._locked_transaction() as con:
            con.execute("INSERT INTO tenants (name) VALUES (?)", (name,))

    def create_database(self, database: DatabaseRow) -> None:
        with self._locked_transaction() as con:
            con.execute(
                "INSERT INTO databases (id, tenant, name, position)"
                " VALUES (?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM databases))",
                (str(database.id), database.tenant, database.name),
            )

    def delete_database(self, tenant: str, name: str, collection_nums: Sequence[int]) -> None:
        with self._locked_transaction() as con:
            con.execute("DELETE FROM databases WHERE tenant = ? AND name = ?", (tenant, name))
            for num in collection_nums:
                self._delete_collection_rows(con, num)

    def insert_collection(
        self,
        *,
        collection_id: uuid.UUID,
        tenant: str,
        database: str,
        name: str,
        metadata: Metadata | None,
        configuration: dict[str, Any],
        position: int,
        counters: Counters | None = None,
        copy_records_of: int | None = None,
    ) -> int:
        """Add a collection; returns its ``num``. With ``copy_records_of`` (a fork), the
        records of that collection are copied, slots and keys unchanged."""
        metadata_blob = encode_metadata(metadata, f"collection {name!r}")
        configuration_blob = _encode_configuration(configuration)
        counters = counters or Counters(next_slot=0, next_key=0, count=0, dimension=None)
        with self._locked_transaction() as con:
            cursor = con.execute(
                "INSERT INTO collections (id, tenant, database, name, metadata, configuration,"
                " position, dimension, next_slot, next_key, count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(collection_id),
                    tenant,
                    database,
                    name,
                    metadata_blob,
                    configuration_blob,
                    position,
                    counters.dimension,
                    counters.next_slot,
                    counters.next_key,
                    counters.count,
                ),
            )
            num = cursor.lastrowid
            if num is None or num >= 1 << (63 - SLOT_BITS):
                raise InternalError(f"collection number {num} is out of range")
            if copy_records_of is not None:
                source, target = rid_base(copy_records_of), rid_base(num)
                con.execute(
                    "INSERT INTO records (rid, id, key, embedding, metadata, document, uri)"
                    " SELECT rid - ? + ?, id, key, embedding, metadata, document, uri"
                    " FROM records WHERE rid >= ? AND rid < ?",
                    (source, target, source, rid_base(copy_records_of + 1)),
                )
        return num

    def update_collection(
        self,
        num: int,
        *,
        name: str,
        metadata: Metadata | None,
        configuration: dict[str, Any],
    ) -> None:
        metadata_blob = encode_metadata(metadata, f"collection {name!r}")
        configuration_blob = _encode_configuration(configuration)
        with self._locked_transaction() as con:
            con.execute(
                "UPDATE collections SET name = ?, metadata = ?, configuration = ? WHERE num = ?",
                (name, metadata_blob, configuration_blob, num),
            )

    def delete_collection(self, num: int) -> None:
        with self._locked_transaction() as con:
            self._delete_collection_rows(con, num)

    @staticmethod
    def _delete_collection_rows(con: sqlite3.Connection, num: int) -> None:
        con.execute("DELETE FROM collections WHERE num = ?", (num,))
        con.execute(
            "DELETE FROM records WHERE rid >= ? AND rid < ?", (rid_base(num), rid_base(num + 1))
        )
        con.execute("DELETE FROM changes WHERE num = ?", (num,))

    def reset(self, tenants: Sequence[str], databases: Sequence[DatabaseRow]) -> None:
        """Delete everything; only the given tenants and databases remain."""
        with self._locked_transaction() as con:
            for table in ("tenants", "databases", "collections", "records", "changes"):
                con.execute(f"DELETE FROM {table}")
            self._seed(tenants, databases)

    # --- records -----------------------------------------------------------------------

    def prepare_write(self, num: int, seq: int, plan: WritePlan, before: Counters) -> PreparedWrite:
        """Encode ``plan`` (a write resolved against a store whose counters are ``before``)
        as write number ``seq`` of collection ``num``. Raises ``InvalidArgumentError`` for
        anything that cannot be stored, before anything is written anywhere."""
        base = rid_base(num)
        slots = plan.slots.tolist()
        keys = plan.keys.tolist()
        full_rows: list[tuple[Any, ...]] = []
        partial_rows: list[tuple[Any, ...]] = []
        if slots:
            vectors = np.ascontiguousarray(plan.embeddings, dtype="<f4")
            width = vectors.shape[1] * 4 if vectors.ndim == 2 else 0
            buffer = memoryview(vectors.tobytes())
            row = 0
            for slot, key, record_id, metadata, document, uri in zip(
                slots, keys, plan.ids, plan.metadatas, plan.documents, plan.uris, strict=True
            ):
                blob = encode_metadata(metadata, f"record {record_id!r}")
                check_text(record_id, document, uri)
                if key >= 0:
                    embedding = buffer[row * width : (row + 1) * width]
                    row += 1
                    full_rows.append((base + slot, record_id, key, embedding, blob, document, uri))
                else:
                    partial_rows.append((blob, document, uri, base + slot))
        deleted = plan.deleted.tolist()
        touched = [(num, seq, slot) for slot in slots]
        touched.extend((num, seq, slot) for slot in deleted)
        after = Counters(
            next_slot=max([before.next_slot, *(s + 1 for s in slots)]),
            next_key=max([before.next_key, *(k + 1 for k in keys)]),
            count=before.count + sum(1 for s in slots if s >= before.next_slot) - len(deleted),
            dimension=plan.dimension if plan.dimension is not None else before.dimension,
        )
        return PreparedWrite(
            num=num,
            seq=seq,
            deleted=[(base + s,) for s in deleted],
            full_rows=full_rows,
            partial_rows=partial_rows,
            touched=touched,
            after=after,
        )

    def commit(self, write: PreparedWrite) -> None:
        """Write a prepared write in one transaction; returns once it is committed."""
        after = write.after
        with self._locked_transaction() as con:
            if write.deleted:
                con.executemany("DELETE FROM records WHERE rid = ?", write.deleted)
            if write.full_rows:
                con.executemany(
                    "INSERT OR REPLACE INTO records"
                    " (rid, id, key, embedding, metadata, document, uri)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    write.full_rows,
                )
            if write.partial_rows:
                con.executemany(
                    "UPDATE records SET metadata = ?, document = ?, uri = ? WHERE rid = ?",
                    write.partial_rows,
                )
            con.executemany(
                "INSERT OR IGNORE INTO changes (num, seq, slot) VALUES (?, ?, ?)", write.touched
            )
            con.execute(
                "UPDATE collections SET dimension = ?, next_slot = ?, next_key = ?,"
                " count = ?, seq = ? WHERE num = ?",
                (
                    after.dimension,
                    after.next_slot,
                    after.next_key,
                    after.count,
                    write.seq,
                    write.num,
                ),
            )

    def load_rows(self, row: CollectionRow) -> StoreRows:
        """Every record of a collection, in slot order, with its stored counters."""
        with self._guard:
            return _read_rows(self._connection, row)

    def changed_slots(self, num: int, after_seq: int) -> npt.NDArray[np.int64]:
        """The slots written by the writes of collection ``num`` after ``after_seq``."""
        with self._guard:
            found = self._connection.execute(
                "SELECT DISTINCT slot FROM changes WHERE num = ? AND seq > ?", (num, after_seq)
            ).fetchall()
        return np.sort(np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found)))

    def rows_for_slots(self, row: CollectionRow, slots: npt.NDArray[np.int64]) -> StoreRows:
        """The records now in ``slots`` (slots whose record was deleted are absent)."""
        base = rid_base(row.num)
        fetched: list[tuple[Any, ...]] = []
        wanted = [base + s for s in slots.tolist()]
        with self._guard:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                fetched.extend(
                    self._connection.execute(
                        "SELECT rid, id, key, embedding, metadata, document, uri FROM records"
                        f" WHERE rid IN ({marks})",
                        chunk,
                    ).fetchall()
                )
        fetched.sort(key=lambda r: int(r[0]))
        return _rows_from_records(fetched, row)

    def prune_changes(self, num: int, through_seq: int) -> None:
        """Forget the changes a durable snapshot at ``through_seq`` covers."""
        with self._locked_transaction() as con:
            con.execute("DELETE FROM changes WHERE num = ? AND seq <= ?", (num, through_seq))
            con.execute(
                "UPDATE collections SET pruned_through = max(pruned_through, ?) WHERE num = ?",
                (through_seq, num),
            )

    def pin_collection(self, num: int) -> PinnedCollection | None:
        """A read transaction on a new connection, pinned at the collection's current
        committed state (None if it does not exist): in WAL mode, later commits stay
        invisible to it, so its records can be read later, from another thread, while
        writes go on."""
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        try:
            connection.execute("BEGIN")
            found = connection.execute(
                f"SELECT {_COLLECTION_COLUMNS} FROM collections WHERE num = ?", (num,)
            ).fetchone()
        except BaseException:
            connection.close()
            raise
        if found is None:
            connection.close()
            return None
        return PinnedCollection(connection, _collection_row(found))

    def collection_row(self, num: int) -> CollectionRow | None:
        """The stored row of collection ``num`` (tests and diagnostics)."""
        for row in self.load_catalog().collections:
            if row.num == num:
                return row
        return None


class PinnedCollection:
    """A collection's records as of one committed write (see ``pin_collection``); read
    them once, from any one thread, then it is closed."""

    def __init__(self, connection: sqlite3.Connection, row: CollectionRow) -> None:
        self._connection: sqlite3.Connection | None = connection
        self.row = row

    def read_rows(self) -> StoreRows:
        connection = self._connection
        if connection is None:
            raise InternalError("the pinned collection was read or closed already")
        try:
            return _read_rows(connection, self.row)
        finally:
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # ends the read transaction


_COLLECTION_COLUMNS = (
    "num, id, tenant, database, name, metadata, configuration, position, dimension,"
    " next_slot, next_key, count, seq, pruned_through"
)


def _collection_row(row: tuple[Any, ...]) -> CollectionRow:
    return CollectionRow(
        num=row[0],
        id=uuid.UUID(row[1]),
        tenant=row[2],
        database=row[3],
        name=row[4],
        metadata=decode_metadata(row[5]),
        configuration=_configuration_decoder.decode(row[6]),
        position=row[7],
        dimension=row[8],
        next_slot=row[9],
        next_key=row[10],
        count=row[11],
        seq=row[12],
        pruned_through=row[13],
    )


def _read_rows(connection: sqlite3.Connection, row: CollectionRow) -> StoreRows:
    fetched = connection.execute(
        "SELECT rid, id, key, embedding, metadata, document, uri FROM records"
        " WHERE rid >= ? AND rid < ? ORDER BY rid",
        (rid_base(row.num), rid_base(row.num + 1)),
    ).fetchall()
    return _rows_from_records(fetched, row)


def _rows_from_records(fetched: list[tuple[Any, ...]], row: CollectionRow) -> StoreRows:
    """Decode fetched records. Works in chunks so that no single call holds the GIL for
    long: a snapshot reads a large collection while the event loop keeps running."""
    n = len(fetched)
    width = row.dimension or 0
    if n and not width:
        width = len(fetched[0][3]) // 4
    slots = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    matrix = np.empty((n, width), dtype=np.float32)
    ids: list[str] = []
    metadatas: list[Metadata | None] = []
    documents: list[str | None] = []
    uris: list[str | None] = []
    for start in range(0, n, _DECODE_CHUNK):
        part = fetched[start : start + _DECODE_CHUNK]
        stop = start + len(part)
        rids, chunk_ids, chunk_keys, embeddings, blobs, chunk_documents, chunk_uris = zip(
            *part, strict=True
        )
        slots[start:stop] = np.fromiter(rids, dtype=np.int64, count=len(part)) & _SLOT_MASK
        keys[start:stop] = np.fromiter(chunk_keys, dtype=np.int64, count=len(part))
        matrix[start:stop] = np.frombuffer(b"".join(embeddings), dtype="<f4").reshape(-1, width)
        ids.extend(chunk_ids)
        metadatas.extend(None if m is None else decode_metadata(m) for m in blobs)
        documents.extend(chunk_documents)
        uris.extend(chunk_uris)
    return StoreRows(
        slots=slots,
        ids=ids,
        keys=keys,
        embeddings=matrix,
        metadatas=metadatas,
        documents=documents,
        uris=uris,
        next_slot=row.next_slot,
        next_key=row.next_key,
        dimension=row.dimension,
    )
