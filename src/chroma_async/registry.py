"""URL scheme → transport, found through the ``chroma_async.transports`` entry points.

Built-in transports register exactly as a third-party one would, in their own
distribution's metadata. A scheme whose package is missing raises an error that names
the extra to install, the way fsspec reports a missing implementation.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, cast
from urllib.parse import urlsplit

from chroma_async.errors import InvalidArgumentError, TransportNotInstalledError
from chroma_async.transport import Transport, TransportFactory

__all__ = ["ENTRY_POINT_GROUP", "available_schemes", "create_transport", "get_transport_factory"]

ENTRY_POINT_GROUP = "chroma_async.transports"

# scheme → extra that provides it, for the install hint
_KNOWN_EXTRAS: dict[str, str] = {
    "memory": "local",
    "file": "local",
    "http": "http",
    "https": "http",
    "chroma-cloud": "http",
}

_registered: dict[str, TransportFactory] = {}


def register_transport(scheme: str, factory: TransportFactory) -> None:
    """Register a transport for ``scheme`` at run time (tests, or code without packaging)."""
    _registered[scheme.lower()] = factory


def available_schemes() -> list[str]:
    """Every scheme a transport is installed or registered for."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | set(_registered))


def get_transport_factory(scheme: str) -> TransportFactory:
    """The transport class registered for ``scheme``, imported on first use."""
    scheme = scheme.lower()
    if scheme in _registered:
        return _registered[scheme]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
        return cast(TransportFactory, ep.load())
    extra = _KNOWN_EXTRAS.get(scheme)
    if extra is not None:
        raise TransportNotInstalledError(
            f"the {scheme!r} transport is not installed; "
            f'install it with: pip install "chroma-async[{extra}]"'
        )
    known = ", ".join(repr(s) for s in available_schemes()) or "none"
    raise InvalidArgumentError(
        f"no transport for URL scheme {scheme!r}; installed schemes: {known}"
    )


def scheme_of(url: str) -> str:
    """The scheme of ``url`` (``"memory"`` for ``memory://``), or an error naming the URL."""
    if not isinstance(url, str):
        raise InvalidArgumentError(f"expected a URL string, got {type(url).__name__}")
    scheme = urlsplit(url).scheme
    if not scheme or ("://" not in url and scheme.lower() != "file"):
        raise InvalidArgumentError(
            f"expected a URL with a scheme (memory://, file:///path, http://host:port, "
            f"https://host, chroma-cloud://), got {url!r}"
        )
    return scheme.lower()


def create_transport(url: str, **options: Any) -> Transport:
    """Build (but do not open) the transport for ``url``."""
    return get_transport_factory(scheme_of(url)).from_url(url, **options)
