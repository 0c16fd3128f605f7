"""Network options shared by transports that talk to a server: timeouts and pool limits.

Plain msgspec Structs with finite defaults, so that a client built with no options can
neither hang forever nor open an unbounded number of connections. They carry no
dependency on an HTTP library; a transport translates them into its own settings::

    from chroma_async.options import Limits, Timeout

    client = await chroma_async.HttpClient(
        host="chroma.internal",
        timeout=Timeout(connect=2.0, read=30.0, total=60.0),
        limits=Limits(max_connections=32),
    )

    with call_timeout(Timeout(read=300.0, total=600.0)):   # this block's calls only
        await collection.add(ids=ids, embeddings=big)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec

from chroma_async.errors import InvalidArgumentError

__all__ = ["Limits", "Timeout", "call_timeout", "current_call_timeout"]


class Timeout(msgspec.Struct, frozen=True, kw_only=True):
    """How long one request may take, in seconds.

    ``connect``: to establish a connection (DNS, TCP and TLS handshakes);
    ``read``: between two reads of the response while it is being received;
    ``total``: for the whole of one attempt, from sending to the last byte of the answer.
    Retries are bounded separately, by :attr:`chroma_async.retry.RetryPolicy.deadline`.
    """

    connect: float = 10.0
    read: float = 60.0
    total: float = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise InvalidArgumentError(
                    f"Timeout.{name} must be a positive number of seconds, got {value!r}; "
                    "timeouts are always finite"
                )
            if value == float("inf"):
                raise InvalidArgumentError(f"Timeout.{name} must be finite, got {value!r}")


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """How many connections a client keeps to its server(s).

    ``max_connections``: open connections at once, over all hosts; further requests wait
    for a free one. ``max_connections_per_host``: the same, per host.
    ``keepalive_expiry``: seconds an idle connection is kept for reuse; the default is
    below the 5 s idle timeout of common servers (uvicorn), so that a pooled connection
    is not reused just as the server closes it.
    """

    max_connections: int = 100
    max_connections_per_host: int = 100
    keepalive_expiry: float = 4.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_host"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgumentError(f"Limits.{name} must be an integer >= 1, got {value!r}")
        expiry = self.keepalive_expiry
        if (
            not isinstance(expiry, (int, float))
            or isinstance(expiry, bool)
            or not 0 <= expiry < float("inf")
        ):
            raise InvalidArgumentError(
                f"Limits.keepalive_expiry must be a finite number of seconds >= 0, got {expiry!r}"
            )


_CALL_TIMEOUT: ContextVar[Timeout | None] = ContextVar("chroma_async_call_timeout", default=None)


@contextmanager
def call_timeout(timeout: Timeout) -> Iterator[Timeout]:
    """Use ``timeout`` instead of the client's for the calls made inside this block.

    It follows the calls into the tasks they start (batches of one write), and is undone on
    exit; other tasks keep their own. Transports that talk to a server read it per request.
    """
    if not isinstance(timeout, Timeout):
        raise InvalidArgumentError(
            f"call_timeout expects a chroma_async.options.Timeout, got {type(timeout).__name__}"
        )
    token = _CALL_TIMEOUT.set(timeout)
    try:
        yield timeout
    finally:
        _CALL_TIMEOUT.reset(token)


def current_call_timeout() -> Timeout | None:
    """The timeout set by an enclosing :func:`call_timeout`, if any."""
    return _CALL_TIMEOUT.get()
