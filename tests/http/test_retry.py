"""Retry decisions as pure functions (tables, a fake clock) and the retrying wrapper."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.retry import (
    NO_RETRY,
    RetryingTransport,
    RetryPolicy,
    backoff_delay,
    is_repeatable,
    is_transient,
    mark_permanent,
    mark_transient,
    parse_retry_after,
    retry_delay,
    should_retry,
)
from chroma_async.transport import Capabilities

CID = uuid.UUID(int=1)
SENTINEL: Any = object()
SCOPE: dict[str, Any] = {"tenant": "t", "database": "d"}
REC: dict[str, Any] = {**SCOPE, "collection_id": CID}


class FixedRandom(random.Random):
    """A generator whose ``random()`` always returns ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# --- backoff ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "fraction", "expected"),
    [
        (1, 1.0, 0.25),  # base
        (2, 1.0, 0.5),
        (3, 1.0, 1.0),
        (4, 0.5, 1.0),
        (6, 1.0, 8.0),  # 0.25 * 32 = 8 = cap
        (7, 1.0, 8.0),  # capped
        (500, 1.0, 8.0),  # no overflow for absurd attempt numbers
        (3, 0.0, 0.0),  # full jitter reaches zero
    ],
)
def test_backoff_is_exponential_with_full_jitter_under_a_cap(
    attempt: int, fraction: float, expected: float
) -> None:
    policy = RetryPolicy(backoff_base=0.25, backoff_cap=8.0)
    assert backoff_delay(attempt, policy, FixedRandom(fraction)) == pytest.approx(expected)


def test_backoff_spreads_over_the_whole_jitter_window() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=100.0)
    rng = random.Random(7)
    delays = [backoff_delay(4, policy, rng) for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 0.5
    assert max(delays) > 7.5


# --- Retry-After ----------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),  # in the past: now
        ("Sunday, 01-Mar-26 12:01:00 GMT", 60.0),  # RFC 850 form
        ("Sun Mar  1 12:00:05 2026", 5.0),  # asctime form, taken as UTC
        ("Sun, 99 Foo 2026 12:00:30 GMT", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    result = parse_retry_after(header, NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_parse_retry_after_reads_a_date_made_by_the_standard_library() -> None:
    when = datetime.fromtimestamp(NOW + 42, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(42.0)


def test_retry_delay_honours_retry_after_within_the_policy_bound() -> None:
    policy = RetryPolicy(max_retry_after=10.0, backoff_base=0.25, backoff_cap=8.0)
    rng = FixedRandom(1.0)
    asked = mark_transient(errors.RateLimitError("slow down"), status=429, retry_after=7.0)
    assert retry_delay(asked, 1, policy, rng) == 7.0
    unreasonable = mark_transient(errors.RateLimitError("x"), status=429, retry_after=3600.0)
    assert retry_delay(unreasonable, 1, policy, rng) == 0.25  # the backoff instead
    silent = mark_transient(errors.InternalError("x"), status=503)
    assert retry_delay(silent, 2, policy, rng) == 0.5


# --- what is retried --------------------------------------------------------------------

EMB = __import__("numpy").zeros((1, 2), dtype="float32")

REPEATABLE: list[ops.Operation[Any]] = [
    ops.Heartbeat(),
    ops.GetVersion(),
    ops.GetUserIdentity(),
    ops.GetTenant(name="t"),
    ops.GetDatabase(tenant="t", name="d"),
    ops.ListDatabases(tenant="t"),
    ops.ListCollections(**SCOPE),
    ops.CountCollections(**SCOPE),
    ops.GetCollection(**SCOPE, name="c"),
    ops.CountRecords(**REC),
    ops.GetRecords(**REC),
    ops.QueryRecords(**REC, query_embeddings=EMB),
    ops.AddRecords(**REC, ids=["a"], embeddings=EMB),
    ops.UpsertRecords(**REC, ids=["a"], embeddings=EMB),
    ops.UpdateRecords(**REC, ids=["a"]),
    ops.DeleteRecords(**REC, ids=["a"]),
    ops.DeleteRecords(**REC, where={"k": 1}),
    ops.CreateCollection(**SCOPE, name="c", configuration={}, get_or_create=True),
    ops.ModifyCollection(**SCOPE, collection_id=CID, new_name="n"),
    ops.Reset(),
]
NOT_REPEATABLE: list[ops.Operation[Any]] = [
    ops.CreateCollection(**SCOPE, name="c", configuration={}),
    ops.DeleteCollection(**SCOPE, name="c"),
    ops.ForkCollection(**SCOPE, collection_id=CID, new_name="n"),
    ops.CreateTenant(name="t"),
    ops.CreateDatabase(tenant="t", name="d"),
    ops.DeleteDatabase(tenant="t", name="d"),
]


@pytest.mark.parametrize("op", REPEATABLE, ids=lambda op: type(op).__name__)
def test_operations_whose_repetition_cannot_change_the_outcome_are_repeatable(
    op: ops.Operation[Any],
) -> None:
    assert is_repeatable(op)


@pytest.mark.parametrize("op", NOT_REPEATABLE, ids=lambda op: type(op).__name__)
def test_operations_that_would_conflict_with_their_own_first_attempt_are_not(
    op: ops.Operation[Any],
) -> None:
    assert not is_repeatable(op)


def _reset() -> Exception:
    return mark_transient(errors.ConnectionError("reset", host="h"))


def _refused() -> Exception:
    return mark_transient(errors.ConnectionError("refused", host="h"), may_have_applied=False)


def _status(code: int) -> Exception:
    return mark_transient(errors.error_from_name("", "x", status=code), status=code)


POLICY = RetryPolicy(max_attempts=3)
GET = ops.GetRecords(**REC)
CREATE = ops.CreateCollection(**SCOPE, name="c", configuration={})


@pytest.mark.parametrize(
    ("op", "make_error", "attempt", "expected"),
    [
        (GET, _reset, 1, True),
        (GET, _reset, 2, True),
        (GET, _reset, 3, False),  # attempts exhausted
        (GET, lambda: errors.TimeoutError("slow"), 1, True),
        (GET, lambda: errors.RateLimitError("429"), 1, True),
        (GET, lambda: _status(429), 1, True),
        (GET, lambda: _status(502), 1, True),
        (GET, lambda: _status(503), 1, True),
        (GET, lambda: _status(504), 1, True),
        (GET, lambda: _status(500), 1, False),
        (GET, lambda: _status(400), 1, False),
        (GET, lambda: errors.NotFoundError("gone"), 1, False),
        (GET, lambda: errors.InvalidArgumentError("bad"), 1, False),
        (GET, lambda: errors.ClientClosedError("closed"), 1, False),
        (GET, lambda: mark_transient(errors.ClientClosedError("closed")), 1, False),
        (GET, lambda: mark_permanent(errors.ConnectionError("bad certificate")), 1, False),
        (CREATE, _reset, 1, False),  # may have been created: a repeat says "exists"
        (CREATE, lambda: errors.TimeoutError("slow"), 1, False),
        (CREATE, _refused, 1, True),  # never reached the server
        (
            CREATE,
            lambda: mark_transient(errors.RateLimitError("x"), status=429, may_have_applied=False),
            1,
            True,
        ),
        (CREATE, _refused, 3, False),
    ],
)
def test_should_retry_decision_table(
    op: ops.Operation[Any], make_error: Callable[[], Exception], attempt: int, expected: bool
) -> None:
    assert should_retry(op, make_error(), attempt, POLICY) is expected


def test_a_policy_may_narrow_the_retried_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({503}))
    assert is_transient(_status(503), policy)
    assert not is_transient(_status(502), policy)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_base": -1.0},
        {"backoff_cap": float("inf")},
        {"deadline": 0.0},
        {"deadline": float("nan")},
    ],
)
def test_retry_policy_rejects_unbounded_or_negative_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        RetryPolicy(**kwargs)


# --- the wrapper --------------------------------------------------------------------------


class ScriptedTransport:
    """Fails with the scripted errors, in order, then answers ``result``."""

    def __init__(self, failures: list[Exception], result: Any = None) -> None:
        self.failures = list(failures)
        self.result = SENTINEL if result is None else result
        self.calls = 0
        self.opened = 0
        self.closed = 0

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(name="scripted", max_batch_size=10)

    async def open(self) -> None:
        self.opened += 1

    async def send(self, op: ops.Operation[Any]) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result

    async def aclose(self) -> None:
        self.closed += 1


def _wrapper(inner: ScriptedTransport, clock: FakeClock, **policy: Any) -> RetryingTransport:
    return RetryingTransport(
        inner, RetryPolicy(**policy), clock=clock, sleep=clock.sleep, rng=FixedRandom(1.0)
    )


@pytest.mark.anyio
async def test_wrapper_retries_transient_failures_with_backoff_then_succeeds() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_reset(), _status(503), _reset()])
    retrying = _wrapper(inner, clock, backoff_base=0.5, backoff_cap=1.5)
    assert await retrying.send(GET) == SENTINEL
    assert inner.calls == 4
    assert clock.sleeps == [0.5, 1.0, 1.5]


@pytest.mark.anyio
async def test_wrapper_waits_what_retry_after_asks() -> None:
    clock = FakeClock()
    asked = mark_transient(errors.InternalError("busy"), status=503, retry_after=2.0)
    inner = ScriptedTransport([asked])
    assert await _wrapper(inner, clock).send(GET) == SENTINEL
    assert clock.sleeps == [2.0]


@pytest.mark.anyio
async def test_wrapper_surfaces_a_non_retryable_error_at_once() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([errors.InvalidArgumentError("bad where")])
    with pytest.raises(errors.InvalidArgumentError, match="bad where"):
        await _wrapper(inner, clock).send(GET)
    assert inner.calls == 1
    assert clock.sleeps == []


@pytest.mark.anyio
async def test_wrapper_does_not_repeat_a_create_that_may_have_been_applied() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_reset()])
    with pytest.raises(errors.ConnectionError):
        await _wrapper(inner, clock).send(CREATE)
    assert inner.calls == 1


@pytest.mark.anyio
async def test_wrapper_repeats_a_create_that_never_reached_the_server() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_refused(), _refused()])
    assert await _wrapper(inner, clock).send(CREATE) == SENTINEL
    assert inner.calls == 3


@pytest.mark.anyio
async def test_wrapper_gives_up_after_max_attempts_and_counts_them() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_reset() for _ in range(10)])
    with pytest.raises(errors.ConnectionError) as info:
        await _wrapper(inner, clock, max_attempts=4).send(GET)
    assert inner.calls == 4
    assert info.value.attempts == 4
    assert info.value.host == "h"
    assert "4 attempts" in str(info.value)
    assert len(clock.sleeps) == 3


@pytest.mark.anyio
async def test_wrapper_stops_when_the_next_wait_would_pass_the_deadline() -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_reset() for _ in range(10)])
    retrying = _wrapper(
        inner, clock, max_attempts=10, backoff_base=1.0, backoff_cap=4.0, deadline=6.0
    )
    with pytest.raises(errors.ConnectionError):
        await retrying.send(GET)
    # waits 1, 2 (t=3), then 4 would end at 7 > 6: give up after the third attempt
    assert clock.sleeps == [1.0, 2.0]
    assert inner.calls == 3


@pytest.mark.anyio
async def test_wrapper_bounds_a_hanging_attempt_by_the_deadline() -> None:
    import anyio

    class Hanging(ScriptedTransport):
        async def send(self, op: ops.Operation[Any]) -> Any:
            self.calls += 1
            await anyio.sleep(30)

    inner = Hanging([])
    retrying = RetryingTransport(inner, RetryPolicy(deadline=0.05))
    with pytest.raises(errors.TimeoutError, match=r"deadline of 0\.05 s"):
        await retrying.send(GET)
    assert inner.calls == 1


@pytest.mark.anyio
async def test_with_no_retry_every_call_is_sent_once() -> None:
    inner = ScriptedTransport([_reset()])
    with pytest.raises(errors.ConnectionError):
        await RetryingTransport(inner, NO_RETRY).send(GET)
    assert inner.calls == 1


@pytest.mark.anyio
async def test_every_retry_is_a_structured_log_event(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    inner = ScriptedTransport([_status(429), _reset()])
    caplog.set_level(logging.INFO, logger="chroma_async.retry")
    await _wrapper(inner, clock).send(GET)
    events = [r for r in caplog.records if r.name == "chroma_async.retry"]
    assert [r.getMessage() for r in events] == ["retry", "retry"]
    first, second = events
    assert first.__dict__["transport"] == "scripted"
    assert first.__dict__["op"] == "GetRecords"
    assert first.__dict__["attempt"] == 1
    assert first.__dict__["status"] == 429
    assert first.__dict__["delay"] == pytest.approx(0.25)
    assert second.__dict__["attempt"] == 2
    assert second.__dict__["error"] == "ConnectionError"


@pytest.mark.anyio
async def test_wrapper_opens_and_closes_the_wrapped_transport() -> None:
    inner = ScriptedTransport([])
    retrying = RetryingTransport(inner)
    await retrying.open()
    assert retrying.capabilities.name == "scripted"
    await retrying.aclose()
    assert (inner.opened, inner.closed) == (1, 1)
