"""Timeout and Limits: finite defaults, and no way to ask for an unbounded one."""

from __future__ import annotations

import math
from typing import Any

import pytest

from chroma_async import errors
from chroma_async.options import Limits, Timeout, call_timeout, current_call_timeout


def test_defaults_are_finite() -> None:
    timeout, limits = Timeout(), Limits()
    assert all(math.isfinite(v) and v > 0 for v in (timeout.connect, timeout.read, timeout.total))
    assert limits.max_connections >= limits.max_connections_per_host >= 1
    assert 0 < limits.keepalive_expiry < 5.0


@pytest.mark.parametrize(
    "kwargs",
    [{"connect": 0}, {"read": -1.0}, {"total": math.inf}, {"total": math.nan}, {"read": None}],
)
def test_timeout_rejects_missing_or_unbounded_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Timeout"):
        Timeout(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections": 0}, {"max_connections_per_host": 1.5}, {"keepalive_expiry": math.inf}],
)
def test_limits_reject_unbounded_or_empty_pools(kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Limits"):
        Limits(**kwargs)


def test_call_timeout_applies_inside_its_block_only() -> None:
    assert current_call_timeout() is None
    inner = Timeout(read=1.0)
    with call_timeout(inner) as given:
        assert given is inner
        assert current_call_timeout() is inner
        with call_timeout(Timeout(total=5.0)):
            assert current_call_timeout() == Timeout(total=5.0)
        assert current_call_timeout() is inner
    assert current_call_timeout() is None


def test_call_timeout_wants_a_timeout() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Timeout"), call_timeout(5):  # type: ignore[arg-type]
        pass
