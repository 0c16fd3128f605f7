"""Chroma Cloud's regional endpoints: region name → API host.

``aws-us-east-1`` (``api.trychroma.com``) is the default. A host given as ``cloud_host=``
or ``CHROMA_HOST`` is used as it is, without consulting this table.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from chroma_async.errors import InvalidArgumentError

__all__ = ["DEFAULT_REGION", "REGIONS", "host_for_region"]

DEFAULT_REGION: Final = "aws-us-east-1"

REGIONS: Final = MappingProxyType(
    {
        "aws-us-east-1": "api.trychroma.com",
        "gcp-europe-west1": "europe-west1.gcp.trychroma.com",
    }
)


def host_for_region(region: str) -> str:
    """The API host of ``region``, or an error listing the regions known to this version."""
    key = region.strip().lower()
    try:
        return REGIONS[key]
    except KeyError:
        known = ", ".join(f"{name!r} ({host})" for name, host in REGIONS.items())
        raise InvalidArgumentError(
            f"unknown Chroma Cloud region {region!r}; known regions: {known}. "
            "For another endpoint pass cloud_host= or set CHROMA_HOST"
        ) from None
