"""A loopback HTTP/1.1 proxy that injects faults in front of a real Chroma server.

It runs its own asyncio loop in a thread, so that the test's loop only sees a network
peer. Each request it reads is, by a seeded draw (or the next entry of ``forced``),

``pass``          forwarded, and the server's answer relayed;
``reset_before``  answered by dropping the connection without forwarding (nothing applied);
``reset_after``   forwarded, then the connection dropped instead of relaying the answer
                  (applied, but the client cannot know);
``stall``         forwarded, then nothing relayed for ``stall_seconds`` (a read timeout);
``truncate``      forwarded, and half of the answer's body relayed before the connection is
                  dropped (the headers announce the whole length);
``http_503``      answered ``503`` with ``Retry-After: <retry_after>`` (not forwarded);
``http_429``      answered ``429`` with Chroma's error body and ``Retry-After`` (not forwarded).

It counts requests per fault, and open client connections (the highest number at once),
and can slow every answer by ``delay`` seconds.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Final

FAULTS: Final = ("reset_before", "reset_after", "stall", "truncate", "http_503", "http_429")


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int = 0,
        stall_seconds: float = 2.0,
        retry_after: str = "0",
    ) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.rates: dict[str, float] = {}
        self.forced: list[str] = []
        self.applies_to: Callable[[str, str], bool] = lambda method, path: True
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.delay = 0.0
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self.max_connections = 0
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- control, from the test's thread ------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(10)

    def reset_counts(self) -> None:
        self.counts = Counter()
        self.max_connections = self.connections

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    # --- the proxy's own loop -----------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()

    def _shutdown(self) -> None:
        assert self._loop is not None
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self._loop.call_later(0.05, self._loop.stop)

    def _choose(self, method: str, path: str) -> str:
        if not self.applies_to(method, path):
            return "pass"
        if self.forced:
            return self.forced.pop(0)
        draw = self._rng.random()
        for fault, rate in self.rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return "pass"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.max_connections = max(self.max_connections, self.connections)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, path = request_line.split(" ")[:2]
                length = _content_length(head)
                body = await reader.readexactly(length) if length else b""
                fault = self._choose(method, path)
                self.counts[fault] += 1
                if fault == "reset_before":
                    writer.transport.abort()
                    return
                if fault in ("http_503", "http_429"):
                    writer.write(self._refusal(503 if fault == "http_503" else 429))
                    await writer.drain()
                    continue
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_reader, up_writer = upstream
                up_writer.write(head + body)
                await up_writer.drain()
                response_head, response_body, close = await _read_response(up_reader)
                if close:
                    up_writer.close()
                    upstream = None
                if self.delay:
                    await asyncio.sleep(self.delay)
                if fault == "reset_after":
                    writer.transport.abort()
                    return
                if fault == "stall":
                    await asyncio.sleep(self.stall_seconds)
                    writer.transport.abort()
                    return
                if fault == "truncate":
                    writer.write(response_head + response_body[: len(response_body) // 2])
                    await writer.drain()
                    writer.transport.abort()
                    return
                writer.write(response_head + response_body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.transport.abort()
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self.connections -= 1
            self._tasks.discard(task)
            if upstream is not None:
                upstream[1].transport.abort()
            if not writer.transport.is_closing():
                writer.close()

    def _refusal(self, status: int) -> bytes:
        if status == 429:
            body = b'{"error":"RateLimitError","message":"slow down (fault proxy)"}'
            reason = "Too Many Requests"
        else:
            body = b'{"error":"ServiceUnavailable","message":"overloaded (fault proxy)"}'
            reason = "Service Unavailable"
        return (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"retry-after: {self.retry_after}\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes, bool]:
    """One response: head (re-written to a content-length if it was chunked), body, close?"""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip()
    close = headers.get(b"connection", b"").lower() == b"close"
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        kept = [
            line for line in lines[1:] if line and not line.lower().startswith(b"transfer-encoding")
        ]
        head = (
            b"\r\n".join([lines[0], *kept, b"content-length: " + str(len(body)).encode()])
            + b"\r\n\r\n"
        )
        return head, body, close
    length = int(headers.get(b"content-length", b"0"))
    body = await reader.readexactly(length) if length else b""
    return head, body, close
