"""``AsyncClient`` and its constructors: Chroma's client API, awaited, over any transport."""

from __future__ import annotations

import enum
import os
import pathlib
import warnings
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import msgspec

from chroma_async import operations as ops
from chroma_async.config import resolve_configuration
from chroma_async.errors import (
    AuthorizationError,
    ClientClosedError,
    InvalidArgumentError,
    NotFoundError,
)
from chroma_async.logs import get_logger
from chroma_async.registry import get_transport_factory, scheme_of
from chroma_async.transport import Capabilities, Transport
from chroma_async.types import Database, Tenant
from chroma_async.validation import (
    validate_collection_metadata,
    validate_collection_name,
    validate_database_name,
    validate_limit,
    validate_offset,
    validate_tenant_name,
)

if TYPE_CHECKING:
    from chroma_async.collection import AsyncCollection
    from chroma_async.embeddings import EmbeddingFunction

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "AsyncClient",
    "ClientFactory",
    "CloudClient",
    "EphemeralClient",
    "HttpClient",
    "PersistentClient",
    "Settings",
    "connect",
]

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"

R = TypeVar("R")
log = get_logger("chroma_async")

_CLOSED = "this client is closed; build a new one"
_NOT_OPEN = "this client is not open yet; 'await' it or use 'async with'"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Client settings that are not about where the data lives."""

    allow_reset: bool = False
    """``reset()`` deletes everything; it is refused unless this is set."""


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class AsyncClient:
    """Chroma's client API, every call awaited. Build one with a constructor such as
    :func:`EphemeralClient` or :func:`connect`, with ``await`` or ``async with``."""

    def __init__(
        self,
        transport: Transport,
        *,
        tenant: str | None = DEFAULT_TENANT,
        database: str | None = DEFAULT_DATABASE,
        settings: Settings | None = None,
        owns_transport: bool = True,
    ) -> None:
        self._transport = transport
        self._owns_transport = owns_transport
        self._tenant = None if tenant is None else validate_tenant_name(tenant)
        self._database = None if database is None else validate_database_name(database)
        self._settings = settings if settings is not None else Settings()
        self._state = _State.UNOPENED
        self._capabilities: Capabilities | None = None

    @classmethod
    def from_transport(
        cls,
        transport: Transport,
        *,
        tenant: str | None = DEFAULT_TENANT,
        database: str | None = DEFAULT_DATABASE,
        settings: Settings | None = None,
    ) -> ClientFactory:
        """A client over a transport you built and opened yourself; closing the client
        leaves the transport open (you own it)."""
        client = cls(
            transport, tenant=tenant, database=database, settings=settings, owns_transport=False
        )
        return ClientFactory(client._open)

    # --- lifecycle ----------------------------------------------------------------------

    async def _open(self) -> AsyncClient:
        if self._state is not _State.UNOPENED:
            raise ClientClosedError("this client was already opened; build a new one")
        if self._owns_transport:
            await self._transport.open()
        self._state = _State.OPEN
        try:
            self._capabilities = self._transport.capabilities
            await self._resolve_tenancy()
        except BaseException:
            await self.close()
            raise
        log.debug(
            "client.open",
            transport=self._capabilities.name,
            tenant=self._tenant,
            database=self._database,
        )
        return self

    async def _resolve_tenancy(self) -> None:
        if self._tenant is None or self._database is None:
            identity = await self._transport.send(ops.GetUserIdentity())
            if self._tenant is None:
                self._tenant = identity.tenant
            if self._database is None:
                if len(identity.databases) != 1 or identity.databases[0] == "*":
                    reachable = ", ".join(repr(d) for d in identity.databases) or "none"
                    raise InvalidArgumentError(
                        f"no database was given and the credentials reach {reachable} in "
                        f"tenant {self._tenant!r}; pass database=... (or set CHROMA_DATABASE)"
                    )
                self._database = identity.databases[0]
        await self._check_tenancy(self.tenant, self.database)

    async def _check_tenancy(self, tenant: str, database: str) -> None:
        try:
            await self._transport.send(ops.GetTenant(name=tenant))
        except NotFoundError:
            raise NotFoundError(
                f"could not connect to tenant {tenant!r}: it does not exist"
            ) from None
        try:
            await self._transport.send(ops.GetDatabase(tenant=tenant, name=database))
        except NotFoundError:
            raise NotFoundError(
                f"could not connect to database {database!r} of tenant {tenant!r}: "
                f"it does not exist"
            ) from None

    async def close(self) -> None:
        """Release the transport's pools, threads and files. Closing twice is harmless."""
        if self._state is _State.CLOSED:
            return
        was_open = self._state is _State.OPEN
        self._state = _State.CLOSED
        if was_open and self._owns_transport:
            await self._transport.aclose()

    aclose = close

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    async def __aenter__(self) -> AsyncClient:
        if self._state is _State.UNOPENED:
            await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_state", None) is _State.OPEN:
            _warn(
                f"unclosed {self!r}; use 'async with' or 'await client.close()'",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        name = self._capabilities.name if self._capabilities else type(self._transport).__name__
        return (
            f"<AsyncClient transport={name} tenant={self._tenant!r} "
            f"database={self._database!r} {self._state.value}>"
        )

    # --- plumbing -----------------------------------------------------------------------

    async def _send(self, op: ops.Operation[R]) -> R:
        self._raise_if_closed()
        return await self._transport.send(op)

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            raise ClientClosedError(_NOT_OPEN)
        return self._capabilities

    @property
    def tenant(self) -> str:
        assert self._tenant is not None
        return self._tenant

    @property
    def database(self) -> str:
        assert self._database is not None
        return self._database

    @property
    def settings(self) -> Settings:
        return self._settings

    # --- system -------------------------------------------------------------------------

    async def heartbeat(self) -> int:
        """Nanoseconds since the epoch, as the server sees them."""
        return await self._send(ops.Heartbeat())

    async def get_version(self) -> str:
        return await self._send(ops.GetVersion())

    async def get_max_batch_size(self) -> int:
        self._raise_if_closed()
        return self.capabilities.max_batch_size

    async def reset(self) -> bool:
        """Delete every tenant's data. Only when made with ``Settings(allow_reset=True)``."""
        self._raise_if_closed()
        if not self._settings.allow_reset:
            raise AuthorizationError(
                "reset is disabled; build the client with settings=Settings(allow_reset=True)"
            )
        return await self._send(ops.Reset())

    async def get_user_identity(self) -> ops.UserIdentity:
        return await self._send(ops.GetUserIdentity())

    def _raise_if_closed(self) -> None:
        if self._state is not _State.OPEN:
            raise ClientClosedError(_CLOSED if self._state is _State.CLOSED else _NOT_OPEN)

    # --- tenancy ------------------------------------------------------------------------

    async def set_tenant(self, tenant: str, database: str = DEFAULT_DATABASE) -> None:
        """Use ``tenant`` and ``database`` from now on (both must exist)."""
        tenant = validate_tenant_name(tenant)
        database = validate_database_name(database)
        self._raise_if_closed()
        await self._check_tenancy(tenant, database)
        self._tenant, self._database = tenant, database

    async def set_database(self, database: str) -> None:
        """Use ``database`` of the current tenant from now on (it must exist)."""
        await self.set_tenant(self.tenant, database)

    async def create_tenant(self, name: str) -> None:
        await self._send(ops.CreateTenant(name=validate_tenant_name(name)))

    async def get_tenant(self, name: str) -> Tenant:
        model = await self._send(ops.GetTenant(name=validate_tenant_name(name)))
        return {"name": model.name}

    async def create_database(self, name: str, tenant: str | None = None) -> None:
        await self._send(
            ops.CreateDatabase(tenant=self._tenant_arg(tenant), name=validate_database_name(name))
        )

    async def get_database(self, name: str, tenant: str | None = None) -> Database:
        model = await self._send(
            ops.GetDatabase(tenant=self._tenant_arg(tenant), name=validate_database_name(name))
        )
        return _database(model)

    async def list_databases(
        self, limit: int | None = None, offset: int | None = None, tenant: str | None = None
    ) -> list[Database]:
        models = await self._send(
            ops.ListDatabases(
                tenant=self._tenant_arg(tenant),
                limit=validate_limit(limit),
                offset=validate_offset(offset),
            )
        )
        return [_database(model) for model in models]

    async def delete_database(self, name: str, tenant: str | None = None) -> None:
        await self._send(
            ops.DeleteDatabase(tenant=self._tenant_arg(tenant), name=validate_database_name(name))
        )

    def _tenant_arg(self, tenant: str | None) -> str:
        return self.tenant if tenant is None else validate_tenant_name(tenant)

    # --- collections --------------------------------------------------------------------

    async def list_collections(
        self, limit: int | None = None, offset: int | None = None
    ) -> list[AsyncCollection]:
        from chroma_async.collection import AsyncCollection

        models = await self._send(
            ops.ListCollections(
                tenant=self.tenant,
                database=self.database,
                limit=validate_limit(limit),
                offset=validate_offset(offset),
            )
        )
        return [AsyncCollection(self, model) for model in models]

    async def count_collections(self) -> int:
        return await self._send(ops.CountCollections(tenant=self.tenant, database=self.database))

    async def create_collection(
        self,
        name: str,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: EmbeddingFunction | None = None,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> AsyncCollection:
        """Create a collection; with ``get_or_create=True`` return the existing one instead
        of raising ``UniqueConstraintError``."""
        from chroma_async.collection import AsyncCollection

        name = validate_collection_name(name)
        valid_metadata = validate_collection_metadata(metadata)
        configuration, configured_function = _split_embedding_function(configuration)
        if embedding_function is None:
            embedding_function = configured_function
        resolved = resolve_configuration(configuration, valid_metadata)
        model = await self._send(
            ops.CreateCollection(
                tenant=self.tenant,
                database=self.database,
                name=name,
                configuration=resolved,
                metadata=valid_metadata,
                get_or_create=bool(get_or_create),
            )
        )
        return AsyncCollection(self, model, embedding_function)

    async def get_collection(
        self,
        name: str,
        embedding_function: EmbeddingFunction | None = None,
        data_loader: Any = None,
    ) -> AsyncCollection:
        from chroma_async.collection import AsyncCollection

        model = await self._send(
            ops.GetCollection(tenant=self.tenant, database=self.database, name=_name_str(name))
        )
        return AsyncCollection(self, model, embedding_function)

    async def get_or_create_collection(
        self,
        name: str,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: EmbeddingFunction | None = None,
        data_loader: Any = None,
    ) -> AsyncCollection:
        return await self.create_collection(
            name,
            configuration=configuration,
            metadata=metadata,
            embedding_function=embedding_function,
            get_or_create=True,
        )

    async def delete_collection(self, name: str) -> None:
        await self._send(
            ops.DeleteCollection(tenant=self.tenant, database=self.database, name=_name_str(name))
        )


def _database(model: ops.DatabaseModel) -> Database:
    return {"id": model.id, "name": model.name, "tenant": model.tenant}


def _name_str(name: object) -> str:
    """A collection name to look up: any str (a name that breaks the naming rule cannot
    exist, so the transport answers ``NotFoundError`` as chromadb does)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(
            f"collection name: expected a str, got {name!r:.80} ({type(name).__name__})"
        )
    return name


def _split_embedding_function(
    configuration: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, EmbeddingFunction | None]:
    """Take an ``embedding_function`` object out of a configuration dict (Chroma allows it)."""
    if configuration is None:
        return None, None
    if not isinstance(configuration, dict):
        raise InvalidArgumentError(
            f"configuration: expected a dict such as {{'hnsw': {{'space': 'cosine'}}}}, "
            f"got {type(configuration).__name__}"
        )
    if "embedding_function" not in configuration:
        return configuration, None
    rest = {k: v for k, v in configuration.items() if k != "embedding_function"}
    return rest, configuration["embedding_function"]


# --- constructors ---------------------------------------------------------------------


class ClientFactory:
    """What every constructor returns: ``await`` it for an open client, or use it with
    ``async with`` to have the client closed on exit (asyncpg's ``create_pool`` idiom).

    Nothing is opened, imported or read from disk until then: finding the transport of a
    URL scheme (entry points, imports) and building it run in a worker thread, so that
    making a client never blocks the event loop."""

    __slots__ = ("_client", "_make")

    def __init__(self, make: Callable[[], Awaitable[AsyncClient]]) -> None:
        self._make: Callable[[], Awaitable[AsyncClient]] | None = make
        self._client: AsyncClient | None = None

    async def _open(self) -> AsyncClient:
        if self._make is None:
            raise ClientClosedError(
                "this constructor's client was already opened; call the constructor again"
            )
        make, self._make = self._make, None
        self._client = await make()
        return self._client

    def __await__(self) -> Generator[Any, None, AsyncClient]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncClient:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()


def connect(
    url: str,
    *,
    tenant: str | None = DEFAULT_TENANT,
    database: str | None = DEFAULT_DATABASE,
    settings: Settings | None = None,
    **transport_options: Any,
) -> ClientFactory:
    """A client for any URL: ``memory://``, ``file:///abs/path``, ``file:./rel``,
    ``http://host:port``, ``https://host``, ``chroma-cloud://``."""
    scheme = scheme_of(url)
    tenant = None if tenant is None else validate_tenant_name(tenant)
    database = None if database is None else validate_database_name(database)

    def build() -> Transport:
        return get_transport_factory(scheme).from_url(url, **transport_options)

    async def make() -> AsyncClient:
        transport = await anyio.to_thread.run_sync(build)
        client = AsyncClient(transport, tenant=tenant, database=database, settings=settings)
        return await client._open()

    return ClientFactory(make)


def EphemeralClient(  # Chroma's name
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    **transport_options: Any,
) -> ClientFactory:
    """An in-memory database of this client's own, gone when it is closed."""
    return connect(
        "memory://", tenant=tenant, database=database, settings=settings, **transport_options
    )


def PersistentClient(  # Chroma's name
    path: str | os.PathLike[str] = ".chroma",
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    **transport_options: Any,
) -> ClientFactory:
    """A database on local disk at ``path`` that survives restarts and crashes."""
    # No file-system call here (the constructor runs on the event loop): the transport
    # resolves a relative path when it opens, in a worker thread.
    location = os.fspath(path)
    if os.path.isabs(location):
        url = pathlib.PurePath(location).as_uri()  # file:///abs, percent-encoded
    else:
        url = "file:" + (location if location.startswith(".") else "./" + location)
    return connect(url, tenant=tenant, database=database, settings=settings, **transport_options)


def HttpClient(  # Chroma's name
    host: str = "localhost",
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    **transport_options: Any,
) -> ClientFactory:
    """A client of a self-hosted Chroma server (``chroma run``)."""
    # chromadb accepts a full URL as host
    url = host if "://" in host else f"{'https' if ssl else 'http'}://{host}:{int(port)}"
    return connect(
        url,
        tenant=tenant,
        database=database,
        settings=settings,
        headers=headers,
        **transport_options,
    )


def CloudClient(  # Chroma's name
    api_key: str | None = None,
    tenant: str | None = None,
    database: str | None = None,
    region: str | None = None,
    cloud_host: str | None = None,
    cloud_port: int = 443,
    enable_ssl: bool = True,
    settings: Settings | None = None,
    **transport_options: Any,
) -> ClientFactory:
    """A client of Chroma Cloud. The key comes from ``api_key`` or ``CHROMA_API_KEY``;
    tenant and database from the arguments, ``CHROMA_TENANT`` / ``CHROMA_DATABASE``, or
    the key's identity when it reaches exactly one database."""
    tenant = tenant if tenant is not None else os.environ.get("CHROMA_TENANT") or None
    database = database if database is not None else os.environ.get("CHROMA_DATABASE") or None
    return connect(
        "chroma-cloud://",
        tenant=tenant,
        database=database,
        settings=settings,
        api_key=api_key,
        region=region,
        cloud_host=cloud_host,
        cloud_port=cloud_port,
        enable_ssl=enable_ssl,
        **transport_options,
    )
