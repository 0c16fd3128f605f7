"""A fresh tenant and database per test, so tests on a shared server never meet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chroma_async import operations as ops


@dataclass
class Scope:
    """A tenant and database created for one test."""

    tenant: str
    database: str

    def kw(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "database": self.database}


async def make_scope(transport: Any) -> Scope:
    """Create a new tenant and database through ``transport``."""
    scope = Scope(tenant=f"t-{uuid.uuid4().hex[:12]}", database=f"d-{uuid.uuid4().hex[:12]}")
    await transport.send(ops.CreateTenant(name=scope.tenant))
    await transport.send(ops.CreateDatabase(tenant=scope.tenant, name=scope.database))
    return scope
