"""The client's own behaviour, driven through MockTransport (no engine involved)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

import chroma_async
from chroma_async import operations as ops
from chroma_async.errors import (
    AuthorizationError,
    ClientClosedError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    TransportNotInstalledError,
)
from chroma_async.registry import create_transport
from chroma_async.testing import MockTransport
from chroma_async.transport import Capabilities, Transport

pytestmark = pytest.mark.anyio


def _collection_model(name: str = "docs") -> ops.CollectionModel:
    return ops.CollectionModel(
        id=uuid.UUID(int=7),
        name=name,
        tenant="default_tenant",
        database="default_database",
        configuration={"hnsw": {"space": "l2"}},
    )


class Recorder:
    """A handler that records writes and can fail on the n-th one."""

    def __init__(self, fail_on_write: int | None = None) -> None:
        self.writes: list[list[str]] = []
        self.fail_on_write = fail_on_write

    def __call__(self, op: ops.Operation[Any]) -> Any:
        if isinstance(op, (ops.CreateCollection, ops.GetCollection)):
            return _collection_model()
        if isinstance(op, (ops.AddRecords, ops.UpsertRecords, ops.UpdateRecords)):
            if self.fail_on_write is not None and len(self.writes) == self.fail_on_write:
                raise InternalError("disk on fire")
            self.writes.append(list(op.ids))
            return None
        raise NotImplementedError(type(op).__name__)


async def test_transport_protocol_is_satisfied_by_mock_transport() -> None:
    assert isinstance(MockTransport(), Transport)


async def test_client_is_awaitable_and_async_context_manager_and_closes_on_exit() -> None:
    transport = MockTransport(capabilities=Capabilities(name="mock", max_batch_size=10))
    factory = chroma_async.AsyncClient.from_transport(transport)
    async with factory as client:
        assert await client.heartbeat() > 0
        assert not client.closed
    assert client.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.heartbeat()


async def test_close_is_idempotent_and_closes_owned_transport_once() -> None:
    transport = MockTransport()
    client = chroma_async.AsyncClient(transport)
    await client._open()
    await client.close()
    await client.close()
    assert transport.closed


async def test_transport_passed_in_by_user_is_left_open() -> None:
    transport = MockTransport()
    client = await chroma_async.AsyncClient.from_transport(transport)
    await client.close()
    assert not transport.closed


async def test_unopened_client_refuses_calls_with_clear_error() -> None:
    client = chroma_async.AsyncClient(MockTransport())
    with pytest.raises(ClientClosedError, match="not open yet"):
        await client.heartbeat()


async def test_unclosed_client_warns_resource_warning_when_collected() -> None:
    client = await chroma_async.AsyncClient.from_transport(MockTransport())
    with pytest.warns(ResourceWarning, match="unclosed"):
        del client  # the last reference: CPython collects it here


async def test_reset_is_refused_without_allow_reset_and_sends_nothing() -> None:
    transport = MockTransport()
    async with chroma_async.AsyncClient.from_transport(transport) as client:
        with pytest.raises(AuthorizationError, match="allow_reset"):
            await client.reset()
    assert not any(isinstance(op, ops.Reset) for op in transport.sent)


async def test_opening_checks_that_tenant_and_database_exist() -> None:
    def handler(op: ops.Operation[Any]) -> Any:
        if isinstance(op, ops.GetDatabase):
            raise NotFoundError(f"database {op.name} not found")
        raise NotImplementedError

    factory = chroma_async.AsyncClient.from_transport(MockTransport(handler), database="nope")
    with pytest.raises(NotFoundError, match="'nope'"):
        await factory


async def test_missing_database_is_resolved_from_identity_with_one_database() -> None:
    def handler(op: ops.Operation[Any]) -> Any:
        if isinstance(op, ops.GetUserIdentity):
            return ops.UserIdentity(user_id="u", tenant="acme", databases=["prod"])
        raise NotImplementedError

    async with chroma_async.AsyncClient.from_transport(
        MockTransport(handler), tenant=None, database=None
    ) as client:
        assert (client.tenant, client.database) == ("acme", "prod")


async def test_identity_with_several_databases_is_an_error_listing_them() -> None:
    def handler(op: ops.Operation[Any]) -> Any:
        if isinstance(op, ops.GetUserIdentity):
            return ops.UserIdentity(user_id="u", tenant="acme", databases=["a", "b"])
        raise NotImplementedError

    factory = chroma_async.AsyncClient.from_transport(
        MockTransport(handler), tenant=None, database=None
    )
    with pytest.raises(InvalidArgumentError, match=r"'a', 'b'"):
        await factory


async def test_large_write_is_split_into_transport_sized_batches_in_order() -> None:
    recorder = Recorder()
    transport = MockTransport(recorder, capabilities=Capabilities(name="m", max_batch_size=4))
    async with chroma_async.AsyncClient.from_transport(transport) as client:
        col = await client.get_collection("docs")
        ids = [f"id{i}" for i in range(10)]
        await col.add(ids=ids, embeddings=np.ones((10, 3)))
    assert [len(batch) for batch in recorder.writes] == [4, 4, 2]
    assert [i for batch in recorder.writes for i in batch] == ids


async def test_failed_batch_reports_which_records_were_written() -> None:
    recorder = Recorder(fail_on_write=1)
    transport = MockTransport(recorder, capabilities=Capabilities(name="m", max_batch_size=4))
    async with chroma_async.AsyncClient.from_transport(transport) as client:
        col = await client.get_collection("docs")
        ids = [f"id{i}" for i in range(10)]
        with pytest.raises(InternalError, match="disk on fire") as info:
            await col.upsert(ids=ids, embeddings=np.ones((10, 3)))
    assert info.value.written_ids == ids[:4]  # type: ignore[attr-defined]
    assert info.value.unwritten_ids == ids[4:]  # type: ignore[attr-defined]
    assert "4 of 10 records were written" in "".join(info.value.__notes__)


async def test_invalid_write_sends_nothing() -> None:
    recorder = Recorder()
    async with chroma_async.AsyncClient.from_transport(MockTransport(recorder)) as client:
        col = await client.get_collection("docs")
        with pytest.raises(InvalidArgumentError):
            await col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [float("nan"), 1.0]])
    assert recorder.writes == []


async def test_sync_and_async_embedding_functions_embed_documents() -> None:
    recorder = Recorder()
    sent: list[np.ndarray[Any, Any]] = []

    def handler(op: ops.Operation[Any]) -> Any:
        if isinstance(op, ops.AddRecords):
            sent.append(op.embeddings)
        return recorder(op)

    def sync_ef(input: list[str]) -> list[list[float]]:
        return [[float(len(text)), 1.0] for text in input]

    async def async_ef(input: list[str]) -> list[list[float]]:
        return [[float(len(text)), 2.0] for text in input]

    async with chroma_async.AsyncClient.from_transport(MockTransport(handler)) as client:
        for ef in (sync_ef, async_ef):
            col = await client.get_collection("docs", embedding_function=ef)
            await col.add(ids=["a", "b"], documents=["xy", "xyz"])
    assert sent[0].tolist() == [[2.0, 1.0], [3.0, 1.0]]
    assert sent[1].tolist() == [[2.0, 2.0], [3.0, 2.0]]
    assert all(e.dtype == np.float32 for e in sent)


async def test_documents_without_embedding_function_is_a_clear_error() -> None:
    async with chroma_async.AsyncClient.from_transport(MockTransport(Recorder())) as client:
        col = await client.get_collection("docs")
        with pytest.raises(InvalidArgumentError, match="no embedding function"):
            await col.add(ids=["a"], documents=["text"])
        with pytest.raises(InvalidArgumentError, match="no embedding function"):
            await col.query(query_texts=["text"])


def test_unknown_scheme_lists_installed_schemes() -> None:
    with pytest.raises(InvalidArgumentError, match="no transport for URL scheme 'nosuch'"):
        create_transport("nosuch://x")


def test_missing_transport_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from chroma_async import registry

    monkeypatch.setattr(registry, "entry_points", lambda **_: [])
    with pytest.raises(TransportNotInstalledError, match=r'pip install "chroma-async\[http\]"'):
        create_transport("https://example.invalid")


def test_url_without_scheme_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidArgumentError, match="'localhost:8000'"):
        create_transport("localhost:8000")
