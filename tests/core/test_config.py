"""Collection configuration: resolution on create and updates on modify, against chromadb."""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any

import chromadb
import chromadb.config
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chroma_async.config import DEFAULT_HNSW, resolve_configuration, update_configuration
from chroma_async.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def chroma_client() -> Any:
    # the settings every test of this process uses: chromadb keeps one in-process system
    # and refuses a second with other settings
    return chromadb.EphemeralClient(
        settings=chromadb.config.Settings(allow_reset=True, anonymized_telemetry=False)
    )


def chroma_resolves(client: Any, configuration: Any, metadata: Any) -> dict[str, Any]:
    """What chromadb shows as ``collection.configuration`` (its hnsw part)."""
    name = f"config-{uuid.uuid4().hex[:16]}"
    collection = client.create_collection(
        name, configuration=copy.deepcopy(configuration), metadata=metadata, embedding_function=None
    )
    try:
        return {"hnsw": dict(collection.configuration["hnsw"])}
    finally:
        client.delete_collection(name)


def chroma_updates(client: Any, configuration: Any, update: Any) -> dict[str, Any]:
    name = f"config-{uuid.uuid4().hex[:16]}"
    collection = client.create_collection(
        name, configuration=configuration, embedding_function=None
    )
    try:
        collection.modify(configuration=copy.deepcopy(update))
        return {"hnsw": dict(client.get_collection(name).configuration["hnsw"])}
    finally:
        client.delete_collection(name)


# --- resolve ------------------------------------------------------------------------------


def test_no_configuration_resolves_to_chromadbs_defaults(chroma_client: Any) -> None:
    resolved = resolve_configuration(None, None)
    assert resolved == {"hnsw": DEFAULT_HNSW}
    assert list(resolved["hnsw"]) == list(DEFAULT_HNSW)
    assert resolved == chroma_resolves(chroma_client, None, None)


def test_resolved_configuration_is_a_fresh_dict_each_time() -> None:
    resolve_configuration(None, None)["hnsw"]["space"] = "ip"
    assert resolve_configuration(None, None)["hnsw"]["space"] == "l2"
    assert DEFAULT_HNSW["space"] == "l2"


ORACLE_CASES: list[tuple[Any, Any]] = [
    ({"hnsw": {"space": "cosine"}}, None),
    (
        {
            "hnsw": {
                "space": "ip",
                "ef_construction": 200,
                "ef_search": 50,
                "max_neighbors": 32,
                "num_threads": 3,
                "batch_size": 50,
                "sync_threshold": 500,
                "resize_factor": 1.5,
            }
        },
        None,
    ),
    (
        None,
        {
            "hnsw:space": "cosine",
            "hnsw:construction_ef": 200,
            "hnsw:search_ef": 50,
            "hnsw:M": 32,
            "hnsw:num_threads": 2,
            "hnsw:batch_size": 50,
            "hnsw:sync_threshold": 500,
            "hnsw:resize_factor": 2,
            "other": "x",
        },
    ),
    # configuration with any non-default value wins, and legacy metadata is ignored
    ({"hnsw": {"space": "ip"}}, {"hnsw:space": "cosine", "hnsw:search_ef": 7}),
    ({"hnsw": {"ef_search": 9}}, {"hnsw:space": "cosine"}),
    ({"hnsw": {"num_threads": (os.cpu_count() or 1) + 1}}, {"hnsw:space": "cosine"}),
    # configuration equal to the defaults lets legacy metadata apply
    ({"hnsw": {"space": "l2"}}, {"hnsw:space": "cosine", "hnsw:search_ef": 7}),
    ({"hnsw": {"ef_search": 100}}, {"hnsw:space": "cosine"}),
    ({"hnsw": {"space": None, "ef_search": None}}, {"hnsw:space": "ip"}),
    ({"hnsw": {}}, {"hnsw:search_ef": 3}),
    ({"hnsw": None}, {"hnsw:M": 8}),
    ({}, {"hnsw:sync_threshold": 2}),
    # spann: its space is used, the rest ignored, and so is legacy metadata
    ({"spann": {"space": "ip", "ef_search": 8, "search_nprobe": 3}}, None),
    ({"spann": {}}, {"hnsw:space": "cosine"}),
    ({"spann": {"space": "cosine"}, "hnsw": None}, {"hnsw:space": "dot"}),
]


@pytest.mark.parametrize(("configuration", "metadata"), ORACLE_CASES)
def test_configuration_resolves_as_chromadb_resolves_it(
    chroma_client: Any, configuration: Any, metadata: Any
) -> None:
    ours = resolve_configuration(copy.deepcopy(configuration), metadata)
    assert ours == chroma_resolves(chroma_client, configuration, metadata)


HNSW_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "space": st.sampled_from(["l2", "cosine", "ip"]),
    "ef_construction": st.sampled_from([1, 50, 100, 300]),
    "ef_search": st.sampled_from([1, 10, 100]),
    "max_neighbors": st.sampled_from([2, 16, 48]),
    "num_threads": st.sampled_from([1, 3, os.cpu_count() or 1]),
    "batch_size": st.sampled_from([2, 100, 500]),
    "sync_threshold": st.sampled_from([2, 1000, 4000]),
    "resize_factor": st.sampled_from([1.2, 2.0, 0.5]),
}
LEGACY_NAMES = {
    "space": "hnsw:space",
    "ef_construction": "hnsw:construction_ef",
    "ef_search": "hnsw:search_ef",
    "max_neighbors": "hnsw:M",
    "num_threads": "hnsw:num_threads",
    "batch_size": "hnsw:batch_size",
    "sync_threshold": "hnsw:sync_threshold",
    "resize_factor": "hnsw:resize_factor",
}


@st.composite
def hnsw_sections(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(HNSW_VALUES)), unique=True, max_size=4))
    return {key: draw(HNSW_VALUES[key]) for key in keys}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.none(), hnsw_sections().map(lambda section: {"hnsw": section})),
    st.one_of(
        st.none(),
        hnsw_sections()
        .filter(bool)
        .map(lambda section: {LEGACY_NAMES[key]: value for key, value in section.items()}),
    ),
)
def test_generated_configurations_resolve_as_in_chromadb(
    chroma_client: Any, configuration: Any, metadata: Any
) -> None:
    ours = resolve_configuration(copy.deepcopy(configuration), metadata)
    assert ours == chroma_resolves(chroma_client, configuration, metadata)


def test_embedding_function_key_is_ignored() -> None:
    assert resolve_configuration({"embedding_function": None}, None) == {"hnsw": DEFAULT_HNSW}


@pytest.mark.parametrize(
    ("configuration", "metadata", "message"),
    [
        ([1], None, "configuration: expected a dict like {'hnsw': {'space': 'cosine'}} or None"),
        ({"hnsw": {"space": "ip"}, "spann": {}}, None, "configuration: give 'hnsw' or 'spann'"),
        ({"hnsw": [1]}, None, "configuration.hnsw: expected a dict or None, got [1] (list)"),
        ({"hnsw": {"foo": 1}}, None, "configuration.hnsw: unknown key 'foo'; expected some of"),
        ({"spann": {"foo": 1}}, None, "configuration.spann: unknown key 'foo'"),
        ({"hnsw": {"space": "dot"}}, None, "configuration.hnsw.space: expected one of 'l2'"),
        ({"spann": {"space": "x"}}, None, "configuration.spann.space: expected one of"),
        ({"hnsw": {"ef_search": -1}}, None, "configuration.hnsw.ef_search: expected an int >= 1"),
        ({"hnsw": {"ef_search": "10"}}, None, "configuration.hnsw.ef_search: expected an int"),
        ({"hnsw": {"ef_search": 10.0}}, None, "configuration.hnsw.ef_search: expected an int"),
        ({"hnsw": {"ef_search": True}}, None, "configuration.hnsw.ef_search: expected an int"),
        ({"hnsw": {"ef_search": 2**64}}, None, "configuration.hnsw.ef_search: expected an int <"),
        ({"hnsw": {"num_threads": "x"}}, None, "configuration.hnsw.num_threads: expected an int"),
        ({"hnsw": {"resize_factor": "1"}}, None, "configuration.hnsw.resize_factor: expected a"),
        ({"spann": {"search_nprobe": -1}}, None, "configuration.spann.search_nprobe: expected"),
        (None, {"hnsw:space": "dot"}, "metadata['hnsw:space']: expected one of 'l2'"),
        (None, {"hnsw:foo": 1}, "metadata['hnsw:foo']: unknown hnsw parameter"),
        (None, {"hnsw:M": 16.0}, "metadata['hnsw:M']: expected an int"),
        (None, {"hnsw:M": True}, "metadata['hnsw:M']: expected an int"),
        (None, {"hnsw:M": -1}, "metadata['hnsw:M']: expected an int >= 1"),
        (None, {"hnsw:search_ef": "10"}, "metadata['hnsw:search_ef']: expected an int"),
        (None, {"hnsw:sync_threshold": 1}, "metadata['hnsw:sync_threshold']: expected an int >= 2"),
        (None, {"hnsw:batch_size": 1}, "metadata['hnsw:batch_size']: expected an int >= 2"),
        (None, {"hnsw:resize_factor": "2"}, "metadata['hnsw:resize_factor']: expected a number"),
        # legacy metadata is checked even when the configuration wins
        ({"hnsw": {"space": "ip"}}, {"hnsw:foo": 1}, "metadata['hnsw:foo']: unknown"),
        ({"hnsw": {"space": "ip"}}, {"hnsw:M": "x"}, "metadata['hnsw:M']: expected an int"),
    ],
)
def test_configuration_rejections_chromadb_also_makes(
    chroma_client: Any, configuration: Any, metadata: Any, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve_configuration(copy.deepcopy(configuration), metadata)
    assert str(info.value).startswith(message), str(info.value)
    # chromadb fails a list configuration with an AttributeError
    with pytest.raises((ValueError, AttributeError, chromadb.errors.ChromaError)):
        chroma_resolves(chroma_client, configuration, metadata)


@pytest.mark.parametrize(
    ("configuration", "metadata", "message"),
    [
        ({"foo": {}}, None, "configuration: unknown key 'foo'; expected some of 'hnsw', 'spann'"),
        ({"hnsw": {"ef_search": 0}}, None, "configuration.hnsw.ef_search: expected an int >= 1"),
        ({"hnsw": {"max_neighbors": 0}}, None, "configuration.hnsw.max_neighbors: expected"),
        ({"hnsw": {"ef_construction": 0}}, None, "configuration.hnsw.ef_construction: expected"),
        ({"hnsw": {"resize_factor": 0}}, None, "configuration.hnsw.resize_factor: expected a"),
        ({"hnsw": {"resize_factor": -1}}, None, "configuration.hnsw.resize_factor: expected a"),
        (None, {"hnsw:M": 0}, "metadata['hnsw:M']: expected an int >= 1"),
    ],
)
def test_configuration_chromadb_accepts_but_we_reject_a_deliberate_difference(
    configuration: Any, metadata: Any, message: str
) -> None:
    # chromadb ignores unknown top-level keys and accepts 0 (no index) and negative factors.
    with pytest.raises(InvalidArgumentError) as info:
        resolve_configuration(configuration, metadata)
    assert str(info.value).startswith(message), str(info.value)


# --- update -------------------------------------------------------------------------------

UPDATE_CASES: list[tuple[Any, Any]] = [
    (None, {"hnsw": {"ef_search": 7}}),
    (None, {"hnsw": {"max_neighbors": 7, "sync_threshold": 70, "resize_factor": 2.5}}),
    (None, {"hnsw": {"num_threads": 2, "batch_size": 7}}),
    (None, {"hnsw": {"ef_search": None}}),
    (None, {"hnsw": {}}),
    (None, {"hnsw": None}),
    (None, {}),
    ({"hnsw": {"space": "cosine", "ef_construction": 50}}, {"hnsw": {"ef_search": 5}}),
]


@pytest.mark.parametrize(("configuration", "update"), UPDATE_CASES)
def test_modify_configuration_changes_what_chromadb_changes(
    chroma_client: Any, configuration: Any, update: Any
) -> None:
    current = resolve_configuration(configuration, None)
    before = copy.deepcopy(current)
    ours = update_configuration(current, copy.deepcopy(update))
    assert current == before
    assert ours == chroma_updates(chroma_client, configuration, update)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"hnsw": {"space": "ip"}}, "configuration.hnsw.space: cannot be changed once the"),
        ({"hnsw": {"ef_construction": 7}}, "configuration.hnsw.ef_construction: cannot be"),
        ({"hnsw": {"foo": 7}}, "configuration.hnsw: unknown key 'foo'; expected some of"),
        ({"hnsw": {"ef_search": -1}}, "configuration.hnsw.ef_search: expected an int >= 1"),
        ({"hnsw": {"ef_search": "x"}}, "configuration.hnsw.ef_search: expected an int"),
        ({"spann": {"ef_search": 7}}, "configuration.spann: this collection uses an hnsw index"),
        ({"hnsw": {"ef_search": 7}, "spann": {"ef_search": 3}}, "configuration: give 'hnsw'"),
    ],
)
def test_modify_configuration_rejections_chromadb_also_makes(
    chroma_client: Any, update: Any, message: str
) -> None:
    current = resolve_configuration(None, None)
    with pytest.raises(InvalidArgumentError) as info:
        update_configuration(current, update)
    assert str(info.value).startswith(message), str(info.value)
    with pytest.raises((ValueError, chromadb.errors.ChromaError)):
        chroma_updates(chroma_client, None, update)


def test_modify_configuration_names_what_can_change() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        update_configuration(resolve_configuration(None, None), {"hnsw": {"space": "ip"}})
    assert str(info.value).endswith(
        "changeable: ef_search, max_neighbors, num_threads, resize_factor, sync_threshold, "
        "batch_size"
    )


def test_modify_configuration_rejects_unknown_top_level_keys_a_deliberate_difference() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown key 'foo'"):
        update_configuration(resolve_configuration(None, None), {"foo": 1})
