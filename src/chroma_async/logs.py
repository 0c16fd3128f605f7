"""Library logging: structlog events carried by the standard library's ``logging``.

The library never configures logging and never prints. Events go to the stdlib logger
``chroma_async`` (and children such as ``chroma_async.http``) with their structured fields
(``transport``, ``collection``, ``op``, ``attempt``, ``elapsed_ms``, …) in the record's
``extra``, so an application that uses structlog's ``ProcessorFormatter`` (or any
formatter reading record attributes) sees them as fields. Secrets are never a field.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["get_logger"]

_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.render_to_log_kwargs,
]


def get_logger(name: str = "chroma_async", **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger bound to ``initial`` fields, writing to stdlib logger ``name``."""
    logger: structlog.stdlib.BoundLogger = structlog.wrap_logger(
        logging.getLogger(name),
        processors=_PROCESSORS,
        wrapper_class=structlog.stdlib.BoundLogger,
        **initial,
    )
    return logger
