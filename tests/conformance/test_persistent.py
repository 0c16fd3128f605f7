"""The conformance suite on the persistent transport (``file:``), under asyncio and trio."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import chroma_async
from chroma_async.testing.conformance import ClientFactory, ConformanceSuite, OpeningClient


class TestPersistentTransport(ConformanceSuite):
    @pytest.fixture
    def client_factory(self, tmp_path: Path) -> ClientFactory:
        numbers = itertools.count()

        def connect(settings: chroma_async.Settings | None = None) -> OpeningClient:
            # Each client its own database directory: fresh and isolated, as the suite asks.
            directory = tmp_path / f"db{next(numbers)}"
            return chroma_async.PersistentClient(path=directory, settings=settings)

        return connect
