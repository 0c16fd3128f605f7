"""HTTP and Chroma Cloud transports for chroma-async, on aiohttp.

Registered under the entry-point group ``chroma_async.transports``:
``http`` and ``https`` → :class:`HttpTransport`, ``chroma-cloud`` → :class:`CloudTransport`.
"""

from chroma_async_http.cloud import CloudTransport
from chroma_async_http.regions import DEFAULT_REGION, REGIONS
from chroma_async_http.transport import HttpTransport

__all__ = ["DEFAULT_REGION", "REGIONS", "CloudTransport", "HttpTransport"]
