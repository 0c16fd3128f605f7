"""The exception hierarchy of chroma-async.

Every error the SDK raises derives from :class:`ChromaError`. Class names follow
``chromadb.errors`` so that code written for chromadb catches the same names; each class
also derives from the builtin it refines, so ``except ValueError`` or ``except LookupError``
keep working::

    ChromaError
    ├── InvalidArgumentError            (ValueError)   bad input, nothing was written
    │   ├── DuplicateIDError                           the same id twice in one batch
    │   ├── InvalidUUIDError
    │   └── BatchSizeExceededError
    ├── NotFoundError                   (LookupError)  no such tenant/database/collection
    ├── UniqueConstraintError                          a name that already exists
    ├── AuthorizationError              (PermissionError)
    ├── RateLimitError
    ├── QuotaError
    ├── VersionMismatchError
    ├── InternalError                                  the server or engine failed
    ├── TransportError                                 the way to the data failed
    │   ├── ConnectionError             (builtins.ConnectionError)  host and attempts
    │   ├── TimeoutError                (builtins.TimeoutError)
    │   └── TransportNotInstalledError  (ImportError)  names the extra to install
    └── ClientClosedError               (RuntimeError) the client was closed

Messages name the offending value, where it was, and what was expected. Secrets (API
keys, authorization headers) never appear in a message.
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthorizationError",
    "BatchSizeExceededError",
    "ChromaAuthError",
    "ChromaError",
    "ClientClosedError",
    "ConnectionError",
    "DuplicateIDError",
    "IDAlreadyExistsError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDimensionException",
    "InvalidUUIDError",
    "NotFoundError",
    "QuotaError",
    "RateLimitError",
    "TimeoutError",
    "TransportError",
    "TransportNotInstalledError",
    "UniqueConstraintError",
    "VersionMismatchError",
    "error_from_name",
]


class ChromaError(Exception):
    """Root of every error raised by chroma-async."""

    @classmethod
    def name(cls) -> str:
        """The error's name as Chroma's REST API spells it (``{"error": name}``)."""
        return cls.__name__

    def code(self) -> int:
        """The HTTP status Chroma's server uses for this error."""
        return 500


class InvalidArgumentError(ChromaError, ValueError):
    """An argument was malformed; nothing was written."""

    def code(self) -> int:
        return 400


InvalidDimensionException = InvalidArgumentError
"""chromadb's historical name for an embedding of the wrong dimension."""


class DuplicateIDError(InvalidArgumentError):
    """The same id appears more than once in one write."""


class InvalidUUIDError(InvalidArgumentError):
    """A collection id that is not a UUID."""


class BatchSizeExceededError(InvalidArgumentError):
    """A request carried more records than the transport accepts at once."""


class NotFoundError(ChromaError, LookupError):
    """The tenant, database, collection or record does not exist."""

    def code(self) -> int:
        return 404


class UniqueConstraintError(ChromaError):
    """A tenant, database or collection of that name already exists."""

    def code(self) -> int:
        return 409


IDAlreadyExistsError = UniqueConstraintError


class AuthorizationError(ChromaError, PermissionError):
    """The credentials were refused or do not reach the resource."""

    def code(self) -> int:
        return 403


ChromaAuthError = AuthorizationError


class RateLimitError(ChromaError):
    """The server asked us to slow down (HTTP 429) and retries were exhausted."""

    def code(self) -> int:
        return 429


class QuotaError(ChromaError):
    """A quota of the server (record size, collection count, …) was exceeded."""

    def code(self) -> int:
        return 400


class VersionMismatchError(ChromaError):
    """The server speaks a version of the API this client does not."""


class InternalError(ChromaError):
    """The engine or server failed while doing what was asked."""


class TransportError(ChromaError):
    """The transport could not carry a request to the data and back."""


class ConnectionError(TransportError, builtins.ConnectionError):
    """The server could not be reached; says which host and after how many attempts."""

    def __init__(self, message: str, *, host: str = "", attempts: int = 1) -> None:
        super().__init__(message)
        self.host = host
        self.attempts = attempts


class TimeoutError(TransportError, builtins.TimeoutError):
    """A request did not complete within its timeout."""


class TransportNotInstalledError(TransportError, ImportError):  # type: ignore[misc]
    """The package that implements a URL scheme is not installed.

    (``ImportError`` gives instances a ``name`` attribute, the missing module, which
    shadows ``ChromaError.name()`` on instances; the class method still answers.)
    """


class ClientClosedError(ChromaError, RuntimeError):
    """The client (or its transport) was closed and cannot be used any more."""


_BY_NAME: dict[str, type[ChromaError]] = {
    cls.__name__: cls
    for cls in (
        ChromaError,
        InvalidArgumentError,
        DuplicateIDError,
        InvalidUUIDError,
        BatchSizeExceededError,
        NotFoundError,
        UniqueConstraintError,
        AuthorizationError,
        RateLimitError,
        QuotaError,
        VersionMismatchError,
        InternalError,
    )
}
_BY_NAME.update(
    {
        "IDAlreadyExistsError": UniqueConstraintError,
        "ChromaAuthError": AuthorizationError,
        "InvalidDimension": InvalidArgumentError,
        "InvalidDimensionException": InvalidArgumentError,
        "InvalidCollection": InvalidArgumentError,
        "InvalidHTTPVersion": VersionMismatchError,
    }
)


def error_from_name(name: str, message: str, *, status: int | None = None) -> ChromaError:
    """Build the error Chroma's server reported as ``{"error": name, "message": message}``."""
    cls = _BY_NAME.get(name)
    if cls is None:
        if status == 404:
            cls = NotFoundError
        elif status == 409:
            cls = UniqueConstraintError
        elif status in (401, 403):
            cls = AuthorizationError
        elif status == 429:
            cls = RateLimitError
        elif status is not None and 400 <= status < 500:
            cls = InvalidArgumentError
        else:
            cls = InternalError
    return cls(message)
