"""chroma-async: a fully asynchronous Python SDK for the Chroma vector database.

import chroma_async

async with chroma_async.PersistentClient(path=".chroma") as client:
    col = await client.get_or_create_collection("docs")
    await col.add(ids=["a"], embeddings=[[0.1, 0.2, 0.3]], documents=["hello"])
    res = await col.query(query_embeddings=[[0.1, 0.2, 0.3]], n_results=1)
"""

from chroma_async.client import (
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    AsyncClient,
    ClientFactory,
    CloudClient,
    EphemeralClient,
    HttpClient,
    PersistentClient,
    Settings,
    connect,
)
from chroma_async.collection import AsyncCollection
from chroma_async.embeddings import EmbeddingFunction
from chroma_async.errors import (
    AuthorizationError,
    BatchSizeExceededError,
    ChromaError,
    ClientClosedError,
    ConnectionError,
    DuplicateIDError,
    IDAlreadyExistsError,
    InternalError,
    InvalidArgumentError,
    InvalidUUIDError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    TimeoutError,
    TransportError,
    TransportNotInstalledError,
    UniqueConstraintError,
    VersionMismatchError,
)
from chroma_async.operations import DatabaseModel, TenantModel, UserIdentity
from chroma_async.options import Limits, Timeout
from chroma_async.retry import RetryPolicy
from chroma_async.types import Database, GetResult, QueryResult, Tenant

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "AsyncClient",
    "AsyncCollection",
    "AuthorizationError",
    "BatchSizeExceededError",
    "ChromaError",
    "ClientClosedError",
    "ClientFactory",
    "CloudClient",
    "ConnectionError",
    "Database",
    "DatabaseModel",
    "DuplicateIDError",
    "EmbeddingFunction",
    "EphemeralClient",
    "GetResult",
    "HttpClient",
    "IDAlreadyExistsError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidUUIDError",
    "Limits",
    "NotFoundError",
    "PersistentClient",
    "QueryResult",
    "QuotaError",
    "RateLimitError",
    "RetryPolicy",
    "Settings",
    "Tenant",
    "TenantModel",
    "Timeout",
    "TimeoutError",
    "TransportError",
    "TransportNotInstalledError",
    "UniqueConstraintError",
    "UserIdentity",
    "VersionMismatchError",
    "__version__",
    "connect",
]
