"""Real Chroma servers for tests, and client factories for the conformance suite.

Used by this project's tests and usable by anyone testing code against the http and cloud
transports (no mocks of Chroma: these start the real thing).

- :func:`chroma_run` — Chroma's own server (``chroma run``) on a free loopback port.
- :func:`cloud_stand_in` — a stand-in for Chroma Cloud: the Python Chroma server
  (``uvicorn chromadb.app:app``, see :func:`serve_cloud_stand_in`; needs ``chromadb``,
  ``uvicorn``, ``fastapi``,
  ``opentelemetry-instrumentation-fastapi`` and ``trustme``) with token authentication
  (users from :data:`CLOUD_USERS`) behind TLS signed by a fresh test CA, its certificate
  naming Chroma Cloud's regional hosts. Connect with :class:`LoopbackResolver` so that
  those names reach it.
- :func:`fresh_scope_factory` — the ``client_factory`` of
  :mod:`chroma_async.testing.conformance`: each call connects to a new tenant and
  database, created first with the given options.
- :func:`assert_fork_is_refused` — what replaces the suite's fork tests on a server that
  cannot fork.

Servers are context managers (started on enter, stopped on exit) and fail loudly, with
the tail of their log, when they cannot start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.abc

import chroma_async
from chroma_async_http.regions import REGIONS
from chroma_async_http.transport import CANNOT_FORK

__all__ = [
    "CLOUD_USERS",
    "CloudServer",
    "LoopbackResolver",
    "ServerProcess",
    "ServerStartError",
    "assert_fork_is_refused",
    "chroma_run",
    "cloud_stand_in",
    "free_port",
    "fresh_scope_factory",
    "start_server",
]

CLOUD_USERS = """\
users:
  - id: admin
    tokens: [admin-token]
  - id: solo
    tenant: solo-tenant
    databases: [solo-db]
    tokens: [solo-token]
  - id: multi
    tenant: multi-tenant
    databases: [db-one, db-two]
    tokens: [multi-token]
"""
"""The stand-in's users: ``admin-token`` reaches everything; ``solo-token`` the one database
``solo-db`` of ``solo-tenant``; ``multi-token`` the databases ``db-one`` and ``db-two`` of
``multi-tenant``. Those tenants and databases exist when the server is ready."""

_CLOUD_TENANTS = {"solo-tenant": ["solo-db"], "multi-tenant": ["db-one", "db-two"]}


class ServerStartError(RuntimeError):
    """A server did not become ready; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A server child process, its base URL, port and log file."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(
    command: list[str],
    *,
    url: str,
    port: int,
    log: Path,
    ready_path: str = "/api/v2/heartbeat",
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 90.0,
    ssl_context: ssl.SSLContext | None = None,
    ready_headers: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start ``command`` and wait until ``url + ready_path`` answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    server = ServerProcess(url=url, port=port, process=process, log=log)
    deadline = time.monotonic() + ready_timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"{command!r} exited with {process.returncode} before it was ready:\n"
                f"{server.log_tail()}"
            )
        try:
            request = urllib.request.Request(url + ready_path, headers=dict(ready_headers or {}))
            with urllib.request.urlopen(request, timeout=2, context=ssl_context) as response:
                if response.status == 200:
                    return server
        except (OSError, urllib.error.URLError) as exc:
            last_error = exc
        time.sleep(0.2)
    server.stop()
    raise ServerStartError(
        f"{command!r} was not ready at {url + ready_path} after {ready_timeout:g} s "
        f"({last_error!r}):\n{server.log_tail()}"
    )


def _chroma_command() -> list[str]:
    exe = shutil.which("chroma")
    if exe is not None:
        return [exe]
    return [sys.executable, "-c", "from chromadb.cli.cli import app; app()"]


@contextlib.contextmanager
def chroma_run(
    directory: Path | None = None, *, allow_reset: bool = True
) -> Iterator[ServerProcess]:
    """``chroma run`` on a free loopback port, its data in ``directory`` (a temporary one)."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chroma-")))
        port = free_port()
        config = directory / "config.yaml"
        config.write_text(
            f'port: {port}\nlisten_address: "127.0.0.1"\n'
            f'persist_path: "{directory / "data"}"\n'
            f"allow_reset: {'true' if allow_reset else 'false'}\n"
        )
        server = start_server(
            [*_chroma_command(), "run", str(config)],
            url=f"http://127.0.0.1:{port}",
            port=port,
            log=directory / "server.log",
        )
        try:
            yield server
        finally:
            server.stop()


@dataclass
class CloudServer:
    """The cloud stand-in: its process, the CA file that trusts it, the names it serves."""

    server: ServerProcess
    ca_file: Path
    hosts: tuple[str, ...]

    @property
    def port(self) -> int:
        return self.server.port

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Transport options that reach this server by Chroma Cloud's host names."""
        options: dict[str, Any] = {
            "cloud_port": self.port,
            "ca_file": str(self.ca_file),
            "resolver": LoopbackResolver(self.hosts),
        }
        options.update(overrides)
        return options


@contextlib.contextmanager
def cloud_stand_in(directory: Path | None = None) -> Iterator[CloudServer]:
    """The Python Chroma server with token auth (:data:`CLOUD_USERS`) behind test TLS."""
    import trustme  # a test dependency, needed only here

    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cloud-")))
        hosts = tuple(REGIONS.values())
        ca = trustme.CA()
        cert = ca.issue_cert(*hosts, "127.0.0.1")
        ca_file, cert_file, key_file = (
            directory / "ca.pem",
            directory / "cert.pem",
            directory / "key.pem",
        )
        ca.cert_pem.write_to_path(str(ca_file))
        for index, pem in enumerate(cert.cert_chain_pems):
            pem.write_to_path(str(cert_file), append=index > 0)
        cert.private_key_pem.write_to_path(str(key_file))
        users = directory / "users.yaml"
        users.write_text(CLOUD_USERS)
        port = free_port()
        context = ssl.create_default_context(cafile=str(ca_file))
        server = start_server(
            [
                sys.executable,
                "-c",
                _STAND_IN_LAUNCHER,
                "chromadb.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--ssl-keyfile",
                str(key_file),
                "--ssl-certfile",
                str(cert_file),
            ],
            url=f"https://127.0.0.1:{port}",
            port=port,
            log=directory / "server.log",
            ssl_context=context,
            env={
                "CHROMA_SERVER_AUTHN_PROVIDER": (
                    "chromadb.auth.token_authn.TokenAuthenticationServerProvider"
                ),
                "CHROMA_SERVER_AUTHN_CREDENTIALS_FILE": str(users),
                "CHROMA_AUTH_TOKEN_TRANSPORT_HEADER": "X-Chroma-Token",
                "ALLOW_RESET": "TRUE",
                "IS_PERSISTENT": "FALSE",
                "ANONYMIZED_TELEMETRY": "FALSE",
            },
        )
        try:
            for tenant, databases in _CLOUD_TENANTS.items():
                _admin_post(server, context, "/api/v2/tenants", {"name": tenant})
                for database in databases:
                    path = f"/api/v2/tenants/{tenant}/databases"
                    _admin_post(server, context, path, {"name": database})
            yield CloudServer(server=server, ca_file=ca_file, hosts=hosts)
        finally:
            server.stop()


_STAND_IN_LAUNCHER = "from chroma_async_http.testing import serve_cloud_stand_in as s; s()"


def serve_cloud_stand_in() -> None:
    """The stand-in's process: uvicorn with ``sys.argv``, after one fix to chromadb 1.5.9.

    chromadb's Python server calls ``.tolist()`` on each embedding its API returns, but its
    default API (the Rust bindings) returns plain lists: every ``get`` or ``query`` that
    includes embeddings fails with HTTP 500. Here the API's embeddings become numpy arrays,
    as the server expects; nothing else is touched.
    """
    import numpy as np
    import uvicorn
    from chromadb.api.rust import RustBindingsAPI

    original_get = RustBindingsAPI._get
    original_query = RustBindingsAPI._query

    def get(self: Any, *args: Any, **kwargs: Any) -> Any:
        result: Any = original_get(self, *args, **kwargs)
        if result.get("embeddings") is not None:
            result["embeddings"] = [np.asarray(row) for row in result["embeddings"]]
        return result

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        result: Any = original_query(self, *args, **kwargs)
        if result.get("embeddings") is not None:
            result["embeddings"] = [
                [np.asarray(row) for row in rows] for rows in result["embeddings"]
            ]
        return result

    setattr(RustBindingsAPI, "_get", get)  # noqa: B010
    setattr(RustBindingsAPI, "_query", query)  # noqa: B010
    sys.argv = ["uvicorn", *sys.argv[1:]]
    uvicorn.main()


def _admin_post(server: ServerProcess, context: ssl.SSLContext, path: str, body: Any) -> None:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-Chroma-Token": "admin-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        if response.status not in (200, 201):
            raise ServerStartError(f"POST {path} answered {response.status}")


class LoopbackResolver(aiohttp.abc.AbstractResolver):
    """Resolves the given host names to 127.0.0.1, and nothing else; records what it saw."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host} does not resolve here (LoopbackResolver)")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


def _fresh_scope_client(
    url: str,
    settings: chroma_async.Settings | None,
    admin_options: Mapping[str, Any],
    options: Mapping[str, Any],
) -> chroma_async.ClientFactory:
    """Like ``connect``, but first creates a tenant and a database of its own."""

    async def make() -> chroma_async.AsyncClient:
        tenant, database = f"t-{uuid.uuid4().hex[:16]}", f"d-{uuid.uuid4().hex[:16]}"
        async with chroma_async.connect(
            url, tenant="default_tenant", database="default_database", **admin_options
        ) as admin:
            await admin.create_tenant(tenant)
            await admin.create_database(database, tenant=tenant)
        client: chroma_async.AsyncClient = await chroma_async.connect(
            url, tenant=tenant, database=database, settings=settings, **options
        )
        return client

    return chroma_async.ClientFactory(make)


def fresh_scope_factory(
    url: str, *, admin_options: Mapping[str, Any] | None = None, **options: Any
) -> Any:
    """A conformance ``client_factory``: every call connects to a new tenant and database.

    ``options`` go to :func:`chroma_async.connect` for the client under test;
    ``admin_options`` (default: the same) for the client that creates the scope.
    """

    def factory(settings: chroma_async.Settings | None = None) -> chroma_async.ClientFactory:
        return _fresh_scope_client(
            url, settings, dict(options if admin_options is None else admin_options), options
        )

    return factory


async def assert_fork_is_refused(
    client: chroma_async.AsyncClient, source: chroma_async.AsyncCollection, new_name: str
) -> None:
    """``source.fork(new_name)`` raises exactly ``InternalError(CANNOT_FORK …)`` and changes
    nothing: no collection appears, ``source`` keeps its records."""
    import pytest  # a test dependency, needed only here

    names = sorted(collection.name for collection in await client.list_collections())
    count = await source.count()
    with pytest.raises(chroma_async.InternalError) as caught:
        await source.fork(new_name)
    assert type(caught.value) is chroma_async.InternalError, repr(caught.value)
    assert str(caught.value).startswith(CANNOT_FORK), str(caught.value)
    assert sorted(collection.name for collection in await client.list_collections()) == names
    assert await source.count() == count
