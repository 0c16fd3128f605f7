"""Fixtures of the persistent transport's tests: a database directory, open transports."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database directory that does not exist yet (the transport creates it)."""
    return tmp_path / "db"
