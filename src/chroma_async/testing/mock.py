"""``MockTransport``: a transport driven by a function, for users' own unit tests.

    def handler(op: Operation[Any]) -> Any:
        if isinstance(op, ops.GetCollection):
            return ops.CollectionModel(id=uuid.uuid4(), name=op.name, ...)
        raise NotImplementedError(type(op).__name__)

    client = await chroma_async.AsyncClient.from_transport(MockTransport(handler))

The handler receives the validated, typed operation and returns its typed result (or
raises a ``ChromaError``); it may be a plain function or ``async def``. Every operation
sent is recorded in ``sent`` for assertions.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from chroma_async import operations as ops
from chroma_async.errors import ClientClosedError
from chroma_async.transport import Capabilities

__all__ = ["MockTransport"]

R = TypeVar("R")
Handler = Callable[[ops.Operation[Any]], Any | Awaitable[Any]]


def _default_tenancy(op: ops.Operation[Any]) -> Any:
    """Answers for the calls every client makes when it opens."""
    if isinstance(op, ops.GetTenant):
        return ops.TenantModel(name=op.name)
    if isinstance(op, ops.GetDatabase):
        import uuid

        return ops.DatabaseModel(id=uuid.UUID(int=0), name=op.name, tenant=op.tenant)
    if isinstance(op, ops.Heartbeat):
        return time.time_ns()
    raise NotImplementedError(f"MockTransport handler does not answer {type(op).__name__}")


class MockTransport:
    """A transport whose every answer comes from ``handler``."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        capabilities: Capabilities | None = None,
    ) -> None:
        self._handler = handler
        self._capabilities = capabilities or Capabilities(name="mock", max_batch_size=1000)
        self.sent: list[ops.Operation[Any]] = []
        self.opened = False
        self.closed = False

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> MockTransport:
        return cls(**options)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def open(self) -> None:
        self.opened = True

    async def send(self, op: ops.Operation[R]) -> R:
        if self.closed:
            raise ClientClosedError("MockTransport is closed")
        self.sent.append(op)
        if self._handler is None:
            return cast(R, _default_tenancy(op))
        try:
            result = self._handler(op)
        except NotImplementedError:
            if isinstance(op, (ops.GetTenant, ops.GetDatabase, ops.Heartbeat)):
                return cast(R, _default_tenancy(op))
            raise
        if inspect.isawaitable(result):
            result = await result
        return cast(R, result)

    async def aclose(self) -> None:
        self.closed = True
