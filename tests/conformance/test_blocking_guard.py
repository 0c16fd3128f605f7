"""The event-loop guard of ``tests/conftest.py`` really fails tests that block the loop.

Every conformance test relies on it, under asyncio and under trio, so it is checked here
on both backends: blocking calls on the loop thread raise, the same calls in a worker
thread pass, and a test module that blocks is reported as failed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest
from blockbuster import BlockingError

pytestmark = pytest.mark.anyio


async def test_sleeping_on_the_event_loop_raises_blocking_error() -> None:
    with pytest.raises(BlockingError, match=r"time\.sleep"):
        time.sleep(0.001)  # noqa: ASYNC251  (the blocking call under test)


async def test_reading_a_file_on_the_event_loop_raises_blocking_error(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    await anyio.Path(path).write_bytes(b"x" * 16)
    with pytest.raises(BlockingError), open(path, "rb") as f:  # noqa: ASYNC230
        f.read()


async def test_listing_a_directory_on_the_event_loop_raises_blocking_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(BlockingError, match=r"os\.listdir"):
        os.listdir(tmp_path)


async def test_blocking_calls_in_a_worker_thread_are_allowed(tmp_path: Path) -> None:
    def blocking_work() -> bytes:
        time.sleep(0.001)
        path = tmp_path / "data.bin"
        path.write_bytes(b"abc")
        return path.read_bytes()

    assert await anyio.to_thread.run_sync(blocking_work) == b"abc"


def test_blocking_calls_outside_an_event_loop_are_allowed() -> None:
    time.sleep(0.001)


def test_a_test_that_blocks_the_event_loop_fails(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(__file__).parent.parent.joinpath("conftest.py").read_text())
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.anyio
        async def test_blocks():
            time.sleep(0.001)

        @pytest.mark.anyio
        async def test_does_not_block():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "anyio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*BlockingError: Blocking call to time.sleep*"])
    result.stdout.fnmatch_lines(["FAILED *test_blocks?asyncio?*", "FAILED *test_blocks?trio?*"])
