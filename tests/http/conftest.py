"""Fixtures of the http and cloud transport tests: real Chroma servers, started here.

- ``chroma_server``: ``chroma run`` (Chroma's own server) on a free loopback port, with
  resets allowed, for the whole session.
- ``uuid_scope``: a fresh tenant and database on it per test, so tests never see each
  other's collections.

The http transport is built on aiohttp, which needs asyncio: these tests run under asyncio
only (the root ``conftest.py`` would run them under trio as well).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.abc
import numpy.testing  # noqa: F401  # imported now: its lazy import would block the loop
import pytest
import trustme
from fault_proxy import FaultProxy

from chroma_async import operations as ops
from chroma_async_http import REGIONS, HttpTransport


@pytest.fixture(scope="session", params=[pytest.param("asyncio", id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """aiohttp needs asyncio."""
    return str(request.param)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A server child process, its URL and its log file."""

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
    port: int,
    log: Path,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
    ssl_context: Any = None,
    ready_headers: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start ``command`` and wait until ``ready_url`` answers; fail loudly if it does not."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    server = ServerProcess(url=ready_url.split("/api/")[0], port=port, process=process, log=log)
    deadline = time.monotonic() + ready_timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"server {command!r} exited with {process.returncode} before it was ready:\n"
                f"{server.log_tail()}",
                pytrace=False,
            )
        try:
            request = urllib.request.Request(ready_url, headers=dict(ready_headers or {}))
            with urllib.request.urlopen(request, timeout=2, context=ssl_context) as response:
                if response.status == 200:
                    return server
        except (OSError, urllib.error.URLError) as exc:
            last_error = exc
        time.sleep(0.2)
    server.stop()
    pytest.fail(
        f"server {command!r} was not ready at {ready_url} after {ready_timeout:g} s "
        f"({last_error!r}):\n{server.log_tail()}",
        pytrace=False,
    )


def chroma_command() -> list[str]:
    exe = shutil.which("chroma")
    if exe is not None:
        return [exe]
    return [sys.executable, "-c", "from chromadb.cli.cli import app; app()"]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``chroma run`` on a free port for the whole session, resets allowed."""
    root = tmp_path_factory.mktemp("chroma-run")
    port = free_port()
    config = root / "config.yaml"
    config.write_text(
        f'port: {port}\nlisten_address: "127.0.0.1"\npersist_path: "{root / "data"}"\n'
        "allow_reset: true\n"
    )
    server = start_server(
        [*chroma_command(), "run", str(config)],
        port=port,
        log=root / "server.log",
        ready_url=f"http://127.0.0.1:{port}/api/v2/heartbeat",
    )
    yield server
    server.stop()


@dataclass
class Scope:
    """A fresh tenant and database on the server of a test."""

    tenant: str
    database: str

    def kw(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "database": self.database}


async def make_scope(transport: Any) -> Scope:
    scope = Scope(tenant=f"t-{uuid.uuid4().hex[:12]}", database=f"d-{uuid.uuid4().hex[:12]}")
    await transport.send(ops.CreateTenant(name=scope.tenant))
    await transport.send(ops.CreateDatabase(tenant=scope.tenant, name=scope.database))
    return scope


@pytest.fixture
async def http(chroma_server: ServerProcess) -> AsyncIterator[HttpTransport]:
    """An open http transport (no retry wrapper) to ``chroma_server``."""
    transport = HttpTransport(chroma_server.url)
    await transport.open()
    yield transport
    await transport.aclose()


@pytest.fixture
async def scope(http: HttpTransport) -> Scope:
    return await make_scope(http)


# --- a stand-in for Chroma Cloud: the Python server, token auth, TLS, regional names ------

CLOUD_USERS = """
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


@dataclass
class CloudServer:
    """The Python Chroma server with token auth behind TLS, and the CA that signed it."""

    server: ServerProcess
    ca: trustme.CA
    ca_file: Path
    hosts: tuple[str, ...]

    @property
    def port(self) -> int:
        return self.server.port


class LoopbackResolver(aiohttp.abc.AbstractResolver):
    """Resolves the given host names to 127.0.0.1 (and nothing else); records what it saw."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host} does not resolve in this test")
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


@pytest.fixture(scope="session")
def cloud_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudServer]:
    """``uvicorn chromadb.app:app`` with token auth and TLS, for the session.

    Users (``CLOUD_USERS``): ``admin-token`` reaches everything; ``solo-token`` one database
    of ``solo-tenant``; ``multi-token`` two databases of ``multi-tenant``.
    """
    root = tmp_path_factory.mktemp("cloud")
    hosts = tuple(REGIONS.values())
    ca = trustme.CA()
    cert = ca.issue_cert(*hosts, "127.0.0.1")
    ca_file, cert_file, key_file = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    users = root / "users.yaml"
    users.write_text(CLOUD_USERS)
    port = free_port()
    context = ssl.create_default_context(cafile=str(ca_file))
    server = start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
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
        port=port,
        log=root / "server.log",
        ready_url=f"https://127.0.0.1:{port}/api/v2/heartbeat",
        ssl_context=context,
        ready_headers={"X-Chroma-Token": "admin-token"},
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
        ready_timeout=90.0,
    )
    try:
        for tenant, databases in (
            ("solo-tenant", ["solo-db"]),
            ("multi-tenant", ["db-one", "db-two"]),
        ):
            _admin_post(server, context, "/api/v2/tenants", {"name": tenant})
            for database in databases:
                _admin_post(
                    server, context, f"/api/v2/tenants/{tenant}/databases", {"name": database}
                )
        yield CloudServer(server=server, ca=ca, ca_file=ca_file, hosts=hosts)
    finally:
        server.stop()


def _admin_post(server: ServerProcess, context: ssl.SSLContext, path: str, body: Any) -> None:
    request = urllib.request.Request(
        f"https://127.0.0.1:{server.port}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-Chroma-Token": "admin-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert response.status in (200, 201), response.read()


@pytest.fixture
def proxy(chroma_server: ServerProcess) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``chroma_server``, passing everything at first."""
    running = FaultProxy(chroma_server.port, seed=1234).start()
    yield running
    running.stop()
