"""Fixtures of the http and cloud transport tests: real Chroma servers, started here.

- ``chroma_server``: ``chroma run`` (Chroma's own server) on a free loopback port, with
  resets allowed, for the whole session.
- ``uuid_scope``: a fresh tenant and database on it per test, so tests never see each
  other's collections.

The http transport is built on aiohttp, which needs asyncio: these tests run under asyncio
only (the root ``conftest.py`` would run them under trio as well).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chroma_async import operations as ops
from chroma_async_http import HttpTransport


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
