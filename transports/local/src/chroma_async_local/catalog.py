"""Tenants → databases → collections of one in-process engine, and their rules.

:class:`Catalog` is synchronous and cheap: every method is a few dict operations, so the
transports call it on the event loop, between awaits, where it is naturally atomic. The
records of a collection live in its :class:`~chroma_async_local.collection_store.CollectionStore`.

Behaviour follows chromadb 1.5.9 (asked, not guessed): ``default_tenant`` /
``default_database`` exist from the start; a duplicate name raises
``UniqueConstraintError`` (chromadb in-process says ``InternalError``; its server says
``UniqueConstraintError``); creating a database under a tenant that was never created
raises ``NotFoundError`` (the conformance suite's rule; chromadb in-process accepts it and
invents the tenant's database half-way: its ``get_tenant`` still fails); creating a
collection in a missing database raises ``InvalidArgumentError`` as chromadb does, while
reading one raises ``NotFoundError``; ``list_collections`` of a missing database is empty.
Collections are listed oldest first.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chroma_async.config import resolve_configuration
from chroma_async.errors import InvalidArgumentError, NotFoundError, UniqueConstraintError
from chroma_async.operations import CollectionModel, DatabaseModel, TenantModel
from chroma_async.types import Metadata
from chroma_async_local.collection_store import CollectionStore
from chroma_async_local.index_settings import IndexSettings, merge_configuration

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "Catalog",
    "CollectionEntry",
    "DatabaseEntry",
    "resolved_configuration",
]

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"
_DEFAULT_DATABASE_ID = uuid.UUID(int=0)


def resolved_configuration(configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """``configuration`` with every hnsw field Chroma reports filled in (the core's own
    resolution: what the client sends is already resolved, and a direct caller of the
    transport gets the same defaults and checks)."""
    return resolve_configuration(None if configuration is None else dict(configuration), None)


@dataclass
class CollectionEntry:
    """A collection's identity and settings, and its records."""

    id: uuid.UUID
    name: str
    tenant: str
    database: str
    metadata: Metadata | None
    configuration: dict[str, Any]
    store: CollectionStore
    created: int

    def model(self) -> CollectionModel:
        return CollectionModel(
            id=self.id,
            name=self.name,
            tenant=self.tenant,
            database=self.database,
            metadata=None if self.metadata is None else dict(self.metadata),
            configuration=dict(self.configuration),
            dimension=self.store.dimension,
        )


@dataclass
class DatabaseEntry:
    id: uuid.UUID
    name: str
    tenant: str
    collections: dict[str, CollectionEntry] = field(default_factory=dict)

    def model(self) -> DatabaseModel:
        return DatabaseModel(id=self.id, name=self.name, tenant=self.tenant)


StoreFactory = Callable[[IndexSettings], CollectionStore]


class Catalog:
    """Every tenant, database and collection of one engine; nothing is shared with others."""

    def __init__(self, store_factory: StoreFactory | None = None) -> None:
        self._store_factory: StoreFactory = store_factory or (lambda s: CollectionStore(s))
        self._sequence = itertools.count()
        self._tenants: set[str] = set()
        self._databases: dict[tuple[str, str], DatabaseEntry] = {}
        self._collections: dict[uuid.UUID, CollectionEntry] = {}
        self.reset()

    def reset(self) -> None:
        """Forget everything; only the default tenant and database remain."""
        self._tenants = {DEFAULT_TENANT}
        self._databases = {
            (DEFAULT_TENANT, DEFAULT_DATABASE): DatabaseEntry(
                id=_DEFAULT_DATABASE_ID, name=DEFAULT_DATABASE, tenant=DEFAULT_TENANT
            )
        }
        self._collections = {}

    def restore(
        self,
        tenants: Iterable[str],
        databases: Iterable[DatabaseEntry],
        collections: Iterable[CollectionEntry],
    ) -> list[CollectionEntry]:
        """Replace everything with a stored state, ids and order kept (a collection's
        ``created`` is its place in the order; later ones are numbered after the last).
        Returns the collections left out because their database is not among
        ``databases``."""
        self._tenants = set(tenants)
        self._databases = {
            (db.tenant, db.name): DatabaseEntry(id=db.id, name=db.name, tenant=db.tenant)
            for db in databases
        }
        self._collections = {}
        orphans: list[CollectionEntry] = []
        last = -1
        for entry in collections:
            last = max(last, entry.created)
            database = self._databases.get((entry.tenant, entry.database))
            if database is None:
                orphans.append(entry)
            else:
                self._register(database, entry)
        self._sequence = itertools.count(last + 1)
        return orphans

    # --- tenants -----------------------------------------------------------------------

    def create_tenant(self, name: str) -> None:
        if name in self._tenants:
            raise UniqueConstraintError(f"Tenant [{name}] already exists")
        self._tenants.add(name)

    def get_tenant(self, name: str) -> TenantModel:
        if name not in self._tenants:
            raise NotFoundError(f"Tenant [{name}] not found")
        return TenantModel(name=name)

    # --- databases ---------------------------------------------------------------------

    def create_database(self, tenant: str, name: str) -> DatabaseEntry:
        if tenant not in self._tenants:
            raise NotFoundError(f"Tenant [{tenant}] not found")
        if (tenant, name) in self._databases:
            raise UniqueConstraintError(f"Database [{name}] already exists")
        entry = DatabaseEntry(id=uuid.uuid4(), name=name, tenant=tenant)
        self._databases[(tenant, name)] = entry
        return entry

    def get_database(self, tenant: str, name: str) -> DatabaseEntry:
        entry = self._databases.get((tenant, name))
        if entry is None:
            raise NotFoundError(f"Database [{name}] not found. Are you sure it exists?")
        return entry

    def list_databases(
        self, tenant: str, limit: int | None = None, offset: int = 0
    ) -> list[DatabaseEntry]:
        found = [db for (t, _), db in self._databases.items() if t == tenant]
        stop = None if limit is None else offset + limit
        return found[offset:stop]

    def delete_database(self, tenant: str, name: str) -> list[CollectionEntry]:
        """Remove the database; returns its collections, which are gone with it."""
        entry = self._databases.pop((tenant, name), None)
        if entry is None:
            raise NotFoundError(f"Database [{name}] not found")
        for collection in entry.collections.values():
            self._collections.pop(collection.id, None)
        return list(entry.collections.values())

    # --- collections -------------------------------------------------------------------

    def _database_for_write(self, tenant: str, database: str) -> DatabaseEntry:
        entry = self._databases.get((tenant, database))
        if entry is None:
            raise InvalidArgumentError(f"Database [{database}] does not exist")
        return entry

    def create_collection(
        self,
        tenant: str,
        database: str,
        name: str,
        configuration: Mapping[str, Any] | None,
        metadata: Metadata | None,
        get_or_create: bool = False,
    ) -> tuple[CollectionEntry, bool]:
        """The collection, and whether it was created (``get_or_create`` returns an
        existing one unchanged, ignoring the new metadata and configuration)."""
        db = self._database_for_write(tenant, database)
        existing = db.collections.get(name)
        if existing is not None:
            if get_or_create:
                return existing, False
            raise UniqueConstraintError(f"Collection [{name}] already exists")
        resolved = resolved_configuration(configuration)
        settings = IndexSettings.from_configuration(resolved)
        entry = CollectionEntry(
            id=uuid.uuid4(),
            name=name,
            tenant=tenant,
            database=database,
            metadata=dict(metadata) if metadata else None,
            configuration=resolved,
            store=self._store_factory(settings),
            created=next(self._sequence),
        )
        self._register(db, entry)
        return entry, True

    def _register(self, db: DatabaseEntry, entry: CollectionEntry) -> None:
        db.collections[entry.name] = entry
        self._collections[entry.id] = entry

    def get_collection(self, tenant: str, database: str, name: str) -> CollectionEntry:
        db = self._databases.get((tenant, database))
        entry = None if db is None else db.collections.get(name)
        if entry is None:
            raise NotFoundError(f"Collection [{name}] does not exist")
        return entry

    def collection_by_id(
        self, tenant: str, database: str, collection_id: uuid.UUID
    ) -> CollectionEntry:
        entry = self._collections.get(collection_id)
        if entry is None or entry.tenant != tenant or entry.database != database:
            raise NotFoundError(f"Collection [{collection_id}] does not exist.")
        return entry

    def list_collections(
        self, tenant: str, database: str, limit: int | None = None, offset: int = 0
    ) -> list[CollectionEntry]:
        db = self._databases.get((tenant, database))
        if db is None:
            return []
        ordered = sorted(db.collections.values(), key=lambda c: c.created)
        stop = None if limit is None else offset + limit
        return ordered[offset:stop]

    def count_collections(self, tenant: str, database: str) -> int:
        db = self._databases.get((tenant, database))
        return 0 if db is None else len(db.collections)

    def delete_collection(self, tenant: str, database: str, name: str) -> CollectionEntry:
        entry = self.get_collection(tenant, database, name)
        del self._databases[(tenant, database)].collections[name]
        del self._collections[entry.id]
        return entry

    def modify_collection(
        self,
        tenant: str,
        database: str,
        collection_id: uuid.UUID,
        new_name: str | None = None,
        new_metadata: Metadata | None = None,
        new_configuration: Mapping[str, Any] | None = None,
    ) -> CollectionEntry:
        """Rename and/or replace metadata and/or update the mutable configuration; checks
        everything before changing anything."""
        entry = self.collection_by_id(tenant, database, collection_id)
        db = self._databases[(tenant, database)]
        if new_name is not None and new_name != entry.name and new_name in db.collections:
            raise UniqueConstraintError(f"Collection [{new_name}] already exists")
        configuration = (
            merge_configuration(entry.configuration, new_configuration)
            if new_configuration
            else None
        )
        if new_name is not None and new_name != entry.name:
            del db.collections[entry.name]
            entry.name = new_name
            db.collections[new_name] = entry
        if new_metadata is not None:
            entry.metadata = dict(new_metadata) or None
        if configuration is not None:
            entry.configuration = configuration
        return entry

    def check_fork_target(self, tenant: str, database: str, new_name: str) -> None:
        db = self._database_for_write(tenant, database)
        if new_name in db.collections:
            raise UniqueConstraintError(f"Collection [{new_name}] already exists")

    def add_fork(
        self, source: CollectionEntry, new_name: str, store: CollectionStore
    ) -> CollectionEntry:
        """Register ``store`` (a copy of ``source``'s) as a new collection ``new_name``."""
        self.check_fork_target(source.tenant, source.database, new_name)
        entry = CollectionEntry(
            id=uuid.uuid4(),
            name=new_name,
            tenant=source.tenant,
            database=source.database,
            metadata=None if source.metadata is None else dict(source.metadata),
            configuration=dict(source.configuration),
            store=store,
            created=next(self._sequence),
        )
        self._register(self._databases[(source.tenant, source.database)], entry)
        return entry
