"""Collection configuration: what ``create_collection`` resolves and ``modify`` may change.

The resolved configuration has chromadb 1.5.9's shape, defaults filled in, in the order
``collection.configuration`` shows them::

    {"hnsw": {"space": "l2", "ef_construction": 100, "ef_search": 100,
              "max_neighbors": 16, "resize_factor": 1.2, "sync_threshold": 1000}}

How chromadb resolves it, found by asking it, and followed here:

- ``configuration["hnsw"]`` gives any of those keys, plus ``num_threads`` and ``batch_size``,
  which are checked and then dropped (hnswlib knobs; chromadb does not show them either).
- Legacy metadata keys (``hnsw:space``, ``hnsw:construction_ef``, ``hnsw:search_ef``,
  ``hnsw:M``, ``hnsw:num_threads``, ``hnsw:batch_size``, ``hnsw:sync_threshold``,
  ``hnsw:resize_factor``) are always checked (an unknown ``hnsw:`` key is an error) and
  apply only when the ``hnsw`` configuration, defaults filled in, equals the defaults:
  ``{"hnsw": {"space": "l2"}}`` with ``metadata={"hnsw:space": "cosine"}`` gives cosine,
  ``{"hnsw": {"ef_search": 9}}`` with the same metadata gives l2 and ef_search 9.
- ``configuration["spann"]`` (Chroma's distributed index) is accepted for portability: its
  keys are checked, its ``space`` is used for the hnsw index, the rest is ignored, and
  legacy metadata is then ignored too. ``hnsw`` and ``spann`` together are an error.
- ``modify`` may change ``ef_search``, ``max_neighbors``, ``num_threads``, ``batch_size``,
  ``sync_threshold`` and ``resize_factor``; ``space`` and ``ef_construction`` are fixed.

Deliberate differences: unknown top-level keys are errors (chromadb ignores them); integer
parameters must be >= 1 (chromadb accepts 0 for most, which makes no index); legacy
``hnsw:sync_threshold`` / ``hnsw:batch_size`` must be >= 2 as in chromadb; ``resize_factor``
must be a finite number > 0 (chromadb accepts negatives).
"""

from __future__ import annotations

import math
import os
from typing import Any

from chroma_async.errors import InvalidArgumentError
from chroma_async.types import Metadata

__all__ = [
    "DEFAULT_HNSW",
    "MUTABLE_HNSW_KEYS",
    "SPACES",
    "resolve_configuration",
    "update_configuration",
]

SPACES: tuple[str, ...] = ("l2", "cosine", "ip")

DEFAULT_HNSW: dict[str, Any] = {
    "space": "l2",
    "ef_construction": 100,
    "ef_search": 100,
    "max_neighbors": 16,
    "resize_factor": 1.2,
    "sync_threshold": 1000,
}
"""The hnsw configuration of a collection created without one, as chromadb shows it."""

_HIDDEN_KEYS = ("num_threads", "batch_size")
"""Accepted and checked, not kept: hnswlib's knobs, which chromadb does not show either."""

_HNSW_KEYS: tuple[str, ...] = (*DEFAULT_HNSW, *_HIDDEN_KEYS)
MUTABLE_HNSW_KEYS: tuple[str, ...] = (
    "ef_search",
    "max_neighbors",
    "num_threads",
    "resize_factor",
    "sync_threshold",
    "batch_size",
)
_SPANN_KEYS: tuple[str, ...] = (
    "search_nprobe",
    "write_nprobe",
    "space",
    "ef_construction",
    "ef_search",
    "max_neighbors",
    "reassign_neighbor_count",
    "split_threshold",
    "merge_threshold",
)
_TOP_LEVEL_KEYS = ("hnsw", "spann", "embedding_function")

_LEGACY_KEYS: dict[str, str] = {
    "hnsw:space": "space",
    "hnsw:construction_ef": "ef_construction",
    "hnsw:search_ef": "ef_search",
    "hnsw:M": "max_neighbors",
    "hnsw:num_threads": "num_threads",
    "hnsw:batch_size": "batch_size",
    "hnsw:sync_threshold": "sync_threshold",
    "hnsw:resize_factor": "resize_factor",
}
_LEGACY_MINIMUM = {"sync_threshold": 2, "batch_size": 2}
_MAX_USIZE = 2**63 - 1


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _check_value(name: str, value: object, where: str, *, minimum: int = 1) -> Any:
    """One hnsw/spann parameter, checked by its name."""
    if name == "space":
        if not isinstance(value, str) or value not in SPACES:
            raise InvalidArgumentError(
                f"{where}: expected one of {', '.join(repr(s) for s in SPACES)}, "
                f"got {_describe(value)}"
            )
        return str(value)
    if name == "resize_factor":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgumentError(f"{where}: expected a number > 0, got {_describe(value)}")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise InvalidArgumentError(
                f"{where}: expected a finite number > 0, got {_describe(value)}"
            )
        return number
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{where}: expected an int >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise InvalidArgumentError(f"{where}: expected an int >= {minimum}, got {_describe(value)}")
    if value > _MAX_USIZE:
        raise InvalidArgumentError(f"{where}: expected an int < 2**63, got {_describe(value)}")
    return int(value)


def _check_section(
    section: object, allowed: tuple[str, ...], where: str, *, immutable: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The non-None entries of one configuration section, each checked."""
    if not isinstance(section, dict):
        raise InvalidArgumentError(f"{where}: expected a dict or None, got {_describe(section)}")
    out: dict[str, Any] = {}
    for key, value in section.items():
        here = f"{where}.{key}"
        if key in immutable:
            raise InvalidArgumentError(
                f"{here}: cannot be changed once the collection is created; "
                f"changeable: {', '.join(allowed)}"
            )
        if key not in allowed:
            raise InvalidArgumentError(
                f"{where}: unknown key {key!r}; expected some of {', '.join(allowed)}"
            )
        if value is not None:
            out[key] = _check_value(key, value, here)
    return out


def _check_top_level(configuration: object, where: str) -> dict[str, Any]:
    if configuration is None:
        return {}
    if not isinstance(configuration, dict):
        raise InvalidArgumentError(
            f"{where}: expected a dict like {{'hnsw': {{'space': 'cosine'}}}} or None, "
            f"got {_describe(configuration)}"
        )
    for key in configuration:
        if key not in _TOP_LEVEL_KEYS:
            raise InvalidArgumentError(
                f"{where}: unknown key {key!r}; expected some of 'hnsw', 'spann'"
            )
    if configuration.get("hnsw") is not None and configuration.get("spann") is not None:
        raise InvalidArgumentError(
            f"{where}: give 'hnsw' or 'spann', not both (hnsw and spann cannot both be provided)"
        )
    return configuration


def _legacy_hnsw(metadata: Metadata | None) -> dict[str, Any]:
    """The hnsw parameters given as legacy ``hnsw:*`` collection metadata, checked."""
    out: dict[str, Any] = {}
    if not metadata:
        return out
    for key, value in metadata.items():
        if not key.startswith("hnsw:"):
            continue
        name = _LEGACY_KEYS.get(key)
        if name is None:
            raise InvalidArgumentError(
                f"metadata[{key!r}]: unknown hnsw parameter; expected some of "
                f"{', '.join(_LEGACY_KEYS)}"
            )
        out[name] = _check_value(
            name, value, f"metadata[{key!r}]", minimum=_LEGACY_MINIMUM.get(name, 1)
        )
    return out


def _visible(hnsw: dict[str, Any]) -> dict[str, Any]:
    return {key: hnsw[key] for key in DEFAULT_HNSW}


def resolve_configuration(configuration: object, metadata: Metadata | None) -> dict[str, Any]:
    """The full configuration of a new collection, as chromadb resolves it.

    ``configuration`` is what the user passed (``embedding_function`` already taken out by
    the client; the key is ignored if still there), ``metadata`` the collection metadata
    after :func:`chroma_async.validation.validate_collection_metadata`.
    """
    given = _check_top_level(configuration, "configuration")
    spann = given.get("spann")
    if spann is not None:
        checked = _check_section(spann, _SPANN_KEYS, "configuration.spann")
        return {"hnsw": {**DEFAULT_HNSW, "space": checked.get("space", DEFAULT_HNSW["space"])}}
    hnsw = given.get("hnsw")
    checked = {} if hnsw is None else _check_section(hnsw, _HNSW_KEYS, "configuration.hnsw")
    legacy = _legacy_hnsw(metadata)
    defaults = {**DEFAULT_HNSW, "num_threads": os.cpu_count() or 1, "batch_size": 100}
    full = {**defaults, **checked}
    if full == defaults:
        full = {**defaults, **legacy}
    return {"hnsw": _visible(full)}


def update_configuration(current: dict[str, Any], update: object) -> dict[str, Any]:
    """``current`` with the changes of ``collection.modify(configuration=update)`` applied.

    Only ``hnsw`` parameters in :data:`MUTABLE_HNSW_KEYS` change; ``space`` and
    ``ef_construction`` are fixed when the collection is created. ``None`` values change
    nothing. ``current`` is not modified.
    """
    given = _check_top_level(update, "configuration")
    if given.get("spann") is not None:
        raise InvalidArgumentError(
            "configuration.spann: this collection uses an hnsw index; "
            "change its parameters under 'hnsw'"
        )
    result = {
        key: dict(value) if isinstance(value, dict) else value for key, value in current.items()
    }
    hnsw = given.get("hnsw")
    if hnsw is None:
        return result
    changes = _check_section(
        hnsw,
        MUTABLE_HNSW_KEYS,
        "configuration.hnsw",
        immutable=tuple(key for key in _HNSW_KEYS if key not in MUTABLE_HNSW_KEYS),
    )
    section = dict(result.get("hnsw") or DEFAULT_HNSW)
    for key, value in changes.items():
        if key not in _HIDDEN_KEYS:
            section[key] = value
    result["hnsw"] = section
    return result
