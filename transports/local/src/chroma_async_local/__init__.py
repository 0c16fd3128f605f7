"""In-process transports for chroma-async: ``memory://`` (and, later, ``file://``).

The engine is usable on its own, synchronously, by other transports:
:class:`CollectionStore` holds one collection's records (vectors, usearch index, metadata
columns, documents), :class:`Catalog` the tenants, databases and collections.
"""

from chroma_async_local.catalog import Catalog, CollectionEntry, DatabaseEntry
from chroma_async_local.collection_store import CollectionStore, QueryHits, StoreRows, WritePlan
from chroma_async_local.index_settings import IndexSettings
from chroma_async_local.locks import ReadWriteLock
from chroma_async_local.memory import MemoryTransport

__all__ = [
    "Catalog",
    "CollectionEntry",
    "CollectionStore",
    "DatabaseEntry",
    "IndexSettings",
    "MemoryTransport",
    "QueryHits",
    "ReadWriteLock",
    "StoreRows",
    "WritePlan",
]
