"""The http transport: Chroma's REST API v2 over one pooled aiohttp session.

``from_url("http://host:port", **options)`` (also ``https://``) builds it, wrapped in a
:class:`~chroma_async.retry.RetryingTransport`. Options, all keyword-only:

``headers``           extra request headers (e.g. an ``Authorization`` for a proxy); never
                      logged, never shown by ``repr`` or in an error.
``api_key``           sent as ``x-chroma-token`` (a server with token authentication).
``timeout``           :class:`chroma_async.options.Timeout` for one attempt (connect, read,
                      total); finite by default. ``chroma_async.options.call_timeout``
                      overrides it for the calls of one block.
``limits``            :class:`chroma_async.options.Limits`: pool size, per host, keep-alive.
``retry``             :class:`chroma_async.retry.RetryPolicy`; ``NO_RETRY`` sends each call once.
``verify``            verify the server's TLS certificate (default True; https only).
``ca_file``           a PEM bundle of the CAs to trust instead of the system's.
``ssl_context``       an :class:`ssl.SSLContext` to use as it is (wins over ``ca_file``).
``session``           an ``aiohttp.ClientSession`` to send through; it is left open by
                      ``aclose()`` (its own timeout, pool and TLS settings apply).
``resolver``          an ``aiohttp.abc.AbstractResolver`` (tests resolve names to loopback).
``write_concurrency`` concurrent write batches the core may send (default 1: a self-hosted
                      server applies writes one at a time, and batches then land in order).
``max_batch_size``    records per write at most; the server's own limit still applies.
``user_agent``        replaces ``chroma-async/<version>``.
``dns_cache_ttl``     seconds a resolved address is reused (default 300).
``scrub_on_delete``   before deleting a collection (or a database, for each of its
                      collections), delete the records whose metadata holds a list value
                      (default True; False on the chroma-cloud transport). See below.

The server's ``/api/v2/pre-flight-checks`` is read once, by ``open()``: it sets
``capabilities.max_batch_size`` and whether embeddings go out as base64.

Why ``scrub_on_delete``: Chroma's single-node servers (``chroma run`` and the Python server,
1.5.x, both on SQLite) keep the array-valued metadata of a deleted collection's records in
their own table, keyed by the record's row id, and reuse those row ids: records added later
without those keys, in any collection of any tenant, come back carrying the deleted
record's arrays (``{"m": 2}`` reads as ``{"m": 2, "tags": ["p", "q"]}``). Deleting the
records first removes their array rows. So a collection is scrubbed before it is deleted:
its records are read in pages of the server's ``max_batch_size`` (metadata only), those
with a list value are deleted by id in batches, then the collection is deleted. It costs a
read of every record's metadata and a delete of the records holding arrays; records written
to the collection *while* it is being deleted may still leak. A failure during the scrub
is reported as a failure that did not delete the collection (the call may be repeated).
Chroma Cloud's distributed backend does not store metadata this way: the cloud transport
does not scrub unless asked (``scrub_on_delete=True``, e.g. against a single-node stand-in).

Two more differences of single-node servers are handled here:

- ``fork`` needs Chroma's distributed backend: ``chroma run`` answers 501 and the Python
  server has no fork route (404). Both raise :class:`~chroma_async.errors.InternalError`
  saying that the server cannot fork, never a ``NotFoundError`` for the collection.
- the Python server ignores ``ids`` in a query. When a query restricted to ``ids`` is
  answered with a record outside them, the answer is computed here instead, exactly: those
  records are fetched (``get`` with the query's ``ids``, ``where`` and ``where_document``)
  and ranked by Chroma's distance for the collection's space (squared l2, ``1 - cos``,
  ``1 - dot``) with numpy, in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import quote, urlsplit

import aiohttp
import anyio
import anyio.to_thread
import msgspec
from yarl import URL

import chroma_async
from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.options import Limits, Timeout, current_call_timeout
from chroma_async.retry import (
    RetryingTransport,
    RetryPolicy,
    mark_permanent,
    mark_transient,
    retry_hint,
)
from chroma_async.retry import parse_retry_after as _parse_retry_after
from chroma_async.transport import Capabilities, Transport
from chroma_async_http import exact, wire

__all__ = ["CANNOT_FORK", "TRANSPORT_OPTIONS", "HttpTransport"]

R = TypeVar("R")
T = TypeVar("T")

_Handler = Callable[["HttpTransport", Any], Awaitable[Any]]

TRANSPORT_OPTIONS = frozenset(
    {
        "headers",
        "api_key",
        "timeout",
        "limits",
        "retry",
        "verify",
        "ca_file",
        "ssl_context",
        "session",
        "resolver",
        "write_concurrency",
        "max_batch_size",
        "user_agent",
        "dns_cache_ttl",
        "scrub_on_delete",
    }
)

_JSON = "application/json"

CANNOT_FORK = (
    "this server cannot fork collections (only Chroma's distributed servers and Chroma Cloud do)"
)
"""The message of the InternalError a fork raises on a single-node server."""


class _Where:
    """``"METHOD /path"`` for messages, formatted only when a message is made."""

    __slots__ = ("method", "path")

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _segment(value: str) -> str:
    """One path segment, percent-encoded (names are validated by the core or the server)."""
    return quote(str(value), safe="")


@functools.lru_cache(maxsize=1024)
def _database_path(tenant: str, database: str) -> str:
    return f"/tenants/{_segment(tenant)}/databases/{_segment(database)}"


def _without_none(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in values.items() if value is not None}


class HttpTransport:
    """Carries operations to a Chroma server over HTTP(S). See the module docstring."""

    kind: ClassVar[str] = "http"
    default_write_concurrency: ClassVar[int] = 1
    batch_size_cap: ClassVar[int | None] = None
    default_scrub_on_delete: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        timeout: Timeout | None = None,
        limits: Limits | None = None,
        verify: bool = True,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        session: aiohttp.ClientSession | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        write_concurrency: int | None = None,
        max_batch_size: int | None = None,
        user_agent: str | None = None,
        dns_cache_ttl: int = 300,
        scrub_on_delete: bool | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.InvalidArgumentError(
                f"expected an http:// or https:// URL with a host, got {_redact(base_url)!r}"
            )
        if parts.username or parts.password:
            raise errors.InvalidArgumentError(
                "credentials in the URL are not supported; pass headers= or api_key= instead"
            )
        for name, value in (
            ("write_concurrency", write_concurrency),
            ("max_batch_size", max_batch_size),
        ):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise errors.InvalidArgumentError(f"{name} must be an integer >= 1, got {value!r}")
        if scrub_on_delete is not None and not isinstance(scrub_on_delete, bool):
            raise errors.InvalidArgumentError(
                f"scrub_on_delete must be True or False, got {scrub_on_delete!r}"
            )
        if not verify and (ca_file is not None or ssl_context is not None):
            raise errors.InvalidArgumentError(
                "verify=False contradicts ca_file=/ssl_context=: give one or the other"
            )
        self._tls = parts.scheme == "https"
        port = parts.port or (443 if self._tls else 80)
        self.host = f"{parts.hostname}:{port}"
        path = parts.path.rstrip("/")
        self.url = f"{parts.scheme}://{self.host}{path}"
        self._api = f"{self.url}/api/v2"
        self._timeout = timeout if timeout is not None else Timeout()
        self._limits = limits if limits is not None else Limits()
        self._verify = verify
        self._ca_file = ca_file
        self._ssl_context = ssl_context
        self._user_session = session
        self._resolver = resolver
        self._write_concurrency = write_concurrency or self.default_write_concurrency
        self._max_batch_size = max_batch_size
        self._dns_cache_ttl = dns_cache_ttl
        self.scrub_on_delete = (
            self.default_scrub_on_delete if scrub_on_delete is None else scrub_on_delete
        )
        # the distance space of collections queried with ids the server ignored, by id
        # (a collection's space never changes)
        self._spaces: dict[uuid.UUID, str] = {}
        request_headers = {
            "User-Agent": user_agent or f"chroma-async/{chroma_async.__version__}",
            "Accept": _JSON,
        }
        request_headers.update(headers or {})
        if api_key is not None:
            request_headers["x-chroma-token"] = api_key
        self._headers = request_headers
        # per request: on a session of ours the headers above are the session's defaults and
        # only a body's Content-Type is added; a user's session gets them all each time
        self._plain_headers: dict[str, str] | None = None
        self._body_headers: dict[str, str] = {"Content-Type": _JSON}
        if session is not None:
            self._plain_headers = dict(request_headers)
            self._body_headers = {**request_headers, "Content-Type": _JSON}
        # parsed request URLs by API path: aiohttp reads a URL's parts on every request and
        # yarl computes each once per URL object
        self._urls: dict[str, URL] = {}
        self._collection_paths: dict[tuple[str, str, uuid.UUID], str] = {}
        self._client_timeout = _client_timeout(self._timeout)
        self._session: aiohttp.ClientSession | None = None
        self._capabilities: Capabilities | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False

    # --- construction from a URL ------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> Transport:
        """The transport for ``url``, wrapped in retries by ``options["retry"]``."""
        unknown = set(options) - TRANSPORT_OPTIONS
        if unknown:
            raise errors.InvalidArgumentError(
                f"unknown option(s) {sorted(unknown)} for the {cls.kind} transport; "
                f"known options: {sorted(TRANSPORT_OPTIONS)}"
            )
        retry = options.pop("retry", None)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise errors.InvalidArgumentError(
                f"retry must be a chroma_async.retry.RetryPolicy, got {type(retry).__name__}"
            )
        return RetryingTransport(cls(url, **options), retry)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session is not None else "unopened"
        return f"{type(self).__name__}(url={self.url!r}, {state})"

    # --- protocol ---------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is not None:
            return self._capabilities
        # before open(): what the server will at most allow is not known yet
        return self._make_capabilities(max_batch_size=self._max_batch_size or 100, base64=False)

    def _make_capabilities(self, *, max_batch_size: int, base64: bool) -> Capabilities:
        limit = max_batch_size
        for cap in (self._max_batch_size, self.batch_size_cap):
            if cap is not None:
                limit = min(limit, cap)
        return Capabilities(
            name=self.kind,
            max_batch_size=max(limit, 1),
            max_write_concurrency=self._write_concurrency,
            supports_base64=base64,
            persistent=True,
            requires_asyncio=True,
        )

    async def open(self) -> None:
        """Create the session (inside the running asyncio loop) and read the pre-flight checks."""
        if self._closed:
            raise errors.ClientClosedError(f"{self!r} was closed; create a new client")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise errors.TransportError(
                f"the {self.kind} transport runs on aiohttp, which needs asyncio, and no "
                "asyncio event loop is running here (trio?). Run this client under asyncio "
                "(anyio.run(main, backend='asyncio')); the memory:// and file:// transports "
                "also run under trio"
            ) from None
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:  # concurrent first calls open once
            if self._session is None:
                self._session = self._user_session or await self._new_session()
            if self._capabilities is None:
                try:
                    checks = await self._call("GET", "/pre-flight-checks", wire.PreFlight)
                except BaseException:
                    # a failed open leaves nothing open behind it (it may be tried again)
                    session, self._session = self._session, None
                    if session is not self._user_session:
                        with anyio.CancelScope(shield=True):
                            await session.close()
                    raise
                self._capabilities = self._make_capabilities(
                    max_batch_size=checks.max_batch_size, base64=checks.supports_base64_encoding
                )

    async def _new_session(self) -> aiohttp.ClientSession:
        ssl_option: ssl.SSLContext | bool = True
        if self._tls:
            if not self._verify:
                ssl_option = False
            elif self._ssl_context is not None:
                ssl_option = self._ssl_context
            elif self._ca_file is not None:
                # reading the CA bundle is file I/O: keep it off the event loop
                ssl_option = await anyio.to_thread.run_sync(
                    functools.partial(ssl.create_default_context, cafile=self._ca_file)
                )
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections,
            limit_per_host=self._limits.max_connections_per_host,
            keepalive_timeout=self._limits.keepalive_expiry,
            use_dns_cache=True,
            ttl_dns_cache=self._dns_cache_ttl,
            ssl=ssl_option,
            resolver=self._resolver,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._client_timeout,
            raise_for_status=False,
            trust_env=False,
        )
        # aiohttp (>= 3.10) silently sends a GET, PUT or DELETE again when a kept-alive
        # connection drops before the answer. Whether a request may be repeated is the retry
        # wrapper's decision: a DELETE of a collection that was applied, repeated, answers
        # "not found". (A private attribute: a test fails if aiohttp renames it.)
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def aclose(self) -> None:
        """Close the session this transport created (a user's session is left open)."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and session is not self._user_session:
            await session.close()

    async def send(self, op: ops.Operation[R]) -> R:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise errors.InvalidArgumentError(
                f"the {self.kind} transport does not know the operation {type(op).__name__}"
            )
        if self._capabilities is None and not self._closed:
            await self.open()
        result: R = await handler(self, op)
        return result

    # --- one request ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        body: msgspec.Struct | None = None,
        params: Mapping[str, Any] | None = None,
        unsupported: str | None = None,
    ) -> T:
        """Send one request and decode its answer as ``kind``; errors mapped onto ChromaError.

        ``unsupported``: what to say, as an :class:`~chroma_async.errors.InternalError`, when
        the server does not offer this request (501, or no such route).
        """
        session = self._session
        where = _Where(method, path)
        if session is None or self._closed:
            if self._closed:
                raise errors.ClientClosedError(f"{self!r} was closed; create a new client")
            raise errors.TransportError(f"{self!r} is not open; await open() first")
        data: bytes | None = None
        if body is None:
            headers = self._plain_headers
        else:
            data = wire.ENCODER.encode(body)
            headers = self._body_headers
        url = self._urls.get(path)
        if url is None:
            url = self._url_of(path)
        timeout, client_timeout = self._timeout, self._client_timeout
        override = current_call_timeout()
        if override is not None:
            timeout, client_timeout = override, _client_timeout(override)
        retry_after: str | None = None
        try:
            async with session.request(
                method,
                url,
                data=data,
                params=_without_none(params) if params else None,
                headers=headers,
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
                if status >= 300:
                    retry_after = response.headers.get("Retry-After")
        except asyncio.CancelledError as exc:
            # aclose() while in flight: aiohttp cancels the futures of the closed connections
            # and of the pool's waiters, though nobody cancelled this task
            if self._closed and not _task_is_being_cancelled():
                raise errors.ClientClosedError(
                    f"{self!r} was closed while {where} was in flight"
                ) from exc
            raise
        except aiohttp.ConnectionTimeoutError as exc:
            raise mark_transient(
                errors.TimeoutError(
                    f"{where}: connecting to {self.host} timed out after {timeout.connect:g} s"
                ),
                may_have_applied=False,
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise mark_permanent(
                errors.ConnectionError(
                    f"{where}: the TLS certificate of {self.host} could not be verified "
                    f"({exc.certificate_error}); pass ca_file= or ssl_context= to trust "
                    "its CA",
                    host=self.host,
                )
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise mark_permanent(
                errors.ConnectionError(
                    f"{where}: the TLS handshake with {self.host} failed ({exc.os_error})",
                    host=self.host,
                )
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            self._raise_if_closed(exc)
            raise mark_transient(
                errors.ConnectionError(
                    f"{where}: cannot connect to {self.host} ({exc.os_error})", host=self.host
                ),
                may_have_applied=False,
            ) from exc
        except asyncio.TimeoutError as exc:
            self._raise_if_closed(exc)
            raise mark_transient(
                errors.TimeoutError(
                    f"{where} to {self.host} timed out (timeouts: connect "
                    f"{timeout.connect:g} s, read {timeout.read:g} s, total "
                    f"{timeout.total:g} s)"
                )
            ) from exc
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            self._raise_if_closed(exc)
            if isinstance(exc, RuntimeError) and not session.closed:
                raise
            raise mark_transient(
                errors.ConnectionError(
                    f"{where}: the connection to {self.host} failed ({type(exc).__name__}: {exc})",
                    host=self.host,
                )
            ) from exc
        if 200 <= status < 300:
            return self._decode(raw, kind, where)
        raise self._server_error(status, raw, retry_after, where, unsupported)

    def _url_of(self, path: str) -> URL:
        url = URL(self._api + path, encoded=True)
        if len(self._urls) >= 4096:  # a client that touched very many collections
            self._urls.clear()
        self._urls[path] = url
        return url

    def _raise_if_closed(self, exc: BaseException) -> None:
        if self._closed:
            raise errors.ClientClosedError(
                f"{self!r} was closed while a request was in flight"
            ) from exc

    def _decode(self, raw: bytes, kind: type[T], where: _Where) -> T:
        try:
            decoded: T = wire.decoder_for(kind).decode(raw)
            return decoded
        except msgspec.ValidationError as exc:
            raise mark_permanent(
                errors.VersionMismatchError(
                    f"{where}: the answer of {self.host} does not have the shape this client "
                    f"expects ({exc}); is it a Chroma server speaking API v2?"
                )
            ) from exc
        except msgspec.DecodeError as exc:
            # not JSON at all: a body cut short on the way, most likely
            raise mark_transient(
                errors.ConnectionError(
                    f"{where}: the answer of {self.host} is not valid JSON ({exc}); "
                    "it may have been cut short",
                    host=self.host,
                )
            ) from exc

    def _server_error(
        self,
        status: int,
        raw: bytes,
        retry_after: str | None,
        where: _Where,
        unsupported: str | None = None,
    ) -> errors.ChromaError:
        text = raw[:300].decode("utf-8", "replace").strip()
        answered = f"{where}: {self.host} answered HTTP {status}" + (f": {text}" if text else "")
        try:
            body = wire.decoder_for(wire.ErrorBody).decode(raw)
            name, message = body.error, body.message
        except msgspec.MsgspecError:
            name, message = "", answered
        # a 404 or 405 that is not one of Chroma's error bodies ({"detail": "Not Found"} from
        # the Python server, a proxy's page): the server has no such route, which says
        # nothing about the tenant, database or collection named in it
        route_missing = status in (404, 405) and not name
        if unsupported is not None and (status == 501 or route_missing):
            return mark_permanent(errors.InternalError(f"{unsupported} ({answered})"))
        if route_missing:
            return mark_permanent(
                errors.VersionMismatchError(
                    f"{answered}: the server does not offer this request; is it a Chroma "
                    "server speaking API v2?"
                )
            )
        if not message:
            message = f"{where}: {self.host} answered HTTP {status} ({name or 'no details'})"
        error = errors.error_from_name(name, message, status=status)
        if status >= 500 and (
            "UNIQUE constraint failed" in message or message.endswith("already exists")
        ):
            # how chroma run answers a rename onto an existing name, and the Python server
            # a create of an existing tenant, database or collection
            error = errors.UniqueConstraintError(message)
        elif type(error) is errors.ChromaError:
            # the server's catch-all name: the status says more
            error = errors.error_from_name("", message, status=status)
        return mark_transient(
            error,
            status=status,
            retry_after=_parse_retry_after(retry_after, time.time()),
            may_have_applied=status != 429,
        )

    # --- operations -------------------------------------------------------------------

    @staticmethod
    def _db(tenant: str, database: str) -> str:
        return _database_path(tenant, database)

    def _records(self, op: ops.RecordOperation[Any], action: str = "") -> str:
        key = (op.tenant, op.database, op.collection_id)
        path = self._collection_paths.get(key)
        if path is None:
            if len(self._collection_paths) >= 4096:
                self._collection_paths.clear()
            path = f"{self._db(op.tenant, op.database)}/collections/{op.collection_id}"
            self._collection_paths[key] = path
        return f"{path}/{action}" if action else path

    async def _heartbeat(self, op: ops.Heartbeat) -> int:
        beat = await self._call("GET", "/heartbeat", wire.HeartbeatWire)
        return beat.nanosecond_heartbeat

    async def _version(self, op: ops.GetVersion) -> str:
        return await self._call("GET", "/version", str)

    async def _reset(self, op: ops.Reset) -> bool:
        result = await self._call("POST", "/reset", object)
        return bool(result)

    async def _identity(self, op: ops.GetUserIdentity) -> ops.UserIdentity:
        return await self._call("GET", "/auth/identity", ops.UserIdentity)

    async def _create_tenant(self, op: ops.CreateTenant) -> None:
        await self._call("POST", "/tenants", object, body=wire.NamePayload(name=op.name))

    async def _get_tenant(self, op: ops.GetTenant) -> ops.TenantModel:
        return await self._call("GET", f"/tenants/{_segment(op.name)}", ops.TenantModel)

    async def _create_database(self, op: ops.CreateDatabase) -> None:
        # chroma run creates a database in a tenant that does not exist; Chroma's own
        # engine says NotFoundError: ask first
        await self._call("GET", f"/tenants/{_segment(op.tenant)}", ops.TenantModel)
        path = f"/tenants/{_segment(op.tenant)}/databases"
        await self._call("POST", path, object, body=wire.NamePayload(name=op.name))

    async def _get_database(self, op: ops.GetDatabase) -> ops.DatabaseModel:
        return await self._call("GET", self._db(op.tenant, op.name), ops.DatabaseModel)

    async def _list_databases(self, op: ops.ListDatabases) -> list[ops.DatabaseModel]:
        path = f"/tenants/{_segment(op.tenant)}/databases"
        params = {"limit": op.limit, "offset": op.offset}
        return await self._call("GET", path, list[ops.DatabaseModel], params=params)

    async def _delete_database(self, op: ops.DeleteDatabase) -> None:
        path = self._db(op.tenant, op.name)
        if self.scrub_on_delete:
            await _not_applied_on_failure(self._scrub_database(op.tenant, op.name))
        await self._call("DELETE", path, object)

    async def _list_collections(self, op: ops.ListCollections) -> list[ops.CollectionModel]:
        path = f"{self._db(op.tenant, op.database)}/collections"
        params = {"limit": op.limit, "offset": op.offset}
        found = await self._call("GET", path, list[wire.CollectionWire], params=params)
        return [collection.to_model() for collection in found]

    async def _count_collections(self, op: ops.CountCollections) -> int:
        path = f"{self._db(op.tenant, op.database)}/collections_count"
        return await self._call("GET", path, int)

    async def _create_collection(self, op: ops.CreateCollection) -> ops.CollectionModel:
        path = f"{self._db(op.tenant, op.database)}/collections"
        body = wire.CollectionPayload(
            name=op.name,
            configuration=op.configuration or None,
            metadata=op.metadata,
            get_or_create=op.get_or_create,
        )
        created = await self._call("POST", path, wire.CollectionWire, body=body)
        return created.to_model()

    async def _get_collection(self, op: ops.GetCollection) -> ops.CollectionModel:
        path = f"{self._db(op.tenant, op.database)}/collections/{_segment(op.name)}"
        found = await self._call("GET", path, wire.CollectionWire)
        return found.to_model()

    async def _delete_collection(self, op: ops.DeleteCollection) -> None:
        path = f"{self._db(op.tenant, op.database)}/collections/{_segment(op.name)}"
        if self.scrub_on_delete:
            await _not_applied_on_failure(self._scrub_collection(op.tenant, op.database, path))
        await self._call("DELETE", path, object)

    # --- scrubbing before a delete (module docstring: scrub_on_delete) ---------------------

    async def _scrub_collection(self, tenant: str, database: str, path: str) -> None:
        found = await self._call("GET", path, wire.CollectionWire)
        await self._scrub_records(f"{self._db(tenant, database)}/collections/{found.id}")

    async def _scrub_database(self, tenant: str, database: str) -> None:
        path = f"{self._db(tenant, database)}/collections"
        page_size, offset = 100, 0
        while True:
            params = {"limit": page_size, "offset": offset}
            page = await self._call("GET", path, list[wire.CollectionWire], params=params)
            for collection in page:
                await self._scrub_records(f"{path}/{collection.id}")
            if len(page) < page_size:
                return
            offset += len(page)

    async def _scrub_records(self, records: str) -> None:
        """Delete the records of the collection at ``records`` whose metadata has a list."""
        limit = self.capabilities.max_batch_size
        doomed: list[str] = []
        offset = 0
        while True:
            body = wire.GetPayload(include=["metadatas"], limit=limit, offset=offset or None)
            page = await self._call("POST", f"{records}/get", wire.GetWire, body=body)
            for record, metadata in zip(page.ids, page.metadatas or (), strict=False):
                if metadata and any(isinstance(value, list) for value in metadata.values()):
                    doomed.append(record)
            if len(page.ids) < limit:
                break
            offset += len(page.ids)
        for start in range(0, len(doomed), limit):
            delete = wire.DeletePayload(ids=doomed[start : start + limit])
            await self._call("POST", f"{records}/delete", object, body=delete)

    async def _modify_collection(self, op: ops.ModifyCollection) -> None:
        path = f"{self._db(op.tenant, op.database)}/collections/{op.collection_id}"
        body = wire.ModifyPayload(
            new_name=op.new_name,
            new_metadata=op.new_metadata,
            new_configuration=_updatable(op.new_configuration),
        )
        try:
            await self._call("PUT", path, object, body=body)
        except errors.UniqueConstraintError as exc:
            raise errors.UniqueConstraintError(
                f"cannot rename the collection to {op.new_name!r}: a collection of that name "
                f"already exists in database {op.database!r} ({exc})"
            ) from exc

    async def _fork_collection(self, op: ops.ForkCollection) -> ops.CollectionModel:
        path = f"{self._db(op.tenant, op.database)}/collections/{op.collection_id}/fork"
        forked = await self._call(
            "POST",
            path,
            wire.CollectionWire,
            body=wire.ForkPayload(new_name=op.new_name),
            unsupported=CANNOT_FORK,
        )
        return forked.to_model()

    async def _count_records(self, op: ops.CountRecords) -> int:
        return await self._call("GET", self._records(op, "count"), int)

    def _check_batch(self, op: ops.RecordOperation[Any], count: int) -> None:
        limit = self.capabilities.max_batch_size
        if count > limit:
            raise errors.BatchSizeExceededError(
                f"{type(op).__name__} carries {count} records, more than the {limit} this "
                f"{self.kind} server accepts in one request"
            )

    def _embeddings(self, embeddings: wire.Float32Array | None) -> list[Any] | None:
        if embeddings is None:
            return None
        if self.capabilities.supports_base64:
            return wire.embeddings_to_base64(embeddings)
        return wire.embeddings_to_lists(embeddings)

    async def _write(
        self,
        op: ops.AddRecords | ops.UpsertRecords | ops.UpdateRecords,
        action: str,
    ) -> None:
        self._check_batch(op, len(op.ids))
        body = wire.RecordsPayload(
            ids=op.ids,
            embeddings=self._embeddings(op.embeddings),
            metadatas=op.metadatas,
            documents=op.documents,
            uris=op.uris,
        )
        await self._call("POST", self._records(op, action), object, body=body)

    async def _add(self, op: ops.AddRecords) -> None:
        await self._write(op, "add")

    async def _upsert(self, op: ops.UpsertRecords) -> None:
        await self._write(op, "upsert")

    async def _update(self, op: ops.UpdateRecords) -> None:
        await self._write(op, "update")

    async def _delete(self, op: ops.DeleteRecords) -> None:
        body = wire.DeletePayload(ids=op.ids, where=op.where, where_document=op.where_document)
        await self._call("POST", self._records(op, "delete"), object, body=body)

    async def _get(self, op: ops.GetRecords) -> ops.GetResponse:
        include = list(op.include)
        body = wire.GetPayload(
            include=include,
            ids=op.ids,
            where=op.where,
            where_document=op.where_document,
            limit=op.limit,
            offset=op.offset or None,
        )
        found = await self._call("POST", self._records(op, "get"), wire.GetWire, body=body)
        return ops.GetResponse(
            ids=found.ids,
            embeddings=(
                wire.to_float32_matrix(found.embeddings or []) if "embeddings" in include else None
            ),
            documents=_included(found.documents, "documents", include, len(found.ids)),
            uris=_included(found.uris, "uris", include, len(found.ids)),
            metadatas=_no_empty(_included(found.metadatas, "metadatas", include, len(found.ids))),
        )

    async def _query(self, op: ops.QueryRecords) -> ops.QueryResponse:
        include = list(op.include)
        body = wire.QueryPayload(
            query_embeddings=wire.embeddings_to_lists(op.query_embeddings),
            n_results=op.n_results,
            include=include,
            ids=op.ids,
            where=op.where,
            where_document=op.where_document,
        )
        found = await self._call("POST", self._records(op, "query"), wire.QueryWire, body=body)
        if op.ids is not None and _strays(found.ids, op.ids):
            return await self._query_ids_exactly(op, include)
        sizes = [len(ids) for ids in found.ids]
        distances = None
        if "distances" in include:
            distances = [wire.to_float32_vector(d) for d in _per_query(found.distances, sizes)]
        embeddings = None
        if "embeddings" in include:
            embeddings = [_matrix_of(rows) for rows in _per_query(found.embeddings, sizes)]
        return ops.QueryResponse(
            ids=found.ids,
            distances=distances,
            embeddings=embeddings,
            documents=_per_query_included(found.documents, "documents", include, sizes),
            uris=_per_query_included(found.uris, "uris", include, sizes),
            metadatas=_per_query_no_empty(
                _per_query_included(found.metadatas, "metadatas", include, sizes)
            ),
        )

    async def _query_ids_exactly(
        self, op: ops.QueryRecords, include: list[str]
    ) -> ops.QueryResponse:
        """The query of ``op`` answered here: the server ignored its ``ids`` (docstring)."""
        space = await self._space(op)
        fields = [name for name in include if name in ("documents", "metadatas", "uris")]
        body = wire.GetPayload(
            include=["embeddings", *fields],
            ids=op.ids,
            where=op.where,
            where_document=op.where_document,
        )
        found = await self._call("POST", self._records(op, "get"), wire.GetWire, body=body)
        rank = functools.partial(
            exact.rank_exactly, found, op.query_embeddings, space, op.n_results, include
        )
        return await anyio.to_thread.run_sync(rank)

    async def _space(self, op: ops.RecordOperation[Any]) -> str:
        space = self._spaces.get(op.collection_id)
        if space is None:
            path = f"{self._db(op.tenant, op.database)}/collections/by-id/{op.collection_id}"
            found = await self._call("GET", path, wire.CollectionWire)
            space = exact.space_of(found.configuration_json)
            if len(self._spaces) >= 4096:
                self._spaces.clear()
            self._spaces[op.collection_id] = space
        return space


def _strays(found: list[list[str]], wanted: list[str]) -> bool:
    """Whether an answer restricted to ``wanted`` ids holds any other."""
    allowed = set(wanted)
    return any(record not in allowed for row in found for record in row)


# What Chroma's server accepts in a configuration update (its UpdateCollectionConfiguration);
# the core sends the whole merged configuration, in which the rest is unchanged.
_UPDATABLE: dict[str, frozenset[str]] = {
    "hnsw": frozenset(
        {"ef_search", "num_threads", "resize_factor", "sync_threshold", "batch_size"}
    ),
    "spann": frozenset({"ef_search", "search_nprobe"}),
}


def _updatable(configuration: dict[str, Any] | None) -> dict[str, Any] | None:
    if configuration is None:
        return None
    update: dict[str, Any] = {}
    for section, values in configuration.items():
        if values is None:
            continue
        allowed = _UPDATABLE.get(section)
        if allowed is None:
            update[section] = values
        elif isinstance(values, dict):
            kept = {key: value for key, value in values.items() if key in allowed}
            if kept:
                update[section] = kept
    return update or None


def _no_empty(metadatas: list[Any] | None) -> Any:
    """Chroma's server keeps a record's uri in its metadata and answers ``{}`` for a record
    that has a uri and no metadata; ``{}`` can never be written, so it means None."""
    if metadatas is None:
        return None
    return [m if m else None for m in metadatas]


def _per_query_no_empty(metadatas: list[list[Any]] | None) -> Any:
    if metadatas is None:
        return None
    return [[m if m else None for m in rows] for rows in metadatas]


def _included(values: list[Any] | None, name: str, include: list[str], size: int) -> Any:
    if name not in include:
        return None
    return values if values is not None else [None] * size


def _per_query(values: list[Any] | None, sizes: list[int]) -> list[Any]:
    if values is None:
        return [[None] * size for size in sizes]
    return [v if v is not None else [None] * size for v, size in zip(values, sizes, strict=True)]


def _per_query_included(
    values: list[Any] | None, name: str, include: list[str], sizes: list[int]
) -> Any:
    if name not in include:
        return None
    return _per_query(values, sizes)


def _matrix_of(rows: list[list[float] | None]) -> wire.Float32Array:
    if any(row is None for row in rows):
        width = next((len(row) for row in rows if row is not None), 0)
        rows = [row if row is not None else [float("nan")] * width for row in rows]
    return wire.to_float32_matrix(cast(list[list[float]], rows))


def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read
    )


async def _not_applied_on_failure(work: Awaitable[None]) -> None:
    """Await the scrub before a delete: should it fail, the delete was not sent.

    Deleting records is repeatable, and the collection or database was not deleted yet:
    a transient failure here is marked as one that did not apply the delete, so that the
    retry wrapper may send the (not repeatable) delete again.
    """
    try:
        await work
    except errors.ChromaError as exc:
        hint = retry_hint(exc)
        if hint is not None and hint.retryable:
            mark_transient(
                exc, status=hint.status, retry_after=hint.retry_after, may_have_applied=False
            )
        raise


def _task_is_being_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
    return task is None or cancelling is None or cancelling() > 0


def _redact(url: str) -> str:
    """``url`` without any user:password part, for messages."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=host).geturl()


_HANDLERS: dict[type[ops.Operation[Any]], _Handler] = {
    ops.Heartbeat: HttpTransport._heartbeat,
    ops.GetVersion: HttpTransport._version,
    ops.Reset: HttpTransport._reset,
    ops.GetUserIdentity: HttpTransport._identity,
    ops.CreateTenant: HttpTransport._create_tenant,
    ops.GetTenant: HttpTransport._get_tenant,
    ops.CreateDatabase: HttpTransport._create_database,
    ops.GetDatabase: HttpTransport._get_database,
    ops.ListDatabases: HttpTransport._list_databases,
    ops.DeleteDatabase: HttpTransport._delete_database,
    ops.ListCollections: HttpTransport._list_collections,
    ops.CountCollections: HttpTransport._count_collections,
    ops.CreateCollection: HttpTransport._create_collection,
    ops.GetCollection: HttpTransport._get_collection,
    ops.DeleteCollection: HttpTransport._delete_collection,
    ops.ModifyCollection: HttpTransport._modify_collection,
    ops.ForkCollection: HttpTransport._fork_collection,
    ops.CountRecords: HttpTransport._count_records,
    ops.AddRecords: HttpTransport._add,
    ops.UpsertRecords: HttpTransport._upsert,
    ops.UpdateRecords: HttpTransport._update,
    ops.DeleteRecords: HttpTransport._delete,
    ops.GetRecords: HttpTransport._get,
    ops.QueryRecords: HttpTransport._query,
}
