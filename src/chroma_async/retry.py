"""Retries: a policy, small pure decisions, and a wrapper around any transport.

The decisions are pure functions so that they can be read and tested in isolation
(tables, a fake clock, a seeded random generator):

- :func:`is_repeatable` — may this operation be sent again without changing its outcome?
- :func:`is_transient` — is this error worth another attempt (connection reset, timeout,
  429, 502, 503, 504)?
- :func:`should_retry` — both, plus the attempt budget;
- :func:`backoff_delay` — exponential backoff with full jitter and a cap;
- :func:`parse_retry_after` — the ``Retry-After`` header, in seconds or as an HTTP-date;
- :func:`retry_delay` — the server's ``Retry-After`` when it gave a reasonable one,
  the backoff otherwise.

:class:`RetryingTransport` applies them around any :class:`~chroma_async.transport.Transport`
within one overall deadline per call, and logs every retry as a structured event
(``transport``, ``op``, ``attempt``, ``delay``, ``error``, ``status``) on the standard
library logger ``chroma_async.retry``.

Why an operation is or is not repeatable (Chroma's semantics):

- reads (get, query, count, list, heartbeat, …) change nothing;
- ``add`` ignores ids that already exist, so a repeat of an add that was applied is a
  no-op; ``upsert`` and ``update`` set values, ``delete`` removes what matches: applying
  them twice leaves what applying them once does;
- ``create_collection(get_or_create=True)`` returns the same collection either way, and
  ``modify`` sets the same name, metadata and configuration again; ``reset`` empties
  everything again;
- ``create_collection`` (plain), ``create_tenant``, ``create_database``, ``fork`` would
  answer "already exists" to their own first attempt, and ``delete_collection`` /
  ``delete_database`` "not found": those are retried only when the first attempt
  certainly never reached the server (the connection could not be made, or the server
  answered 429 — it refused the request without doing it).

A transport tells the wrapper what it knows about a failure through :func:`mark_transient`.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timezone
from typing import Any, Final, NoReturn, TypeVar

import anyio
import msgspec

from chroma_async import errors
from chroma_async import operations as ops
from chroma_async.logs import get_logger
from chroma_async.operations import Operation
from chroma_async.transport import Capabilities, Transport

__all__ = [
    "NO_RETRY",
    "RetryHint",
    "RetryPolicy",
    "RetryingTransport",
    "backoff_delay",
    "is_repeatable",
    "is_transient",
    "mark_permanent",
    "mark_transient",
    "parse_retry_after",
    "retry_delay",
    "retry_hint",
    "should_retry",
]

R = TypeVar("R")
E = TypeVar("E", bound=BaseException)

_log = get_logger("chroma_async.retry")


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """When and how long to retry a failed call.

    ``max_attempts``: attempts in all, the first included (1 disables retries).
    ``backoff_base`` / ``backoff_cap``: the delay before retry *n* is drawn uniformly from
    ``[0, min(cap, base * 2**(n-1))]`` (full jitter). ``deadline``: seconds one call may
    take, every attempt and wait included. ``retry_statuses``: HTTP statuses worth a retry.
    ``max_retry_after``: a ``Retry-After`` longer than this is not waited for; the backoff
    is used instead.
    """

    max_attempts: int = 5
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    deadline: float = 120.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise errors.InvalidArgumentError(
                f"RetryPolicy.max_attempts must be an integer >= 1, got {self.max_attempts!r}"
            )
        for name in ("backoff_base", "backoff_cap", "deadline", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise errors.InvalidArgumentError(
                    f"RetryPolicy.{name} must be a finite number of seconds >= 0, got {value!r}"
                )
        if self.deadline <= 0:
            raise errors.InvalidArgumentError(
                f"RetryPolicy.deadline must be > 0 seconds, got {self.deadline!r}"
            )


NO_RETRY: Final = RetryPolicy(max_attempts=1)
"""A policy that sends every call once."""


class RetryHint(msgspec.Struct, frozen=True, kw_only=True):
    """What a transport knows about a failed attempt.

    ``status``: the HTTP status when the server answered, None for a connection-level
    failure. ``retry_after``: seconds the server asked to wait. ``may_have_applied``:
    False when the request certainly had no effect (never sent, or refused with 429).
    ``retryable``: False for a failure that another attempt cannot cure (a certificate
    that does not verify, a response that does not match the API's schema).
    """

    status: int | None = None
    retry_after: float | None = None
    may_have_applied: bool = True
    retryable: bool = True


_HINT_ATTRIBUTE = "_chroma_async_retry_hint"


def mark_transient(
    exc: E,
    *,
    status: int | None = None,
    retry_after: float | None = None,
    may_have_applied: bool = True,
) -> E:
    """Attach a :class:`RetryHint` to ``exc`` (and return it) so the wrapper may retry it."""
    hint = RetryHint(status=status, retry_after=retry_after, may_have_applied=may_have_applied)
    setattr(exc, _HINT_ATTRIBUTE, hint)
    return exc


def mark_permanent(exc: E) -> E:
    """Mark ``exc`` as a failure that no retry can cure (and return it)."""
    setattr(exc, _HINT_ATTRIBUTE, RetryHint(retryable=False))
    return exc


def retry_hint(exc: BaseException) -> RetryHint | None:
    """The hint a transport attached to ``exc``, if any."""
    hint = getattr(exc, _HINT_ATTRIBUTE, None)
    return hint if isinstance(hint, RetryHint) else None


_ALWAYS_REPEATABLE: Final[frozenset[type[Operation[Any]]]] = frozenset(
    {
        ops.Heartbeat,
        ops.GetVersion,
        ops.GetUserIdentity,
        ops.GetTenant,
        ops.GetDatabase,
        ops.ListDatabases,
        ops.ListCollections,
        ops.CountCollections,
        ops.GetCollection,
        ops.CountRecords,
        ops.GetRecords,
        ops.QueryRecords,
        ops.AddRecords,
        ops.UpsertRecords,
        ops.UpdateRecords,
        ops.DeleteRecords,
        ops.ModifyCollection,
        ops.Reset,
    }
)


def is_repeatable(op: Operation[Any]) -> bool:
    """Whether sending ``op`` again after it was applied leaves the same outcome."""
    if isinstance(op, ops.CreateCollection):
        return op.get_or_create
    return type(op) in _ALWAYS_REPEATABLE


def is_transient(exc: BaseException, policy: RetryPolicy) -> bool:
    """Whether ``exc`` may go away on its own: a dropped connection, a timeout, an overload."""
    if isinstance(exc, errors.ClientClosedError):
        return False
    hint = retry_hint(exc)
    if hint is not None:
        if not hint.retryable:
            return False
        return hint.status is None or hint.status in policy.retry_statuses
    return isinstance(exc, (errors.ConnectionError, errors.TimeoutError, errors.RateLimitError))


def should_retry(op: Operation[Any], exc: BaseException, attempt: int, policy: RetryPolicy) -> bool:
    """Whether to send ``op`` again after its attempt number ``attempt`` (1-based) failed."""
    if attempt >= policy.max_attempts or not is_transient(exc, policy):
        return False
    if is_repeatable(op):
        return True
    hint = retry_hint(exc)
    return hint is not None and not hint.may_have_applied


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait after attempt ``attempt`` (1-based): full jitter under an exponential cap."""
    exponent = min(max(attempt - 1, 0), 62)
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2.0**exponent))
    return rng.random() * ceiling


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or None when absent or invalid.

    ``value`` is either a number of seconds (``"120"``, ``"1.5"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``); ``now`` is the current time as seconds since
    the epoch. A date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if 0 <= seconds < math.inf else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def retry_delay(exc: BaseException, attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before the next attempt: the server's ``Retry-After`` or the backoff."""
    hint = retry_hint(exc)
    if (
        hint is not None
        and hint.retry_after is not None
        and 0 <= hint.retry_after <= policy.max_retry_after
    ):
        return hint.retry_after
    return backoff_delay(attempt, policy, rng)


class RetryingTransport:
    """Wraps a transport and retries, by a :class:`RetryPolicy`, what is safe to retry.

    ``clock`` (monotonic seconds), ``sleep`` and ``rng`` are injectable for tests.
    The wrapped transport is opened and closed with this one.
    """

    def __init__(
        self,
        inner: Transport,
        policy: RetryPolicy | None = None,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy if policy is not None else RetryPolicy()
        self._name = name
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def __repr__(self) -> str:
        return f"RetryingTransport({self.inner!r}, policy={self.policy!r})"

    @property
    def name(self) -> str:
        return self._name if self._name is not None else self.inner.capabilities.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def open(self) -> None:
        """Open the wrapped transport, retrying transient failures (opening is repeatable)."""
        await self._run(ops.Heartbeat(), lambda: self.inner.open(), what="open")

    async def send(self, op: Operation[R]) -> R:
        return await self._run(op, lambda: self.inner.send(op), what=type(op).__name__)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _run(
        self, op: Operation[Any], attempt_once: Callable[[], Awaitable[R]], *, what: str
    ) -> R:
        policy = self.policy
        deadline = self._clock() + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            failure: errors.ChromaError | None = None
            with anyio.move_on_after(max(deadline - self._clock(), 0.0)) as scope:
                try:
                    return await attempt_once()
                except errors.ChromaError as exc:
                    failure = exc
            if failure is None or scope.cancelled_caught:
                raise errors.TimeoutError(
                    f"{what} did not complete within the deadline of {policy.deadline:g} s "
                    f"({attempt} attempt{'s' if attempt > 1 else ''}) on {self.name}"
                ) from failure
            if not should_retry(op, failure, attempt, policy):
                _raise_after(failure, attempt)
            delay = retry_delay(failure, attempt, policy, self._rng)
            if self._clock() + delay >= deadline:
                _raise_after(failure, attempt)
            hint = retry_hint(failure)
            _log.warning(
                "retry",
                transport=self.name,
                op=what,
                attempt=attempt,
                delay=round(delay, 4),
                error=type(failure).__name__,
                status=hint.status if hint is not None else None,
            )
            await self._sleep(delay)


def _raise_after(exc: errors.ChromaError, attempts: int) -> NoReturn:
    """Raise ``exc`` as it should surface after ``attempts`` attempts (ConnectionError counts)."""
    if isinstance(exc, errors.ConnectionError) and attempts > 1:
        raise errors.ConnectionError(
            f"{exc} (gave up after {attempts} attempts)", host=exc.host, attempts=attempts
        ) from exc
    raise exc
