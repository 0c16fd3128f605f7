"""Fixtures of the differential tests (see chroma_differential)."""

from __future__ import annotations

from typing import Any

import pytest
from chroma_differential import new_oracle


@pytest.fixture(scope="session")
def oracle() -> Any:
    """chromadb's in-process client: a process-wide singleton, reset before every program."""
    return new_oracle()
