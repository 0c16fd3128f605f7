"""Snapshots of a collection's in-memory state, so that reopening does not rebuild it.

SQLite holds every record; rebuilding a collection from it means re-inserting every vector
into a new HNSW graph (minutes for a million records). A snapshot holds what a
:class:`CollectionStore` is made of — its rows in slot order and its usearch index file —
as of the collection's write number ``seq``. Opening loads the newest valid snapshot
(the index memory-mapped), re-reads from SQLite only the records written after ``seq``
(the ``changes`` table says which), and lets the store reconcile the index with them.

Layout, per collection (named by its UUID, never by its name)::

    snapshots/<collection uuid>/<seq, 20 digits>/
        rows.msgpack     slots and keys (int64 LE), then ids, metadatas, documents, uris in
                         chunks of 8,192 (msgspec msgpack; never pickle)
        vectors.npy      float32 (records × dimension), same order as the rows
        index.usearch    the usearch index (absent while the collection has no vector)
        manifest.json    format, collection, seq, counters, and each file's size and CRC-32

Writing is atomic: everything goes into ``tmp-<random>/`` in the same directory, each file
is fsynced, the manifest last, the directory is fsynced, renamed to its final name, and the
parent is fsynced. A directory with a final name is therefore complete unless the storage
itself damaged it — which is what the manifest's sizes and checksums catch on open. A
snapshot that fails any check (torn, truncated, bit-flipped, missing, from another format,
newer than the database, or older than the changes SQLite still keeps) is skipped and
rebuilt from SQLite, never trusted.

All functions do file I/O: call them from worker threads.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import uuid
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from chroma_async_local.collection_store import StoreRows

__all__ = [
    "SNAPSHOTS_DIR",
    "SNAPSHOT_FORMAT",
    "LoadedSnapshot",
    "Manifest",
    "SnapshotCapture",
    "collection_directory",
    "load_snapshot",
    "new_capture_directory",
    "remove_collection",
    "remove_generations",
    "remove_unknown_collections",
    "write_snapshot",
]

SNAPSHOT_FORMAT = 1
SNAPSHOTS_DIR = "snapshots"
MANIFEST_FILE = "manifest.json"
ROWS_FILE = "rows.msgpack"
VECTORS_FILE = "vectors.npy"
INDEX_FILE = "index.usearch"
_TEMP_PREFIX = "tmp-"
_CHUNK_ROWS = 8192  # bounds the GIL-holding time of one msgspec call
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


class FileDigest(msgspec.Struct, frozen=True, kw_only=True):
    size: int
    crc32: int


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    collection: uuid.UUID
    seq: int
    count: int
    dimension: int | None
    next_slot: int
    next_key: int
    files: dict[str, FileDigest]


class _RowsHeader(msgspec.Struct, frozen=True, kw_only=True):
    slots: bytes
    keys: bytes
    chunks: list[bytes]


class _RowsChunk(msgspec.Struct, frozen=True, array_like=True):
    ids: list[str]
    metadatas: list[dict[str, Any] | None]
    documents: list[str | None]
    uris: list[str | None]


_manifest_encoder = msgspec.json.Encoder()
_manifest_decoder = msgspec.json.Decoder(Manifest)
_msgpack_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(_RowsHeader)
_chunk_decoder = msgspec.msgpack.Decoder(_RowsChunk)


@dataclass(frozen=True)
class SnapshotCapture:
    """A store's state at write ``seq``, taken under its lock, to be written out later:
    its rows and its usearch index as bytes (None while it has no index)."""

    collection_id: uuid.UUID
    seq: int
    rows: StoreRows
    index: bytes | None


@dataclass(frozen=True)
class LoadedSnapshot:
    manifest: Manifest
    directory: Path
    rows: StoreRows
    index_path: Path | None

    @property
    def seq(self) -> int:
        return self.manifest.seq


class SnapshotRejected(Exception):
    """A snapshot generation failed a check; the message says which."""


# --- paths ---------------------------------------------------------------------------


def collection_directory(root: Path, collection_id: uuid.UUID) -> Path:
    return root / str(collection_id)


def _generation_name(seq: int) -> str:
    return f"{seq:020d}"


def _generations(directory: Path) -> list[tuple[int, Path]]:
    """Complete generations of a collection, newest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(name), directory / name) for name in names if name.isdigit()]
    return sorted(found, reverse=True)


def _make_private_dir(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, _PRIVATE_DIR)


def new_capture_directory(root: Path, collection_id: uuid.UUID) -> Path:
    """A fresh, private temporary directory for one snapshot of the collection."""
    _make_private_dir(root)
    parent = collection_directory(root, collection_id)
    _make_private_dir(parent)
    directory = parent / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
    os.mkdir(directory, _PRIVATE_DIR)
    return directory


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc32_of_file(path: Path) -> FileDigest:
    size = path.stat().st_size
    if size == 0:
        return FileDigest(size=0, crc32=zlib.crc32(b""))
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return FileDigest(size=size, crc32=zlib.crc32(mm))


def _write_private(path: Path, data: bytes) -> FileDigest:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return FileDigest(size=len(data), crc32=zlib.crc32(data))


# --- writing -------------------------------------------------------------------------


def _encode_rows(rows: StoreRows) -> bytes:
    chunks = [
        _msgpack_encoder.encode(
            _RowsChunk(
                rows.ids[start : start + _CHUNK_ROWS],
                rows.metadatas[start : start + _CHUNK_ROWS],
                rows.documents[start : start + _CHUNK_ROWS],
                rows.uris[start : start + _CHUNK_ROWS],
            )
        )
        for start in range(0, len(rows.ids), _CHUNK_ROWS)
    ]
    header = _RowsHeader(
        slots=np.ascontiguousarray(rows.slots, dtype="<i8").tobytes(),
        keys=np.ascontiguousarray(rows.keys, dtype="<i8").tobytes(),
        chunks=chunks,
    )
    return _msgpack_encoder.encode(header)


def write_snapshot(root: Path, capture: SnapshotCapture) -> Path:
    """Write ``capture`` durably and atomically; returns the generation's directory.

    On failure the temporary directory is removed and the exception propagates; the
    previous generation (if any) is untouched.
    """
    temp = new_capture_directory(root, capture.collection_id)
    try:
        rows = capture.rows
        files: dict[str, FileDigest] = {
            ROWS_FILE: _write_private(temp / ROWS_FILE, _encode_rows(rows))
        }
        vectors = np.ascontiguousarray(rows.embeddings, dtype="<f4")
        fd = os.open(
            temp / VECTORS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _PRIVATE_FILE
        )
        with os.fdopen(fd, "wb") as file:
            np.save(file, vectors, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())
        files[VECTORS_FILE] = _crc32_of_file(temp / VECTORS_FILE)
        if capture.index is not None:
            files[INDEX_FILE] = _write_private(temp / INDEX_FILE, capture.index)
        manifest = Manifest(
            format=SNAPSHOT_FORMAT,
            collection=capture.collection_id,
            seq=capture.seq,
            count=len(rows.ids),
            dimension=rows.dimension,
            next_slot=rows.next_slot,
            next_key=rows.next_key,
            files=files,
        )
        _write_private(temp / MANIFEST_FILE, _manifest_encoder.encode(manifest))
        _fsync_directory(temp)
        parent = temp.parent
        final = parent / _generation_name(capture.seq)
        if final.exists():
            # The same state was written already (e.g. a close right after a background
            # snapshot); keep the existing one.
            _remove_tree(temp)
            return final
        os.rename(temp, final)
        _fsync_directory(parent)
        return final
    except BaseException:
        _remove_tree(temp)
        raise


# --- reading -------------------------------------------------------------------------


def _check_file(directory: Path, name: str, expected: FileDigest) -> Path:
    path = directory / name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SnapshotRejected(f"{name} is missing") from None
    if size != expected.size:
        raise SnapshotRejected(f"{name} has {size} bytes, the manifest says {expected.size}")
    found = _crc32_of_file(path)
    if found.crc32 != expected.crc32:
        raise SnapshotRejected(f"{name} fails its checksum (torn or damaged)")
    return path


def _read_generation(directory: Path, collection_id: uuid.UUID, seq: int) -> LoadedSnapshot:
    try:
        manifest = _manifest_decoder.decode((directory / MANIFEST_FILE).read_bytes())
    except FileNotFoundError:
        raise SnapshotRejected("manifest.json is missing") from None
    except msgspec.DecodeError as exc:
        raise SnapshotRejected(f"manifest.json is unreadable: {exc}") from None
    if manifest.format != SNAPSHOT_FORMAT:
        raise SnapshotRejected(
            f"manifest.json says snapshot format {manifest.format}; this version reads "
            f"{SNAPSHOT_FORMAT}"
        )
    if manifest.collection != collection_id or manifest.seq != seq:
        raise SnapshotRejected(
            f"manifest.json is for collection {manifest.collection} at write {manifest.seq}"
        )
    for name in (ROWS_FILE, VECTORS_FILE):
        if name not in manifest.files:
            raise SnapshotRejected(f"the manifest lists no {name}")
    rows_path = _check_file(directory, ROWS_FILE, manifest.files[ROWS_FILE])
    # The big files are checksummed in another thread (zlib releases the GIL) while this
    # one decodes the rows (which holds it): on two cores the check costs no time.
    big = [name for name in (VECTORS_FILE, INDEX_FILE) if name in manifest.files]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-check") as pool:
        checks = [pool.submit(_check_file, directory, n, manifest.files[n]) for n in big]
        try:
            header = _header_decoder.decode(rows_path.read_bytes())
            chunks = [_chunk_decoder.decode(chunk) for chunk in header.chunks]
        except (msgspec.DecodeError, ValueError, OSError) as exc:
            raise SnapshotRejected(f"the rows cannot be decoded: {exc}") from None
        vectors_path, *index = [check.result() for check in checks]
    index_path = index[0] if index else None
    try:
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SnapshotRejected(f"vectors.npy cannot be read: {exc}") from None
    slots = np.frombuffer(header.slots, dtype="<i8").astype(np.int64)
    keys = np.frombuffer(header.keys, dtype="<i8").astype(np.int64)
    ids = [i for chunk in chunks for i in chunk.ids]
    count = manifest.count
    width = manifest.dimension or 0
    if not (len(slots) == len(keys) == len(ids) == count):
        raise SnapshotRejected(f"the rows disagree with the manifest's count {count}")
    if count and (vectors.ndim != 2 or vectors.shape != (count, width)):
        raise SnapshotRejected(f"vectors.npy has shape {vectors.shape}, expected {(count, width)}")
    embeddings = vectors if count else np.zeros((0, width), dtype=np.float32)
    rows = StoreRows(
        slots=slots,
        ids=ids,
        keys=keys,
        embeddings=embeddings,
        metadatas=[m for chunk in chunks for m in chunk.metadatas],
        documents=[d for chunk in chunks for d in chunk.documents],
        uris=[u for chunk in chunks for u in chunk.uris],
        next_slot=manifest.next_slot,
        next_key=manifest.next_key,
        dimension=manifest.dimension,
    )
    return LoadedSnapshot(manifest=manifest, directory=directory, rows=rows, index_path=index_path)


def load_snapshot(
    root: Path, collection_id: uuid.UUID, *, database_seq: int, pruned_through: int
) -> tuple[LoadedSnapshot | None, list[str]]:
    """The newest valid snapshot of a collection whose database is at write
    ``database_seq`` and keeps the changes after ``pruned_through``; and why every newer
    generation was rejected."""
    problems: list[str] = []
    for seq, directory in _generations(collection_directory(root, collection_id)):
        if seq > database_seq:
            problems.append(
                f"{directory.name}: newer than the database (write {database_seq}); the "
                f"database lost writes the snapshot saw, so the snapshot cannot be used"
            )
            continue
        if seq < pruned_through:
            problems.append(
                f"{directory.name}: older than the changes the database keeps (from write "
                f"{pruned_through})"
            )
            continue
        try:
            return _read_generation(directory, collection_id, seq), problems
        except SnapshotRejected as exc:
            problems.append(f"{directory.name}: {exc}")
    return None, problems


# --- removing ------------------------------------------------------------------------


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_generations(
    root: Path, collection_id: uuid.UUID, *, keep: int | None, temporary: bool = False
) -> None:
    """Remove every generation but ``keep`` (and, with ``temporary``, unfinished ones:
    only when no capture can be in progress)."""
    directory = collection_directory(root, collection_id)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if name.isdigit():
            if keep is None or int(name) != keep:
                _remove_tree(directory / name)
        elif temporary and name.startswith(_TEMP_PREFIX):
            _remove_tree(directory / name)


def remove_collection(root: Path, collection_id: uuid.UUID) -> None:
    _remove_tree(collection_directory(root, collection_id))


def remove_unknown_collections(root: Path, known: Iterable[uuid.UUID]) -> list[str]:
    """Remove the snapshots of collections the database does not have; returns their names."""
    keep = {str(i) for i in known}
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    removed = [name for name in names if name not in keep]
    for name in removed:
        path = root / name
        if path.is_dir():
            _remove_tree(path)
        else:
            path.unlink(missing_ok=True)
    return removed
