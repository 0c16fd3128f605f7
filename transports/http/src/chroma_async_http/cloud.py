"""The Chroma Cloud transport: the http transport with an API key, a regional host and TLS.

``from_url("chroma-cloud://", api_key=None, region=None, cloud_host=None, cloud_port=443,
enable_ssl=True, **http_options)``; ``http_options`` are those of
:mod:`chroma_async_http.transport` except ``verify`` (the certificate is always verified;
``ca_file=`` / ``ssl_context=`` choose whom to trust).

Read once, when the transport is built: ``CHROMA_API_KEY`` when ``api_key`` is None, and
``CHROMA_HOST`` when neither ``cloud_host``, a host in the URL nor ``region`` is given.
The host is, in this order: ``cloud_host=``, the URL's host (``chroma-cloud://host``),
``region=`` looked up in :mod:`chroma_async_http.regions`, ``CHROMA_HOST``, and the
default region's host. The key is sent as ``x-chroma-token`` and appears in no log
event, ``repr`` or error message.

``scrub_on_delete`` is False by default here: the records of a deleted collection are
not read and deleted first, as the http transport does against single-node servers
(Chroma Cloud's distributed backend does not have their deleted-collection defect). Pass
``scrub_on_delete=True`` against a single-node server with token auth and TLS.

Cloud accepts at most 300 records per write and 10 concurrent writes per collection,
though its pre-flight check reports more: those are the defaults of ``max_batch_size``
and ``write_concurrency`` here. Tenant and database, when not given, are resolved by the
client from ``GetUserIdentity``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar
from urllib.parse import urlsplit

from chroma_async import errors
from chroma_async.retry import RetryingTransport, RetryPolicy
from chroma_async.transport import Transport
from chroma_async_http.regions import DEFAULT_REGION, host_for_region
from chroma_async_http.transport import TRANSPORT_OPTIONS, HttpTransport

__all__ = ["CloudTransport"]


class CloudTransport(HttpTransport):
    """Carries operations to Chroma Cloud (or any server with token auth and TLS)."""

    kind: ClassVar[str] = "chroma-cloud"
    default_write_concurrency: ClassVar[int] = 10
    batch_size_cap: ClassVar[int | None] = 300
    # Cloud's distributed backend keeps no per-row-id array table to leak from (see
    # chroma_async_http.transport, scrub_on_delete): deleting a collection is one request
    default_scrub_on_delete: ClassVar[bool] = False

    def __init__(
        self,
        *,
        api_key: str,
        host: str,
        port: int = 443,
        enable_ssl: bool = True,
        region: str | None = None,
        **options: Any,
    ) -> None:
        if "verify" in options:
            raise errors.InvalidArgumentError(
                "the chroma-cloud transport always verifies TLS certificates; to trust "
                "another CA pass ca_file= or ssl_context="
            )
        if not isinstance(api_key, str) or not api_key.strip():
            raise errors.InvalidArgumentError(
                "Chroma Cloud needs an API key: pass api_key= or set CHROMA_API_KEY"
            )
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise errors.InvalidArgumentError(f"cloud_port must be a TCP port, got {port!r}")
        scheme = "https" if enable_ssl else "http"
        super().__init__(f"{scheme}://{host}:{port}", api_key=api_key.strip(), **options)
        self.region = region

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session is not None else "unopened"
        region = f", region={self.region!r}" if self.region else ""
        return f"CloudTransport(url={self.url!r}{region}, {state})"

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> Transport:
        """Resolve key, host and port (reading the environment once), then build."""
        if "verify" in options:
            raise errors.InvalidArgumentError(
                "the chroma-cloud transport always verifies TLS certificates; to trust "
                "another CA pass ca_file= or ssl_context="
            )
        api_key = options.pop("api_key", None)
        region = options.pop("region", None)
        cloud_host = options.pop("cloud_host", None)
        cloud_port = options.pop("cloud_port", 443)
        enable_ssl = options.pop("enable_ssl", True)
        retry = options.pop("retry", None)
        known = (TRANSPORT_OPTIONS - {"verify", "api_key", "retry"}) | {
            "api_key",
            "region",
            "cloud_host",
            "cloud_port",
            "enable_ssl",
            "retry",
        }
        unknown = set(options) - known
        if unknown:
            raise errors.InvalidArgumentError(
                f"unknown option(s) {sorted(unknown)} for the chroma-cloud transport; "
                f"known options: {sorted(known)}"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise errors.InvalidArgumentError(
                f"retry must be a chroma_async.retry.RetryPolicy, got {type(retry).__name__}"
            )
        parts = urlsplit(url)
        if parts.scheme.lower() != "chroma-cloud":
            raise errors.InvalidArgumentError(
                f"expected a chroma-cloud:// URL, got scheme {parts.scheme!r}"
            )
        if parts.username or parts.password:
            raise errors.InvalidArgumentError(
                "credentials in the URL are not supported; pass api_key= or set CHROMA_API_KEY"
            )
        if cloud_host is not None and region is not None:
            raise errors.InvalidArgumentError(
                f"give region= or cloud_host=, not both (got region={region!r}, "
                f"cloud_host={cloud_host!r})"
            )
        if api_key is None:
            api_key = os.environ.get("CHROMA_API_KEY")
        host: str | None = cloud_host or parts.hostname
        if host is None and parts.port is None and region is None:
            env_host = os.environ.get("CHROMA_HOST", "").strip()
            if env_host:
                host, env_port = _split_host(env_host)
                if env_port is not None:
                    cloud_port = env_port
        elif host is None and parts.port is not None:
            cloud_port = parts.port
        if host is None:
            region = region or DEFAULT_REGION
            host = host_for_region(region)
        elif parts.port is not None and cloud_host is None:
            cloud_port = parts.port
        return RetryingTransport(
            cls(
                api_key=api_key,
                host=host,
                port=cloud_port,
                enable_ssl=enable_ssl,
                region=region,
                **options,
            ),
            retry,
        )


def _split_host(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``https://host[:port]`` → host and port."""
    parts = urlsplit(value if "://" in value else f"//{value}")
    if not parts.hostname:
        raise errors.InvalidArgumentError(f"CHROMA_HOST is not a host name: {value!r}")
    return parts.hostname, parts.port
