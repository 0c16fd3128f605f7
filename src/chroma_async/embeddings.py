"""Embedding functions: Chroma's protocol, called without blocking the event loop.

An embedding function is any object with ``__call__(input: list[str]) -> embeddings``,
synchronous or ``async def``. Synchronous ones run in a worker thread; coroutine ones are
awaited. Nothing here downloads a model: a collection has an embedding function only when
the user gives it one.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread

from chroma_async.errors import InvalidArgumentError
from chroma_async.types import Float32Array
from chroma_async.validation import normalize_embeddings

__all__ = ["EmbeddingFunction", "embed"]


@runtime_checkable
class EmbeddingFunction(Protocol):
    """Chroma's embedding-function protocol: documents in, one embedding per document out."""

    def __call__(self, input: list[str]) -> Any: ...


def _is_async_callable(fn: object) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - we need the bound __call__ itself
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


async def embed(
    function: EmbeddingFunction | None,
    texts: list[str],
    *,
    op: str,
    collection: str,
    for_query: bool = False,
) -> Float32Array:
    """Embed ``texts`` with ``function`` off the event loop and validate the result."""
    if function is None:
        what = "query_texts" if for_query else "documents"
        raise InvalidArgumentError(
            f"{op}: collection {collection!r} has no embedding function, so {what} cannot be "
            f"embedded; pass embeddings explicitly or give the collection an "
            f"embedding_function (chroma-async never downloads a model implicitly)"
        )
    call: Any = function
    if for_query and callable(getattr(function, "embed_query", None)):
        call = function.embed_query  # type: ignore[attr-defined]
    if _is_async_callable(call):
        result = await call(texts)
    else:
        result = await anyio.to_thread.run_sync(call, texts)
        if inspect.isawaitable(result):
            result = await result
    return normalize_embeddings(result, op=op, count=len(texts), field="embedding function output")
