"""The transport protocol: the one seam between the API and where the data lives.

A transport has a lifecycle (``open`` then ``aclose``), describes itself
(:class:`Capabilities`), and carries typed operations (:mod:`chroma_async.operations`)::

    class MyTransport:
        @classmethod
        def from_url(cls, url: str, **options: Any) -> MyTransport: ...
        @property
        def capabilities(self) -> Capabilities: ...
        async def open(self) -> None: ...
        async def send(self, op: Operation[R]) -> R: ...
        async def aclose(self) -> None: ...

Register it under the entry-point group ``chroma_async.transports`` (URL scheme → class)
and run the conformance suite (:mod:`chroma_async.testing`). The core validates and
normalises every request before it reaches ``send``; retries, logging and timing wrap a
transport (:mod:`chroma_async.middleware`) rather than living inside it.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import msgspec

from chroma_async.operations import Operation

__all__ = ["Capabilities", "Transport", "TransportFactory"]

R = TypeVar("R")

SPACES: frozenset[str] = frozenset({"l2", "cosine", "ip"})


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What a transport can do; read by the core after ``open``.

    ``max_batch_size`` bounds the records of one write the core sends; larger writes are
    split. ``max_write_concurrency`` bounds how many such batches are in flight at once.
    ``requires_asyncio`` is set by transports that cannot run under trio.
    """

    name: str
    max_batch_size: int
    max_write_concurrency: int = 1
    supports_base64: bool = False
    persistent: bool = False
    spaces: frozenset[str] = SPACES
    requires_asyncio: bool = False


@runtime_checkable
class Transport(Protocol):
    """Carries validated operations to the data and brings back typed results."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def open(self) -> None:
        """Acquire resources (sessions, threads, files). Called once, inside the event loop."""

    async def send(self, op: Operation[R]) -> R:
        """Carry one operation and return its typed result, or raise a ``ChromaError``."""

    async def aclose(self) -> None:
        """Release every resource this transport created. Idempotent."""


class TransportFactory(Protocol):
    """What an entry point of ``chroma_async.transports`` resolves to."""

    def from_url(self, url: str, /, **options: Any) -> Transport: ...
