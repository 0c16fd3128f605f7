"""Library logging: structlog events carried by the standard library's ``logging``.

The library never configures logging and never prints. Events go to stdlib loggers under
``chroma_async`` (``chroma_async.retry``, ``chroma_async.persistent``, …) with their
structured fields (``transport``, ``collection``, ``op``, ``attempt``, ``elapsed_ms``, …)
in the record's ``extra``, so an application that uses structlog's ``ProcessorFormatter``
(or any formatter reading record attributes) sees them as fields. Secrets are never a
field.

An event whose level is not enabled costs one ``isEnabledFor`` check; the structlog
logger behind it is built the first time one is emitted.
"""

from __future__ import annotations

import logging
from typing import Any

# Imported with the library, not at the first event: that import reads files, and the
# first event is usually emitted on the event loop.
import structlog

__all__ = ["Logger", "get_logger"]


class Logger:
    """A structlog ``BoundLogger`` over a stdlib logger, built on first use."""

    __slots__ = ("_bound", "_initial", "_stdlib")

    def __init__(self, stdlib: logging.Logger, initial: dict[str, Any]) -> None:
        self._stdlib = stdlib
        self._initial = initial
        self._bound: Any = None

    def bind(self, **fields: Any) -> Logger:
        return Logger(self._stdlib, {**self._initial, **fields})

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, "error", event, fields)

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        if not self._stdlib.isEnabledFor(level):
            return
        if self._bound is None:
            self._bound = structlog.wrap_logger(
                self._stdlib,
                processors=[
                    structlog.stdlib.filter_by_level,
                    structlog.stdlib.render_to_log_kwargs,
                ],
                wrapper_class=structlog.stdlib.BoundLogger,
                **self._initial,
            )
        getattr(self._bound, method)(event, **fields)


def get_logger(name: str = "chroma_async", **initial: Any) -> Logger:
    """A logger bound to ``initial`` fields, writing to the stdlib logger ``name``."""
    return Logger(logging.getLogger(name), initial)
