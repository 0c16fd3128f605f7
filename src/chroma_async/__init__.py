"""chroma-async: a fully asynchronous Python SDK for the Chroma vector database."""

from chroma_async.errors import *  # noqa: F403

__version__ = "0.1.0"
