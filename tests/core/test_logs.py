"""Library logging: structured events on stdlib loggers; the library prints nothing."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from chroma_async.logs import get_logger


def test_events_reach_the_stdlib_logger_with_their_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="chroma_async.test")
    log = get_logger("chroma_async.test", transport="memory").bind(collection="docs")
    log.info("client.open", attempt=2)
    log.debug("hidden", attempt=3)  # below the level: not emitted
    [record] = [r for r in caplog.records if r.name == "chroma_async.test"]
    assert record.getMessage() == "client.open"
    assert record.levelno == logging.INFO
    assert (record.transport, record.collection, record.attempt) == ("memory", "docs", 2)  # type: ignore[attr-defined]


def test_opening_a_client_prints_nothing() -> None:
    script = (
        "import sys, anyio, chroma_async\n"
        "async def main():\n"
        "    async with chroma_async.EphemeralClient() as client:\n"
        "        await client.heartbeat()\n"
        "anyio.run(main)\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "done\n"
    assert done.stderr == ""
